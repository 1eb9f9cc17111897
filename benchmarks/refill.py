"""A window refill: the model's full forward against `Decoder.fill`, side by side in one run.

    .venv/bin/python benchmarks/refill.py [--model FOLDER] [--rounds 5] [--threads 2] [--tokens 390]

When a piece outgrows the context, generation slides its window and recomputes the cache from the kept tokens (a
few hundred, every quarter of the context). The peer is what the engine did before: `model(ids, pos,
cache=cache)[0][:, -1, rows]`, the output layer over every position and the whole vocabulary, then one row kept.
`Decoder.fill` runs the same trunk and the output layer for the last position's reachable rows only. Both are timed
on the same random window (solo piano's reachable rows) at batch 1, 2 (a guided stream and its twin) and 8 (four
guided candidates), alternating which goes first, best round each; the logits are checked equal. The last line is
one JSON object with the ratios (full forward time / fill time).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

import musenet
from musenet.generate.engine import reachable
from musenet.model.decode import Decoder
from musenet.model.gpt import Positions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="an exported model folder (default: the shipped model)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--tokens", type=int, default=390, help="the refilled window (the engine keeps ~3/4 of 512)"
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    composer = musenet.load(args.model)
    model, vocab = composer.model, composer.vocab
    piano = vocab.config.instrument_names.index("piano")
    rows = torch.from_numpy(reachable(vocab, [piano]))
    step = Decoder(model, rows)
    g = torch.Generator().manual_seed(0)
    T = min(args.tokens, model.config.block_size)
    ratios = {}
    for batch in (1, 2, 8):
        idx = torch.randint(0, vocab.n_notes, (batch, T), generator=g)
        pos = Positions(*(torch.randint(0, n, (batch, T), generator=g) for n in (64, 4, 128, 128)))
        best = compare(model, step, idx, pos, rows, args.rounds)
        print(
            f"batch {batch}, {T} tokens, {len(rows)} rows: full forward {best['full'] * 1e3:.1f} ms, fill "
            f"{best['fill'] * 1e3:.1f} ms -> {best['full'] / best['fill']:.2f}x",
            flush=True,
        )
        ratios[f"refill_ratio_b{batch}"] = round(best["full"] / best["fill"], 2)
    print(json.dumps({"tokens": T, "rows": len(rows), "threads": args.threads} | ratios))


@torch.inference_mode()
def compare(model, step: Decoder, idx: torch.Tensor, pos: Positions, rows: torch.Tensor, rounds: int) -> dict:
    """The best of `rounds` timings of each way to refill a cache with `idx`, alternating which goes first."""
    cache = model.new_cache(idx.size(0), model.config.block_size)

    def full() -> torch.Tensor:
        cache.truncate(0)
        return model(idx, pos, cache=cache)[0][:, -1, rows]

    def fill() -> torch.Tensor:
        cache.truncate(0)
        return step.fill(idx, pos, cache)

    torch.testing.assert_close(fill(), full(), atol=1e-4, rtol=1e-4)
    best = {"full": np.inf, "fill": np.inf}
    for r in range(rounds):
        for name, fn in (("full", full), ("fill", fill)) if r % 2 == 0 else (("fill", fill), ("full", full)):
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


if __name__ == "__main__":
    main()
