"""Real windows for the critic: the opening `tokens` of real pieces of a built dataset, with each piece's style and
instrument set (so the generated pool can be asked for the same).

Windows open at the piece's start, as a generation from scratch does, and pieces shorter than the window are
skipped (the generated side drops its short samples too), so window length tells the critic nothing.
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
