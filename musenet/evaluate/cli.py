"""`musenet evaluate`: measure a model on a built dataset -> REPORT_DIR/report.md, metrics.json and PNGs.

musenet evaluate --model runs/small --data data/m21 --out reports/small --samples 4
musenet evaluate --model runs/with --compare runs/without --data data/m21 --out reports/ablation --samples 0
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from ..errors import UserError

HELP = "measure a model: likelihood, music statistics, style, memorisation"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="the model folder (or name) to evaluate")
    parser.add_argument("--data", type=Path, required=True, help="a built dataset (`musenet data build`)")
    parser.add_argument(
        "--out", type=Path, required=True, help="report folder (report.md, metrics.json, PNGs, samples/*.mid)"
    )
    parser.add_argument("--compare", help="a second model: its test NLL beside the first (the ablation)")
    parser.add_argument(
        "--samples", type=int, default=4, help="generated samples per style (default 4; 0: none)"
    )
    parser.add_argument(
        "--styles", help="comma-separated styles to sample (default: the held-out pieces' most common)"
    )
    parser.add_argument("--max-styles", type=int, default=6, help="at most this many test styles (default 6)")
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="length of samples and real excerpts (default 20)"
    )
    parser.add_argument(
        "--real",
        default="test",
        help="held-out splits samples are compared with: test (default), val or test,val",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seeds sampling and every random draw (default 0)"
    )
    parser.add_argument("--temperature", type=float, help="sampling temperature (default: the model's)")
    parser.add_argument(
        "--top-k", type=int, help="sample from the k most likely tokens (0 = all; default: the model's)"
    )
    parser.add_argument("--top-p", type=float, help="nucleus sampling mass (default: the model's)")
    parser.add_argument(
        "--rerank",
        type=int,
        default=1,
        help="rerank samples with the model's critic, N per sample (default 1: off)",
    )
    parser.add_argument(
        "--max-test-tokens",
        type=int,
        default=200_000,
        help="score test pieces (round-robin over styles) up to this many tokens (0 = all)",
    )
    parser.add_argument(
        "--ngram-order", type=int, default=3, help="the baseline's order (default 3: a trigram)"
    )
    parser.add_argument(
        "--ngram-max-tokens",
        type=int,
        default=20_000_000,
        help="train the n-gram on at most this many tokens",
    )
    parser.add_argument(
        "--classifier-pieces", type=int, default=300, help="training pieces per style (default 300)"
    )
    parser.add_argument(
        "--classifier-min-pieces", type=int, default=5, help="styles with fewer training pieces are no class"
    )
    parser.add_argument(
        "--memo-k", type=int, default=8, help="memorisation: shortest run searched (default 8 notes)"
    )
    parser.add_argument("--transpose-invariant", action="store_true", help="memorisation: compare intervals")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast for the likelihood")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def run(args: argparse.Namespace) -> int:
    from .memorise import MemoConfig
    from .run import EvalConfig, evaluate

    styles = tuple(s.strip() for s in args.styles.split(",") if s.strip()) if args.styles else None
    try:
        cfg = EvalConfig(
            model=Path(args.model),
            data=args.data,
            out=args.out,
            compare=Path(args.compare) if args.compare else None,
            samples=args.samples,
            styles=styles,
            max_styles=args.max_styles,
            seconds=args.seconds,
            real_splits=tuple(s.strip() for s in args.real.split(",") if s.strip()),
            seed=args.seed,
            temperature=args.temperature,
            top_k=args.top_k,
            top_p=args.top_p,
            rerank=args.rerank,
            max_test_tokens=args.max_test_tokens or None,
            ngram_order=args.ngram_order,
            ngram_max_tokens=args.ngram_max_tokens or None,
            classifier_pieces=args.classifier_pieces,
            classifier_min_pieces=args.classifier_min_pieces,
            memo=MemoConfig(k=args.memo_k, transpose_invariant=args.transpose_invariant),
            bf16=args.bf16,
        )
    except ValueError as e:
        raise UserError(str(e)) from None
    if not 1 <= cfg.ngram_order <= 4:
        raise UserError("--ngram-order must be 1..4")
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
    """The command that reproduces this run: the required flags and every flag that differs from its default."""
    fresh = argparse.ArgumentParser()
    add_arguments(fresh)
    defaults = vars(fresh.parse_args(["--model", "-", "--data", "-", "--out", "-"]))
    words = ["musenet", "evaluate"]
    for key, value in vars(args).items():
        if key not in defaults or (value == defaults[key] and key not in ("model", "data", "out")):
            continue
        flag = "--" + key.replace("_", "-")
        words += [flag] if value is True else [flag, str(value)]
    return " ".join(shlex.quote(w) for w in words)


def _f(x) -> str:
    return "–" if x is None else f"{x:.3f}"
