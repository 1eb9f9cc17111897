"""`musenet train`: flags onto TrainConfig, then one call to the loop. Also the torchrun entry (`-m musenet.train`)."""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

from musenet.errors import UserError
from musenet.model import checkpoint
from musenet.model.config import ATTENTION_KINDS, PRESETS
from musenet.train.config import TrainConfig

HELP = "train a model on a built dataset"

# flag -> (type, help); every one defaults to "not given", so a resumed run can tell what the user changed.
_OVERRIDES: dict[str, tuple[type, str]] = {
    "n_layer": (int, "transformer blocks (default: the preset's)"),
    "n_head": (int, "attention heads"),
    "n_embd": (int, "embedding width"),
    "context": (int, "tokens per training window (the model's context)"),
    "dropout": (float, "dropout (default 0)"),
    "sparse_stride": (int, "stride / block length of the sparse patterns (default 128)"),
    "batch_size": (int, "windows per micro-step per process"),
    "grad_accum": (int, "micro-steps per optimizer step (default 1)"),
    "lr": (float, "peak learning rate"),
    "min_lr_ratio": (float, "final learning rate as a fraction of the peak (default 0.1)"),
    "warmup_steps": (int, "linear warmup steps"),
    "weight_decay": (float, "AdamW weight decay (default 0.1)"),
    "grad_clip": (float, "clip the gradient norm to this; 0 = off (default 1.0)"),
    "mixup": (float, "mixup in token-embedding space, Beta(a, a); 0 = off (default)"),
    "style_alpha": (
        float,
        "style balance: a style's share of windows ~ its tokens^alpha; 1 = by tokens (default 0.5)",
    ),
    "eval_interval": (int, "steps between validation losses"),
    "eval_batches": (int, "validation batches per evaluation (default 8)"),
    "ckpt_interval": (int, "steps between checkpoints (default: the eval interval)"),
    "log_interval": (int, "steps between log.csv rows (default 1)"),
    "seed": (int, "seed of the initial weights and the data order (default 1337)"),
    "threads": (int, "CPU threads per process"),
    "data_workers": (int, "processes making batches ahead (default 0: one thread; a GPU wants several)"),
    "time_limit_s": (float, "stop after this many seconds of training, with a checkpoint (default: none)"),
    "init_from": (str, "start from this run's or export's weights (fresh optimizer: give a short warmup)"),
    "dataset": (str, "module:Class of the window dataset (default musenet.data.dataset:WindowDataset)"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="folder of a built dataset (`musenet data build`)")
    parser.add_argument("--out", required=True, help="run folder: checkpoint, log.csv, loss.png")
    sizes = "; ".join(
        f"{k} {v['n_layer']}x{v['n_embd']}, context {v['block_size']}" for k, v in PRESETS.items()
    )
    parser.add_argument(
        "--preset", choices=list(PRESETS), help=f"model size and defaults: {sizes} (default tiny)"
    )
    parser.add_argument(
        "--attention",
        choices=list(ATTENTION_KINDS),
        help="dense (default), or the Sparse Transformer's strided / fixed block-sparse patterns",
    )
    parser.add_argument("--max-steps", type=int, help="optimizer steps; the cosine schedule ends there")
    parser.add_argument("--resume", action="store_true", help="continue the checkpoint in --out")
    parser.add_argument(
        "--dtype", choices=["auto", "bf16", "fp32"], help="auto: bf16 where it is fast (default)"
    )
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help="default: cuda if present")
    parser.add_argument(
        "--compile", action=argparse.BooleanOptionalAction, default=None, help="torch.compile"
    )
    parser.add_argument(
        "--musenet-embeddings",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="MuseNet's time/chord/part/countdown embeddings (default on; off = plain GPT-2)",
    )
    parser.add_argument(
        "--structural-init",
        choices=("normal", "zero"),
        default=None,
        help="initial MuseNet embedding tables: normal N(0, 0.02) (default) or zero",
    )
    parser.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="augment training windows (default on)",
    )
    for name, (kind, text) in _OVERRIDES.items():
        parser.add_argument("--" + name.replace("_", "-"), type=kind, help=text)


def given(args: argparse.Namespace) -> dict:
    """The TrainConfig fields the user set on the command line."""
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    return {k: v for k, v in vars(args).items() if k in fields and v is not None}


def build_config(args: argparse.Namespace) -> TrainConfig:
    values = given(args)
    values["data"], values["out"] = str(Path(args.data)), str(Path(args.out))
    try:
        if args.resume:
            if not checkpoint.exists(args.out):
                raise UserError(f"--resume: no checkpoint in {args.out}")
            saved = TrainConfig.from_dict(checkpoint.read_meta(args.out)["train"])
            return saved.resume_with(values)
        return TrainConfig(**values).resolved()
    except ValueError as e:
        raise UserError(str(e)) from e


def run(args: argparse.Namespace) -> int:
    cfg = build_config(args)
    from musenet.train.loop import train  # torch and the dataset are imported only when training

    result = train(cfg, resume=args.resume)
    if result.val_loss is not None and os.environ.get("RANK", "0") == "0":
        print(f"done: step {result.step}, val loss {result.val_loss:.4f}; checkpoint in {cfg.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m musenet.train` / `torchrun -m musenet.train`: the same flags as `musenet train`."""
    import sys

    parser = argparse.ArgumentParser(prog="musenet train", description=HELP)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UserError as e:
        sys.stderr.write(f"musenet train: error: {e}\n")
        return 2
