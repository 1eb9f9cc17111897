"""MuseNet's ten instruments: their playable ranges and the General MIDI programs each one absorbs.

MuseNet's demo knew piano, violin, cello, bass, guitar, flute, clarinet, trumpet, harp and drums. Every one of the
128 General MIDI programs (and the drum channel) maps onto one of them by family and register, or is dropped
(sound effects). The ranges are the instruments' written ranges, a little widened; notes outside are folded by
octaves into range by the encoder (see `codec.encode`), which keeps the vocabulary near MuseNet's ~5k tokens.

The set is data, not code: `VocabConfig.instruments` can hold any other list of `Instrument`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .events import DRUMS


@dataclass(frozen=True)
class Instrument:
    name: str
    low: int  # lowest MIDI pitch in the vocabulary
    high: int  # highest MIDI pitch in the vocabulary (inclusive)
    program: int  # the GM program written when decoding (DRUMS for the drum channel)
    programs: tuple[int, ...]  # the GM programs (and DRUMS) that map onto this instrument
    drums: bool = False  # onset-only: no note-off tokens

    def __post_init__(self) -> None:
        if not (0 <= self.low <= self.high <= 127):
            raise ValueError(f"instrument {self.name}: bad range {self.low}..{self.high}")
        if not self.drums and self.high - self.low < 11:
            raise ValueError(f"instrument {self.name}: a range under an octave cannot fold pitches into it")
        if self.program not in self.programs:
            raise ValueError(f"instrument {self.name}: its program {self.program} must be one it absorbs")

    @property
    def size(self) -> int:
        return self.high - self.low + 1

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "low": self.low,
            "high": self.high,
            "program": self.program,
            "programs": list(self.programs),
            "drums": self.drums,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Instrument:
        return cls(d["name"], d["low"], d["high"], d["program"], tuple(d["programs"]), d.get("drums", False))


def _r(a: int, b: int) -> tuple[int, ...]:
    return tuple(range(a, b + 1))


# GM families (program numbers 0-based): 0-7 piano, 8-15 chromatic percussion, 16-23 organ, 24-31 guitar,
# 32-39 bass, 40-47 strings, 48-55 ensemble, 56-63 brass, 64-71 reed, 72-79 pipe, 80-87 synth lead,
# 88-95 synth pad, 96-103 synth effects, 104-111 ethnic, 112-119 percussive, 120-127 sound effects (dropped).
MUSENET_INSTRUMENTS: tuple[Instrument, ...] = (
    # organs, synth effects and orchestra hit are keyboard parts in practice
    Instrument("piano", 21, 108, 0, _r(0, 7) + _r(16, 20) + (55,) + _r(96, 103)),
    # violin, viola, string sections, voices and pads: sustained upper/middle lines
    Instrument("violin", 55, 103, 40, (40, 41, 44, 45, 48, 49, 50, 51, 52, 53, 54, 110) + _r(88, 95)),
    # cello and the low sustained winds/brass that have no place of their own
    Instrument("cello", 36, 84, 42, (42, 57, 70)),
    Instrument("bass", 28, 67, 32, _r(32, 39) + (43, 47, 58)),
    Instrument("guitar", 40, 88, 24, _r(24, 31) + _r(80, 87) + (104, 105, 106, 107)),
    Instrument("flute", 60, 98, 73, _r(72, 79)),
    Instrument("clarinet", 50, 94, 71, _r(64, 69) + (71, 21, 22, 23, 109, 111)),
    Instrument("trumpet", 52, 86, 56, (56, 59, 60, 61, 62, 63)),
    # harp and the plucked/struck pitched percussion
    Instrument("harp", 24, 103, 46, (46, 108) + _r(8, 15) + _r(112, 119)),
    # GM percussion key map 27 (high Q) .. 87 (open surdo)
    Instrument("drums", 27, 87, DRUMS, (DRUMS,), drums=True),
)

# Drum keys of other kits outside the GM2 key map (27-87) -> the GM key of the same drum. Only keys outside the
# drum instrument's range are mapped (inside it, a key keeps its GM meaning); unlisted ones are still dropped.
DRUM_KEY_MAP: dict[int, int] = {
    # Roland V-Drums e-kits (TD-11 ... TD-50; the Groove MIDI Dataset): the hi-hat's edge zones
    22: 42,  # closed hi-hat, edge -> closed hi-hat
    26: 46,  # open hi-hat, edge -> open hi-hat
    # Yamaha XG / Roland GS kits: the keys below GM2's High Q
    13: 86,  # surdo mute -> mute surdo
    14: 87,  # surdo open -> open surdo
    15: 27,  # high Q
    16: 28,  # whip slap -> slap
    17: 29,  # scratch push
    18: 30,  # scratch pull
    19: 39,  # finger snap -> hand clap
    20: 32,  # click noise -> square click
    21: 33,  # metronome click
    23: 33,  # sequencer click low -> metronome click
    24: 33,  # sequencer click high -> metronome click
    25: 38,  # snare roll / brush tap -> acoustic snare
}

DROPPED_PROGRAMS = _r(
    120, 127
)  # guitar fret noise, breath, seashore, birds, telephone, helicopter, applause, gunshot
