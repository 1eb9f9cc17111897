"""`musenet evaluate`: measure a model on a built dataset -> REPORT_DIR/report.md, metrics.json and PNGs.

musenet evaluate --model runs/small --data data/m21 --out reports/small --samples 4
musenet evaluate --model runs/with --compare runs/without --data data/m21 --out reports/ablation --samples 0
"""

from __future__ import annotations

import argparse
import shlex
import sys

from ..options import add_flags, from_args
from .run import EvalConfig

NAMES = {"real_splits": "--real", "memo.k": "--memo-k"}
SKIP = {"grid", "memo.time_unit_s", "memo.max_hits"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_flags(parser, EvalConfig, NAMES, SKIP)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def run(args: argparse.Namespace) -> int:
    from .run import evaluate

    cfg = from_args(EvalConfig, args)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    log = None if args.quiet else lambda msg: print(f"musenet evaluate: {msg}", file=sys.stderr, flush=True)
    m = evaluate(cfg, command=command_line(args), log=log)
    lk = m["likelihood"]
    print(f"NLL/token: model {_f(lk['model']['nll_per_token'])}, {cfg.ngram_order}-gram {_f(lk['ngram']['nll_per_token'])}"
          + (f", compared {_f(lk['compare']['nll_per_token'])}" if "compare" in lk else ""))  # fmt: skip
    print(
        f"wrote {cfg.out}/report.md, metrics.json and {len(m['plots'])} PNGs in {m['timings_s']['total']:.1f} s"
    )
    return 0


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run: the flags given (a flag left out is its config field's default)."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    words = ["musenet", "evaluate"]
    values = vars(args)
    for action in parser._actions:
        if action.dest not in values or not action.option_strings or action.default == values[action.dest]:
            continue
        value = values[action.dest]
        if action.nargs == 0:  # a switch: --x, or its --no-x where it turned the field off
            off = isinstance(action, argparse.BooleanOptionalAction) and not value
            words.append(action.option_strings[1 if off else 0])
        else:
            words += [action.option_strings[0], ",".join(value) if isinstance(value, tuple) else str(value)]
    return " ".join(shlex.quote(w) for w in words)


def _f(x) -> str:
    return "–" if x is None else f"{x:.3f}"
