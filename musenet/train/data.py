"""Batches for the trainer. The trainer owns the data order: step s on rank r draws its windows, augmentation
seeds, mixup draws and dropout seed from a generator seeded by (seed, s, r), so a resumed run replays exactly the
batches the uninterrupted run would have seen.
"""

from __future__ import annotations

import importlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from musenet.errors import UserError
from musenet.model.gpt import Positions

POSITION_KEYS = ("time", "chord", "part", "countdown")


class Windows(Protocol):
    """What the trainer needs from a dataset (musenet.data.dataset.WindowDataset has it)."""

    vocab_size: int
    pad_id: int
    vocab_config: dict
    chord_positions: int

    def __len__(self) -> int: ...

    def sample(self, index: int, seed: int) -> dict[str, np.ndarray]: ...


def open_dataset(
    spec: str, data_dir: str, split: str, context: int, augment: bool, infill_share: float = 0.0
) -> Windows:
    """Import `module:Class` lazily (the data package is optional for the model) and open one split;
    `infill_share` > 0 is passed on to the class (which must take it)."""
    module, _, name = spec.partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise UserError(f"--dataset {spec}: {e}") from e
    try:  # WindowDataset raises UserError itself for a folder that is not a built dataset
        extra = {"infill_share": infill_share} if infill_share > 0 else {}
        return cls(data_dir, split, context, augment, **extra)
    except TypeError as e:
        raise UserError(f"--dataset {spec} cannot train infilling: {e}") from e
    except (FileNotFoundError, KeyError) as e:
        raise UserError(f"cannot open the {split} split of {data_dir}: {e}") from e


@dataclass
class Batch:
    x: torch.Tensor  # (B, T) input ids
    pos: Positions  # four (B, T)
    y: torch.Tensor  # (B, T) targets, -100 where padding
    mix: tuple[torch.Tensor, torch.Tensor] | None = None  # (lambda, permutation of the batch) for mixup

    def to(self, device: torch.device) -> Batch:
        pos = Positions(*(p.to(device, non_blocking=True) for p in self.pos))
        mix = None if self.mix is None else (self.mix[0].to(device), self.mix[1].to(device))
        return Batch(self.x.to(device, non_blocking=True), pos, self.y.to(device, non_blocking=True), mix)

    @property
    def tokens(self) -> int:
        return self.x.numel()


def collate(samples: list[dict[str, np.ndarray]], pad_id: int) -> Batch:
    """Windows of context + 1 tokens -> inputs (first context) and targets (last context, padding ignored)."""
    ids = torch.from_numpy(np.stack([s["ids"] for s in samples]))
    y = ids[:, 1:].clone()
    y[y == pad_id] = -100
    pos = Positions(*(torch.from_numpy(np.stack([s[k][:-1] for s in samples])) for k in POSITION_KEYS))
    return Batch(ids[:, :-1].contiguous(), pos, y)


def step_rng(seed: int, step: int, rank: int) -> np.random.Generator:
    return np.random.default_rng([seed, step, rank])


@dataclass(frozen=True)
class StepPlan:
    micro: list[Batch]
    torch_seed: int  # dropout and anything else torch draws during the step


class TrainBatches:
    """Step s's micro-batches for this rank, the next step's made in a background thread meanwhile."""

    def __init__(self, ds: Windows, batch_size: int, grad_accum: int, seed: int, rank: int, mixup: float):
        self.ds, self.B, self.accum, self.seed, self.rank, self.mixup = (
            ds,
            batch_size,
            grad_accum,
            seed,
            rank,
            mixup,
        )
        self.pool = ThreadPoolExecutor(1)
        self.pending: dict[int, Future] = {}

    def _make(self, step: int) -> StepPlan:
        rng = step_rng(self.seed, step, self.rank)
        n = self.B * self.accum
        idx = rng.integers(len(self.ds), size=n)
        aug = rng.integers(2**31, size=n)
        micro = []
        for m in range(self.accum):
            rows = range(m * self.B, (m + 1) * self.B)
            b = collate([self.ds.sample(int(idx[i]), int(aug[i])) for i in rows], self.ds.pad_id)
            if self.mixup > 0:
                # lambda as a tensor: a Python float would make torch.compile recompile for every value
                lam = torch.tensor(rng.beta(self.mixup, self.mixup), dtype=torch.float32)
                b.mix = (lam, torch.from_numpy(rng.permutation(self.B)))
            micro.append(b)
        return StepPlan(micro, int(rng.integers(2**62)))

    def get(self, step: int) -> StepPlan:
        fut = self.pending.pop(step, None)
        plan = fut.result() if fut is not None else self._make(step)
        self.pending = {step + 1: self.pool.submit(self._make, step + 1)}
        return plan

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def val_batches(ds: Windows, batch_size: int, n_batches: int, rank: int, world: int) -> list[Batch]:
    """A fixed validation set (no augmentation): all windows if they fit, else evenly spaced ones; this rank's
    share of the batches."""
    total = min(len(ds), batch_size * n_batches)
    idx = np.linspace(0, len(ds) - 1, total).round().astype(int) if total < len(ds) else np.arange(len(ds))
    chunks = [idx[i : i + batch_size] for i in range(0, len(idx), batch_size)]
    return [collate([ds.sample(int(i), 0) for i in c], ds.pad_id) for c in chunks[rank::world]]


def describe(ds: Windows) -> dict[str, Any]:
    return dict(windows=len(ds), vocab_size=ds.vocab_size, pad_id=ds.pad_id)
