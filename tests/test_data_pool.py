"""The build's process pool: every task comes back once, a slow or crashing task costs only itself."""

import os
import time

from musenet.data.pool import run_tasks


def work(x):
    if x == "slow":
        time.sleep(30)
    if x == "crash":
        os._exit(3)
    if x == "raise":
        raise ValueError("bad\ninput")
    return x * 2


def test_results_errors_timeouts_and_crashes():
    tasks = [1, "slow", 2, "crash", "raise", 3]
    t0 = time.monotonic()
    out = {o.index: o for o in run_tasks(work, tasks, workers=2, timeout_s=1.0, cost=[0, 9, 0, 0, 0, 0])}
    assert time.monotonic() - t0 < 10
    assert sorted(out) == list(range(len(tasks)))
    assert [out[i].value for i in (0, 2, 5)] == [2, 4, 6]
    assert out[1].error.startswith("took longer than 1 s")
    assert out[3].error.startswith("the worker crashed")
    assert out[4].error == "ValueError: bad input"


def test_init_runs_in_each_worker():
    def check(_):
        return os.environ.get("POOL_INIT")

    def init():
        os.environ["POOL_INIT"] = "yes"

    assert {o.value for o in run_tasks(check, [0, 1, 2], workers=2, timeout_s=10, init=init)} == {"yes"}


def test_a_time_limit_per_task():
    def nap(seconds):
        time.sleep(seconds)
        return seconds

    out = {o.index: o for o in run_tasks(nap, [0.5, 0.5], workers=2, timeout_s=[0.2, 5.0])}
    assert out[0].error.startswith("took longer than 0.2 s") and out[1].value == 0.5
