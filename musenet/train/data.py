"""Batches for the trainer. The trainer owns the data order: step s on rank r draws its windows, augmentation
seeds, mixup draws and dropout seed from a generator seeded by (seed, s, r), so a resumed run replays exactly the
batches the uninterrupted run would have seen.

**Which windows** (`StyleBalance`): a style whose windows hold T_s tokens gets a share T_s^alpha / sum T^alpha of
the drawn windows, and within a style a window is drawn in proportion to the tokens it holds (a padded short
window less often than a full one). alpha = 1 is drawing in proportion to tokens, every token equally likely;
alpha = 0 gives every style the same share; ~0.5 keeps the big styles big but stops them drowning the small ones
(in the music21 corpus Palestrina and the folk songs hold 75 % of the tokens). When every window weighs the same
(alpha = 1 over full windows, or a dataset without styles) the draw is `rng.integers`, as it always was, so such
runs keep their data order bit for bit. The weights are fixed for the run and the draw is one `searchsorted` of
uniform numbers from the step's generator, so resuming and torchrun ranks work as before.

**Who makes them** (`TrainBatches`): the next step's batches are made while a step runs, in one background thread
or, with `data_workers`, in worker processes that open the dataset themselves; a plan depends only on (seed,
step, rank), so both give the same batches.
"""

from __future__ import annotations

import importlib
import multiprocessing
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from musenet.errors import UserError
from musenet.model.gpt import Positions

POSITION_KEYS = ("time", "chord", "part", "countdown")


class Windows(Protocol):
    """What the trainer needs from a dataset (musenet.data.dataset.WindowDataset has it). A dataset that also has
    `styles` (names), `win_style` (each window's index into them) and `win_tokens` (tokens each window holds)
    can be drawn style-balanced; one without them is drawn uniformly."""

    vocab_size: int
    pad_id: int
    vocab_config: dict
    chord_positions: int

    def __len__(self) -> int: ...

    def sample(self, index: int, seed: int) -> dict[str, np.ndarray]: ...


def open_dataset(
    spec: str,
    data_dir: str,
    split: str,
    context: int,
    augment: bool,
    infill_share: float = 0.0,
    style_dropout: float = 0.0,
    piano_alias: float = 0.0,
) -> Windows:
    """Import `module:Class` lazily (the data package is optional for the model) and open one split;
    `infill_share`, `style_dropout` and `piano_alias`, when > 0, are passed on to the class (which must take them)."""
    module, _, name = spec.partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise UserError(f"--dataset {spec}: {e}") from e
    options = (("infill_share", infill_share), ("style_dropout", style_dropout), ("piano_alias", piano_alias))
    extra = {k: v for k, v in options if v > 0}
    try:  # WindowDataset raises UserError itself for a folder that is not a built dataset
        return cls(data_dir, split, context, augment, **extra)
    except TypeError as e:
        if not extra:
            raise
        raise UserError(f"--dataset {spec} cannot take {', '.join(extra)}: {e}") from e
    except (FileNotFoundError, KeyError) as e:
        raise UserError(f"cannot open the {split} split of {data_dir}: {e}") from e


class StyleBalance:
    """Per-window draw probabilities: style shares from tokens^alpha, windows within a style by their tokens."""

    def __init__(self, ds: Windows, alpha: float):
        n = len(ds)
        styles = getattr(ds, "styles", None)
        win_style, win_tokens = getattr(ds, "win_style", None), getattr(ds, "win_tokens", None)
        if styles is None or win_style is None or win_tokens is None:  # no labels: every window is alike
            styles, win_style, win_tokens = ["(all)"], np.zeros(n, np.int64), np.ones(n, np.int64)
        self.alpha = alpha
        self.n = n
        tokens = np.bincount(win_style, weights=win_tokens, minlength=len(styles))  # T_s
        windows = np.bincount(win_style, minlength=len(styles))
        mass = np.zeros_like(tokens)
        mass[tokens > 0] = tokens[tokens > 0] ** alpha  # T_s^alpha; 0 ** 0 would give an empty style a share
        w = np.asarray(win_tokens, np.float64) * (mass / np.where(tokens > 0, tokens, 1))[win_style]
        self.uniform = bool(n == 0 or np.all(w == w[0]))
        self.cdf = np.cumsum(w) / w.sum() if n and not self.uniform else None
        share = mass / mass.sum() if mass.sum() > 0 else mass
        order = np.argsort(-share, kind="stable")
        self.table = [
            dict(style=styles[k], windows=int(windows[k]), tokens=int(tokens[k]),
                 token_share=float(tokens[k] / tokens.sum()), share=float(share[k]))
            for k in order if windows[k]
        ]  # fmt: skip
        # the style alias (`WindowDataset.piano_alias`): the share of draws whose (first) piece may carry `piano`
        aliasable, alias = getattr(ds, "aliasable", None), getattr(ds, "piano_alias", 0.0)
        self.alias: tuple[float, float] | None = None
        if aliasable is not None and alias > 0 and n:
            p = w / w.sum()
            self.alias = (alias, float(p[aliasable[ds.win_piece]].sum()))

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """`size` window indices."""
        if self.cdf is None:
            return rng.integers(self.n, size=size)
        return np.minimum(np.searchsorted(self.cdf, rng.random(size), side="right"), self.n - 1)

    def shares(self) -> dict[str, float]:
        """Style -> its expected share of the drawn windows."""
        return {r["style"]: r["share"] for r in self.table}

    def report(self) -> str:
        """The lines the trainer prints at the start: each style's share of windows against its share of tokens."""
        head = f"share of windows per style (tokens^{self.alpha:g}; share of tokens in brackets):"
        rows = [
            f"  {r['style']:<16}{100 * r['share']:6.1f} %  ({100 * r['token_share']:.1f} %)"
            for r in self.table
        ]
        if self.alias is not None:
            q, solo = self.alias
            rows.append(
                f"piano alias: {100 * q:g} % of the solo-piano concert windows ({100 * solo:.1f} % of the draws) "
                f"carry `piano`: +{100 * q * solo:.1f} % of the windows for `piano`"
            )
        return "\n".join([head, *rows])


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


