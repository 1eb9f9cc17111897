"""Test NLL of two or more runs on the same held-out pieces, each against the first, with a paired bootstrap over
pieces (`musenet.evaluate.likelihood`): the 8 validation windows a training run logs are few, this is ~200k
tokens of whole test pieces, round-robin over the styles.

    python reports/scaling/paired.py data/default runs/rotary/4x256c512-control runs/rotary/4x256c512r ...
"""

from __future__ import annotations

import argparse
import json

import torch

from musenet.evaluate.corpus import read_split
from musenet.evaluate.likelihood import capped, paired_difference, score_model
from musenet.model import checkpoint


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("runs", nargs="+", help="run folders; the first is the baseline")
    ap.add_argument("--max-tokens", type=int, default=200_000)
    ap.add_argument("--split", default="test")
    a = ap.parse_args()
    torch.set_num_threads(1)
    split = read_split(a.data, a.split)
    pieces = capped(split.pieces, a.max_tokens)
    scores = {}
    for run in a.runs:
        model, _ = checkpoint.load_model(run)
        scores[run] = s = score_model(model, pieces, split.vocab)
        print(f"{run}: {s.nll / s.tokens:.4f} nats/token over {s.tokens} tokens of {len(pieces)} pieces")
    base = scores[a.runs[0]]
    for run in a.runs[1:]:
        d = paired_difference(scores[run], base)
        print(f"{run} - {a.runs[0]}: {json.dumps(d)}")


if __name__ == "__main__":
    main()
