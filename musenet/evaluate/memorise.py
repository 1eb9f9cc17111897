"""Memorisation: the longest run of consecutive notes a piece shares with any training piece.

A piece becomes the sequence of its pitched note-ons in token order (onset, then instrument, then pitch), read
straight from its token ids, so real and generated pieces are read alike and the training set needs no decoding.
Drums are left out (drum loops repeat everywhere) and instruments are ignored. Each note is a code of (pitch,
onset interval from the previous note, in 10 ms units, capped). A run of n notes is shared when the n pitches and
the n - 1 onset intervals between them are equal (the first note's interval from *its* predecessor is not
compared). By default pitches are exact, so a transposed copy is not a copy; with `transpose_invariant=True` a
note's pitch is replaced by its interval from the previous note, and a run of n notes then shares n - 1 intervals
and n - 1 onset intervals.

Index: every window of `k` notes (k = 8) of every training piece is hashed (a polynomial over the codes, uint64)
and the hashes sorted. A query looks each of its windows up, then extends every hit forward note by note on the
real codes, so hash collisions never count. The answer is the longest shared run (0 if no k-note window is
shared, since runs shorter than k are not looked for) and which training piece it came from. Hits per window are
capped (`max_hits`): a window found in thousands of places (a repeated note) is checked in the first ones only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..codec.vocab import Vocab

IOI_CAP = 4096  # onset intervals (time units) are capped at this many
_MULT = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class MemoConfig:
    k: int = 8
    """Window length (notes) of the index; shorter shared runs are not found."""
    transpose_invariant: bool = False
    """Compare pitch intervals instead of pitches."""
    time_unit_s: float = 0.01
    """Onset intervals are compared in these units (the codec's 10 ms)."""
    max_hits: int = 256
    """At most this many index hits are extended per query window."""


def note_codes(ids: np.ndarray, vocab: Vocab, cfg: MemoConfig) -> np.ndarray:
    """(n,) int64: one code per pitched note-on of a token stream, in token order."""
    ids = np.asarray(ids, dtype=np.int64)
    is_wait = (ids >= vocab.wait_offset) & (ids < vocab.style_offset)
    clock = np.cumsum(np.where(is_wait, ids - vocab.wait_offset + 1, 0))
    note = np.flatnonzero(ids < vocab.n_notes)
    inst, level, pitch = vocab.note_table[ids[note]].T
    on = (level > 0) & ~vocab.is_drums[inst]
    onset, pitch = clock[note[on]], pitch[on]
    if not len(onset):
        return np.zeros(0, np.int64)
    unit = vocab.config.time_unit_ms / 1000 / cfg.time_unit_s  # codec units -> comparison units
    onset = np.rint(onset * unit).astype(np.int64)
    ioi = np.minimum(np.diff(np.r_[onset[0], onset]), IOI_CAP - 1)
    if cfg.transpose_invariant:
        pitch = np.diff(np.r_[pitch[0], pitch]) + 128  # 1..255
    return pitch * IOI_CAP + ioi


def first_of_run(codes: np.ndarray, cfg: MemoConfig) -> np.ndarray:
    """What is compared of a run's first note: its pitch (exact), or nothing (transposition-invariant)."""
    return np.zeros_like(codes) if cfg.transpose_invariant else codes // IOI_CAP


def _window_hashes(codes: np.ndarray, cfg: MemoConfig) -> np.ndarray:
    k = cfg.k
    if len(codes) < k:
        return np.zeros(0, np.uint64)
    w = np.lib.stride_tricks.sliding_window_view(codes, k).astype(np.uint64)
    h = first_of_run(codes[: len(w)], cfg).astype(np.uint64) + np.uint64(1)
    for j in range(1, k):
        h = h * _MULT + w[:, j] + np.uint64(1)  # wraps modulo 2**64
    return h


@dataclass
class Match:
    length: int  # notes in the longest shared run
    piece: int  # index of the training piece (-1: none)
    at: int  # where the run starts in the query


class MemoIndex:
    def __init__(self, pieces: list[np.ndarray], cfg: MemoConfig = MemoConfig()):
        """`pieces`: the training pieces' note codes (`note_codes`)."""
        self.cfg = cfg
        self.codes = pieces
        hashes, owner, pos = [], [], []
        for i, c in enumerate(pieces):
            h = _window_hashes(c, cfg)
            hashes.append(h)
            owner.append(np.full(len(h), i, np.int64))
            pos.append(np.arange(len(h), dtype=np.int64))
        h = np.concatenate(hashes) if hashes else np.zeros(0, np.uint64)
        order = np.argsort(h, kind="stable")
        self.hashes = h[order]
        self.owner = (np.concatenate(owner) if owner else np.zeros(0, np.int64))[order]
        self.pos = (np.concatenate(pos) if pos else np.zeros(0, np.int64))[order]

    @property
    def windows(self) -> int:
        return len(self.hashes)

    def longest(self, codes: np.ndarray) -> Match:
        """The longest run of `codes` found verbatim in one training piece."""
        best = Match(0, -1, -1)
        h = _window_hashes(codes, self.cfg)
        head = first_of_run(codes, self.cfg)
        lo = np.searchsorted(self.hashes, h, side="left")
        hi = np.searchsorted(self.hashes, h, side="right")
        reach = -1  # the furthest query position a run has reached
        for i in np.flatnonzero(hi > lo):
            for j in range(lo[i], min(hi[i], lo[i] + self.cfg.max_hits)):
                src = self.codes[int(self.owner[j])]
                s = int(self.pos[j])
                if head[i] != first_of_run(src[s : s + 1], self.cfg)[0]:
                    continue  # a hash collision
                n = 1
                while i + n < len(codes) and s + n < len(src) and codes[i + n] == src[s + n]:
                    n += 1
                if n >= self.cfg.k and n > best.length:
                    best = Match(n, int(self.owner[j]), int(i))
                reach = max(reach, i + n)
            if reach >= len(codes):
                break  # a run from here reaches the end: no later start can be longer
        return best
