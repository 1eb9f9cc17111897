"""What one generation asks for: frozen, checked config dataclasses (no torch), read by the engine, the composer,
the CLI flags (`musenet.options`) and the web's request models, so that every default and bound is defined here."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from ..codec.rules import to_units
from ..codec.vocab import Vocab
from ..errors import UserError

# Bounds that mean something in float32, the dtype sampling runs in. Below MIN_TEMPERATURE the logits divided by
# it overflow (inf - inf = nan) and the draw is greedy anyway; past MAX_TEMPERATURE every token is equally likely
# to float32's precision. A nucleus mass under float32's epsilon rounds to 0 against the cumulated probabilities,
# which once dropped every token: the sampler then returned the last index forever, and generation never ended.
MIN_TEMPERATURE, MAX_TEMPERATURE = 1e-3, 100.0
MIN_TOP_P = 2.0**-23  # float32's epsilon, ~1.2e-7; any smaller mass is the most likely token alone
MAX_GUIDANCE = 10.0


@dataclass(frozen=True)
class SampleConfig:
    temperature: float = 1.0
    """Sampling temperature: divides the logits; lower is safer, higher is wilder; 0 = greedy (the most likely
    token), else 0.001..100."""
    top_k: int = 0
    """Sample from the k most likely tokens only (0 = all)."""
    top_p: float = 1.0
    """Nucleus sampling: keep the smallest set of most likely tokens whose probability reaches p (1 = all), p in
    [1.2e-7, 1]."""
    guidance: float = 1.0
    """Classifier-free guidance on the style, 0..10: each step's logits are pushed away from what the model plays
    told no style (`unknown`) by this factor, so the style sounds stronger; 1 = off. Each candidate gets a second
    stream, so a step costs more. For models trained with style dropout (see `musenet train --help`)."""

    def __post_init__(self) -> None:
        t, k, p = self.temperature, self.top_k, self.top_p
        g = self.guidance
        if not (isinstance(g, (int, float)) and math.isfinite(g) and 0 <= g <= MAX_GUIDANCE):
            raise ValueError(f"guidance must be in [0, {MAX_GUIDANCE:g}], got {_shown(g)}")
        if not (isinstance(t, (int, float)) and (t == 0 or MIN_TEMPERATURE <= t <= MAX_TEMPERATURE)):
            raise ValueError(
                f"temperature must be 0 (greedy) or {MIN_TEMPERATURE:g}..{MAX_TEMPERATURE:g}, got {_shown(t)}"
            )
        if not (isinstance(k, int) and 0 <= k < 2**31):
            raise ValueError(f"top_k must be a whole number >= 0, got {_shown(k)}")
        if not (isinstance(p, (int, float)) and math.isfinite(p) and MIN_TOP_P <= p <= 1):
            raise ValueError(f"top_p must be in [{MIN_TOP_P:.2g}, 1], got {_shown(p)}")


SAMPLE_FIELDS = tuple(f.name for f in fields(SampleConfig))
"""SampleConfig's fields: what a model's config.json may set as its own sampling defaults."""


def _shown(value) -> str:
    """A value for an error message: a number in 3 digits, anything else cut to 20 characters."""
    return f"{value:.3g}" if isinstance(value, float) else repr(value)[:20]


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
    entry: float | None = 8.0
    """Every asked instrument plays within this many seconds of new music (or half of it, if that is sooner): when
    the time comes, the clock waits for the instruments not heard yet and the model picks their first notes. None:
    an asked instrument may stay silent."""
    min_restrike: float | None = 0.05
    """A pitched instrument strikes a key again no sooner than this many seconds after it last struck it (real
    music does it sooner for 0.2 % of its onsets; a small model can fall into re-striking one key every 10-30 ms).
    None: no limit."""
    max_hold: float | None = 8.0
    """Seconds the new music may hold notes with none struck: past it, the next token starts or ends a note, no
    wait. Real music stays within it (the longest gap between onsets of the default corpus's 761 validation and
    test pieces is 8.5 s, over 8 s in 2); a small model can hold a chord and wait out the piece in 10 ms steps.
    None: no cap."""
    max_note: float | None = None
    """Seconds a pitched note may sound at most: past it, the note is released before anything else happens (real
    music holds 0.19 % of its pitched notes longer than 6 s, 0.10 % longer than 8 s). None (the default): no cap.
    A small model can strike a note and forget it, a drone to the end of the piece, but a release it did not
    choose can also throw it off its data (`musenet/generate/README.md`, "Long notes"): an experiment, off.
    For the drones alone, `release_after` is the gentler cure."""
    release_after: float | None = 8.0
    """Seconds after which a pitched note still sounding ends in the output (the piece, its MIDI and audio); the
    model is not told, its token stream goes on as sampled. A small model can strike a note and forget it, a drone
    to the end of the piece (real music holds 0.10 % of its pitched notes longer than 8 s). None: notes end where
    the model ends them."""
    rerank: int = 1
    """Sample this many per candidate and keep those the model's critic rates best (1: off)."""

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
        if self.entry is not None and not (self.entry > 0 and math.isfinite(self.entry)):
            raise ValueError(f"entry must be > 0 seconds (or None), got {self.entry:g}")
        _check_restrike(self.min_restrike)
        _check_cap("max_hold", self.max_hold)
        _check_cap("max_note", self.max_note)
        _check_cap("release_after", self.release_after)
        if not 0 <= self.seed < 2**63:
            raise ValueError(f"seed must be in [0, 2**63), got {self.seed}")
        if not 1 <= self.rerank <= MAX_RERANK:
            raise ValueError(f"rerank must be 1..{MAX_RERANK}, got {self.rerank}")

    def check(self, vocab: Vocab) -> None:
        """The checks that need the model's vocabulary: known instruments and style."""
        names = vocab.config.instrument_names
        for name in self.instruments:
            if name not in names:
                raise UserError(f"unknown instrument {name[:40]!r}; choose from: {', '.join(names)}")
        if self.style is not None and self.style not in vocab.config.styles:
            raise UserError(f"unknown style {self.style[:40]!r}; see `musenet styles`")


