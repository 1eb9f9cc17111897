"""A process pool where one bad task costs one task: a per-task time limit, and a crashed worker is replaced.

`multiprocessing.Pool` cannot stop a task that spins forever or recover from a worker killed by its memory cap; a
build over untrusted files needs both. Each worker here has its own pipe and gets one task at a time; the parent
waits on all pipes with a deadline, kills a worker whose task overran it and starts another. Every task comes back
exactly once, as a value or as a one-line error.

Workers are forked, so `fn` and `init` need not be picklable; tasks and results travel pickled over the pipes.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any


@dataclass
class Outcome:
    index: int
    """Position of the task in the input list."""
    value: Any = None
    error: str | None = None
    """One line: why the task failed (an exception in `fn`, a timeout, a crash)."""


def _worker(conn: Connection, fn: Callable, init: Callable | None) -> None:
    if init is not None:
        init()
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        index, task = msg
        try:
            conn.send((index, fn(task), None))
        except MemoryError:
            conn.send((index, None, "out of memory"))
        except Exception as e:
            conn.send((index, None, f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"))


class _Slot:
    def __init__(self, ctx, fn: Callable, init: Callable | None):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, fn, init), daemon=True)
        self.proc.start()
        child.close()
        self.index: int | None = None  # the task it is working on
        self.deadline = 0.0

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join()
        self.conn.close()


def run_tasks(
    fn: Callable[[Any], Any],
    tasks: list,
    workers: int,
    timeout_s: float | list[float],
    init: Callable[[], None] | None = None,
    cost: list[float] | None = None,
) -> Iterator[Outcome]:
    """Yields one Outcome per task, in completion order. `init` runs once in each worker before its first task.

    `timeout_s`: seconds a task may take, one for all or one per task.

    `cost` (an estimate per task, e.g. file size) starts the expensive tasks first, so that one long task does not
    run alone at the end while the other workers idle.
    """
    ctx = mp.get_context("fork")
    limit = [float(timeout_s)] * len(tasks) if isinstance(timeout_s, (int, float)) else list(timeout_s)
    order = sorted(range(len(tasks)), key=lambda i: -cost[i]) if cost is not None else list(range(len(tasks)))
    todo = order[::-1]  # popped from the end
    slots = [_Slot(ctx, fn, init) for _ in range(max(1, min(workers, len(tasks))))]
    try:
        while todo or any(s.index is not None for s in slots):
            for s in slots:
                if s.index is None and todo:
                    s.index = todo.pop()
                    s.deadline = time.monotonic() + limit[s.index]
                    s.conn.send((s.index, tasks[s.index]))
            busy = [s for s in slots if s.index is not None]
            left = max(0.0, min(s.deadline for s in busy) - time.monotonic())
            ready = wait([s.conn for s in busy], timeout=left)
            for k, s in enumerate(slots):
                if s.index is None:
                    continue
                if s.conn in ready:
                    try:
                        index, value, error = s.conn.recv()
                    except (EOFError, OSError):
                        code = s.proc.exitcode
                        yield Outcome(
                            s.index,
                            error=f"the worker crashed (exit code {code}): out of memory or a corrupt file",
                        )
                        s.kill()
                        slots[k] = _Slot(ctx, fn, init)
                        continue
                    s.index = None
                    yield Outcome(index, value, error)
                elif time.monotonic() >= s.deadline:
                    yield Outcome(s.index, error=f"took longer than {limit[s.index]:g} s")
                    s.kill()
                    slots[k] = _Slot(ctx, fn, init)
    finally:
        for s in slots:
            with contextlib.suppress(OSError):  # the worker is gone already
                s.conn.send(None)
        for s in slots:
            s.proc.join(timeout=1.0)
            if s.proc.is_alive():
                s.proc.kill()
                s.proc.join()
            s.conn.close()
