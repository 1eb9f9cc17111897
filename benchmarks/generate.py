"""Generation speed: musenet's cached decode loop against transformers' `generate` on the same weights.

A random GPT-2 of the given preset is built with transformers (`GPT2LMHeadModel`), saved, and loaded into our
`GPT` (MuseNet embeddings off, so both compute the same function). Both then decode the same number of new tokens
after the same 16-token prompt, sampling at temperature 1, at batch 1 and batch 4, alternating which goes first,
best of N rounds (the machine is shared and noisy). Then the real-time factor of the full music generator
(`generate_ids`: grammar masks, positions, MuseNet embeddings on): seconds of music per wall-clock second.

The last line is one JSON object with the figures; `ratio` is ours / transformers in decode tokens/s at batch 1.

    .venv/bin/python benchmarks/generate.py [--preset tiny|small] [--tokens 256] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from musenet.codec.decode import decode
from musenet.codec.vocab import Vocab
from musenet.generate.engine import GenerateConfig, generate_ids
from musenet.generate.sampling import SampleConfig, sample
from musenet.model.config import PRESETS, GPTConfig
from musenet.model.decode import Decoder
from musenet.model.gpt import GPT
from musenet.model.hf import load_hf_gpt2


@torch.inference_mode()
def ours_decode(model: GPT, prompt: torch.Tensor, n_new: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    B = prompt.size(0)
    cache = model.new_cache(B, prompt.size(1) + n_new)
    logits = model(prompt, cache=cache)[0][:, -1]
    out = []
    cfg = SampleConfig(1.0)
    step = Decoder(model)
    for _ in range(n_new):
        tok = sample(logits, cfg, g)
        out.append(tok)
        logits = step(tok, cache=cache)
    return torch.stack(out, 1)


@torch.inference_mode()
def hf_decode(model: GPT2LMHeadModel, prompt: torch.Tensor, n_new: int, seed: int) -> torch.Tensor:
    torch.manual_seed(seed)
    return model.generate(
        prompt,
        attention_mask=torch.ones_like(prompt),
        do_sample=True,
        top_k=0,
        max_new_tokens=n_new,
        min_new_tokens=n_new,
        pad_token_id=0,
    )


def timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="small", choices=sorted(PRESETS))
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--music-seconds", type=float, default=20.0)
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads for both sides (decode steps are tiny)"
    )
    ap.add_argument(
        "--dtype",
        default="fp32",
        choices=("fp32", "bf16"),
        help="weights and activations of both sides (the shipped weights are bf16)",
    )
    args = ap.parse_args()
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[args.dtype]
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    vocab = Vocab()
    p = PRESETS[args.preset]
    hf_cfg = GPT2Config(
        vocab_size=vocab.size,
        n_positions=p["block_size"],
        n_layer=p["n_layer"],
        n_head=p["n_head"],
        n_embd=p["n_embd"],
    )
    hf = GPT2LMHeadModel(hf_cfg).eval()
    with tempfile.TemporaryDirectory() as d:
        hf.save_pretrained(d, safe_serialization=True)
        ours = load_hf_gpt2(d)
    hf, ours = hf.to(dtype), ours.to(dtype)

    results = {
        "preset": args.preset,
        "dtype": args.dtype,
        "tokens": args.tokens,
        "threads": torch.get_num_threads(),
    }
    for B in (1, 4):
        prompt = torch.randint(0, vocab.size, (B, 16))
        best = {"musenet": float("inf"), "transformers": float("inf")}
        ours_decode(ours, prompt, 8, 0), hf_decode(hf, prompt, 8, 0)  # warm up
        for r in range(args.rounds):
            pair = [("musenet", ours_decode, ours), ("transformers", hf_decode, hf)]
            for name, fn, m in pair if r % 2 == 0 else pair[::-1]:
                best[name] = min(best[name], timed(fn, m, prompt, args.tokens, r))
        for name, t in best.items():
            results[f"{name}_b{B}_tokens_per_s"] = round(B * args.tokens / t, 1)
            print(
                f"batch {B}  {name:12} {B * args.tokens / t:9.1f} tokens/s  ({t / args.tokens * 1000:.2f} ms/step)"
            )
        results[f"ratio_b{B}"] = round(best["transformers"] / best["musenet"], 2)

    # the full music generator, MuseNet embeddings on
    music = GPT(GPTConfig(vocab_size=vocab.size, **p)).eval()
    cfg = GenerateConfig(instruments=("piano", "violin"), seconds=args.music_seconds, candidates=1, seed=0)
    t0 = time.perf_counter()
    (g,) = generate_ids(music, vocab, cfg)
    wall = time.perf_counter() - t0
    piece, _ = decode(g.ids, vocab)
    results["music_tokens"] = int(len(g.ids))
    results["music_seconds"] = round(piece.duration, 2)
    results["realtime_factor"] = round(piece.duration / wall, 2)
    results["music_tokens_per_s"] = round(len(g.ids) / wall, 1)
    print(
        f"music: {piece.duration:.1f} s of music, {len(g.ids)} tokens in {wall:.1f} s"
        f" -> real-time factor {piece.duration / wall:.1f}x (random weights: token density differs from a trained model)"
    )
    results["ratio"] = results["ratio_b1"]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
