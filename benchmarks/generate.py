"""Generation speed: musenet's cached decode loop against transformers' `generate` on the same weights.

A random GPT-2 of the given preset is built with transformers (`GPT2LMHeadModel`), saved, and loaded into our
`GPT` (MuseNet embeddings off, so both compute the same function). Both then decode the same number of new tokens
after the same 16-token prompt, sampling at temperature 1, at batch 1 and batch 4, alternating which goes first,
N rounds (the machine is shared and noisy): the ratio of each side's best round, and the median of the rounds'
ratios. Then the real-time factor of the full music generator (`generate_ids`: grammar masks, positions, MuseNet
embeddings, the model's sampling defaults) with the shipped default model: seconds of music per wall-clock second,
for a sparse request (folk piano) and a dense one (a pop band with drums), one candidate at a time and four as
one batch (`musenet generate`'s default): the music of all candidates per wall-clock second. A model whose default
sampling has style guidance is also timed without it (`unguided`: guidance's twin streams double the rows).

The last line is one JSON object with the figures; `ratio` is ours / transformers in decode tokens/s at batch 1.

    .venv/bin/python benchmarks/generate.py [--preset tiny|small] [--tokens 256] [--rounds 5] [--threads 1]
        [--model FOLDER] [--realtime-only]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import statistics
import tempfile
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel

import musenet
from musenet.codec.decode import decode
from musenet.codec.vocab import Vocab
from musenet.generate.engine import GenerateConfig, generate_ids
from musenet.generate.sampling import SampleConfig, sample
from musenet.model.config import PRESETS
from musenet.model.decode import Decoder
from musenet.model.gpt import GPT
from musenet.model.hf import load_hf_gpt2

# real-time factor requests: a sparse one and the densest the default model knows
REQUESTS = [
    ("folk piano", "german_folk", ("piano",)),
    ("pop band", "pop", ("piano", "bass", "guitar", "drums")),
]


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
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--music-seconds", type=float, default=30.0)
    ap.add_argument("--seeds", type=int, default=3, help="pieces per real-time request (one candidate each)")
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads for both sides (decode steps are tiny)"
    )
    ap.add_argument(
        "--dtype",
        default="fp32",
        choices=("fp32", "bf16"),
        help="weights and activations of both sides (the shipped weights are bf16)",
    )
    ap.add_argument("--model", default=None, help="the music model to time (default: the shipped one)")
    ap.add_argument("--realtime-only", action="store_true", help="skip the comparison with transformers")
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
    for B in () if args.realtime_only else (1, 4):
        prompt = torch.randint(0, vocab.size, (B, 16))
        best = {"musenet": float("inf"), "transformers": float("inf")}
        ours_decode(ours, prompt, 8, 0), hf_decode(hf, prompt, 8, 0)  # warm up
        rounds = []
        for r in range(args.rounds):
            pair = [("musenet", ours_decode, ours), ("transformers", hf_decode, hf)]
            took = {}
            for name, fn, m in pair if r % 2 == 0 else pair[::-1]:
                took[name] = timed(fn, m, prompt, args.tokens, r)
                best[name] = min(best[name], took[name])
            rounds.append(took["transformers"] / took["musenet"])
        for name, t in best.items():
            results[f"{name}_b{B}_tokens_per_s"] = round(B * args.tokens / t, 1)
            print(
                f"batch {B}  {name:12} {B * args.tokens / t:9.1f} tokens/s  ({t / args.tokens * 1000:.2f} ms/step)"
            )
        results[f"ratio_b{B}"] = round(best["transformers"] / best["musenet"], 2)
        results[f"ratio_b{B}_median_round"] = round(statistics.median(rounds), 2)
        print(
            f"batch {B}  ratio {results[f'ratio_b{B}']:.2f} (best of each), rounds "
            + ", ".join(f"{x:.2f}" for x in rounds)
        )

    # the full music generator (grammar masks, positions, MuseNet embeddings): the shipped default model
    composer = musenet.load(args.model)
    generate_ids(composer.model, composer.vocab, GenerateConfig(seconds=1.0, candidates=1))  # warm up
    samplings = [("", composer.sampling)]
    if composer.sampling.guidance != 1:
        samplings.append(("unguided_", dataclasses.replace(composer.sampling, guidance=1.0)))
    for (name, style, instruments), batch, (kind, sampling) in itertools.product(REQUESTS, (1, 4), samplings):
        music, wall, tokens = 0.0, 0.0, 0
        for seed in range(args.seeds):
            cfg = GenerateConfig(style, instruments, args.music_seconds, batch, seed, sampling)
            t0 = time.perf_counter()
            out = generate_ids(composer.model, composer.vocab, cfg)
            wall += time.perf_counter() - t0
            music += sum(decode(g.ids, composer.vocab)[0].duration for g in out)
            tokens += sum(int((g.ids != composer.vocab.pad).sum()) for g in out)
        results[f"realtime_{kind}{name.replace(' ', '_')}_x{batch}"] = round(music / wall, 2)
        print(
            f"{'default model' if args.model is None else args.model}, guidance {sampling.guidance:g}, {name} ({style}: {', '.join(instruments)}), {batch} candidate{'s' * (batch > 1)} at a"
            f" time: {music:.0f} s of music, {tokens} tokens in {wall:.1f} s -> real-time factor"
            f" {music / wall:.1f}x ({tokens / music:.0f} tokens per second of music, {wall / tokens * 1000:.2f} ms"
            " per token)"
        )
    if not args.realtime_only:
        results["ratio"] = results["ratio_b1"]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
