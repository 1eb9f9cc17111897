"""Torch's CPU threads for the decode loop, chosen by timing the work rather than assumed.

A decode step of a few rows is a string of small ops, and on two or more threads every op ends at a barrier where
the threads meet. On idle cores that pays: steps of 2+ rows (candidates, guidance's twins) run 25-35 % faster on
the 2 cores of this project's VM than on one (`benchmarks/RESULTS.md`). When anything else runs on the cores (a
training run, a browser, another request), a thread is often descheduled and each barrier waits for the scheduler
instead: with a training run on both cores, a guided solo piano took 111 ms a token on two threads against 6 ms on
one, and a 390-token window refill 380-630 ms against 40-95. The load changes while a piece is written, and the
machine is not ours to inspect, so the engine measures: `ThreadChooser` runs one kind of work (the decode steps of
a batch, the window refills) on whichever thread count has been faster for it, and re-times the others now and
then, for at most `budget` of the time.

A seed must give the same piece however the threads were chosen, so the choice is only offered where the thread
count does not change the numbers. For most shapes MKL splits a product's output columns among the threads, and the
results are bitwise the same on any number; for some small row counts it splits the sums too, and the last bits
differ (the 4 x 256 model's MLP output, 1024 -> 256, at 16-168 rows: a fill of a short primer; the 6 x 384 one's
qkv, 384 -> 1152, at 4-15 rows: a step of several candidates). `same_on_threads` runs a work's products on one
thread and on several once per shape; where they differ that work stays on one thread (`tests/test_threads.py`
checks decode logits equal on 1 and 2 threads, and a seed's pieces equal under every policy).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

import torch

T = TypeVar("T")


@contextmanager
def threads(n: int) -> Iterator[None]:
    """torch's CPU threads set to `n` inside the block, and back to what they were after it (whatever the block
    set them to)."""
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def thread_options(rows: int, available: int) -> tuple[int, ...]:
    """The thread counts to choose among for work on `rows` rows when torch has `available` threads, the one to try
    first first. A step of a single stream is a handful of matrix-vector products and stays on one thread (a second
    costs more in synchronisation than it gives, even on idle cores); anything bigger tries all of them, then one."""
    if rows == 1 or available <= 1:
        return (1,)
    return (available, 1)


def same_on_threads(
    probes: Sequence[tuple[Callable[[torch.Tensor], torch.Tensor], torch.Tensor]], n: int
) -> bool:
    """Whether each `(fn, x)` gives bitwise the same `fn(x)` on `n` threads as on one."""
    with torch.no_grad():
        for fn, x in probes:
            with threads(1):
                one = fn(x)
            with threads(n):
                if not torch.equal(one, fn(x)):
                    return False
    return True


class ThreadChooser:
    """`chooser.run(fn, *args)`: calls `fn(*args)` on the thread count that has been fastest for it so far.

    Each option is first timed over `probe` calls (after one warm-up call right after a switch, which pays for the
    thread pool's change); then the fastest runs, its cost a running mean of its own calls, and every other option
    is timed again once enough calls have passed that the probe costs at most `budget` of the time: an option
    measured r times slower than the best is re-timed after `probe * r / budget` calls. So a loaded machine that
    frees up is noticed within a few hundred steps, and a thread count that is 18 times slower is retried rarely."""

    def __init__(
        self,
        options: Sequence[int],
        probe: int = 3,
        warmup: int = 1,
        budget: float = 0.02,
        clock: Callable[[], float] = time.perf_counter,
    ):
        if not options or min(options) < 1:
            raise ValueError(f"thread counts must be positive, got {list(options)}")
        self.options = tuple(dict.fromkeys(options))
        self.probe, self.warmup, self.budget, self.clock = probe, warmup, budget, clock
        self.cost: dict[int, float] = {}  # mean seconds per call, per option
        self.due = dict.fromkeys(self.options, 0)  # the call count at which each option is (re-)timed
        self.calls = 0
        self._trial: int | None = None  # the option being timed, and its times so far
        self._times: list[float] = []
        self._skip = 0  # warm-up calls of the trial still to ignore
        self._last: int | None = None  # the option of the previous call

    @property
    def best(self) -> int:
        """The fastest option measured so far (the first option before any)."""
        known = [n for n in self.options if n in self.cost]
        return min(known, key=self.cost.__getitem__) if known else self.options[0]

    def pick(self) -> int:
        """The thread count the next call runs on."""
        if len(self.options) == 1:
            return self.options[0]
        if self._trial is None:
            best = self.best
            due = [n for n in self.options if (n != best or n not in self.cost) and self.calls >= self.due[n]]
            if due:
                self._trial, self._times = due[0], []
                self._skip = self.warmup if due[0] != self._last else 0
        return self.best if self._trial is None else self._trial

    def run(self, fn: Callable[..., T], *args, units: float = 1.0, **kwargs) -> T:
        """`fn(*args, **kwargs)` on the picked thread count, which stays set afterwards (switching costs ~15 µs, so
        the caller restores torch's setting once, around its loop: `with threads(...)`). `units`: how much work the
        call is (e.g. the tokens of a window refill), when calls differ in size: costs are per unit."""
        n = self.pick()
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
        t0 = self.clock()
        out = fn(*args, **kwargs)
        self.record(n, (self.clock() - t0) / units)
        return out

    def record(self, n: int, seconds: float) -> None:
        """Accounts one call of `seconds` (per unit of work) on `n` threads (the one `pick` gave)."""
        switched, self._last = self._last != n, n
        self.calls += 1
        if self._trial == n:
            if self._skip:
                self._skip -= 1
                return
            self._times.append(seconds)
            if len(self._times) >= self.probe:
                self.cost[n] = sum(self._times) / len(self._times)
                self._trial = None
                self._schedule()
        elif n in self.cost and not switched:  # the running option's cost follows the machine's load
            self.cost[n] += 0.1 * (seconds - self.cost[n])

    def _schedule(self) -> None:
        best = self.best
        for n in self.options:
            if n != best and n in self.cost:
                ratio = self.cost[n] / max(self.cost[best], 1e-9)
                self.due[n] = self.calls + math.ceil((self.probe + self.warmup) * ratio / self.budget)
