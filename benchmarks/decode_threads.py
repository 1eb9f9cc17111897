"""Decode threads chosen by measurement against decode on one thread and on torch's threads, side by side.

    .venv/bin/python benchmarks/decode_threads.py [--model FOLDER] [--rounds 2] [--threads 2]

`generate.threads.ThreadChooser` runs the decode steps of two or more rows (candidates, guidance's twins) and the
window refills on torch's threads or on one, whichever it measures faster (a single stream's steps stay on one).
This script times the same requests (a pop band with drums, 30 s, seed 0) with every step and refill forced onto
1 thread, forced onto `--threads` threads, and chosen (`auto`), in turn, and prints the real-time factors. Run it
on idle cores and again beside a job that uses them (e.g. a training run): `auto` should match the better fixed
choice in both. The last line is one JSON object with each request's best real-time factor per setting.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import torch

import musenet
import musenet.generate.engine as engine
from musenet.codec.decode import decode
from musenet.generate.engine import GenerateConfig, generate_ids

BAND = ("piano", "bass", "guitar", "drums")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="an exported model folder (default: the shipped model)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (the refills use them either way)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    policy = engine.thread_options

    composer = musenet.load(args.model)
    generate_ids(composer.model, composer.vocab, GenerateConfig(seconds=1.0, candidates=1))  # warm up
    best: dict[str, float] = {}  # the best real-time factor of each request and thread count over the rounds
    for r in range(args.rounds):
        for guidance, batch in ((1.5, 4), (1.0, 4), (1.5, 1)):
            for n in (1, args.threads, "auto"):
                sampling = dataclasses.replace(composer.sampling, guidance=guidance)
                cfg = GenerateConfig("pop", BAND, 30.0, batch, 0, sampling)
                if n != "auto":  # every step and refill on n threads, whatever its rows
                    engine.thread_options = lambda rows, available, n=n: (n,)
                try:
                    t0 = time.perf_counter()
                    out = generate_ids(composer.model, composer.vocab, cfg)
                    wall = time.perf_counter() - t0
                finally:
                    engine.thread_options = policy
                music = sum(decode(g.ids, composer.vocab)[0].duration for g in out)
                tokens = sum(int((g.ids != composer.vocab.pad).sum()) for g in out)
                print(
                    f"round {r}  guidance {guidance:g}  {batch} candidate(s)  decode threads {n}: {tokens} tokens in"
                    f" {wall:.2f} s, {wall / tokens * 1000:.2f} ms/token, real-time factor {music / wall:.1f}x",
                    flush=True,
                )
                key = f"realtime_g{guidance:g}_x{batch}_threads{n}"
                best[key] = round(max(best.get(key, 0.0), music / wall), 2)
    print(json.dumps(best))


if __name__ == "__main__":
    main()
