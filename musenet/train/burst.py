"""Training on a GPU lent for minutes: pack a built dataset so it travels, train with the same trainer for a fixed
wall-clock budget, hand the weights back in files that fit the way back, and continue on the CPU.

    python -m musenet.train.burst pack data/default --out .gpu/data           # here: compact shards (zlib)
    bash scripts/gpu-train.sh --preset small --budget-s 420                   # there: the lent machine
    python -m musenet.train.burst join OUT/run --out runs/gpu                 # here: a run folder again
    musenet train --data data/default --init-from runs/gpu --out runs/cpu --preset small --warmup-steps 50

**Pack.** A built dataset stores an int32 clock beside every int16 token; the clock is a running sum of the waits
(`shards.clock`), so the pack leaves it out and `train` recomputes it. The tokens and piece index of the train and
val splits go into one zlib-compressed `.npz` each (the music21 corpus: 10.5 MB of train tokens -> 2.4 MB), with
meta.json. Over `max_mb`, a seeded random subset of the train pieces is kept (`max_train_tokens`): every style keeps
its share of tokens in expectation, so the style balance draws as it would on the whole.

**Train.** Unpack, then a short calibration run (the same trainer, `calibrate_steps` steps) measures tokens/s; the
real run gets the step count that fills what is left of the budget, so its cosine schedule ends in time, and
`time_limit_s` as a safety net (the trainer then stops at the step it reached, with a checkpoint). The weights go
out through `checkpoint.split`: fp32 when they fit in `max_total_mb`, else bf16; the optimizer stays behind (fp32
Adam moments are twice the weights), so the CPU continues from the weights with a fresh optimizer and a short
warmup (`TrainConfig.init_from`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from musenet.errors import UserError

MiB = 2**20
PACKED_SPLITS = ("train", "val")


def pack(
    data_dir: Path, out: Path, max_mb: float = 40.0, max_train_tokens: int | None = None, seed: int = 0
) -> dict:
    """Compact copy of a built dataset's train and val splits in `out`; returns what it kept."""
    from musenet.data import shards

    meta = shards.read_meta(data_dir)
    out.mkdir(parents=True, exist_ok=True)
    kept = {}
    for split in PACKED_SPLITS:
        tokens, _, index = shards.open_split(data_dir, split)
        if (
            split == "train"
            and max_train_tokens is not None
            and int(index["length"].sum()) > max_train_tokens
        ):
            order = np.random.default_rng(seed).permutation(len(index))
            fits = np.cumsum(index["length"][order].astype(np.int64)) <= max_train_tokens
            index = index[np.sort(order[fits])]
        parts = [np.asarray(tokens[int(r["offset"]) : int(r["offset"]) + int(r["length"])]) for r in index]
        ids = np.concatenate(parts) if parts else np.zeros(0, tokens.dtype)
        index = index.copy()
        index["offset"] = (
            np.concatenate([[0], np.cumsum(index["length"].astype(np.int64))[:-1]]) if len(index) else 0
        )
        np.savez_compressed(out / f"{split}.npz", tokens=ids, index=index)
        kept[split] = {"pieces": len(index), "tokens": len(ids)}
    shards.write_meta(out, {**meta, "packed": {"from": str(data_dir), "kept": kept}})
    size = sum(f.stat().st_size for f in out.iterdir())
    if size > max_mb * MiB:
        shutil.rmtree(out)
        raise UserError(
            f"the pack is {size / MiB:.1f} MiB, over {max_mb:g} MiB: keep fewer train tokens with --max-train-tokens"
        )
    return {"mib": round(size / MiB, 2), **kept}


def unpack(packed: Path, dest: Path) -> Path:
    """A packed dataset -> a built dataset folder the trainer reads (the clock recomputed; an empty test split)."""
    from musenet.codec.vocab import Vocab, VocabConfig
    from musenet.data import shards

    meta = shards.read_meta(packed)
    vocab = Vocab(VocabConfig.from_dict(meta["vocab"]))
    dest.mkdir(parents=True, exist_ok=True)
    empty = None
    for split in PACKED_SPLITS:
        with np.load(packed / f"{split}.npz") as z:
            ids, index = z["tokens"], z["index"]
        clock = shards.clock(ids, index["offset"].astype(np.int64), vocab.wait_offset, vocab.config.max_wait)
        shards.write_split(dest, split, ids, clock, index)
        empty = (ids[:0], clock[:0], index[:0])
    shards.write_split(dest, "test", *empty)
    shards.write_meta(dest, meta)
    return dest


