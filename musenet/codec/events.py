"""The one music type: a piece as a flat array of notes in absolute time.

Everything in the pipeline speaks `Piece`: MIDI files and the music21 corpus are read into it, the encoder turns it
into tokens, the decoder turns tokens back into it, and audio and evaluation read it. Times are seconds (the tempo
map is already applied), so a piece plays the same whatever tempo its source file declared.

Instruments are kept as General MIDI programs (0-127, and `DRUMS` = 128 for the drum channel): the mapping onto
MuseNet's instrument set belongs to the vocabulary config (`codec.vocab`), not to the music.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DRUMS = 128  # the "program" of notes on the General MIDI drum channel (channel 10)

NOTE_DTYPE = np.dtype(
    [
        ("start", "f8"),  # seconds
        ("end", "f8"),  # seconds; >= start
        ("pitch", "i2"),  # MIDI pitch 0-127
        ("velocity", "i2"),  # 1-127
        ("program", "i2"),  # General MIDI program 0-127, or DRUMS
    ]
)


def empty_notes(n: int = 0) -> np.ndarray:
    return np.zeros(n, dtype=NOTE_DTYPE)


def make_notes(start, end, pitch, velocity, program) -> np.ndarray:
    """Builds a sorted note array from parallel sequences (broadcasting scalars)."""
    start = np.asarray(start, dtype=np.float64)
    n = start.shape[0] if start.ndim else 1
    notes = empty_notes(n)
    notes["start"] = start
    notes["end"] = end
    notes["pitch"] = pitch
    notes["velocity"] = velocity
    notes["program"] = program
    return sort_notes(notes)


def sort_notes(notes: np.ndarray) -> np.ndarray:
    """Sorts by onset, then program, then pitch: the canonical order of a piece's notes."""
    order = np.lexsort((notes["end"], notes["pitch"], notes["program"], notes["start"]))
    return notes[order]


def end_long_notes(notes: np.ndarray, seconds: float) -> np.ndarray:
    """The notes with every pitched note that sounds longer than `seconds` ended there (drums are left as they
    are): a copy, sorted."""
    notes = notes.copy()
    pitched = notes["program"] != DRUMS
    notes["end"] = np.where(pitched, np.minimum(notes["end"], notes["start"] + seconds), notes["end"])
    return sort_notes(notes)


@dataclass
class Piece:
    """A piece of music: notes in seconds, with an optional style label and a free-form title."""

    notes: np.ndarray = field(default_factory=empty_notes)  # NOTE_DTYPE, sorted by sort_notes
    style: str | None = None
    title: str = ""

    def __post_init__(self) -> None:
        if self.notes.dtype != NOTE_DTYPE:
            raise TypeError(f"Piece.notes must have dtype NOTE_DTYPE, got {self.notes.dtype}")

    def __len__(self) -> int:
        return len(self.notes)

    @property
    def duration(self) -> float:
        """Seconds from time 0 to the last note's end."""
        return float(self.notes["end"].max()) if len(self.notes) else 0.0

    @property
    def programs(self) -> list[int]:
        return sorted({int(p) for p in np.unique(self.notes["program"])})

    def shifted(self, seconds: float) -> Piece:
        """The same piece moved in time (e.g. to drop leading silence)."""
        notes = self.notes.copy()
        notes["start"] += seconds
        notes["end"] += seconds
        return Piece(notes, self.style, self.title)

    def window(self, start: float, end: float) -> Piece:
        """The notes that start in [start, end), moved so that `start` becomes time 0, cut at `end`."""
        keep = (self.notes["start"] >= start) & (self.notes["start"] < end)
        notes = self.notes[keep].copy()
        notes["end"] = np.minimum(notes["end"], end)
        notes["start"] -= start
        notes["end"] -= start
        return Piece(notes, self.style, self.title)