@dataclass(frozen=True)
class InfillConfig:
    start: float
    """The span's start, in seconds from the piece's beginning."""
    end: float
    """The span's end (exclusive), in seconds; at most the piece's length. The music after it is kept."""
    instruments: tuple[str, ...] | None = None
    """The instruments to redo in the span, comma-separated (see `musenet instruments`); the others keep their
    notes. None: every instrument of the piece."""
    style: str | None = None
    """The style the model is told (see `musenet styles`); None: the piece's own label, else the model's first."""
    candidates: int = 4
    """How many versions of the span to sample, as one batch."""
    seed: int = 0
    """Same seed, model and device: identical candidates."""
    sample: SampleConfig = field(default_factory=SampleConfig)
    """Temperature, top-k and top-p."""
    min_restrike: float | None = 0.05
    """A pitched instrument strikes a key again no sooner than this many seconds after it last struck it (real
    music does it sooner for 0.2 % of its onsets; a small model can fall into re-striking one key every 10-30 ms).
    None: no limit."""
    max_hold: float | None = 8.0
    """Seconds the new music may hold notes with none struck: past it, the next token starts or ends a note, no
    wait. Real music stays within it (the longest gap between onsets of the default corpus's 761 validation and
    test pieces is 8.5 s, over 8 s in 2); a small model can hold a chord and wait out the piece in 10 ms steps.
    None: no cap."""
    max_note: float | None = None
    """Seconds a pitched note may sound at most: past it, the note is released before anything else happens (real
    music holds 0.19 % of its pitched notes longer than 6 s, 0.10 % longer than 8 s). None (the default): no cap.
    A small model can strike a note and forget it, a drone to the end of the piece, but a release it did not
    choose can also throw it off its data (`musenet/generate/README.md`, "Long notes"): an experiment, off.
    For the drones alone, `release_after` is the gentler cure."""
    release_after: float | None = 8.0
    """Seconds after which a new pitched note still sounding ends in the output (the piece, its MIDI and audio);
    the model is not told, its token stream goes on as sampled. The piece's own notes outside the span are left as
    they are. None: notes end where the model ends them."""
    rerank: int = 1
    """Sample this many per candidate and keep those the model's critic rates best (1: off)."""

    def __post_init__(self) -> None:
        start, end = self.start, self.end
        if not all(isinstance(t, (int, float)) and math.isfinite(t) for t in (start, end)):
            raise ValueError(
                f"start and end must be numbers of seconds, got {_shown(start)} and {_shown(end)}"
            )
        if start < 0:
            raise ValueError(f"start must be >= 0 s, got {start:g}")
        if not end > start:
            raise ValueError(f"end must come after its start (got start {start:g} s, end {end:g} s)")
        _check_restrike(self.min_restrike)
        _check_cap("max_hold", self.max_hold)
        _check_cap("max_note", self.max_note)
        _check_cap("release_after", self.release_after)
        if self.instruments is not None:
            object.__setattr__(self, "instruments", tuple(self.instruments))
            if not self.instruments:
                raise ValueError("choose at least one instrument to redo")
        if not 1 <= self.candidates <= MAX_CANDIDATES:
            raise ValueError(f"candidates must be 1..{MAX_CANDIDATES}, got {self.candidates}")
        if not 0 <= self.seed < 2**63:
            raise ValueError(f"seed must be in [0, 2**63), got {self.seed}")
        if not 1 <= self.rerank <= MAX_RERANK:
            raise ValueError(f"rerank must be 1..{MAX_RERANK}, got {self.rerank}")

    def check(self, vocab: Vocab) -> None:
        """The checks that need the model's vocabulary: infill tokens, known instruments and style."""
        if not vocab.config.infill:
            raise UserError(
                "this model never learned infilling (its vocabulary has no infill tokens): "
                "train one with --infill-share > 0"
            )
        names = vocab.config.instrument_names
        for name in self.instruments or ():
            if name not in names:
                raise UserError(f"unknown instrument {name[:40]!r}; choose from: {', '.join(names)}")
        if self.style is not None and self.style not in vocab.config.styles:
            raise UserError(f"unknown style {self.style[:40]!r}; see `musenet styles`")


def _check_restrike(seconds: float | None) -> None:
    if seconds is not None and not (0 < seconds <= 1):
        raise ValueError(f"min_restrike must be in (0, 1] seconds (or None), got {seconds:g}")


def _check_cap(name: str, seconds: float | None) -> None:
    if seconds is not None and not (seconds > 0 and math.isfinite(seconds)):
        raise ValueError(f"{name} must be > 0 seconds (or None), got {seconds:g}")


def units(seconds: float | None, unit_ms: float) -> int | None:
    """A grammar limit given in seconds (`min_restrike`, `max_silence`, `max_hold`, `max_note`) in time units (the
    codec's rounding, at least one), or None."""
    return None if seconds is None else max(1, int(to_units(seconds, unit_ms)))
