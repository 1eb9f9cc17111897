"""A stand-in for musenet.data.dataset.WindowDataset with the same interface, for tests and benchmarks.

Windows are walks on a fixed random Markov chain (4 successors per token, so the best loss is ln 4 = 1.39 nats
against ln 256 = 5.55 for a fresh model): a model learns them quickly and its loss falls clearly. Positions follow
the real rules (time non-decreasing, chord indices within a moment, part and countdown over a piece); augmentation
stretches time. Needs no files: `data_dir` is ignored. Deterministic in (index, seed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

_SUCCESSORS = np.random.default_rng(12345).integers(1, 256, size=(256, 4))


class SyntheticDataset:
    vocab_size = 256
    pad_id = 0
    chord_positions = 25

    def __init__(self, data_dir: str | Path, split: str, context: int, augment: bool):
        if split not in ("train", "val", "test"):
            raise ValueError(f"unknown split {split!r}")
        self.context = context
        self.augment = augment
        self.split_offset = {"train": 0, "val": 1_000_003, "test": 2_000_003}[split]
        self.size = {"train": 4096, "val": 64, "test": 64}[split]
        self.vocab_config = {"synthetic": True, "vocab_size": self.vocab_size, "pad_id": self.pad_id}

    def __len__(self) -> int:
        return self.size

    def sample(self, index: int, seed: int) -> dict[str, np.ndarray]:
        if not 0 <= index < self.size:
            raise IndexError(index)
        n = self.context + 1
        rng = np.random.default_rng(index + self.split_offset)
        ids = np.empty(n, dtype=np.int64)
        ids[0] = rng.integers(1, 201)
        choice = rng.integers(0, 4, size=n)
        for t in range(1, n):
            ids[t] = _SUCCESSORS[ids[t - 1], choice[t]]
        wait = ids > 200  # tokens 201..255 play the part of waits
        stretch = 1 + np.random.default_rng(seed).integers(0, 3) if self.augment else 1
        time = np.concatenate([[0], np.cumsum(np.where(wait, ids - 200, 0))[:-1]]) * stretch
        moment = np.concatenate([[0], np.cumsum(wait)[:-1]])  # index of the moment each token sounds in
        first = np.searchsorted(moment, moment)  # first token of the same moment
        chord = np.where(wait, 0, np.arange(n) - first + 1)
        part = np.arange(n) * 128 // n
        countdown = 127 - part
        pad = int(rng.integers(0, n // 4)) if index % 5 == 0 else 0  # some windows end early, padded
        if pad:
            ids[-pad:] = self.pad_id
            time[-pad:] = chord[-pad:] = part[-pad:] = countdown[-pad:] = 0
        out = dict(ids=ids, time=time, chord=chord, part=part, countdown=countdown)
        return {k: np.asarray(v, dtype=np.int64) for k, v in out.items()}
