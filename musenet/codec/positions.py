"""MuseNet's structural positions, computed from token ids alone.

Every token gets four integers besides its id and its index in the sequence:

- `time`: the clock, in time units since the piece's start, *after* the token takes effect. A `wait:N` moves the
  clock by N, so a wait and the notes that follow it share one time; all notes sounding from one moment share it
  (MuseNet's timing embedding). Prefix tokens have time 0.
- `chord`: for a note-on (any velocity level > 0, drums included), 1 + its index among the note-ons since the last
  wait, i.e. among the notes starting at the same moment, capped at `max_chord`; 0 for every other token.
- `part`: which of `parts` (128) equal slices of the piece's duration D the clock is in:
  `min(parts - 1, parts * time // D)`; 0 when D = 0.
- `countdown`: the time left to the end, in steps of `countdown_unit_ms`, rounded up and capped:
  `min(countdown - 1, ceil((D - time) / step))`; it reaches 0 at the end token.

The duration D is the piece's when encoding, and the requested length when generating, so the same definitions
drive generation. `positions(ids)` is the vectorised form; `PositionTracker` computes the same numbers one token
at a time (the tests check they agree on real files).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .vocab import Vocab

FIELDS = ("time", "chord", "part", "countdown")


@dataclass
class Positions:
    time: np.ndarray  # (N,) int64
    chord: np.ndarray  # (N,) int64
    part: np.ndarray  # (N,) int64
    countdown: np.ndarray  # (N,) int64

    def as_dict(self) -> dict[str, np.ndarray]:
        return {f: getattr(self, f) for f in FIELDS}


def part_of(vocab: Vocab, time: np.ndarray | int, duration: int) -> np.ndarray:
    parts = vocab.config.parts
    if duration <= 0:
        return np.zeros_like(np.asarray(time))
    return np.minimum(parts - 1, np.asarray(time) * parts // duration)


def countdown_of(vocab: Vocab, time: np.ndarray | int, duration: int) -> np.ndarray:
    cfg = vocab.config
    left = np.maximum(duration - np.asarray(time), 0)
    steps = np.ceil(left * cfg.time_unit_ms / cfg.countdown_unit_ms).astype(np.int64)
    return np.minimum(cfg.countdown - 1, steps)


def positions(ids: np.ndarray, vocab: Vocab, duration: int | None = None) -> Positions:
    """Structural positions of a token sequence; `duration` (units) defaults to the clock at its last token."""
    ids = np.asarray(ids, dtype=np.int64)
    is_wait = (ids >= vocab.wait_offset) & (ids < vocab.style_offset)
    time = np.cumsum(np.where(is_wait, ids - vocab.wait_offset + 1, 0))
    is_note = ids < vocab.n_notes
    level = np.zeros_like(ids)
    level[is_note] = vocab.note_table[ids[is_note], 1]
    on = is_note & (level > 0)
    cum_on = np.cumsum(on)
    idx = np.arange(len(ids))
    last_wait = np.maximum.accumulate(np.where(is_wait, idx, -1))
    base = np.where(last_wait >= 0, cum_on[np.maximum(last_wait, 0)], 0)
    chord = np.where(on, np.minimum(cum_on - base, vocab.config.max_chord), 0)
    if duration is None:
        duration = int(time[-1]) if len(time) else 0
    return Positions(time, chord, part_of(vocab, time, duration), countdown_of(vocab, time, duration))


class PositionTracker:
    """The same positions, one token at a time, as generation needs them."""

    def __init__(self, vocab: Vocab, duration: int):
        self.vocab = vocab
        self.duration = duration
        self.time = 0
        self.onsets = 0  # note-ons since the last wait

    def push(self, token: int) -> tuple[int, int, int, int]:
        v = self.vocab
        chord = 0
        if v.wait_offset <= token < v.style_offset:
            self.time += token - v.wait_offset + 1
            self.onsets = 0
        elif token < v.n_notes and v.note_table[token, 1] > 0:
            self.onsets += 1
            chord = min(self.onsets, v.config.max_chord)
        t = self.time
        return t, chord, int(part_of(v, t, self.duration)), int(countdown_of(v, t, self.duration))
