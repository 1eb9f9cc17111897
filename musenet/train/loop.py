"""The training loop: windows + model -> checkpoints, log.csv and loss.png in the run folder.

One process, or K under torchrun (DistributedDataParallel). Resumable: every random draw of a step comes from
(seed, step, rank) (see data.py), and the checkpoint holds weights + optimizer, so a resumed run continues the
uninterrupted run's loss curve.
"""

from __future__ import annotations

import dataclasses
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from musenet.errors import UserError
from musenet.model import checkpoint
from musenet.model.gpt import GPT
from musenet.train import ddp
from musenet.train.config import TrainConfig
from musenet.train.data import Batch, StyleBalance, TrainBatches, open_dataset, val_batches
from musenet.train.log import CsvLog, plot
from musenet.train.objective import Objective
from musenet.train.optim import autocast_dtype, lr_at, make_optimizer


@dataclass
class Result:
    step: int
    loss: float | None
    val_loss: float | None
    tokens_per_s: float | None
    model: GPT  # this rank's model, unwrapped


def pick_device(choice: str, local_rank: int) -> torch.device:
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda":
        if not torch.cuda.is_available():
            raise UserError("--device cuda, but no CUDA device is available")
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


@torch.no_grad()
def evaluate(model: GPT, batches: list[Batch], amp, device: torch.device, d: ddp.Dist) -> float | None:
    """Token-weighted mean validation loss over all ranks' batches; None if there are none."""
    model.eval()
    total, count = 0.0, 0.0
    for b in batches:
        b = b.to(device)
        with amp():
            _, loss = model(b.x, b.pos, targets=b.y)
        n = (b.y != -100).sum().item()
        if n:
            total += loss.item() * n
            count += n
    model.train()
    total, count = ddp.sum_([total, count], d, device)
    return total / count if count else None


REWARM = 50
"""Steps of linear learning-rate warm-up after resuming from weights without the optimizer state."""


def train(cfg: TrainConfig, resume: bool = False) -> Result:
    """Train as `cfg` says (resolved against its preset); with `resume`, continue the checkpoint in cfg.out."""
    cfg = cfg.resolved()
    device = pick_device(cfg.device, int(os.environ.get("LOCAL_RANK", "0")))
    d = ddp.setup(device)
    threads = torch.get_num_threads()
    try:
        return _train(cfg, resume, d, device)
    finally:
        # a caller in the same process (a test, a notebook) gets its thread setting back
        torch.set_num_threads(threads)
        ddp.teardown(d)


