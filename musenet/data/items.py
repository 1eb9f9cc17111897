"""The units a build passes around: a task (one unit of parsing work), the raw pieces it yields, and drops.

A task is what one worker converts at a time and what the cache stores: a file, or a run of tunes of a
multi-tune ABC file (so the 700-tune files of the Essen collection spread over the workers).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Task:
    source: str
    """"music21" (the corpus), "midi" or "score" (a MIDI or score file of a folder): which converter reads it."""
    path: str
    """Absolute path of the file."""
    rel: str
    """Path relative to the source root: the base of every piece's identity."""
    style: str
    """Style label of the pieces it yields."""
    tunes: tuple[int, int] | None = None
    """ABC only: the tunes [first, last) of the file this task converts (0-based, in file order)."""
    merge: bool = False
    """ABC only: the file's tunes are the voices of one piece (the josquin collection)."""
    split: str | None = None
    """Folder only: the split a labels CSV pinned this file's pieces to (None: the hash decides)."""

    @property
    def key(self) -> str:
        return self.rel if self.tunes is None else f"{self.rel}#{self.tunes[0]}-{self.tunes[1]}"


@dataclass
class RawPiece:
    id: str
    """Stable identity, e.g. `music21:essenFolksong/han1.abc#17` or `midi:jazz/take5.mid`."""
    title: str
    notes: np.ndarray  # NOTE_DTYPE, trimmed to start at 0


@dataclass
class Drop:
    id: str
    """The piece or file dropped."""
    reason: str
    """A short category, counted in the summary (e.g. `too_few_notes`, `parse_error`)."""
    detail: str = ""
    """One line of what happened, kept in dropped.jsonl."""


@dataclass
class Converted:
    pieces: list[RawPiece] = field(default_factory=list)
    drops: list[Drop] = field(default_factory=list)
    readers: Counter = field(default_factory=Counter)
    """Scores read by each reader (`abc`, `kern`, `musicxml`, `music21`, `midi`): what went the slow way."""
