"""MuseNet's augmentations, applied to token ids at load time (pure numpy; a window at a time).

- `transpose`: every pitched note token (note-ons and note-offs alike; drums never) moves by k semitones.
  `transpose_range` gives the k that keep every note of the window inside its instrument's range, so a drawn k is
  always legal (MuseNet: "transposition within each instrument's range").
- `shift_velocity`: every note-on moves by d loudness levels, clipped to 1..V (MuseNet: global volume up/down).
  Note-offs (level 0) stay note-offs.
- `stretch`: every run of consecutive waits (one gap between two moments) is scaled by f and re-split into waits
  of at most `max_wait`; a gap never shrinks to zero, so no two moments merge and no note-off can overtake its
  note-on (MuseNet: timing "slightly faster or slower").

`draw(ids, vocab, rng, cfg)` draws all three from one generator, in a fixed order, so a seed fixes the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..codec.vocab import Vocab


@dataclass(frozen=True)
class AugmentConfig:
    max_transpose: int = 6
    """Transpose by up to this many semitones either way (k drawn uniformly among the legal ones)."""
    velocity_shift: int = 1
    """Shift note-on levels by up to this many levels either way."""
    stretch: float = 0.05
    """Scale time by a factor drawn uniformly from [1 - stretch, 1 + stretch]."""


def _notes(ids: np.ndarray, vocab: Vocab) -> tuple[np.ndarray, np.ndarray]:
    """(positions of note tokens, their (instrument, level, pitch) rows)."""
    where = np.flatnonzero(ids < vocab.n_notes)
    return where, vocab.note_table[ids[where]]


def transpose_range(ids: np.ndarray, vocab: Vocab) -> tuple[int, int]:
    """The (lowest, highest) k for which every pitched note of `ids` stays in its instrument's range."""
    _, t = _notes(ids, vocab)
    t = t[~vocab.is_drums[t[:, 0]]]
    if len(t) == 0:
        return 0, 0
    return int((vocab.low[t[:, 0]] - t[:, 2]).max()), int((vocab.high[t[:, 0]] - t[:, 2]).min())


def transpose(ids: np.ndarray, vocab: Vocab, k: int) -> np.ndarray:
    """Moves pitched notes by k semitones; k must lie in `transpose_range(ids)`."""
    where, t = _notes(ids, vocab)
    pitched = ~vocab.is_drums[t[:, 0]]
    where, t = where[pitched], t[pitched]
    out = ids.copy()
    out[where] = vocab.note_id(t[:, 0], t[:, 1], t[:, 2] + k)
    return out


def shift_velocity(ids: np.ndarray, vocab: Vocab, d: int) -> np.ndarray:
    where, t = _notes(ids, vocab)
    on = t[:, 1] > 0
    where, t = where[on], t[on]
    out = ids.copy()
    out[where] = vocab.note_id(t[:, 0], np.clip(t[:, 1] + d, 1, vocab.config.velocity_bins), t[:, 2])
    return out


def stretch(ids: np.ndarray, vocab: Vocab, f: float, base: int = 0) -> np.ndarray:
    """Scales time by f: each moment moves from t to round(t * f) (t counted from `base`, the clock before `ids`),
    every gap staying at least one unit; the gaps are re-split into waits.

    Rounding the moments rather than each gap keeps the total right: a 5-unit gap times 0.95 rounds back to 5."""
    max_wait = vocab.config.max_wait
    is_wait = (ids >= vocab.wait_offset) & (ids < vocab.wait_offset + max_wait)
    if not is_wait.any():
        return ids.copy()
    first = is_wait & ~np.r_[False, is_wait[:-1]]  # first wait of each run
    run = np.cumsum(first) - 1  # run number of each wait (valid where is_wait)
    gaps = np.bincount(run[is_wait], weights=(ids[is_wait] - vocab.wait_offset + 1)).astype(np.int64)
    t = base + np.cumsum(gaps)
    scaled = np.rint(np.concatenate([[base], t]) * f).astype(np.int64)
    new = np.maximum(1, np.diff(scaled))
    n_new = -(-new // max_wait)
    # output tokens per input token: 1 for a non-wait, the run's new wait count for its first wait, 0 for the rest
    per = np.where(is_wait, 0, 1)
    per[first] = n_new
    out = np.empty(int(per.sum()), dtype=ids.dtype)
    at = np.cumsum(per) - per  # where each input token's output starts
    keep = ~is_wait
    out[at[keep]] = ids[keep]
    owner = np.repeat(np.arange(len(new)), n_new)
    within = np.arange(len(owner)) - np.repeat(np.cumsum(n_new) - n_new, n_new)
    last = within == n_new[owner] - 1
    lens = np.where(last, new[owner] - (n_new[owner] - 1) * max_wait, max_wait)
    out[np.repeat(at[first], n_new) + within] = vocab.wait_offset + lens - 1
    return out


@dataclass
class Drawn:
    k: int = 0
    d: int = 0
    f: float = 1.0


def draw(
    ids: np.ndarray, vocab: Vocab, rng: np.random.Generator, cfg: AugmentConfig = AugmentConfig()
) -> Drawn:
    """Draws (transposition, velocity shift, stretch) for a window, in that order."""
    lo, hi = transpose_range(ids, vocab)
    lo, hi = max(lo, -cfg.max_transpose), min(hi, cfg.max_transpose)
    k = int(rng.integers(lo, hi + 1)) if lo <= hi else 0
    d = int(rng.integers(-cfg.velocity_shift, cfg.velocity_shift + 1))
    f = float(rng.uniform(1 - cfg.stretch, 1 + cfg.stretch))
    return Drawn(k, d, f)


def apply(ids: np.ndarray, vocab: Vocab, a: Drawn, base: int = 0) -> np.ndarray:
    if a.k:
        ids = transpose(ids, vocab, a.k)
    if a.d:
        ids = shift_velocity(ids, vocab, a.d)
    if a.f != 1.0:
        ids = stretch(ids, vocab, a.f, base)
    return ids
