"""`musenet export RUN OUT`: a training run's model -> a shippable model folder (no optimizer, bf16 by default).

The folder holds `model.safetensors` and `config.json` (model, vocabulary and training configs, step), and the
model's own sampling defaults when given: `musenet generate`, the web app and `musenet evaluate` use them unless
told otherwise. `musenet generate --model OUT` (or `musenet.load("OUT")`) loads it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from ..generate.config import SAMPLE_FIELDS, SampleConfig
from ..options import add_flags, build, given


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", type=Path, help="the training run folder (`musenet train --out`)")
    parser.add_argument("out", type=Path, help="the model folder to write")
    parser.add_argument(
        "--dtype", default="bf16", choices=("bf16", "fp16", "fp32"), help="weights (default bf16)"
    )
    # the model's own sampling defaults, written into its config.json; none given: the composer's fallback
    add_flags(parser, SampleConfig, shown={k: "not set" for k in SAMPLE_FIELDS})


def run(args: argparse.Namespace) -> int:
    from ..model.checkpoint import CONFIG, WEIGHTS, export

    # only reads the run (a live run may be writing its next checkpoint: see `checkpoint`'s commit protocol)
    if not ((args.run / CONFIG).is_file() and (args.run / WEIGHTS).is_file()):
        raise UserError(f"{args.run} holds no checkpoint (config.json + model.safetensors)")
    if args.out.resolve() == args.run.resolve():
        raise UserError("export into another folder than the run's")
    sampling = given(args, SampleConfig)
    build(SampleConfig, sampling)  # checks the given values
    out = export(args.run, args.out, args.dtype, sampling=sampling or None)
    size = (out / "model.safetensors").stat().st_size / 2**20
    print(f"wrote {out}/ (model.safetensors {size:.1f} MB {args.dtype}, config.json)")
    return 0
