"""A stand-in for musenet.data.dataset.WindowDataset with the same interface, for tests and benchmarks.

Windows are made of short motifs repeated with variations, so a model can learn them quickly and its loss falls;
positions follow the same rules as real ones (time non-decreasing, chord indices within a moment, part and
countdown over a piece). Needs no files: `data_dir` is ignored. Deterministic in (index, seed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


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
        motif = rng.integers(
            1, 200, size=int(rng.integers(3, 9))
        )  # a piece: one motif, transposed as it goes
        shift = np.random.default_rng(seed).integers(-5, 6) if self.augment else 0
        reps = -(-n // len(motif))
        steps = np.repeat(rng.integers(0, 4, size=reps), len(motif))[:n]
        ids = (np.tile(motif, reps)[:n] + steps + shift) % 200 + 1
        wait = (np.arange(n) % len(motif)) == len(motif) - 1  # the motif's last token is a wait
        ids[wait] = 200 + np.minimum(steps[wait], 55)
        time = np.concatenate([[0], np.cumsum(wait)[:-1]]) * 10
        chord = np.where(wait, 0, np.arange(n) % len(motif) + 1)
        part = np.arange(n) * 128 // n
        countdown = 127 - part
        pad = int(rng.integers(0, n // 4)) if index % 5 == 0 else 0  # some windows end early, padded
        if pad:
            ids[-pad:] = self.pad_id
            time[-pad:] = chord[-pad:] = part[-pad:] = countdown[-pad:] = 0
        out = dict(ids=ids, time=time, chord=chord, part=part, countdown=countdown)
        return {k: np.asarray(v, dtype=np.int64) for k, v in out.items()}