def _train(cfg: TrainConfig, resume: bool, d: ddp.Dist, device: torch.device) -> Result:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
    out = Path(cfg.out)
    if d.main:
        checkpoint.exists(out)  # rank 0 alone finishes or sweeps a commit a kill interrupted...
    ddp.barrier(d)  # ...before any rank reads the folder
    if not resume and checkpoint.exists(out):
        raise UserError(
            f"{out} already holds a checkpoint: pass --resume to continue it, or choose another --out"
        )
    if resume and not checkpoint.exists(out):
        raise UserError(f"--resume: no checkpoint in {out}")

    options = (cfg.infill_share, cfg.style_dropout, cfg.piano_alias)  # what the training windows get
    train_ds = open_dataset(cfg.dataset, cfg.data, "train", cfg.context, cfg.augment, *options)
    val_ds = open_dataset(cfg.dataset, cfg.data, "val", cfg.context, False)
    if len(train_ds) == 0:
        raise UserError(f"the train split of {cfg.data} has no windows")
    mcfg = cfg.model_config(train_ds.vocab_size, train_ds.chord_positions)

    torch.manual_seed(cfg.seed)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
    model = GPT(mcfg)
    if cfg.structural_init == "zero" and mcfg.musenet_embeddings:
        with torch.no_grad():
            for name in ("wtime", "wchord", "wpart", "wcount"):
                model.transformer[name].weight.zero_()
    if cfg.init_from and not resume:
        _load_weights(model, cfg.init_from, mcfg, train_ds.vocab_config)
    start, opt_state, elapsed0, tokens0 = 0, None, 0.0, 0
    if resume:
        model, meta = checkpoint.load_model(out)
        if model.config != mcfg:
            raise UserError(f"{out}'s model does not match this dataset/config (vocabulary or shape changed)")
        start, opt_state = meta["step"], checkpoint.load_optimizer(out)
        if opt_state is None and d.main:  # a resume point committed without its (large) optimizer state
            print(
                f"note: {out} has no optimizer state: a fresh one, the learning rate re-warmed over {REWARM} steps"
            )
        elapsed0, tokens0 = meta.get("elapsed_s", 0.0), meta.get("tokens", 0)
        if meta.get("world_size", 1) != d.world and d.main:
            print(
                f"note: resuming a run of {meta.get('world_size', 1)} processes with {d.world}: the data order changes"
            )
    model.to(device).train()
    # block-sparse kernels where they skip work (GPUs); on CPU the dense-mask path is faster (see model/sparse.py)
    model.use_flex = cfg.attention != "dense" and device.type == "cuda"
    opt = make_optimizer(model, cfg.lr, cfg.weight_decay, (cfg.beta1, cfg.beta2), device)
    if opt_state is not None:
        opt.load_state_dict(opt_state["optimizer"])

    objective = Objective(model)
    wrapped = (
        DDP(objective, device_ids=[device.index] if device.type == "cuda" else None)
        if d.enabled
        else objective
    )
    step_fn = torch.compile(wrapped) if cfg.compile else wrapped
    amp_dtype = autocast_dtype(cfg.dtype, device)

    def amp():
        return torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else nullcontext()

    balance = StyleBalance(train_ds, cfg.style_alpha)
    opener = partial(open_dataset, cfg.dataset, cfg.data, "train", cfg.context, cfg.augment, *options)
    batches = TrainBatches(train_ds, cfg.batch_size, cfg.grad_accum, cfg.seed, d.rank, cfg.mixup, balance,
                           cfg.data_workers, opener)  # fmt: skip
    vals = val_batches(val_ds, cfg.batch_size, cfg.eval_batches, d.rank, d.world)
    log = None
    if d.main:
        out.mkdir(parents=True, exist_ok=True)
        log = CsvLog(out, start if resume else None)
        n = sum(p.numel() for p in model.parameters())
        print(
            f"musenet train: {cfg.preset} preset, {n / 1e6:.2f}M parameters, context {cfg.context}, "
            f"{len(train_ds)} train / {len(val_ds)} val windows, {d.world} process(es) on {device}, "
            f"{'bf16' if amp_dtype else 'fp32'}, steps {start}->{cfg.max_steps}",
            flush=True,
        )
        print(balance.report(), flush=True)

    if start >= cfg.max_steps and d.main:
        print(f"the run is already at step {start}: pass a larger --max-steps to train on")
    tokens_per_step = cfg.batch_size * cfg.grad_accum * cfg.context * d.world
    tokens, loss, val_loss, tps = tokens0, None, None, None
    steps_since_log = 0
    if start == 0 and cfg.max_steps > 0:  # the untrained model's loss: where the curve starts
        val0 = evaluate(model, vals, amp, device, d)
        if log is not None and val0 is not None:
            log.write(step=0, val_loss=val0, tokens=0, elapsed_s=0.0)
            print(f"step 0: val loss {val0:.4f}", flush=True)
    t_start, busy = time.perf_counter(), 0.0
    bar = _progress(cfg.max_steps, start, d.main)
    done = start
    try:
        for step in range(start, cfg.max_steps):
            t_step = time.perf_counter()
            plan = batches.get(step)
            torch.manual_seed(plan.torch_seed)
            lr = lr_at(step, cfg.lr, cfg.warmup_steps, cfg.max_steps, cfg.min_lr_ratio)
            if resume and opt_state is None:  # Adam's moments start at zero: ramp up again, briefly
                lr *= min(1.0, (step - start + 1) / REWARM)
            for g in opt.param_groups:
                g["lr"] = lr
            loss_sum = torch.zeros((), device=device)
            for i, b in enumerate(plan.micro):
                b = b.to(device)
                last = i == len(plan.micro) - 1
                with wrapped.no_sync() if d.enabled and not last else nullcontext():
                    with amp():
                        micro_loss = step_fn(b.x, b.pos, b.y, b.mix) / cfg.grad_accum
                    micro_loss.backward()
                loss_sum += micro_loss.detach()
            clip = cfg.grad_clip if cfg.grad_clip > 0 else float("inf")
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip).item()
            opt.step()
            opt.zero_grad(set_to_none=True)
            loss = ddp.mean(loss_sum.item(), d, device)
            # out of time: every rank stops at the same step (rank 0's clock decides), as if it were the last
            done_by_time = False
            if cfg.time_limit_s is not None:
                late = d.main and time.perf_counter() - t_start >= cfg.time_limit_s
                done_by_time = ddp.sum_([float(late)], d, device)[0] > 0
            # tokens/s counts the training steps, not evaluations or checkpoints
            busy += time.perf_counter() - t_step
            tokens += tokens_per_step
            steps_since_log += 1
            done = step + 1
            final = done == cfg.max_steps or done_by_time
            val_loss = None
            if done % cfg.eval_interval == 0 or final:
                val_loss = evaluate(model, vals, amp, device, d)
            if done % cfg.log_interval == 0 or val_loss is not None:
                tps = tokens_per_step * steps_since_log / busy
                busy, steps_since_log = 0.0, 0
                elapsed = elapsed0 + time.perf_counter() - t_start
                if log is not None:
                    log.write(step=done, lr=lr, loss=loss, val_loss=val_loss, grad_norm=grad_norm, tokens=tokens,
                              tokens_per_s=round(tps), elapsed_s=round(elapsed, 2))  # fmt: skip
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{tps or 0:.0f}", lr=f"{lr:.1e}", refresh=False)
            if val_loss is not None and d.main:
                _say(bar, f"step {done}: train loss {loss:.4f}, val loss {val_loss:.4f}, {tps:.0f} tokens/s")
            if done % cfg.ckpt_interval == 0 or final:
                if d.main:
                    checkpoint.save(
                        out, model, step=done, seed=cfg.seed, vocab=train_ds.vocab_config, train=cfg.to_dict(),
                        optimizer=opt.state_dict(),
                        extra=dict(world_size=d.world, tokens=tokens, elapsed_s=elapsed0 + time.perf_counter() - t_start,
                                   style_shares=balance.table),
                    )  # fmt: skip
                    plot(out)
                ddp.barrier(d)
            if done_by_time:
                if d.main:
                    _say(
                        bar,
                        f"time limit of {cfg.time_limit_s:g} s reached at step {done}: checkpoint written",
                    )
                break
    finally:
        batches.close()
        if bar is not None:
            bar.close()
        if log is not None:
            log.close()
    return Result(done, loss, val_loss, tps, model)


