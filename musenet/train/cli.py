"""`musenet train`: flags onto TrainConfig, then one call to the loop. Also the torchrun entry (`-m musenet.train`).

The flags are TrainConfig's fields (`musenet.options`); a flag left out is the preset's value, or on `--resume`
the saved run's, so a resumed run can tell what the user changed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from musenet.errors import UserError
from musenet.model import checkpoint
from musenet.options import add_flags, build, given
from musenet.train.config import TrainConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_flags(parser, TrainConfig)
    parser.add_argument("--resume", action="store_true", help="continue the checkpoint in --out")


def build_config(args: argparse.Namespace) -> TrainConfig:
    values = given(args, TrainConfig)
    values["data"], values["out"] = str(Path(args.data)), str(Path(args.out))  # "runs/x/" is "runs/x"
    if args.resume:
        if not checkpoint.exists(args.out):
            raise UserError(f"--resume: no checkpoint in {args.out}")
        saved = TrainConfig.from_dict(checkpoint.read_meta(args.out)["train"])
        try:
            return saved.resume_with(values)
        except ValueError as e:
            raise UserError(str(e)) from None
    cfg = build(TrainConfig, values)
    try:
        return cfg.resolved()  # the preset's values meet the user's: checked again
    except ValueError as e:
        raise UserError(str(e)) from None


def run(args: argparse.Namespace) -> int:
    cfg = build_config(args)
    from musenet.train.loop import train  # torch and the dataset are imported only when training

    result = train(cfg, resume=args.resume)
    if result.val_loss is not None and os.environ.get("RANK", "0") == "0":
        print(f"done: step {result.step}, val loss {result.val_loss:.4f}; checkpoint in {cfg.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m musenet.train` / `torchrun -m musenet.train`: the same flags as `musenet train`."""
    from musenet.cli import main as musenet_main

    return musenet_main(["train", *(sys.argv[1:] if argv is None else argv)])
