"""The critic's configuration and its training's: frozen dataclasses, saved in critic.json."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CriticConfig:
    """A small GPT-style encoder over one window of token ids, mean-pooled into one real-vs-generated logit."""

    vocab_size: int
    tokens: int = 128
    """Window length in tokens (prefix included): real and generated windows are cut to exactly this."""
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if self.tokens < 8:
            raise ValueError("the critic's window needs at least 8 tokens")
        if self.n_embd % self.n_head:
            raise ValueError("n_embd must be a multiple of n_head")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CriticConfig:
        return cls(**d)


@dataclass(frozen=True)
class PoolConfig:
    """How the generated pool is sampled; part of the pool's identity (a change regenerates it)."""

    size: int = 256
    """Generated windows wanted (samples shorter than the window are dropped, so a few fewer may come back)."""
    seconds: float = 20.0
    """Length asked of each sample; long enough that most reach `tokens` (~8 tokens/s in the music21 corpus)."""
    temperature: float = 1.0
    top_p: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        if self.size < 2 or self.seconds <= 0:
            raise ValueError("need a pool of at least 2 and seconds > 0")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TrainCriticConfig:
    steps: int = 300
    batch_size: int = 32
    """Half real, half generated windows per step."""
    lr: float = 1e-3
    weight_decay: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 2:
            raise ValueError("need steps >= 1 and batch_size >= 2")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
