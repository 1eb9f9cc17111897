"""Weight-only lower precision for the decode step's products, against the fp32 ones `model.decode` uses.

    .venv/bin/python benchmarks/decode_precision.py [--model FOLDER] [--rounds 7] [--threads 1]

Issue 15 asks decoding to stay fast as the model grows, e.g. with int8 or bf16 weight-only matrix products where
this CPU runs them faster. This times the 17 matrix products of one decode step (per layer qkv, attention output,
MLP in and out; the output layer over the solo-piano request's 922 reachable rows) over the shipped model's own
weights, at batch 1 (one stream) and 2 (a stream and its guidance twin), in each format in turn, every round:

- `fp32 (in, out)`: what `Decoder` runs (the reference, ratio 1): `torch.mm(x, Wt)` at batch 1, oneDNN's product
  over a weight packed for the batch above it;
- `fp32 linear`: `F.linear` over PyTorch's (out, in) layout;
- `fp16` / `bf16`: `F.linear` over half-size weights, the activations cast in and the result cast back;
- `int8`: `torch._weight_int8pack_mm` (the weight-only int8 kernel gpt-fast uses) with per-row scales.

Prints each format's best time per step over the rounds, its ratio to fp32 (above 1: slower) and its largest
relative error against fp32 on the same inputs. The last line is one JSON object of the ratios.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

import musenet
from musenet.model.decode import Decoder, _packing_works, _product

PIANO_ROWS = 922  # the solo-piano request's reachable output rows (benchmarks/RESULTS.md)


def formats(weights: list[torch.Tensor], batch: int) -> dict[str, list]:
    """Per format: the step's products over the (in, out) fp32 weights; the first is what `Decoder` runs."""
    out: dict[str, list] = {"fp32 (in, out)": [], "fp32 linear": [], "fp16": [], "bf16": [], "int8": []}
    kind = "packed" if batch > 1 and _packing_works() else "transposed"
    for wt in weights:
        w = wt.t().contiguous()  # (out, in)
        scale = (w.abs().amax(1) / 127).clamp_min(1e-12)
        q = (w / scale[:, None]).round().clamp(-127, 127).to(torch.int8).contiguous()
        out["fp32 (in, out)"].append(_product(wt, None, kind, batch))
        out["fp32 linear"].append((lambda x, w=w: F.linear(x, w)))
        h, b = w.half(), w.bfloat16()
        out["fp16"].append((lambda x, h=h: F.linear(x.half(), h).float()))
        out["bf16"].append((lambda x, b=b: F.linear(x.bfloat16(), b).float()))
        out["int8"].append((lambda x, q=q, s=scale: torch._weight_int8pack_mm(x, q, s)))
    return out


def step_time(products: list, xs: list[torch.Tensor], reps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(reps):
        for f, x in zip(products, xs, strict=True):
            f(x)
    return (time.perf_counter() - t0) / reps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="an exported model folder (default: the shipped model)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--reps", type=int, default=100, help="steps timed per round and format")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (a one-stream step decodes on one)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    composer = musenet.load(args.model)
    dec = Decoder(composer.model, torch.arange(PIANO_ROWS))
    if not dec.transposed:
        raise SystemExit("this benchmark wants fp32 weights on the CPU")
    weights = [w for layer in dec.weights for w, _ in layer] + [dec.head[0]]
    g = torch.Generator().manual_seed(0)
    ratios = {}
    for batch in (1, 2):
        table = formats(weights, batch)
        xs = [torch.randn(batch, w.size(0), generator=g) for w in weights]
        ref = [f(x) for f, x in zip(table["fp32 (in, out)"], xs, strict=True)]
        best = {name: float("inf") for name in table}
        for _ in range(args.rounds):
            for name, products in table.items():
                step_time(products, xs, 5)  # warm
                best[name] = min(best[name], step_time(products, xs, args.reps))
        for name, products in table.items():
            err = max(
                float((f(x) - r).abs().max() / r.abs().max())
                for f, x, r in zip(products, xs, ref, strict=True)
            )
            ratio = best[name] / best["fp32 (in, out)"]
            ratios[f"{name} b{batch}"] = round(ratio, 3)
            print(
                f"batch {batch}  {name:15s} {best[name] * 1000:6.3f} ms/step  x{ratio:5.2f} of fp32's time"
                f"  max relative error {err:.1e}",
                flush=True,
            )
    print(json.dumps({"threads": args.threads, "rows": PIANO_ROWS, "ratios": ratios}))


if __name__ == "__main__":
    main()
