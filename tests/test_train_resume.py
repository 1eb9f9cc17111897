"""Resume: a run killed with SIGKILL and resumed gives the uninterrupted run's loss curve."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from musenet.model import checkpoint
from musenet.train.log import losses

STEPS, EVERY = 24, 4
ARGS = [
    "--dataset", "musenet.train.synthetic:SyntheticDataset", "--data", "unused",
    "--n-layer", "2", "--n-head", "2", "--n-embd", "64", "--context", "64", "--batch-size", "8",
    "--max-steps", str(STEPS), "--eval-interval", str(EVERY), "--eval-batches", "2", "--warmup-steps", "4",
    "--lr", "3e-3", "--seed", "3", "--threads", "1",
    "--dropout", "0.1", "--mixup", "0.4",  # so the replay must cover dropout and mixup draws too
]  # fmt: skip


def launch(out, *extra):
    cmd = [sys.executable, "-m", "musenet.train", *ARGS, "--out", str(out), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def saved_step(run) -> int:
    try:
        return json.loads((run / checkpoint.CONFIG).read_text())["step"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return 0


@pytest.mark.slow
def test_kill_and_resume_replays_the_same_loss_curve(tmp_path):
    straight = launch(tmp_path / "straight")  # runs alongside the one we kill
    killed = launch(tmp_path / "killed")
    deadline = time.monotonic() + 120
    while saved_step(tmp_path / "killed") < EVERY and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(killed.pid, signal.SIGKILL)
    killed.communicate()
    assert killed.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    at = checkpoint.read_meta(tmp_path / "killed")["step"]
    assert EVERY <= at < STEPS

    resumed = launch(tmp_path / "killed", "--resume")
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert f"steps {at}->{STEPS}" in out
    out, err = straight.communicate(timeout=120)
    assert straight.returncode == 0, err

    for column in ("loss", "val_loss"):
        want = losses(tmp_path / "straight" / "log.csv", column)
        got = losses(tmp_path / "killed" / "log.csv", column)
        assert sorted(got) == sorted(want)  # rows the killed run wrote after its checkpoint were dropped
        assert all(abs(got[s] - want[s]) <= 1e-5 for s in want), (column, at, got, want)
    curve = [v for _, v in sorted(losses(tmp_path / "straight" / "log.csv").items())]
    assert sum(curve[-4:]) < sum(curve[:4]) - 0.4  # it did learn
    final = checkpoint.read_meta(tmp_path / "killed")
    assert final["step"] == STEPS and final["tokens"] == STEPS * 8 * 64
