"""DistributedDataParallel: two gloo CPU processes under torchrun train in lockstep and end with identical weights."""

import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from musenet.model import checkpoint

WORKER = """
import os, sys
from safetensors.torch import save_file
from musenet.train.config import TrainConfig
from musenet.train.loop import train

out = sys.argv[1]
cfg = TrainConfig(
    data="unused", out=out, dataset="musenet.train.synthetic:SyntheticDataset", n_layer=2, n_head=2, n_embd=32,
    context=32, batch_size=4, grad_accum=2, max_steps=6, eval_interval=3, eval_batches=2, warmup_steps=2,
    lr=3e-3, dropout=0.1, mixup=0.4, threads=1,
)
result = train(cfg)
save_file(result.model.state_dict(), os.path.join(out, f"rank{os.environ['RANK']}.safetensors"))
"""


@pytest.mark.slow
def test_two_ranks_hold_identical_weights(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(script),
        str(out),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2 process(es)" in r.stdout
    r0, r1 = load_file(str(out / "rank0.safetensors")), load_file(str(out / "rank1.safetensors"))
    saved, meta = checkpoint.load_model(out)
    assert meta["world_size"] == 2 and meta["tokens"] == 6 * 4 * 2 * 32 * 2
    torch.manual_seed(1337)  # the trainer's initial weights (seed 1337): training moved them
    moved = 0
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k
        assert torch.equal(saved.state_dict()[k], r0[k]), k
    init = type(saved)(saved.config).state_dict()
    moved = sum(not torch.allclose(init[k], r0[k]) for k in r0)
    assert moved == len(r0)