def stack(samples: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Samples -> (B, context + 1) arrays per key (numpy: what a worker process sends back)."""
    return {k: np.stack([s[k] for s in samples]) for k in samples[0]}


def to_batch(stacked: dict[str, np.ndarray], pad_id: int) -> Batch:
    """Stacked windows of context + 1 tokens -> inputs (first context) and targets (last context, padding
    ignored)."""
    ids = torch.from_numpy(stacked["ids"])
    y = ids[:, 1:].clone()
    y[y == pad_id] = -100
    pos = Positions(*(torch.from_numpy(np.ascontiguousarray(stacked[k][:, :-1])) for k in POSITION_KEYS))
    return Batch(ids[:, :-1].contiguous(), pos, y)


def collate(samples: list[dict[str, np.ndarray]], pad_id: int) -> Batch:
    return to_batch(stack(samples), pad_id)


def step_rng(seed: int, step: int, rank: int) -> np.random.Generator:
    return np.random.default_rng([seed, step, rank])


@dataclass(frozen=True)
class StepPlan:
    micro: list[Batch]
    torch_seed: int  # dropout and anything else torch draws during the step


@dataclass(frozen=True)
class Order:
    """What fixes the data order: with the dataset, step s on rank r always gets the same plan."""

    batch_size: int
    grad_accum: int
    seed: int
    rank: int
    mixup: float


def plan_arrays(ds: Windows, balance: StyleBalance | None, o: Order, step: int) -> tuple[list, int]:
    """Step `step`'s micro-batches as numpy: [(stacked windows, (lambda, permutation) or None)], torch seed."""
    rng = step_rng(o.seed, step, o.rank)
    n = o.batch_size * o.grad_accum
    idx = balance.draw(rng, n) if balance is not None else rng.integers(len(ds), size=n)
    aug = rng.integers(2**31, size=n)
    micro = []
    for m in range(o.grad_accum):
        rows = range(m * o.batch_size, (m + 1) * o.batch_size)
        stacked = stack([ds.sample(int(idx[i]), int(aug[i])) for i in rows])
        mix = (rng.beta(o.mixup, o.mixup), rng.permutation(o.batch_size)) if o.mixup > 0 else None
        micro.append((stacked, mix))
    return micro, int(rng.integers(2**62))


_WORKER: tuple | None = None  # (dataset, balance, order) in a data worker process


def _worker_init(opener: Callable[[], Windows], alpha: float | None, order: Order) -> None:
    global _WORKER
    torch.set_num_threads(1)
    ds = opener()
    _WORKER = (ds, None if alpha is None else StyleBalance(ds, alpha), order)


def _worker_plan(step: int) -> tuple[list, int]:
    assert _WORKER is not None
    return plan_arrays(*_WORKER, step)


class TrainBatches:
    """Step s's micro-batches for this rank, the next steps' made meanwhile: in a background thread, or in
    `workers` processes that each open the dataset with `opener` (one thread makes ~0.3-0.5 M augmented tokens
    a second on this project's CPU, too few to feed a GPU). Both give the same batches."""

    def __init__(
        self,
        ds: Windows,
        batch_size: int,
        grad_accum: int,
        seed: int,
        rank: int,
        mixup: float,
        balance: StyleBalance | None = None,
        workers: int = 0,
        opener: Callable[[], Windows] | None = None,
    ):
        self.ds, self.balance = ds, balance  # balance None: every window equally likely
        self.order = Order(batch_size, grad_accum, seed, rank, mixup)
        self.B = batch_size
        self.ahead = max(1, workers)
        if workers > 0:
            if opener is None:
                raise ValueError("data workers need an opener of the dataset")
            alpha = None if balance is None else balance.alpha
            ctx = multiprocessing.get_context("spawn")  # no fork of a process that may hold CUDA and threads
            self.pool = ProcessPoolExecutor(
                workers, ctx, initializer=_worker_init, initargs=(opener, alpha, self.order)
            )
            self.submit = lambda step: self.pool.submit(_worker_plan, step)
        else:
            self.pool = ThreadPoolExecutor(1)
            self.submit = lambda step: self.pool.submit(plan_arrays, ds, balance, self.order, step)
        self.pending: dict[int, Future] = {}

    def _plan(self, arrays: tuple[list, int]) -> StepPlan:
        micro = []
        for stacked, mix in arrays[0]:
            b = to_batch(stacked, self.ds.pad_id)
            if mix is not None:
                # lambda as a tensor: a Python float would make torch.compile recompile for every value
                b.mix = (torch.tensor(mix[0], dtype=torch.float32), torch.from_numpy(mix[1]))
            micro.append(b)
        return StepPlan(micro, arrays[1])

    def _make(self, step: int) -> StepPlan:
        return self._plan(plan_arrays(self.ds, self.balance, self.order, step))

    def get(self, step: int) -> StepPlan:
        fut = self.pending.pop(step, None)
        plan = self._plan(fut.result()) if fut is not None else self._make(step)
        ahead = range(step + 1, step + 1 + self.ahead)
        self.pending = {s: self.pending.get(s) or self.submit(s) for s in ahead}
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
