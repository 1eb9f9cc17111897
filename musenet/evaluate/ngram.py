"""The likelihood baseline: an interpolated n-gram (trigram by default) over token ids, counted with numpy.

Witten-Bell interpolation, which needs no tuning:

    P_1(w)     = (c(w) + 1) / (N + V)                                   add-one unigram: never zero
    P_k(w | h) = (c(h, w) + T(h) * P_{k-1}(w | h')) / (c(h) + T(h))     h' = h without its oldest token

where c(h) counts the context h, T(h) the distinct tokens seen after it; an unseen context falls back to
P_{k-1} whole. Every piece starts with `order - 1` copies of a boundary symbol (id V), so no n-gram spans two
pieces. Counts are sorted int64 keys (`np.unique`), looked up with `np.searchsorted`: a few seconds per 10M tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class _Level:
    keys: np.ndarray  # sorted (context, token) keys
    counts: np.ndarray
    ctx_keys: np.ndarray  # sorted context keys
    ctx_counts: np.ndarray  # c(h)
    ctx_types: np.ndarray  # T(h)


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    if not len(keys):
        return np.zeros(len(query), dtype=values.dtype)
    at = np.clip(np.searchsorted(keys, query), 0, len(keys) - 1)
    return np.where(keys[at] == query, values[at], 0)


class NGram:
    """An interpolated n-gram language model over ids 0..vocab_size-1."""

    def __init__(self, vocab_size: int, order: int = 3):
        if not 1 <= order <= 4:
            raise ValueError("order must be 1..4 (keys are packed into int64)")
        self.V = vocab_size
        self.order = order
        self.base = vocab_size + 1  # ids and the boundary symbol
        self.unigram = np.zeros(vocab_size, dtype=np.int64)
        self.levels: list[_Level] = []
        self.trained_tokens = 0

    def _padded(self, seqs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(all sequences with order-1 boundary symbols before each, mask of real tokens)."""
        pad = self.order - 1
        parts, real = [], []
        for s in seqs:
            parts += [np.full(pad, self.V, np.int64), np.asarray(s, np.int64)]
            real += [np.zeros(pad, bool), np.ones(len(s), bool)]
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, bool)
        return np.concatenate(parts), np.concatenate(real)

    def _keys(self, x: np.ndarray, k: int) -> np.ndarray:
        """For each position i >= k-1: the key of (x[i-k+1] .. x[i]); positions before get -1."""
        key = np.zeros(len(x), np.int64)
        for j in range(k):  # oldest first
            shifted = np.full(len(x), -1, np.int64)
            lag = k - 1 - j
            shifted[lag:] = x[: len(x) - lag]
            key = key * self.base + shifted
        key[: k - 1] = -1
        return key

    def fit(self, seqs: Sequence[np.ndarray]) -> NGram:
        x, real = self._padded(seqs)
        self.trained_tokens = int(real.sum())
        self.unigram = np.bincount(x[real], minlength=self.V)[: self.V].astype(np.int64)
        self.levels = []
        for k in range(2, self.order + 1):
            keys, counts = np.unique(self._keys(x, k)[real], return_counts=True)
            ctx = keys // self.base
            ctx_keys, first, types = np.unique(ctx, return_index=True, return_counts=True)
            ctx_counts = np.add.reduceat(counts, first) if len(counts) else np.zeros(0, np.int64)
            self.levels.append(_Level(keys, counts, ctx_keys, ctx_counts, types))
        return self

    def token_nll(self, seq: np.ndarray) -> np.ndarray:
        """(N,) -log P(seq[i] | the order-1 tokens before it, within seq), in nats."""
        x, real = self._padded([seq])
        w = x[real]
        n_total = self.unigram.sum()
        p = (self.unigram[w] + 1.0) / (n_total + self.V)
        for k, lev in enumerate(self.levels, start=2):
            keys = self._keys(x, k)[real]
            ctx = keys // self.base
            c_hw = _lookup(lev.keys, lev.counts, keys).astype(np.float64)
            c_h = _lookup(lev.ctx_keys, lev.ctx_counts, ctx).astype(np.float64)
            t_h = _lookup(lev.ctx_keys, lev.ctx_types, ctx).astype(np.float64)
            seen = c_h > 0
            p = np.where(seen, (c_hw + t_h * p) / np.maximum(c_h + t_h, 1.0), p)
        return -np.log(p)
