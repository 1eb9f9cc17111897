"""One worker thread owning the model, a bounded queue of jobs in front of it, a time limit per job.

Generation is CPU-bound and the model is not shared between threads, so jobs run one at a time in submission
order. A job is a function `work(report)`; it calls `report(fraction)` as it goes, and that call is where a job
is stopped: past its time limit (`JobTimeout`) or when cancelled (`JobCancelled`). Python threads cannot be killed,
so a job that never reports cannot be stopped — the Composer reports after every token.

    jobs = JobQueue(capacity=8, timeout_s=180)
    job = jobs.submit(lambda report: compose(report), owner="session-id")   # raises QueueFull when full
    jobs.get(job.id).status   # queued -> running -> done | error
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import MidiError, UserError

log = logging.getLogger("musenet.web")

Work = Callable[[Callable[[float], None]], Any]


class QueueFull(Exception):
    """No place for the job: the queue is full (503), or its owner has enough jobs already (429).
    `retry_after` is a guess, in seconds, at when a place frees up."""

    def __init__(self, message: str, retry_after: int, status: int = 503):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class JobTimeout(Exception):
    pass


class JobCancelled(Exception):
    pass


@dataclass
class Job:
    id: str
    owner: str
    work: Work = field(repr=False)
    timeout_s: float
    status: str = "queued"  # queued | running | done | error | cancelled
    progress: float = 0.0
    result: Any = None
    error: str | None = None
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    cancel_requested: bool = False

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    def report(self, fraction: float) -> None:
        """The progress callback handed to the work: records progress, stops the job when it must stop."""
        if self.cancel_requested:
            raise JobCancelled()
        assert self.started is not None
        if time.monotonic() - self.started > self.timeout_s:
            raise JobTimeout()
        self.progress = max(self.progress, min(1.0, max(0.0, float(fraction))))


class JobQueue:
    """A bounded FIFO of jobs run by one worker thread. Finished jobs are kept for `keep_s` seconds."""

    def __init__(self, capacity: int, timeout_s: float, keep_s: float = 3600.0, keep_max: int = 2000):
        self.capacity = capacity
        self.timeout_s = timeout_s
        self.keep_s = keep_s
        self.keep_max = keep_max
        self._jobs: dict[str, Job] = {}
        self._waiting: deque[Job] = deque()
        self._cond = threading.Condition()
        self._running: Job | None = None
        self._durations: deque[float] = deque(maxlen=20)
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="musenet-web-worker", daemon=True)
        self._thread.start()

    # ---- the caller's side ---------------------------------------------------------------------------------

    def submit(self, work: Work, owner: str = "", per_owner: int | None = None) -> Job:
        with self._cond:
            if self._closed:
                raise RuntimeError("the job queue is closed")
            if per_owner is not None:
                mine = sum(1 for j in self._active() if j.owner == owner)
                if mine >= per_owner:
                    raise QueueFull(
                        f"you already have {mine} request(s) in progress; wait for one to finish",
                        retry_after=self._eta(1),
                        status=429,
                    )
            if len(self._waiting) >= self.capacity:
                raise QueueFull(
                    f"the server is busy ({len(self._waiting)} requests waiting); try again shortly",
                    retry_after=self._eta(len(self._waiting)),
                )
            self._forget_old()
            job = Job(secrets.token_urlsafe(16), owner, work, self.timeout_s)
            self._jobs[job.id] = job
            self._waiting.append(job)
            self._cond.notify_all()
            return job

    def get(self, job_id: str) -> Job | None:
        with self._cond:
            return self._jobs.get(job_id)

    def position(self, job: Job) -> int:
        """How many jobs run before this one (0 when it is running or finished)."""
        with self._cond:
            if job.status != "queued":
                return 0
            ahead = next((i for i, j in enumerate(self._waiting) if j is job), 0)
            return ahead + (self._running is not None)

    def cancel(self, job: Job) -> None:
        with self._cond:
            if job.status == "queued":
                self._waiting.remove(job)
                self._finish(job, "cancelled", error="cancelled")
            elif job.status == "running":
                job.cancel_requested = True  # seen at its next report()

    def stats(self) -> dict:
        with self._cond:
            return {
                "waiting": len(self._waiting),
                "running": self._running is not None,
                "capacity": self.capacity,
                "mean_job_seconds": round(self._mean(), 2),
            }

    def close(self, wait_s: float = 5.0) -> None:
        with self._cond:
            self._closed = True
            for job in list(self._waiting):
                self._finish(job, "cancelled", error="the server is shutting down")
            self._waiting.clear()
            if self._running is not None:
                self._running.cancel_requested = True
            self._cond.notify_all()
        self._thread.join(wait_s)

    # ---- the worker's side ---------------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job = self._waiting.popleft()
                job.status, job.started = "running", time.monotonic()
                self._running = job
            status, result, error = self._run(job)
            with self._cond:
                job.result = result
                self._running = None
                self._finish(job, status, error)
                self._durations.append(job.finished - job.started)

    def _run(self, job: Job) -> tuple[str, Any, str | None]:
        try:
            return "done", job.work(job.report), None
        except JobTimeout:
            return "error", None, f"stopped after the server's limit of {job.timeout_s:g} s per request"
        except JobCancelled:
            return "cancelled", None, "cancelled"
        except (UserError, MidiError) as e:
            return "error", None, str(e)
        except Exception as e:  # a bug, not the user's fault: logged in full, one line to the user
            log.exception("job %s failed", job.id)
            return "error", None, f"internal error ({type(e).__name__}); the server log has the details"

    # ---- helpers (called with the lock held) ----------------------------------------------------------------

    def _finish(self, job: Job, status: str, error: str | None = None) -> None:
        job.status, job.error, job.finished = status, error, time.monotonic()
        if status == "done":
            job.progress = 1.0

    def _active(self) -> list[Job]:
        return list(self._waiting) + ([self._running] if self._running else [])

    def _mean(self) -> float:
        return sum(self._durations) / len(self._durations) if self._durations else 10.0

    def _eta(self, ahead: int) -> int:
        return max(1, round(self._mean() * max(1, ahead)))

    def _forget_old(self) -> None:
        now = time.monotonic()
        done = [j for j in self._jobs.values() if not j.active]
        old = [j for j in done if now - (j.finished or now) > self.keep_s]
        extra = max(0, len(self._jobs) - self.keep_max)
        for j in old + sorted(done, key=lambda j: j.finished or 0)[:extra]:
            self._jobs.pop(j.id, None)