def train_for(cfg, budget_s: float, calibrate_steps: int = 20, reserve_s: float = 30.0) -> dict:
    """Train `cfg` (resolved) for about `budget_s` seconds of wall-clock from now, everything included."""
    from musenet.train.loop import train

    t0 = time.monotonic()
    cal_dir = Path(tempfile.mkdtemp(prefix="musenet-calibrate-"))
    try:
        cal = dataclasses.replace(
            cfg, out=str(cal_dir), max_steps=calibrate_steps, eval_interval=calibrate_steps, eval_batches=1,
            ckpt_interval=calibrate_steps, log_interval=1, time_limit_s=max(5.0, budget_s / 5),
        )  # fmt: skip
        print(f"calibrating: up to {calibrate_steps} steps", flush=True)
        tps = train(cal).tokens_per_s
    finally:
        shutil.rmtree(cal_dir, ignore_errors=True)
    left = budget_s - (time.monotonic() - t0) - reserve_s
    tokens_per_step = cfg.batch_size * cfg.grad_accum * cfg.context
    steps = max(1, int(0.95 * left * (tps or 0) / tokens_per_step))
    eval_every = cfg.eval_interval if cfg.eval_interval <= steps // 4 else max(1, steps // 8)
    run = dataclasses.replace(
        cfg, max_steps=steps, warmup_steps=min(cfg.warmup_steps, max(1, steps // 10)), eval_interval=eval_every,
        ckpt_interval=eval_every, time_limit_s=max(1.0, left),
    )  # fmt: skip
    print(
        f"{tps or 0:,.0f} tokens/s: {steps} steps of {tokens_per_step:,} tokens in {left:.0f} s", flush=True
    )
    t1 = time.monotonic()
    result = train(run)
    return dict(
        steps=result.step, planned_steps=steps, tokens=result.step * tokens_per_step, tokens_per_s=result.tokens_per_s,
        calibrated_tokens_per_s=tps, val_loss=result.val_loss, loss=result.loss, train_s=round(time.monotonic() - t1, 1),
        wall_s=round(time.monotonic() - t0, 1), budget_s=budget_s,
    )  # fmt: skip


def _check_fits(cfg, data: Path, max_total_bytes: int) -> None:
    """Refuse a shape whose weights could not come back, before any of the budget is spent on it."""
    import torch

    from musenet.codec.vocab import Vocab, VocabConfig
    from musenet.data.shards import read_meta
    from musenet.model.gpt import GPT

    vocab = Vocab(VocabConfig.from_dict(read_meta(data)["vocab"]))
    with torch.device("meta"):
        n = sum(p.numel() for p in GPT(cfg.model_config(vocab.size, vocab.config.max_chord + 1)).parameters())
    if 2 * n > max_total_bytes:
        raise UserError(
            f"{n / 1e6:.1f} M parameters would not come back ({2 * n / MiB:.0f} MiB in bf16, over "
            f"{max_total_bytes / MiB:.0f} MiB): choose a smaller shape"
        )


def _environment() -> dict:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "gpu": gpu,
        "python": sys.version.split()[0],
    }


def main(argv: list[str] | None = None) -> int:
    from musenet.train import cli as train_cli

    parser = argparse.ArgumentParser(
        prog="python -m musenet.train.burst", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="action", required=True)
    p = sub.add_parser("pack", help="here: a built dataset -> compact shards that travel")
    p.add_argument("data", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--max-mb", type=float, default=40.0, help="size cap of the pack (default 40 MiB)")
    p.add_argument(
        "--max-train-tokens", type=int, help="keep a seeded random subset of train pieces this big"
    )
    t = sub.add_parser(
        "train", help="there: unpack, calibrate, train for --budget-s, split the weights to --export"
    )
    train_cli.add_arguments(t)
    t.add_argument("--budget-s", type=float, required=True, help="wall-clock seconds for all of it")
    t.add_argument(
        "--export", type=Path, required=True, help="folder for config.json, weights, log.csv, burst.json"
    )
    t.add_argument("--calibrate-steps", type=int, default=20)
    t.add_argument("--max-file-mb", type=float, default=15.0, help="per weight file (default 15 MiB)")
    t.add_argument("--max-total-mb", type=float, default=56.0, help="all weight files (default 56 MiB)")
    j = sub.add_parser("join", help="here: the weights that came back -> a run folder for --init-from")
    j.add_argument("src", type=Path)
    j.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except UserError as e:
        sys.stderr.write(f"musenet burst: error: {e}\n")
        return 2


def _run(args: argparse.Namespace) -> int:
    from musenet.model import checkpoint

    if args.action == "pack":
        print(json.dumps(pack(args.data, args.out, args.max_mb, args.max_train_tokens)))
        return 0
    if args.action == "join":
        if not (args.src / "config.json").is_file():
            raise UserError(f"{args.src}: no config.json (give the folder the burst exported)")
        try:
            checkpoint.join(args.src, args.out)
        except ValueError as e:
            raise UserError(str(e)) from None
        print(
            f"wrote {args.out}/: continue with `musenet train --init-from {args.out} --warmup-steps 50 ...`"
        )
        return 0
    from musenet.train import cli as train_cli

    t0 = time.monotonic()
    cfg = train_cli.build_config(args)
    _check_fits(cfg, Path(cfg.data), int(args.max_total_mb * MiB))
    if (
        Path(cfg.data) / "train.npz"
    ).is_file():  # a pack: unpack beside the run (the repo copy may be read-only)
        cfg = dataclasses.replace(
            cfg, data=str(unpack(Path(cfg.data), Path(tempfile.mkdtemp(prefix="musenet-data-"))))
        )
    report = {"environment": _environment(), "config": cfg.to_dict()}
    print(json.dumps(report["environment"]), flush=True)
    report.update(train_for(cfg, args.budget_s - (time.monotonic() - t0), args.calibrate_steps))
    files = checkpoint.split(cfg.out, args.export, int(args.max_file_mb * MiB), int(args.max_total_mb * MiB))
    shutil.copy(Path(cfg.out) / "log.csv", args.export / "log.csv")
    report["files"] = {f.name: f.stat().st_size for f in files}
    (args.export / "burst.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k not in ("config", "environment")}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
