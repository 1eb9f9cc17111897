"""The checkpoint format: round trip, export, and all-or-nothing writes."""

import json
import os

import pytest
import torch

from musenet.model import GPT, GPTConfig, Positions
from musenet.model import checkpoint as ckpt


def model(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=50, block_size=32, n_layer=1, n_head=2, n_embd=16, time_positions=16))


def inputs():
    idx = torch.randint(0, 50, (1, 32))
    z = torch.zeros_like(idx)
    return idx, Positions(torch.arange(32)[None], z, z, z + 5)


def test_round_trip_rebuilds_model_with_no_flags(tmp_path):
    m = model()
    opt = torch.optim.AdamW(m.parameters())
    x = inputs()
    m(*x, targets=x[0])[1].backward()
    opt.step()
    ckpt.save(tmp_path, m, step=7, seed=3, vocab={"v": 1}, train={"lr": 0.1}, optimizer=opt.state_dict())
    loaded, meta = ckpt.load_model(tmp_path)
    assert loaded.config == m.config
    assert (meta["step"], meta["seed"], meta["vocab"], meta["train"]) == (7, 3, {"v": 1}, {"lr": 0.1})
    assert meta["torch_version"] == torch.__version__ and "git_commit" in meta
    for k, v in m.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    state = ckpt.load_optimizer(tmp_path)
    assert state["step"] == 7
    opt2 = torch.optim.AdamW(loaded.parameters())
    opt2.load_state_dict(state["optimizer"])
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])


@pytest.mark.parametrize("dtype", ["bf16", "fp16"])
def test_export_in_half_precision_loads_back_in_fp32(tmp_path, dtype):
    m = model().eval()
    ckpt.save(tmp_path / "run", m, step=1, seed=0, optimizer={"x": torch.ones(1)})
    out = ckpt.export(tmp_path / "run", tmp_path / "ship", dtype)
    assert not (out / ckpt.OPTIMIZER).exists()
    assert (out / ckpt.WEIGHTS).stat().st_size < 0.6 * (tmp_path / "run" / ckpt.WEIGHTS).stat().st_size
    loaded, meta = ckpt.load_model(out)
    assert meta["dtype"] == dtype and loaded.transformer.wte.weight.dtype == torch.float32
    x = inputs()
    with torch.no_grad():
        torch.testing.assert_close(loaded(*x)[0], m(*x)[0], atol=0.05, rtol=0.05)


def test_interrupted_write_before_commit_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    ckpt.save(tmp_path, model(0), step=1, seed=0, optimizer={"x": torch.ones(1)})
    old = (tmp_path / ckpt.WEIGHTS).read_bytes()

    def crash(*a, **k):  # the process dies just before the commit marker is renamed into place
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save(tmp_path, model(1), step=2, seed=0, optimizer={"x": torch.ones(1)})
    monkeypatch.undo()
    assert any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    loaded, meta = ckpt.load_model(tmp_path)
    assert meta["step"] == 1 and (tmp_path / ckpt.WEIGHTS).read_bytes() == old
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_interrupted_rename_after_commit_is_rolled_forward(tmp_path, monkeypatch):
    ckpt.save(tmp_path, model(0), step=1, seed=0, optimizer={"x": torch.ones(1)})
    real_replace, calls = os.replace, []

    def crash_after_two(src, dst):  # the marker goes in, then one file, then the process dies
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr(ckpt.os, "replace", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save(tmp_path, model(1), step=2, seed=0, optimizer={"x": torch.ones(1)})
    monkeypatch.undo()
    assert json.loads((tmp_path / ckpt.CONFIG).read_text())["step"] == 1  # half-renamed on disk...
    loaded, meta = ckpt.load_model(tmp_path)  # ...and completed on open
    assert meta["step"] == 2 and ckpt.load_optimizer(tmp_path)["step"] == 2
    for k, v in model(1).state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v)


def test_unknown_format_is_refused(tmp_path):
    ckpt.save(tmp_path, model(), step=0, seed=0)
    meta = json.loads((tmp_path / ckpt.CONFIG).read_text())
    (tmp_path / ckpt.CONFIG).write_text(json.dumps({**meta, "format": 99}))
    with pytest.raises(ValueError, match="format"):
        ckpt.load_model(tmp_path)
