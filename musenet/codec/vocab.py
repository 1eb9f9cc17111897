"""The MuseNet vocabulary, derived from one config by offsets.

Layout (ids increase down the list; `python -m musenet.codec.vocab` or `musenet vocab` prints it for a config):

    notes     for each pitched instrument: (velocity level 0..V) x (its pitch range); level 0 is the note-off
    drums     for each drum instrument: (velocity level 1..V) x (its pitch range); onset only, no note-off
    wait      wait:1 .. wait:max_wait, in time units of `time_unit_ms`
    style     style:<name> for each style
    instrument instrument:<name> for each instrument (the prefix lists those the piece uses)
    start, end, pad
    infill    (only with `infill=True`) infill, span_start, span_end, fill, fill_end: see `codec.infill`

A sequence is `style:S instrument:A instrument:B ... start <notes and waits> end`. No id is hard-coded outside
this module: everything asks `Vocab` for offsets. The infill tokens come after `pad`, so a vocabulary with them
gives every other token the id it has without them (a model trained without them still reads the same ids).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from .events import DRUMS
from .instruments import DROPPED_PROGRAMS, MUSENET_INSTRUMENTS, Instrument

DEFAULT_STYLES: tuple[str, ...] = (
    "unknown",
    "bach",
    "baroque",
    "palestrina",
    "monteverdi",
    "renaissance",
    "medieval",
    "classical",
    "mozart",
    "haydn",
    "beethoven",
    "romantic",
    "schumann",
    "modern",
    "german_folk",
    "irish_folk",
    "american_folk",
    "chinese_folk",
    "ragtime",
    "hymn",
    "jazz",
    "blues",
    "pop",
    "rock",
    "piano",
    "game",
    "film",
    "latin",
    "electronic",
    "world",
    # added with the corpus of issue 18 (composers and genres users ask for, each with >= 50 k tokens of data;
    # see `data.sources.styles` for what joins which); the ids above are unchanged
    "chopin",
    "schubert",
    "brahms",
    "liszt",
    "mendelssohn",
    "debussy",
    "rachmaninoff",
    "grieg",
    "clementi",
    "albeniz",
    "country",
    "funk",
    "soul",
    "reggae",
    "metal",
    "march",
)

INFILL_TOKENS: tuple[str, ...] = ("infill", "span_start", "span_end", "fill", "fill_end")
"""The fill-in-the-middle tokens, in id order after `pad` (their grammar and meaning: `codec.infill`)."""

PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def pitch_name(pitch: int) -> str:
    return f"{PITCH_NAMES[pitch % 12]}{pitch // 12 - 1}"


@dataclass(frozen=True)
class VocabConfig:
    """Everything that decides what a token means. Saved with every artifact made with it."""

    instruments: tuple[Instrument, ...] = MUSENET_INSTRUMENTS
    """The instrument set, in vocabulary order."""
    styles: tuple[str, ...] = DEFAULT_STYLES
    """Style (composer, genre) labels; the first is used for pieces with no label."""
    velocity_bins: int = 8
    """Loudness levels per note-on (MIDI velocity 1-127 cut into equal bins), for every instrument."""
    time_unit_ms: float = 10.0
    """One time unit; onsets and offsets are rounded to it (MuseNet: ~10 ms)."""
    max_wait: int = 128
    """The longest single wait token, in units; longer gaps become several waits."""
    max_polyphony: int = 32
    """At most this many pitched notes sound at once; a note starting beyond it cuts the oldest one."""
    max_chord: int = 24
    """At most this many notes start at one moment; further ones are dropped."""
    parts: int = 128
    """The piece is cut into this many parts in time (structural position `part`)."""
    countdown: int = 128
    """The countdown runs from countdown-1 down to 0 at the end token."""
    countdown_unit_ms: float = 1000.0
    """One countdown step: the countdown is the time left to the end, in these steps, capped."""
    drum_length_ms: float = 100.0
    """Drum hits carry no note-off; decoded drum notes last this long."""
    dropped_programs: tuple[int, ...] = DROPPED_PROGRAMS
    """GM programs with no instrument (sound effects): their notes are dropped and counted."""
    infill: bool = True
    """The five fill-in-the-middle tokens (`INFILL_TOKENS`, after `pad`) exist, so a model can learn to regenerate
    a span. A saved config without this field predates them and loads as False: it means what it meant."""

    @property
    def instrument_names(self) -> tuple[str, ...]:
        """The instruments' names, in token order."""
        return tuple(i.name for i in self.instruments)

    def __post_init__(self) -> None:
        names = self.instrument_names
        if len(set(names)) != len(names):
            raise ValueError("instrument names must be unique")
        owners = [p for i in self.instruments for p in i.programs] + list(self.dropped_programs)
        if sorted(owners) != list(range(DRUMS + 1)):
            raise ValueError(
                "every GM program 0-127 and DRUMS must map to exactly one instrument or be dropped"
            )
        if len(set(self.styles)) != len(self.styles) or not self.styles:
            raise ValueError("styles must be a non-empty list of unique names")
        if not (1 <= self.velocity_bins <= 127 and self.max_wait >= 1 and self.time_unit_ms > 0):
            raise ValueError("bad velocity_bins, max_wait or time_unit_ms")
        if not (1 <= self.max_chord <= self.max_polyphony):
            raise ValueError("need 1 <= max_chord <= max_polyphony")

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["instruments"] = [i.to_dict() for i in self.instruments]
        d["styles"] = list(self.styles)
        d["dropped_programs"] = list(self.dropped_programs)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> VocabConfig:
        d = dict(d)
        d["instruments"] = tuple(Instrument.from_dict(i) for i in d["instruments"])
        d["styles"] = tuple(d["styles"])
        d["dropped_programs"] = tuple(d["dropped_programs"])
        d.setdefault("infill", False)  # saved before the infill tokens existed
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown vocabulary config fields: {sorted(unknown)}")
        return cls(**d)

    def with_styles(self, styles: tuple[str, ...]) -> VocabConfig:
        return replace(self, styles=tuple(styles))


