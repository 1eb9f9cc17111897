"""The time cost of rotary positions (`GPTConfig.rotary`): a training step and a decoding step, rotary on against
off, in one process, alternated round by round so the machine's load falls on both alike.

The model is the default one's shape (4 x 256, context 512, MuseNet's embeddings, the corpus's vocabulary of
4,946), fp32, one torch thread. A training step is forward + backward over a batch of 8 x 512 random tokens (the
scaling pilot's batch); a decoding step is one token of `model.decode.Decoder` (the generation engine's fast path)
at batch 1 and 4, on a cache prefilled with 256 tokens, over the whole vocabulary. Each figure is the median over
the rounds; the last line is one JSON object with the figures and the on/off ratios.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/rotary.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from musenet.model import GPT, Decoder, GPTConfig, Positions

SHAPE = dict(vocab_size=4946, block_size=512, n_layer=4, n_head=4, n_embd=256)


def positions(B: int, T: int, g: torch.Generator) -> Positions:
    time_ = torch.randint(0, 4, (B, T), generator=g).cumsum(1)
    return Positions(
        time_, torch.randint(0, 5, (B, T), generator=g), torch.full((B, T), 10), torch.full((B, T), 90)
    )


def train_step(model: GPT, idx: torch.Tensor, pos: Positions) -> float:
    t = time.perf_counter()
    model.zero_grad(set_to_none=True)
    model(idx, pos, targets=idx)[1].backward()
    return time.perf_counter() - t


@torch.no_grad()
def decode_steps(model: GPT, batch: int, prefill: int, steps: int, g: torch.Generator) -> float:
    """Seconds per decoded token (per step of `batch` streams)."""
    idx = torch.randint(0, SHAPE["vocab_size"], (batch, prefill + steps), generator=g)
    pos = positions(batch, prefill + steps, g)
    cache = model.new_cache(batch)
    model(idx[:, :prefill], Positions(*(p[:, :prefill] for p in pos)), cache=cache)
    step = Decoder(model)
    t = time.perf_counter()
    for i in range(prefill, prefill + steps):
        step(idx[:, i], Positions(*(p[:, i] for p in pos)), cache)
    return (time.perf_counter() - t) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--decode-steps", type=int, default=128)
    args = ap.parse_args()
    torch.set_num_threads(1)
    models = {}
    for rotary in (False, True):
        torch.manual_seed(0)
        models[rotary] = GPT(GPTConfig(**SHAPE, rotary=rotary))
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, SHAPE["vocab_size"], (8, 512), generator=g)
    pos = positions(8, 512, g)
    times: dict[str, dict[bool, list[float]]] = {
        k: {False: [], True: []} for k in ("train", "decode1", "decode4")
    }
    for m in models.values():  # warm-up: allocator, oneDNN packing
        m.train()
        train_step(m, idx, pos)
        m.eval()
        decode_steps(m, 1, 16, 8, g)
    for r in range(args.rounds):
        for rotary in (False, True) if r % 2 == 0 else (True, False):
            m = models[rotary]
            m.train()
            times["train"][rotary].append(train_step(m, idx, pos))
            m.eval()
            times["decode1"][rotary].append(decode_steps(m, 1, 256, args.decode_steps, g))
            times["decode4"][rotary].append(decode_steps(m, 4, 256, args.decode_steps, g))
    result = {"threads": 1, "rounds": args.rounds}
    for key, by in times.items():
        off, on = statistics.median(by[False]), statistics.median(by[True])
        unit = "s" if key == "train" else "ms"
        scale = 1 if key == "train" else 1000
        result[key] = {
            f"off_{unit}": round(off * scale, 4),
            f"on_{unit}": round(on * scale, 4),
            "ratio": round(on / off, 3),
        }
        print(f"{key:8s} off {off * scale:8.3f} {unit}  on {on * scale:8.3f} {unit}  on/off {on / off:.3f}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
