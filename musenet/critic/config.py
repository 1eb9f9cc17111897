"""The critic's configuration and its training's: frozen dataclasses, saved in critic.json."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..generate.config import SampleConfig

Kind = Literal["real", "style"]
KINDS: tuple[str, ...] = typing.get_args(Kind)


@dataclass(frozen=True)
class CriticConfig:
    """A small GPT-style encoder over one window of token ids, mean-pooled into one real-vs-generated logit
    (kind `real`), or into one logit per style of the vocabulary (kind `style`: a style classifier that reads the
    window with its style token masked)."""

    vocab_size: int
    tokens: int = 128
    """Window length in tokens (prefix included): real and generated windows are cut to exactly this."""
    n_layer: int = 2
    """Transformer blocks."""
    n_head: int = 2
    """Attention heads."""
    n_embd: int = 64
    """Width."""
    dropout: float = 0.1
    kind: Kind = "real"
    """`real`: real vs generated (MuseNet's inner critic). `style`: which style the music is; a candidate's score
    is then how surely it is the style it was asked for."""
    style_offset: int = 0
    """Kind `style`: the id of the first style token (`style:unknown`, which masks the style asked for)."""
    n_styles: int = 0
    """Kind `style`: the vocabulary's styles (the classes)."""
    trained_styles: tuple[int, ...] = ()
    """Kind `style`: the styles (indices) it was trained on; a candidate asking for another (e.g. `unknown`) gets
    a neutral score, so reranking leaves such candidates in their sampled order."""

    def __post_init__(self) -> None:
        if self.tokens < 8:
            raise ValueError("the critic's window needs at least 8 tokens")
        if self.n_embd % self.n_head:
            raise ValueError("n_embd must be a multiple of n_head")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.kind == "style" and self.n_styles < 2:
            raise ValueError("a style critic needs at least 2 styles")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CriticConfig:
        return cls(**{**d, "trained_styles": tuple(d.get("trained_styles", ()))})


@dataclass(frozen=True)
class PoolConfig:
    """How the generated pool is sampled; part of the pool's identity (a change regenerates it)."""

    size: int = 256
    """Generated windows wanted (samples shorter than the window are dropped, so a few fewer may come back)."""
    seconds: float = 20.0
    """Length asked of each sample; long enough that most reach `tokens` (~8 tokens/s in the music21 corpus)."""
    temperature: float = 1.0
    """Sampling temperature of the pool."""
    top_p: float = 0.95
    """Nucleus sampling mass of the pool."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.size < 2 or self.seconds <= 0:
            raise ValueError("need a pool of at least 2 and seconds > 0")
        SampleConfig(self.temperature, 0, self.top_p)  # the sampler's bounds

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TrainCriticConfig:
    steps: int = 200
    """Training steps."""
    batch_size: int = 32
    """Windows per step (kind `real`: half real, half generated)."""
    lr: float = 1e-3
    """AdamW learning rate."""
    weight_decay: float = 0.1
    """AdamW weight decay."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 2:
            raise ValueError("need steps >= 1 and batch_size >= 2")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class CriticRunConfig:
    """`musenet train-critic`: which model and data, how many windows, and the three configs above."""

    model: Path
    """The model folder; the critic is saved in it."""
    data: Path
    """The built dataset the model was trained on."""
    kind: Kind = "real"
    """`real`: real vs the model's own samples (needs a generated pool). `style`: a style classifier trained on
    real windows only (prefix with the style masked + a stretch from anywhere in the piece); reranking then keeps
    the candidates most recognisable as the style asked for."""
    pool_dir: Path | None = None
    """Generated-pool folder (default MODEL/critic-pool)."""
    tokens: int = CriticConfig.tokens
    """Window length in tokens."""
    real: int = 2048
    """Real training windows."""
    heldout: int = 64
    """Held-out real and fresh windows each."""
    per_piece: int = 8
    """Samples per real piece whose style and instruments are asked for, one batch."""
    layers: int = CriticConfig.n_layer
    """Critic depth."""
    width: int = CriticConfig.n_embd
    """Critic width, a multiple of 32 (one head per 32)."""
    seed: int = 0
    """Seeds the pool, the windows and the training."""
    threads: int = 1
    """torch CPU threads (0: torch's choice)."""
    pool: PoolConfig = PoolConfig()
    """The generated pool."""
    train: TrainCriticConfig = TrainCriticConfig()
    """The critic's training."""

    def __post_init__(self) -> None:
        if self.heldout < 2 or self.real < 2:
            raise ValueError("real and heldout must be at least 2")
        if self.tokens < 8:
            raise ValueError(f"tokens must be at least 8, got {self.tokens}")
        if self.width < 32 or self.width % 32:
            raise ValueError(f"width must be a multiple of 32, got {self.width}")
        if self.per_piece < 1:
            raise ValueError("per_piece must be at least 1")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")

    def critic(
        self, vocab_size: int, style_offset: int = 0, n_styles: int = 0, trained: tuple[int, ...] = ()
    ) -> CriticConfig:
        styles = {}
        if self.kind == "style":
            styles = dict(style_offset=style_offset, n_styles=n_styles, trained_styles=tuple(trained))
        return CriticConfig(
            vocab_size, self.tokens, self.layers, self.width // 32, self.width, kind=self.kind, **styles
        )
