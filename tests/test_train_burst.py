"""The GPU burst's CPU side: the pack travels and unpacks to the same dataset, the weights go out in capped files
and come back exactly, the trainer stops at a time limit and starts from given weights. The device itself is not
tested here (no GPU in CI): `test_the_gpu_script_on_the_cpu` runs scripts/gpu-train.sh with --device cpu."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from musenet.codec.events import DRUMS, Piece, make_notes
from musenet.codec.midi_io import write_midi
from musenet.data.build import BuildConfig, build
from musenet.data.shards import open_split, read_meta
from musenet.errors import UserError
from musenet.model import checkpoint
from musenet.train.burst import pack, unpack
from musenet.train.config import TrainConfig
from musenet.train.log import losses

ROOT = Path(__file__).resolve().parents[1]
SHAPE = dict(n_layer=1, n_head=2, n_embd=32, context=96, batch_size=4, threads=1)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("burst")
    rng = np.random.default_rng(2)
    for style, count, notes, programs in (("rock", 6, 200, [29, 33, DRUMS]), ("folk", 20, 30, [40])):
        (root / "midi" / style).mkdir(parents=True)
        for k in range(count):
            start = np.sort(rng.integers(0, notes * 10, size=notes)) / 40.0
            prog = rng.choice(programs, size=notes)
            pitch = np.where(prog == DRUMS, 38, rng.integers(45, 80, size=notes))
            write_midi(
                Piece(make_notes(start, start + 0.2, pitch, 90, prog)), root / "midi" / style / f"{k}.mid"
            )
    build(BuildConfig(source=str(root / "midi"), out=root / "data", workers=1, val_fraction=0.15, test_fraction=0.1,
                      progress=False))  # fmt: skip
    return root / "data"


def test_pack_and_unpack_give_the_same_train_and_val_splits(data_dir, tmp_path):
    kept = pack(data_dir, tmp_path / "pack")
    assert sorted(p.name for p in (tmp_path / "pack").iterdir()) == ["meta.json", "train.npz", "val.npz"]
    back = unpack(tmp_path / "pack", tmp_path / "back")
    assert read_meta(back)["vocab"] == read_meta(data_dir)["vocab"]
    for split in ("train", "val"):
        for a, b in zip(open_split(data_dir, split), open_split(back, split), strict=True):
            assert np.array_equal(np.asarray(a), np.asarray(b)) and a.dtype == b.dtype  # the clock recomputed
        assert kept[split]["tokens"] == len(open_split(data_dir, split)[0])
    assert len(open_split(back, "test")[2]) == 0


def test_a_pack_over_its_cap_keeps_a_subset_or_says_what_to_do(data_dir, tmp_path):
    total = len(open_split(data_dir, "train")[0])
    kept = pack(data_dir, tmp_path / "sub", max_train_tokens=total // 2)
    assert 0 < kept["train"]["tokens"] <= total // 2
    ds_pieces = {
        tuple(r) for r in open_split(unpack(tmp_path / "sub", tmp_path / "u"), "train")[2][["piece"]]
    }
    assert ds_pieces <= {tuple(r) for r in open_split(data_dir, "train")[2][["piece"]]}
    with pytest.raises(UserError, match="--max-train-tokens"):
        pack(data_dir, tmp_path / "big", max_mb=0.001)
    assert not (tmp_path / "big").exists()


def _train(**kw):
    from musenet.train.loop import train

    return train(TrainConfig(**{**SHAPE, **kw}))


def test_weights_leave_in_capped_files_and_come_back(data_dir, tmp_path):
    _train(data=str(data_dir), out=str(tmp_path / "run"), max_steps=2, eval_interval=2)
    model, _ = checkpoint.load_model(tmp_path / "run")
    n = sum(p.numel() for p in model.parameters())
    cap = 4 * max(p.numel() for p in model.parameters())  # the largest tensor in fp32: a file each at least
    files = checkpoint.split(tmp_path / "run", tmp_path / "out", max_file_bytes=cap, max_total_bytes=4 * n)
    assert len(files) >= 1 + 2  # config.json and fp32 weights in two files or more
    assert all(f.stat().st_size <= cap + 4096 for f in files[1:])
    checkpoint.join(tmp_path / "out", tmp_path / "joined")
    back, meta = checkpoint.load_model(tmp_path / "joined")
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(model.state_dict().values(),
                                                                    back.state_dict().values(), strict=True))  # fmt: skip
    assert meta["joined_from"] == "fp32" and meta["step"] == 2 and "style_shares" in meta
    checkpoint.split(tmp_path / "run", tmp_path / "half", max_file_bytes=cap, max_total_bytes=3 * n)  # bf16
    assert json.loads((tmp_path / "half" / "config.json").read_text())["dtype"] == "bf16"
    with pytest.raises(ValueError, match="even in bf16"):
        checkpoint.split(tmp_path / "run", tmp_path / "no", max_file_bytes=cap, max_total_bytes=n)


def test_a_time_limit_stops_with_a_checkpoint_and_init_from_starts_from_weights(data_dir, tmp_path):
    r = _train(data=str(data_dir), out=str(tmp_path / "a"), max_steps=100_000, time_limit_s=3.0, eval_interval=10**5,
               lr=3e-3, warmup_steps=2)  # fmt: skip
    assert 0 < r.step < 100_000 and checkpoint.read_meta(tmp_path / "a")["step"] == r.step
    assert losses(tmp_path / "a" / "log.csv", "val_loss")[r.step] == pytest.approx(r.val_loss)
    b = _train(data=str(data_dir), out=str(tmp_path / "b"), init_from=str(tmp_path / "a"), max_steps=1,
               warmup_steps=1, lr=1e-9)  # fmt: skip
    assert losses(tmp_path / "b" / "log.csv", "val_loss")[0] == pytest.approx(r.val_loss, abs=1e-5)
    assert b.step == 1 and (tmp_path / "b" / "optimizer.pt").stat().st_size != 0
    with pytest.raises(UserError, match="2 layers|1 layers"):
        _train(
            data=str(data_dir), out=str(tmp_path / "c"), init_from=str(tmp_path / "a"), n_layer=2, max_steps=1
        )
    with pytest.raises(UserError, match="no model there"):
        _train(data=str(data_dir), out=str(tmp_path / "d"), init_from=str(tmp_path / "nope"), max_steps=1)


@pytest.mark.slow
def test_the_gpu_script_on_the_cpu(data_dir, tmp_path):
    """scripts/gpu-train.sh as the lent machine runs it, with --device cpu and a 40 s budget, then back here."""
    pack(data_dir, tmp_path / "pack")
    env = {**os.environ, "OUT": str(tmp_path / "OUT"), "DATA": str(tmp_path / "pack"), "BUDGET_S": "40",
           "PYTHON": sys.executable}  # fmt: skip
    flags = ["--device", "cpu", "--dtype", "fp32", "--calibrate-steps", "4", "--data-workers", "1"] + [
        f"--{k.replace('_', '-')}={v}" for k, v in SHAPE.items()
    ]
    r = subprocess.run(["bash", str(ROOT / "scripts" / "gpu-train.sh"), *flags], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = tmp_path / "OUT"
    report = json.loads((out / "run" / "burst.json").read_text())
    assert report["wall_s"] <= 40 + 10 and report["steps"] >= 1 and report["val_loss"] is not None
    sent = [p for p in out.rglob("*") if p.is_file()]
    assert len(sent) <= 8 and all(p.stat().st_size <= 16 * 2**20 for p in sent)  # what the way back takes
    assert "torch" in (out / "train.log").read_text()
    j = subprocess.run([sys.executable, "-m", "musenet.train.burst", "join", str(out / "run"), "--out",
                        str(tmp_path / "gpu")], capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert j.returncode == 0, j.stderr
    unpacked = unpack(tmp_path / "pack", tmp_path / "data")
    _train(data=str(unpacked), out=str(tmp_path / "cpu"), init_from=str(tmp_path / "gpu"), max_steps=2,
           warmup_steps=1)  # fmt: skip
    assert losses(tmp_path / "cpu" / "log.csv", "val_loss")[0] == pytest.approx(report["val_loss"], abs=1e-4)
