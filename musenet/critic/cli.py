"""`musenet train-critic`: sample (or reuse) a pool of the model's own windows, train the critic against real ones,
measure its ROC-AUC on held-out real vs fresh samples, and save it beside the model (critic.safetensors/json)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..errors import UserError

HELP = "train the inner critic (real vs generated) for a model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", required=True, type=Path, help="the model folder; the critic is saved in it"
    )
    parser.add_argument("--data", required=True, type=Path, help="the built dataset the model was trained on")
    parser.add_argument("--pool", type=Path, help="generated-pool folder (default MODEL/critic-pool)")
    parser.add_argument("--tokens", type=int, default=128, help="window length in tokens (default 128)")
    parser.add_argument("--real", type=int, default=2048, help="real training windows (default 2048)")
    parser.add_argument("--pool-size", type=int, default=256, help="generated training windows (default 256)")
    parser.add_argument(
        "--heldout", type=int, default=64, help="held-out real and fresh windows each (default 64)"
    )
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="length asked of each sample (default 20)"
    )
    parser.add_argument(
        "--per-piece",
        type=int,
        default=8,
        help="samples per real piece whose style and instruments are asked for, one batch (default 8)",
    )
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling mass (default 0.95)")
    parser.add_argument("--steps", type=int, default=200, help="training steps (default 200)")
    parser.add_argument("--batch-size", type=int, default=32, help="half real, half generated (default 32)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--layers", type=int, default=2, help="critic depth (default 2)")
    parser.add_argument("--width", type=int, default=64, help="critic width, a multiple of 32 (default 64)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def run(args: argparse.Namespace) -> int:
    import torch

    from ..data.shards import read_meta as read_data_meta
    from ..generate.composer import load
    from .config import CriticConfig, PoolConfig, TrainCriticConfig
    from .pool import ensure_pool, fresh_config, generator_identity, sample_windows
    from .store import save_critic
    from .train import auc_of, train_critic
    from .windows import real_windows

    log = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        pool_cfg = PoolConfig(args.pool_size, args.seconds, args.temperature, args.top_p, args.seed)
        train_cfg = TrainCriticConfig(args.steps, args.batch_size, args.lr, seed=args.seed)
    except ValueError as e:
        raise UserError(str(e)) from None
    if args.heldout < 2 or args.real < 2:
        raise UserError("--real and --heldout must be at least 2")
    if args.tokens < 8 or args.width < 32 or args.width % 32:
        raise UserError("need --tokens >= 8 and --width a multiple of 32")
    composer = load(args.model)
    if composer.path is None or not (composer.path / "model.safetensors").is_file():
        raise UserError(f"--model {args.model}: not a model folder")
    try:
        data_vocab = read_data_meta(args.data)["vocab"]
    except (FileNotFoundError, KeyError, ValueError) as e:
        raise UserError(f"--data {args.data}: not a built dataset ({e})") from None
    vocab = composer.vocab
    if data_vocab != composer.meta.get("vocab"):
        raise UserError(f"--data {args.data} has another vocabulary than the model {args.model}")
    critic_cfg = CriticConfig(vocab.size, args.tokens, args.layers, args.width // 32, args.width)
    t0 = time.monotonic()

    real, specs, short = real_windows(args.data, "train", vocab, args.tokens, args.real, args.seed)
    if len(real) < 2:
        raise UserError(f"the train split has {len(real)} pieces of at least {args.tokens} tokens")
    log(f"real: {len(real)} train windows of {args.tokens} tokens ({short} pieces too short)")
    # each drawn real piece's (style, instruments) asked for --per-piece times: one batch, so sampling stays cheap
    per = max(1, args.per_piece)
    pool_specs = [specs[(k // per) % len(specs)] for k in range(args.pool_size)]
    pool_dir = args.pool or composer.path / "critic-pool"
    fake, rebuilt = ensure_pool(
        pool_dir, composer.path, composer.model, vocab, pool_specs, args.tokens, pool_cfg, log
    )
    log(f"pool: {len(fake)} generated windows ({'sampled' if rebuilt else 'reused'}) in {pool_dir}")
    if len(fake) < 2:
        raise UserError("the generator gave fewer than 2 samples as long as the window: lower --tokens")
    t1 = time.monotonic()
    critic = train_critic(real, fake, vocab.pad, critic_cfg, train_cfg, log)
    t2 = time.monotonic()

    held_real, held_specs, _ = real_windows(args.data, "val", vocab, args.tokens, args.heldout, args.seed + 1)
    held_specs = [held_specs[(k // per) % len(held_specs)] for k in range(args.heldout)]
    held_fake, _ = sample_windows(composer.model, vocab, held_specs, args.tokens, fresh_config(pool_cfg), log)
    if len(held_real) < 1 or len(held_fake) < 1:
        raise UserError("no held-out windows (val split too small or samples too short)")
    figures = {
        "heldout_auc": round(auc_of(critic, held_real, held_fake, vocab.pad), 4),
        "heldout_real": len(held_real),
        "heldout_generated": len(held_fake),
        "train_auc": round(auc_of(critic, real, fake, vocab.pad), 4),
        "train_real": len(real),
        "train_generated": len(fake),
        "seconds": {
            "pool": round(t1 - t0, 1),
            "train": round(t2 - t1, 1),
            "heldout": round(time.monotonic() - t2, 1),
        },
    }
    meta = {
        "generator": generator_identity(composer.path),
        "pool": {"dir": str(pool_dir), **pool_cfg.to_dict()},
        "train": train_cfg.to_dict(),
        "data": str(args.data),
        "figures": figures,
    }
    save_critic(composer.path, critic, meta)
    print(json.dumps({"critic": str(composer.path / "critic.safetensors"), **figures}))
    return 0
