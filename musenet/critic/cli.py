"""`musenet train-critic`: sample (or reuse) a pool of the model's own windows, train the critic against real ones,
measure its ROC-AUC on held-out real vs fresh samples, and save it beside the model (critic.safetensors/json).
With `--kind style`: train a style classifier on real windows only and measure its accuracy on the val split."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import UserError
from ..options import add_flags, from_args
from .config import CriticRunConfig, TrainCriticConfig

if TYPE_CHECKING:
    from ..codec.vocab import Vocab
    from .model import Critic

NAMES = {"pool_dir": "--pool", "pool.size": "--pool-size"}
SKIP = {"pool.seed", "train.seed"}  # one --seed for all


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_flags(parser, CriticRunConfig, NAMES, SKIP)
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def run(args: argparse.Namespace) -> int:
    import torch

    from .. import load
    from ..data.shards import read_meta as read_data_meta
    from .pool import ensure_pool, fresh_config, generator_identity, sample_windows
    from .store import save_critic
    from .train import auc_of, train_critic
    from .windows import real_windows

    log = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    cfg = from_args(CriticRunConfig, args)
    pool_cfg, train_cfg = replace(cfg.pool, seed=cfg.seed), replace(cfg.train, seed=cfg.seed)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    composer = load(cfg.model)
    if composer.path is None or not (composer.path / "model.safetensors").is_file():
        raise UserError(f"--model {cfg.model}: not a model folder")
    try:
        data_vocab = read_data_meta(cfg.data)["vocab"]
    except (FileNotFoundError, KeyError, ValueError) as e:
        raise UserError(f"--data {cfg.data}: not a built dataset ({e})") from None
    vocab = composer.vocab
    if data_vocab != composer.meta.get("vocab"):
        raise UserError(f"--data {cfg.data} has another vocabulary than the model {cfg.model}")
    t0 = time.monotonic()
    if cfg.kind == "style":
        critic, meta = _style_critic(cfg, train_cfg, vocab, log)
        save_critic(composer.path, critic, {"generator": generator_identity(composer.path), **meta})
        print(json.dumps({"critic": str(composer.path / "critic.safetensors"), **meta["figures"]}))
        return 0

    critic_cfg = cfg.critic(vocab.size)
    real, specs, short = real_windows(cfg.data, "train", vocab, cfg.tokens, cfg.real, cfg.seed)
    if len(real) < 2:
        raise UserError(f"the train split has {len(real)} pieces of at least {cfg.tokens} tokens")
    log(f"real: {len(real)} train windows of {cfg.tokens} tokens ({short} pieces too short)")
    # each drawn real piece's (style, instruments) asked for --per-piece times: one batch, so sampling stays cheap
    per = cfg.per_piece
    pool_specs = [specs[(k // per) % len(specs)] for k in range(pool_cfg.size)]
    pool_dir = cfg.pool_dir or composer.path / "critic-pool"
    fake, rebuilt = ensure_pool(
        pool_dir, composer.path, composer.model, vocab, pool_specs, cfg.tokens, pool_cfg, log
    )
    log(f"pool: {len(fake)} generated windows ({'sampled' if rebuilt else 'reused'}) in {pool_dir}")
    if len(fake) < 2:
        raise UserError("the generator gave fewer than 2 samples as long as the window: lower --tokens")
    t1 = time.monotonic()
    critic = train_critic(real, fake, vocab.pad, critic_cfg, train_cfg, log)
    t2 = time.monotonic()

    held_real, held_specs, _ = real_windows(cfg.data, "val", vocab, cfg.tokens, cfg.heldout, cfg.seed + 1)
    held_specs = [held_specs[(k // per) % len(held_specs)] for k in range(cfg.heldout)]
    held_fake, _ = sample_windows(composer.model, vocab, held_specs, cfg.tokens, fresh_config(pool_cfg), log)
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
        "data": str(cfg.data),
        "figures": figures,
    }
    save_critic(composer.path, critic, meta)
    print(json.dumps({"critic": str(composer.path / "critic.safetensors"), **figures}))
    return 0


def _style_critic(
    cfg: CriticRunConfig, train_cfg: TrainCriticConfig, vocab: Vocab, log: Callable[[str], None]
) -> tuple[Critic, dict[str, Any]]:
    """A style critic trained on --real train windows, measured on --heldout val windows: (critic, meta)."""
    from .train import style_accuracy, train_style_critic
    from .windows import style_windows

    t0 = time.monotonic()
    real, styles = style_windows(cfg.data, "train", vocab, cfg.tokens, cfg.real, cfg.seed)
    trained = tuple(int(s) for s in np.unique(styles))
    if len(trained) < 2:
        raise UserError(f"--data {cfg.data}: a style critic needs train pieces of at least 2 labelled styles")
    log(f"real: {len(real)} train windows of {cfg.tokens} tokens, {len(trained)} styles")
    critic_cfg = cfg.critic(vocab.size, vocab.style_offset, len(vocab.config.styles), trained)
    critic = train_style_critic(real, styles, vocab.pad, critic_cfg, train_cfg, log)
    t1 = time.monotonic()
    held, held_styles = style_windows(cfg.data, "val", vocab, cfg.tokens, cfg.heldout, cfg.seed + 1)
    if not len(held):
        raise UserError(f"--data {cfg.data}: no labelled val pieces to measure the style critic on")
    heldout = style_accuracy(critic, held, held_styles, vocab.pad)
    on_train = style_accuracy(critic, real, styles, vocab.pad)
    figures = {
        "heldout_accuracy": round(heldout["accuracy"], 4),
        "heldout_balanced_accuracy": round(heldout["balanced_accuracy"], 4),
        "heldout_windows": len(held),
        "heldout_styles": len(np.unique(held_styles)),
        "train_accuracy": round(on_train["accuracy"], 4),
        "train_windows": len(real),
        "train_styles": len(trained),
        "chance": round(1 / len(trained), 4),
        "seconds": {"train": round(t1 - t0, 1), "heldout": round(time.monotonic() - t1, 1)},
    }
    log(f"style critic: held-out accuracy {figures['heldout_accuracy']:.3f} (chance {figures['chance']:.3f})")
    return critic, {"train": train_cfg.to_dict(), "data": str(cfg.data), "figures": figures}
