"""Real windows for the critics. The inner critic's: the opening `tokens` of real pieces of a built dataset, with
each piece's style and instrument set (so the generated pool can be asked for the same); they open at the piece's
start, as a generation from scratch does, and pieces shorter than the window are skipped (the generated side drops
its short samples too), so window length tells the critic nothing. The style critic's (`style_windows`): a piece's
prefix with its style masked + a stretch from anywhere in it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..codec.vocab import Vocab
from ..data.shards import open_split

Spec = tuple[str, tuple[str, ...]]  # (style, instruments): what a generation is asked for


def spec_of(prefix: np.ndarray, vocab: Vocab) -> Spec:
    """`style instrument... start` -> (style, instrument names)."""
    style = vocab.config.styles[int(prefix[0]) - vocab.style_offset]
    return style, vocab.prefix_instruments(prefix)


def real_windows(
    data_dir: str | Path, split: str, vocab: Vocab, tokens: int, n: int, seed: int
) -> tuple[np.ndarray, list[Spec], int]:
    """Up to n windows (n, tokens) from distinct random pieces of `split`, their specs, and how many pieces of the
    split were too short to give one."""
    ids, _, index = open_split(data_dir, split)
    long = np.flatnonzero(index["length"].astype(np.int64) >= tokens)
    pick = np.random.default_rng(seed).permutation(long)[:n]
    rows, specs = [], []
    for p in pick:
        off, plen = int(index["offset"][p]), int(index["prefix"][p])
        w = np.asarray(ids[off : off + tokens], dtype=np.int64)
        rows.append(w)
        specs.append(spec_of(w[:plen], vocab))
    out = np.stack(rows) if rows else np.zeros((0, tokens), np.int64)
    return out, specs, len(index) - len(long)


def style_windows(
    data_dir: str | Path, split: str, vocab: Vocab, tokens: int, n: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """n windows (n, tokens) for a style critic and their styles' indices: pieces of `split` drawn with weight
    1 / (pieces of their style), so each style is about equally common (pieces labelled `unknown` left out), each
    window the piece's prefix with the style masked (`style:unknown`) + a stretch from a random place in the
    piece, as `Critic.score` reads a candidate."""
    ids, _, index = open_split(data_dir, split)
    offset, prefix = index["offset"].astype(np.int64), index["prefix"].astype(np.int64)
    length = index["length"].astype(np.int64)
    styles = index["style"].astype(np.int64)
    usable = np.flatnonzero((length > prefix) & (styles > 0))
    if not len(usable):
        return np.zeros((0, tokens), np.int64), np.zeros(0, np.int64)
    counts = np.bincount(styles[usable], minlength=len(vocab.config.styles))
    weight = 1.0 / counts[styles[usable]]
    rng = np.random.default_rng(seed)
    pick = rng.choice(usable, size=n, p=weight / weight.sum())
    out = np.full((n, tokens), vocab.pad, np.int64)
    for row, p in enumerate(pick):
        off, plen, size = int(offset[p]), int(prefix[p]), int(length[p])
        head = np.array(ids[off : off + plen], dtype=np.int64)[: tokens - 1]
        head[0] = vocab.style_offset
        room = tokens - len(head)
        at = int(rng.integers(0, max(0, size - plen - room) + 1))  # the stretch starts within the body
        body = np.asarray(ids[off + plen + at : off + min(size, plen + at + room)], dtype=np.int64)
        w = np.concatenate([head, body])
        out[row, : len(w)] = w
    return out, styles[pick]