def _load_weights(model: GPT, path: str, mcfg, vocab: dict) -> None:
    """`init_from`: copy the weights of the run or export folder `path` into the fresh `model`."""
    if not checkpoint.exists(path):
        raise UserError(
            f"--init-from {path}: no model there (a run or export folder holds config.json + weights)"
        )
    src, meta = checkpoint.load_model(path)
    if meta.get("vocab") != vocab:
        raise UserError(
            f"--init-from {path}: its vocabulary differs from the dataset's; train on data built with it"
        )
    if dataclasses.replace(src.config, dropout=mcfg.dropout) != mcfg:
        c = src.config
        raise UserError(
            f"--init-from {path}: its model is {c.n_layer} layers x {c.n_embd} ({c.n_head} heads), context "
            f"{c.block_size}, attention {c.attention}{', rotary' if c.rotary else ''}; give the same shape (or its "
            "--preset)"
        )
    model.load_state_dict(src.state_dict())


def _progress(total: int, initial: int, main: bool):
    if not main:
        return None
    from tqdm import tqdm

    # disable=None: a bar on a terminal, none in logs (the eval lines and log.csv carry the numbers there)
    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, disable=None)


def _say(bar, text: str) -> None:
    if bar is not None and not bar.disable:
        bar.write(text)
    else:
        print(text, flush=True)
