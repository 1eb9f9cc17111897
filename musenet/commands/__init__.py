"""CLI commands that sit on top of the codec (training, generation and serving keep theirs beside their code)."""
