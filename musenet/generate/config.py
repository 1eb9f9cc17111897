"""What one generation asks for: frozen, checked config dataclasses (no torch), read by the engine, the composer,
the CLI flags (`musenet.options`) and the web's request models, so that every default and bound is defined here."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..codec.vocab import Vocab
from ..errors import UserError

MAX_TEMPERATURE = 5.0  # past it every distribution is flat: noise, not music (or text)


@dataclass(frozen=True)
class SampleConfig:
    temperature: float = 1.0
    """Sampling temperature: divides the logits; lower is safer, higher is wilder; 0 = greedy (the most likely
    token)."""
    top_k: int = 0
    """Sample from the k most likely tokens only (0 = all)."""
    top_p: float = 1.0
    """Nucleus sampling: keep the smallest set of most likely tokens whose probability reaches p (1 = all)."""

    def __post_init__(self) -> None:
        if not 0 <= self.temperature <= MAX_TEMPERATURE:
            raise ValueError(f"temperature must be in [0, {MAX_TEMPERATURE:g}], got {self.temperature:g}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p:g}")


MAX_SECONDS = 3600.0  # of new music per request
MAX_CANDIDATES = 64  # per batch
MAX_RERANK = 64


@dataclass(frozen=True)
class GenerateConfig:
    style: str | None = None
    """A style the model knows (see `musenet styles`); None: its first style, 'unknown'."""
    instruments: tuple[str, ...] = ("piano",)
    """The only instruments that may play in the new music, each guaranteed (see `musenet instruments`)."""
    seconds: float = 30.0
    """Length of the new music (after the primer), in seconds; generation never runs past it."""
    candidates: int = 4
    """How many pieces to sample, as one batch."""
    seed: int = 0
    """Same seed, model and device: identical pieces."""
    sample: SampleConfig = field(default_factory=SampleConfig)
    """Temperature, top-k and top-p."""
    min_fraction: float = 0.8
    """The model may end the piece from this share of the requested length on."""
    max_silence: float | None = 4.0
    """Seconds of silence (nothing sounding, nothing starting) the new music may hold at most; None: no cap. A small
    model asked for an instrument it rarely saw for a style can otherwise wait out the whole piece."""
    rerank: int = 1
    """Sample this many per candidate and keep those the model's critic rates most real (1: off)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "instruments", tuple(self.instruments))
        if not self.instruments:
            raise ValueError("choose at least one instrument")
        if not 0 < self.seconds <= MAX_SECONDS:
            raise ValueError(f"seconds must be in (0, {MAX_SECONDS:g}], got {self.seconds:g}")
        if not 1 <= self.candidates <= MAX_CANDIDATES:
            raise ValueError(f"candidates must be 1..{MAX_CANDIDATES}, got {self.candidates}")
        if not 0 <= self.min_fraction <= 1:
            raise ValueError(f"min_fraction must be in [0, 1], got {self.min_fraction:g}")
        if self.max_silence is not None and not self.max_silence > 0:
            raise ValueError(f"max_silence must be > 0 seconds (or None), got {self.max_silence:g}")
        if not 0 <= self.seed < 2**63:
            raise ValueError(f"seed must be in [0, 2**63), got {self.seed}")
        if not 1 <= self.rerank <= MAX_RERANK:
            raise ValueError(f"rerank must be 1..{MAX_RERANK}, got {self.rerank}")

    def check(self, vocab: Vocab) -> None:
        """The checks that need the model's vocabulary: known instruments and style."""
        names = vocab.config.instrument_names
        for name in self.instruments:
            if name not in names:
                raise UserError(f"unknown instrument {name!r}; choose from: {', '.join(names)}")
        if self.style is not None and self.style not in vocab.config.styles:
            raise UserError(f"unknown style {self.style!r}; see `musenet styles`")
