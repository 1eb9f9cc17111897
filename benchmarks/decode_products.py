"""The decode step's matrix products in each weight layout and format, against the ones `model.decode` runs.

    .venv/bin/python benchmarks/decode_products.py [--model FOLDER] [--rounds 7] [--threads 1] [--batches 1,2,4]

Issue 15 asks decoding to stay fast as the model grows, e.g. with int8 or bf16 weight-only matrix products where
this CPU runs them faster. This times the 17 matrix products of one decode step (per layer qkv, attention output,
MLP in and out; the output layer over the solo-piano request's 922 reachable rows) over the shipped model's own
weights, at each batch (1: one stream; 2: a stream and its guidance twin; 4 and 8: candidates), in each way in
turn, every round:

- `fp32 mm`: `torch.mm(x, Wt)` over (in, out) copies of the weights: what `Decoder` runs at batch 1;
- `fp32 linear`: `F.linear` over PyTorch's (out, in) layout: what `Decoder` runs at batch > 1;
- `fp32 packed`: oneDNN's product over a weight packed for the batch (`Decoder` ran it at batch > 1 until it
  measured slower);
- `fp16` / `bf16`: `F.linear` over half-size weights, the activations cast in and the result cast back;
- `int8`: `torch._weight_int8pack_mm` (the weight-only int8 kernel gpt-fast uses) with per-row scales.

Then the whole decode step (`Decoder.__call__`: attention over a 200-token cache, norms, the products with their
biases), as it runs and with the packed products in their place, at each batch above 1, alternating, every round.

Prints each way's best time per step over the rounds (biases left out), its ratio to the way `Decoder` runs at that
batch (marked `*`; above 1: slower) and its largest relative error against it on the same inputs; then the whole step's best times and their ratio. The last line is one
JSON object of the ratios.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

import musenet
from musenet.model.decode import Decoder
from musenet.model.gpt import Positions

PIANO_ROWS = 922  # the solo-piano request's reachable output rows (benchmarks/RESULTS.md)


def formats(dec: Decoder, batch: int) -> dict[str, list]:
    """Per way: the step's products (without the biases)."""
    out = {k: [] for k in ("fp32 mm", "fp32 linear", "fp32 packed", "fp16", "bf16", "int8")}
    for w in weights_of(dec):
        wt = w.t().contiguous()  # (in, out)
        scale = (w.abs().amax(1) / 127).clamp_min(1e-12)
        q = (w / scale[:, None]).round().clamp(-127, 127).to(torch.int8).contiguous()
        h, b = w.half(), w.bfloat16()
        out["fp32 mm"].append(lambda x, wt=wt: torch.mm(x, wt))
        out["fp32 linear"].append(lambda x, w=w: F.linear(x, w))
        packed = _packed(w, batch)
        if packed is not None:
            out["fp32 packed"].append(
                lambda x, p=packed: torch.ops.mkldnn._linear_pointwise(x, p, None, "none", [], "")
            )
        out["fp16"].append(lambda x, h=h: F.linear(x.half(), h).float())
        out["bf16"].append(lambda x, b=b: F.linear(x.bfloat16(), b).float())
        out["int8"].append(lambda x, q=q, s=scale: torch._weight_int8pack_mm(x, q, s))
    return {k: v for k, v in out.items() if v}


def _packed(w: torch.Tensor, batch: int) -> torch.Tensor | None:
    """(out, in) `w` packed by oneDNN for `batch` rows, or None where this build of PyTorch has no such op."""
    try:
        return torch.ops.mkldnn._reorder_linear_weight(w, batch)
    except (AttributeError, RuntimeError):
        return None


def weights_of(dec: Decoder) -> list[torch.Tensor]:
    """The step's (out, in) fp32 weights, in the order of `Decoder.products`."""
    return [w for layer in dec.weights for w, _ in layer] + [dec.head[0]]


def step_time(products: list, xs: list[torch.Tensor], reps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(reps):
        for f, x in zip(products, xs, strict=True):
            f(x)
    return (time.perf_counter() - t0) / reps


def packed_products(dec: Decoder, batch: int) -> tuple[list, object] | None:
    """`Decoder`'s products with their biases as oneDNN's packed kernel for `batch` rows, or None without it."""
    if _packed(dec.head[0], batch) is None:
        return None

    def product(w: torch.Tensor, b: torch.Tensor | None):
        p = _packed(w, batch)
        return lambda x: torch.ops.mkldnn._linear_pointwise(x, p, b, "none", [], "")

    return [[product(w, b) for w, b in layer] for layer in dec.weights], product(*dec.head)


def whole_step(dec: Decoder, batch: int, steps: int = 64) -> float:
    """Seconds per decode step after a 200-token fill (random ids and positions)."""
    m = dec.model
    g = torch.Generator().manual_seed(batch)
    idx = torch.randint(0, PIANO_ROWS, (batch, 200 + steps), generator=g)
    pos = Positions(*(torch.randint(0, 50, (batch, 200 + steps), generator=g) for _ in range(4)))
    cache = m.new_cache(batch, 200 + steps)
    with torch.inference_mode():
        dec.fill(idx[:, :200], Positions(*(f[:, :200] for f in pos)), cache)
        t0 = time.perf_counter()
        for t in range(200, 200 + steps):
            dec(idx[:, t], Positions(*(f[:, t] for f in pos)), cache)
    return (time.perf_counter() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="an exported model folder (default: the shipped model)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--reps", type=int, default=100, help="steps timed per round and format")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (a one-stream step decodes on one)")
    ap.add_argument("--batches", default="1,2,4", help="comma-separated batch sizes")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    composer = musenet.load(args.model)
    dec = Decoder(composer.model, torch.arange(PIANO_ROWS))
    if not dec.transposed:
        raise SystemExit("this benchmark wants fp32 weights on the CPU")
    weights = weights_of(dec)
    g = torch.Generator().manual_seed(0)
    ratios = {}
    for batch in (int(b) for b in args.batches.split(",")):
        table = formats(dec, batch)
        xs = [torch.randn(batch, w.size(1), generator=g) for w in weights]
        mine = "fp32 mm" if batch == 1 else "fp32 linear"  # what `Decoder.products(batch)` runs
        ref = [f(x) for f, x in zip(table[mine], xs, strict=True)]
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
            ratio = best[name] / best[mine]
            ratios[f"{name} b{batch}"] = round(ratio, 3)
            print(
                f"batch {batch} {'*' if name == mine else ' '} {name:12s} {best[name] * 1000:6.3f} ms/step"
                f"  x{ratio:5.2f} of the decoder's time"
                f"  max relative error {err:.1e}",
                flush=True,
            )
    for batch in (int(b) for b in args.batches.split(",") if int(b) > 1):
        packed = packed_products(dec, batch)
        if packed is None:
            break
        mine = dec.many_rows
        best = {"as it runs": float("inf"), "packed": float("inf")}
        for _ in range(args.rounds):
            for name, products in (("as it runs", mine), ("packed", packed)):
                dec.many_rows = products
                try:
                    best[name] = min(best[name], whole_step(dec, batch))
                finally:
                    dec.many_rows = mine
        ratios[f"whole step packed b{batch}"] = round(best["packed"] / best["as it runs"], 3)
        print(
            f"whole step, batch {batch}: as it runs {best['as it runs'] * 1000:.2f} ms, with packed products"
            f" {best['packed'] * 1000:.2f} ms: x{best['packed'] / best['as it runs']:.2f} of the decoder's time",
            flush=True,
        )
    print(json.dumps({"threads": args.threads, "rows": PIANO_ROWS, "ratios": ratios}))


if __name__ == "__main__":
    main()
