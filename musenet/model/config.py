"""The model's configuration: one frozen dataclass, saved in every checkpoint so a model rebuilds with no flags."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

ATTENTION_KINDS = ("dense", "strided", "fixed")


@dataclass(frozen=True)
class GPTConfig:
    """A decoder-only GPT-2 plus MuseNet's structural embeddings."""

    vocab_size: int = 50257
    """Number of token ids; the output layer is tied to the token embedding."""
    block_size: int = 1024
    """Longest sequence: the size of the learned position table (GPT-2's `n_positions`)."""
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    """Dropout on embeddings, attention output and MLP output (GPT-2 used 0.1; short runs do better with 0)."""
    bias: bool = True
    """Biases in linear layers and LayerNorms, as in GPT-2."""
    layer_norm_eps: float = 1e-5

    musenet_embeddings: bool = True
    """Add MuseNet's time, chord-index, part and countdown embeddings. Off = a plain GPT-2."""
    time_positions: int = 4096
    """Size of the time table; a token's time (10 ms units) is embedded as `time % time_positions`."""
    chord_positions: int = 25
    """0 = not a note-on, else 1 + index of the note in its chord; larger values are clamped."""
    part_positions: int = 128
    """Where in the piece the token sits, the piece cut in this many parts."""
    countdown_positions: int = 128
    """Countdown to the piece's end token."""

    attention: str = "dense"
    """'dense' (causal), or the Sparse Transformer's 'strided' or 'fixed' block-sparse pattern."""
    sparse_stride: int = 128
    """Sparse patterns: the stride l (strided) or the block length (fixed)."""
    sparse_summary: int = 8
    """'fixed' pattern: the last c positions of each block that every later query sees."""
    rotary: bool = False
    """Rotary position embeddings (RoPE: rotate-half form as in GPT-NeoX/LLaMA, base 10000, the full head width)
    on queries and keys in every layer, besides the learned positions and MuseNet's structural embeddings: the
    scores then also depend on how far apart two tokens are. Off (the default, and what a config saved without
    the field means) = GPT-2's attention."""

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})")
        if self.attention not in ATTENTION_KINDS:
            raise ValueError(f"attention must be one of {ATTENTION_KINDS}, not {self.attention!r}")
        if not 0 < self.sparse_summary <= self.sparse_stride:
            raise ValueError("need 0 < sparse_summary <= sparse_stride")
        for name in ("vocab_size", "block_size", "n_layer", "time_positions", "chord_positions"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GPTConfig:
        # Unknown keys are an error: a checkpoint from a newer version should not load silently wrong.
        return cls(**d)


# Model sizes for `musenet train --preset`. Measured on 2 CPU cores in bf16: tiny ~5,900 tokens/s,
# small ~2,800 tokens/s; base is for GPUs (MuseNet's 4,096-token context).
PRESETS: dict[str, dict[str, int]] = {
    "tiny": dict(n_layer=4, n_head=4, n_embd=256, block_size=512),
    "small": dict(n_layer=6, n_head=6, n_embd=384, block_size=1024),
    "base": dict(n_layer=12, n_head=12, n_embd=768, block_size=4096),
}
