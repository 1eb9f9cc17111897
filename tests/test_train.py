"""The trainer's parts (config, schedule, data order, mixup) and a short run that must learn."""

import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from runcli import assert_user_error, main

from musenet.model import GPT, GPTConfig, checkpoint
from musenet.train.config import TrainConfig
from musenet.train.data import TrainBatches, collate, val_batches
from musenet.train.log import losses
from musenet.train.objective import Objective
from musenet.train.optim import lr_at
from musenet.train.synthetic import SyntheticDataset

SYNTH = "musenet.train.synthetic:SyntheticDataset"
SMALL = dict(
    n_layer=2, n_head=2, n_embd=64, context=64, batch_size=8, warmup_steps=5, dataset=SYNTH, threads=1
)


def test_presets_resolve_and_flags_win():
    cfg = TrainConfig(data="d", out="o", preset="small", lr=1e-3).resolved()
    assert (cfg.n_layer, cfg.n_embd, cfg.context, cfg.lr) == (6, 384, 1024, 1e-3)
    assert cfg.ckpt_interval == cfg.eval_interval
    m = cfg.model_config(vocab_size=100, chord_positions=9)
    assert (m.vocab_size, m.chord_positions, m.block_size) == (100, 9, 1024)
    with pytest.raises(ValueError, match="preset"):
        TrainConfig(data="d", out="o", preset="huge")


def test_resume_allows_only_harmless_changes():
    saved = TrainConfig(data="d", out="o").resolved()
    assert saved.resume_with({"max_steps": 5000, "lr": saved.lr}).max_steps == 5000
    with pytest.raises(ValueError, match="cannot change lr"):
        saved.resume_with({"lr": 0.5})


def test_schedule_warms_up_then_decays_to_the_floor():
    lrs = [lr_at(s, 1.0, 10, 100, 0.1) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:], strict=False))
    assert lrs[-1] == pytest.approx(0.1, abs=1e-3) and lr_at(500, 1.0, 10, 100, 0.1) == pytest.approx(0.1)


def test_data_order_depends_only_on_seed_step_and_rank():
    ds = SyntheticDataset("x", "train", 32, augment=True)

    def ids(seed, step, rank):
        return torch.cat([b.x for b in TrainBatches(ds, 4, 2, seed, rank, 0.5)._make(step).micro])

    a = ids(1, 7, 0)
    assert torch.equal(a, ids(1, 7, 0))
    assert (
        not torch.equal(a, ids(1, 8, 0))
        and not torch.equal(a, ids(1, 7, 1))
        and not torch.equal(a, ids(2, 7, 0))
    )
    batches = TrainBatches(ds, 4, 1, 1, 0, 0.0)
    try:  # the prefetched next step is the same as one made directly
        batches.get(3)
        assert torch.equal(batches.get(4).micro[0].x, TrainBatches(ds, 4, 1, 1, 0, 0.0)._make(4).micro[0].x)
    finally:
        batches.close()


def test_collate_shifts_and_ignores_padding():
    ds = SyntheticDataset("x", "val", 32, augment=False)
    s = ds.sample(0, 0)  # index 0 is a padded window
    assert (s["ids"] == ds.pad_id).any()
    b = collate([s], ds.pad_id)
    assert torch.equal(b.x[0], torch.from_numpy(s["ids"][:-1]))
    assert torch.equal(b.y[0] == -100, torch.from_numpy(s["ids"][1:] == ds.pad_id))
    assert torch.equal(b.pos.time[0], torch.from_numpy(s["time"][:-1]))
    vb = val_batches(ds, 8, 100, rank=1, world=2)
    assert len(vb) == len(ds) // 8 // 2


def test_mixup_blends_two_losses():
    torch.manual_seed(0)
    ds = SyntheticDataset("x", "train", 32, augment=False)
    b = collate([ds.sample(i, 0) for i in range(4)], ds.pad_id)
    obj = Objective(GPT(GPTConfig(vocab_size=256, block_size=32, n_layer=1, n_head=2, n_embd=32)))
    plain = obj(b.x, b.pos, b.y)
    ident = torch.arange(4)
    torch.testing.assert_close(obj(b.x, b.pos, b.y, (torch.tensor(0.3), ident)), plain)
    perm = torch.tensor([1, 0, 3, 2])
    one = obj(b.x, b.pos, b.y, (torch.tensor(1.0), perm))
    torch.testing.assert_close(one, plain)
    half = obj(b.x, b.pos, b.y, (torch.tensor(0.5), perm))
    assert not torch.allclose(half, plain)
    half.backward()
    assert obj.model.transformer.wtime.weight.grad.abs().sum() > 0


def test_a_short_run_learns_and_writes_its_run_folder(tmp_path):
    from musenet.train.loop import train

    cfg = TrainConfig(
        data="unused", out=str(tmp_path / "run"), max_steps=60, eval_interval=20, lr=3e-3, **SMALL
    )
    result = train(cfg)
    val = losses(tmp_path / "run" / "log.csv", "val_loss")
    assert sorted(val) == [0, 20, 40, 60]
    assert abs(val[0] - math.log(256)) < 0.3  # the untrained model, logged before the first step
    assert val[60] < val[0] - 1.0 and val[60] < val[20] - 0.3, val
    assert {p.name for p in (tmp_path / "run").iterdir()} >= {"model.safetensors", "config.json", "optimizer.pt",
                                                              "log.csv", "loss.png"}  # fmt: skip
    model, meta = checkpoint.load_model(tmp_path / "run")
    assert meta["step"] == 60 and meta["vocab"]["synthetic"] and meta["train"]["lr"] == 3e-3
    for k, v in result.model.state_dict().items():
        assert torch.equal(model.state_dict()[k], v)


