"""The web job queue: one worker, FIFO, bounded (503) and per-owner (429) limits, time limit, cancel, errors."""

import threading
import time

import pytest

from musenet.errors import UserError
from musenet.web.jobs import JobQueue, QueueFull


def wait(queue, job, timeout=10.0):
    deadline = time.monotonic() + timeout
    while queue.get(job.id).active:
        assert time.monotonic() < deadline, f"job still {job.status}"
        time.sleep(0.01)
    return job


@pytest.fixture
def queue():
    q = JobQueue(capacity=2, timeout_s=5.0)
    yield q
    q.close()


def blocker():
    gate, started = threading.Event(), threading.Event()

    def work(report):
        started.set()
        while not gate.wait(0.01):
            report(0.5)
        return "opened"

    return gate, started, work


def test_jobs_run_in_order_and_report_progress(queue):
    order = []

    def work(name):
        def run(report):
            report(0.25)
            order.append(name)
            return name.upper()

        return run

    jobs = [queue.submit(work(n)) for n in "ab"]
    for j in jobs:
        wait(queue, j)
    assert order == ["a", "b"]
    assert [(j.status, j.result, j.progress) for j in jobs] == [("done", "A", 1.0), ("done", "B", 1.0)]
    assert len({j.id for j in jobs}) == 2 and all(len(j.id) >= 22 for j in jobs)


def test_a_full_queue_refuses_with_a_retry_hint_and_recovers(queue):
    gate, started, work = blocker()
    running = queue.submit(work)
    assert started.wait(5)
    waiting = [queue.submit(lambda r: 1) for _ in range(2)]  # capacity 2
    assert [queue.position(j) for j in waiting] == [1, 2]
    with pytest.raises(QueueFull) as e:
        queue.submit(lambda r: 1)
    assert e.value.status == 503 and e.value.retry_after >= 1 and "busy" in str(e.value)
    gate.set()
    for j in [running, *waiting]:
        assert wait(queue, j).status == "done"
    assert wait(queue, queue.submit(lambda r: 2)).result == 2  # room again


def test_one_owner_cannot_take_every_place(queue):
    gate, started, work = blocker()
    queue.submit(work, owner="a", per_owner=1)
    with pytest.raises(QueueFull) as e:
        queue.submit(lambda r: 1, owner="a", per_owner=1)
    assert e.value.status == 429
    other = queue.submit(lambda r: 1, owner="b", per_owner=1)
    gate.set()
    assert wait(queue, other).status == "done"


def test_time_limit_stops_a_job_that_reports():
    q = JobQueue(capacity=2, timeout_s=0.05)
    try:
        gate, started, work = blocker()
        job = wait(q, q.submit(work))
        assert job.status == "error" and "limit of 0.05 s" in job.error
        assert wait(q, q.submit(lambda r: "next")).result == "next"  # the worker lives on
    finally:
        gate.set()
        q.close()


def test_cancel_queued_and_running(queue):
    gate, started, work = blocker()
    running = queue.submit(work)
    assert started.wait(5)
    queued = queue.submit(lambda r: 1)
    queue.cancel(queued)
    assert queued.status == "cancelled"
    queue.cancel(running)
    assert wait(queue, running).status == "cancelled"


def test_errors_are_one_line_and_the_worker_survives(queue):
    def bad_request(report):
        raise UserError("unknown style 'klingon'")

    def bug(report):
        raise ZeroDivisionError("secret internals")

    a, b = queue.submit(bad_request), queue.submit(bug)
    wait(queue, a), wait(queue, b)
    assert (a.status, a.error) == ("error", "unknown style 'klingon'")
    assert b.status == "error" and "internal error (ZeroDivisionError)" in b.error and "secret" not in b.error
    assert wait(queue, queue.submit(lambda r: 3)).result == 3