@dataclass(frozen=True)
class Vocab:
    """Token ids for a `VocabConfig`: offsets, lookups and names."""

    config: VocabConfig = field(default_factory=VocabConfig)

    # ---- offsets -------------------------------------------------------------------------------------------
    @cached_property
    def note_offsets(self) -> np.ndarray:
        """(n_instruments,) first id of each instrument's block; block = levels x range."""
        offs, at = [], 0
        for inst in self.config.instruments:
            offs.append(at)
            at += self.levels(inst) * inst.size
        return np.array(offs + [at], dtype=np.int64)

    def levels(self, inst: Instrument) -> int:
        """Velocity levels an instrument's block holds: note-off + V, or V for onset-only drums."""
        return self.config.velocity_bins + (0 if inst.drums else 1)

    @property
    def n_notes(self) -> int:
        return int(self.note_offsets[-1])

    @property
    def wait_offset(self) -> int:
        return self.n_notes

    @property
    def style_offset(self) -> int:
        return self.wait_offset + self.config.max_wait

    @property
    def instrument_offset(self) -> int:
        return self.style_offset + len(self.config.styles)

    @property
    def start(self) -> int:
        return self.instrument_offset + len(self.config.instruments)

    @property
    def end(self) -> int:
        return self.start + 1

    @property
    def pad(self) -> int:
        return self.start + 2

    @property
    def n_infill(self) -> int:
        return len(INFILL_TOKENS) if self.config.infill else 0

    def special(self, name: str) -> int:
        """The id of an infill token (`INFILL_TOKENS`); a KeyError for a vocabulary without them."""
        if not self.config.infill or name not in INFILL_TOKENS:
            raise KeyError(f"this vocabulary has no {name!r} token")
        return self.pad + 1 + INFILL_TOKENS.index(name)

    @property
    def size(self) -> int:
        return self.pad + 1 + self.n_infill

    def instruments_playing(self, notes: np.ndarray) -> tuple[list[str], bool]:
        """Which instruments play these notes (names, in token order), and whether some notes have a program that
        no instrument takes (sound effects)."""
        used = np.unique(self.program_to_instrument[np.asarray(notes["program"], dtype=np.int64)])
        names = self.config.instrument_names
        return [names[k] for k in used if k >= 0], bool((used < 0).any())

    def prefix_instruments(self, ids: np.ndarray) -> tuple[str, ...]:
        """The instrument names a token stream's prefix (`style instrument... start`) lists."""
        ids = np.asarray(ids, dtype=np.int64)
        ks = ids[(ids >= self.instrument_offset) & (ids < self.start)] - self.instrument_offset
        return tuple(self.config.instrument_names[int(k)] for k in ks)

    # ---- per-instrument lookup arrays (vectorised encode/decode) ------------------------------------------
    @cached_property
    def program_to_instrument(self) -> np.ndarray:
        """(129,) instrument index of each GM program (DRUMS = 128); -1 = dropped."""
        table = np.full(DRUMS + 1, -1, dtype=np.int64)
        for k, inst in enumerate(self.config.instruments):
            table[list(inst.programs)] = k
        return table

    @cached_property
    def low(self) -> np.ndarray:
        return np.array([i.low for i in self.config.instruments], dtype=np.int64)

    @cached_property
    def high(self) -> np.ndarray:
        return np.array([i.high for i in self.config.instruments], dtype=np.int64)

    @cached_property
    def is_drums(self) -> np.ndarray:
        return np.array([i.drums for i in self.config.instruments], dtype=bool)

    @cached_property
    def velocity_values(self) -> np.ndarray:
        """(V,) the MIDI velocity each level decodes to: the centre of its bin."""
        v = self.config.velocity_bins
        return np.array([min(127, round(1 + (b + 0.5) * 127 / v)) for b in range(v)], dtype=np.int64)

    def velocity_bin(self, velocity: np.ndarray | int) -> np.ndarray:
        """MIDI velocity 1-127 -> bin 0..V-1 (equal-width bins)."""
        v = np.clip(np.asarray(velocity, dtype=np.int64), 1, 127)
        return (v - 1) * self.config.velocity_bins // 127

    def note_id(self, inst: np.ndarray | int, level: np.ndarray | int, pitch: np.ndarray | int) -> np.ndarray:
        """Id of `instrument:level:pitch`. level 0 is note-off (pitched only); 1..V are the velocity bins.

        For drums, levels start at 1 as well (there is no off), so callers pass the same levels everywhere.
        """
        inst = np.asarray(inst, dtype=np.int64)
        level = np.asarray(level, dtype=np.int64) - self.is_drums[inst]
        size = self.high[inst] - self.low[inst] + 1
        return self.note_offsets[inst] + level * size + (np.asarray(pitch, dtype=np.int64) - self.low[inst])

    def wait_id(self, units: np.ndarray | int) -> np.ndarray:
        return self.wait_offset + np.asarray(units, dtype=np.int64) - 1

    def waits(self, units: int) -> list[int]:
        """The wait tokens that move the clock by `units` (the longest first, as the encoder writes them)."""
        full, rest = divmod(int(units), self.config.max_wait)
        return [int(self.wait_id(self.config.max_wait))] * full + ([int(self.wait_id(rest))] if rest else [])

    def style_id(self, style: str | None) -> int:
        styles = self.config.styles
        if style is None:
            return self.style_offset
        if style not in styles:
            raise KeyError(f"unknown style {style!r}; known styles: {', '.join(styles)}")
        return self.style_offset + styles.index(style)

    def instrument_id(self, name: str) -> int:
        names = self.config.instrument_names
        if name not in names:
            raise KeyError(f"unknown instrument {name!r}; known instruments: {', '.join(names)}")
        return self.instrument_offset + names.index(name)

    # ---- id -> meaning ------------------------------------------------------------------------------------
    @cached_property
    def note_table(self) -> np.ndarray:
        """(n_notes, 3) for every note id: instrument index, level (0 = off), pitch."""
        rows = []
        for k, inst in enumerate(self.config.instruments):
            first = 0 if not inst.drums else 1
            for level in range(first, self.config.velocity_bins + 1):
                for pitch in range(inst.low, inst.high + 1):
                    rows.append((k, level, pitch))
        table = np.array(rows, dtype=np.int64).reshape(-1, 3)
        assert len(table) == self.n_notes
        return table

    def kind(self, token: int) -> str:
        """One of note, wait, style, instrument, start, end, pad, infill (any of the infill tokens), invalid."""
        if 0 <= token < self.n_notes:
            return "note"
        if token < self.style_offset:
            return "wait"
        if token < self.instrument_offset:
            return "style"
        if token < self.start:
            return "instrument"
        if self.pad < token < self.size:
            return "infill"
        return {self.start: "start", self.end: "end", self.pad: "pad"}.get(token, "invalid")

    @cached_property
    def names(self) -> list[str]:
        out = []
        vel = self.velocity_values
        for k, level, pitch in self.note_table:
            inst = self.config.instruments[k]
            v = 0 if level == 0 else int(vel[level - 1])
            out.append(f"{inst.name}:v{v}:{pitch_name(int(pitch))}")
        out += [f"wait:{n}" for n in range(1, self.config.max_wait + 1)]
        out += [f"style:{s}" for s in self.config.styles]
        out += [f"instrument:{i.name}" for i in self.config.instruments]
        out += ["start", "end", "pad"] + list(INFILL_TOKENS[: self.n_infill])
        assert len(out) == self.size
        return out

    @cached_property
    def ids_by_name(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.names)}

    def name(self, token: int) -> str:
        return self.names[token]

    def translation(self, other: Vocab) -> np.ndarray:
        """(self.size,) the id of each of this vocabulary's tokens in `other`, matched by name; -1 where `other`
        has no such token. Only for vocabularies that differ in their styles or infill tokens: the names of notes
        and waits do not carry the time unit, polyphony or structural settings, so those must be equal."""
        a, b = self.config.to_dict(), other.config.to_dict()
        differ = sorted(k for k in a if k not in ("styles", "infill") and a[k] != b[k])
        if differ:
            raise ValueError(f"vocabularies differ beyond styles and infill tokens: {', '.join(differ)}")
        ids = other.ids_by_name
        return np.array([ids.get(n, -1) for n in self.names], dtype=np.int64)

    # ---- invariants and layout ----------------------------------------------------------------------------
    def check(self) -> None:
        """Asserts the layout's invariants (run by the tests for every shipped config)."""
        cfg = self.config
        assert len(set(self.names)) == self.size, "token names must be unique"
        # every note id decodes back to the (instrument, level, pitch) it was made from
        t = self.note_table
        assert np.array_equal(self.note_id(t[:, 0], t[:, 1], t[:, 2]), np.arange(self.n_notes))
        # each velocity bin's representative falls back into that bin
        assert np.array_equal(self.velocity_bin(self.velocity_values), np.arange(cfg.velocity_bins))
        assert self.velocity_bin(1) == 0 and self.velocity_bin(127) == cfg.velocity_bins - 1
        assert self.wait_id(1) == self.wait_offset and self.wait_id(cfg.max_wait) == self.style_offset - 1
        assert self.kind(self.pad) == "pad" and self.kind(self.size) == "invalid"
        assert all(self.kind(self.special(n)) == "infill" for n in INFILL_TOKENS[: self.n_infill])

    def layout(self) -> str:
        cfg = self.config
        lines = [f"MuseNet vocabulary: {self.size} tokens", ""]
        lines.append(f"{'ids':>13}  {'count':>5}  block")
        for k, inst in enumerate(cfg.instruments):
            a, b = int(self.note_offsets[k]), int(self.note_offsets[k + 1])
            what = "onset only" if inst.drums else "off + on"
            lines.append(
                f"{a:>6}-{b - 1:<6}  {b - a:>5}  {inst.name}: {pitch_name(inst.low)}..{pitch_name(inst.high)}"
                f" ({inst.size} pitches) x {self.levels(inst)} levels ({what})"
            )
        rows = [
            (self.wait_offset, self.style_offset, f"wait:1..{cfg.max_wait} x {cfg.time_unit_ms:g} ms"),
            (self.style_offset, self.instrument_offset, "style: " + ", ".join(cfg.styles)),
            (self.instrument_offset, self.start, "instrument: " + ", ".join(cfg.instrument_names)),
            (self.start, self.start + 1, "start"),
            (self.end, self.end + 1, "end"),
            (self.pad, self.pad + 1, "pad"),
        ]
        notes = {
            "infill": "infill: a fill-in-the-middle sequence follows (then the instruments to redo)",
            "span_start": "span_start: the span to fill opens here (its clock time is the span's start)",
            "span_end": "span_end: the span closes here",
            "fill": "fill: the middle follows, its clock back at the span's start",
            "fill_end": "fill_end: the middle is complete (at the span's end)",
        }
        rows += [(self.special(n), self.special(n) + 1, notes[n]) for n in INFILL_TOKENS[: self.n_infill]]
        for a, b, what in rows:
            span = f"{a}-{b - 1}" if b - a > 1 else f"{a}"
            lines.append(f"{span:>13}  {b - a:>5}  {what}")
        vel = ", ".join(str(int(v)) for v in self.velocity_values)
        lines += [
            "",
            f"velocity levels ({cfg.velocity_bins}, every instrument): {vel}",
            f"structural positions: time (units of {cfg.time_unit_ms:g} ms), chord 0..{cfg.max_chord},"
            f" part 0..{cfg.parts - 1}, countdown {cfg.countdown - 1}..0 (steps of {cfg.countdown_unit_ms:g} ms)",
        ]
        return "\n".join(lines)


def main() -> None:
    vocab = Vocab()
    vocab.check()
    print(vocab.layout())
    print()
    print(json.dumps(vocab.config.to_dict())[:200] + " ...")


if __name__ == "__main__":
    main()