def test_user_errors_are_one_line_and_exit_2(tmp_path):
    def cli(*args: str):
        return main("train", *args)

    assert_user_error(
        cli("--data", tmp_path / "none", "--out", tmp_path / "run", "--max-steps", "1"), "not a built dataset"
    )
    assert_user_error(
        cli("--data", "x", "--out", tmp_path / "run", "--dataset", "no.such:Module"), "--dataset"
    )
    assert_user_error(cli("--data", "x", "--out", tmp_path / "run", "--resume"), "no checkpoint")
    assert_user_error(cli("--data", "x", "--out", tmp_path / "run", "--preset", "huge"), "invalid choice")
    assert_user_error(cli("--data", "x", "--out", tmp_path / "run", "--grad-accum", "0"), "--grad-accum")
    checkpoint.save(tmp_path / "run", GPT(GPTConfig(n_layer=1, n_embd=8, n_head=1, vocab_size=8, block_size=8)),
                    step=1, seed=0, train=TrainConfig(data="x", out=str(tmp_path / "run")).resolved().to_dict())  # fmt: skip
    assert_user_error(cli("--data", "x", "--out", tmp_path / "run", "--dataset", SYNTH), "--resume")
    assert_user_error(
        cli("--data", "x", "--out", tmp_path / "run", "--resume", "--lr", "0.5"), "cannot change lr"
    )


def test_module_entry_point_help():
    r = subprocess.run([sys.executable, "-m", "musenet.train", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--max-steps" in r.stdout and "--resume" in r.stdout


def test_bf16_autocast_and_plain_gpt2_ablation_train(tmp_path):
    from musenet.train.loop import train

    small = {**SMALL, "n_layer": 1, "n_embd": 32, "context": 16, "batch_size": 2}
    cfg = TrainConfig(
        data="u", out=str(tmp_path / "a"), max_steps=2, dtype="bf16", musenet_embeddings=False, **small
    )
    result = train(cfg)
    assert math.isfinite(result.loss) and not result.model.config.musenet_embeddings
    assert "wtime" not in dict(result.model.transformer.named_children())


def test_zero_structural_init_starts_the_tables_at_zero_and_trains_them(tmp_path):
    from musenet.train.loop import train

    small = {**SMALL, "n_layer": 1, "n_embd": 32, "context": 16, "batch_size": 2}
    tables = ("wtime", "wchord", "wpart", "wcount")
    # one step at a negligible learning rate: Adam moves each weight by about lr, so the tables stay ~0
    cfg = TrainConfig(
        data="u", out=str(tmp_path / "z0"), max_steps=1, lr=1e-9, structural_init="zero", **small
    )
    at0 = train(cfg)
    assert all(at0.model.transformer[t].weight.abs().max() < 1e-7 for t in tables)
    assert at0.model.transformer.wte.weight.abs().sum() > 0  # the rest is initialised as usual
    later = train(
        TrainConfig(data="u", out=str(tmp_path / "z"), max_steps=3, structural_init="zero", **small)
    )
    assert all(later.model.transformer[t].weight.any() for t in tables)  # they learn from zero
    with pytest.raises(ValueError, match="structural_init"):
        TrainConfig(data="u", out="o", structural_init="ones")


def test_auto_dtype_follows_the_hardware(monkeypatch):
    from musenet.train import optim

    cpu = torch.device("cpu")
    assert optim.autocast_dtype("fp32", cpu) is None and optim.autocast_dtype("bf16", cpu) is torch.bfloat16
    cpuinfo = Path("/proc/cpuinfo")
    flags = set(cpuinfo.read_text().split()) if cpuinfo.is_file() else set()
    if flags & {"avx512_bf16", "amx_bf16"}:  # the CPU says so itself: bf16 matmuls in hardware
        assert optim.autocast_dtype("auto", cpu) is torch.bfloat16
    elif flags and "avx512f" not in flags:  # AVX2 at most: the slow fallback
        assert optim.autocast_dtype("auto", cpu) is None
    for fast, want in ((True, torch.bfloat16), (False, None)):
        monkeypatch.setattr(optim, "fast_bf16", lambda device, fast=fast: fast)
        assert optim.autocast_dtype("auto", cpu) is want


def test_resume_without_optimizer_state_rewarms_the_learning_rate(tmp_path, capsys):
    """A resume point committed without optimizer.pt goes on from its step with a fresh optimizer and a short ramp."""
    from musenet.train import loop

    run = tmp_path / "run"
    cfg = TrainConfig(data="unused", out=str(run), max_steps=4, eval_interval=4, lr=3e-3, **SMALL)
    loop.train(cfg)
    (run / checkpoint.OPTIMIZER).unlink()
    loop.train(dataclasses.replace(cfg, max_steps=8), resume=True)
    assert "no optimizer state" in capsys.readouterr().out
    lr = losses(run / "log.csv", "lr")
    assert sorted(lr) == list(range(1, 9))  # the step count went on from 4: the data order's position is kept
    full = [lr_at(s, 3e-3, cfg.resolved().warmup_steps, 8, cfg.min_lr_ratio) for s in range(4, 8)]
    ramp = [full[i] * (i + 1) / loop.REWARM for i in range(4)]
    assert all(abs(lr[5 + i] - ramp[i]) < 1e-9 for i in range(4)), (lr, ramp)
