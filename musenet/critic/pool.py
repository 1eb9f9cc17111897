"""The generated pool: windows sampled from the generator, saved as windows.npy + manifest.json.

The manifest records the generator's identity (checkpoint step + SHA-256 of model.safetensors), the window length
and the sampling settings; a pool whose manifest does not match the current generator is stale and is rebuilt. The
manifest is written last (temp file + rename), so a pool interrupted while being written is simply stale.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..codec.vocab import Vocab
from ..files import atomic_path, write_text
from ..generate.engine import GenerateConfig, generate_ids
from ..generate.sampling import SampleConfig
from ..model.checkpoint import WEIGHTS, read_meta
from .config import PoolConfig
from .windows import Spec

WINDOWS, MANIFEST = "windows.npy", "manifest.json"
MAX_BATCH = 64  # GenerateConfig's limit on candidates per batch


def generator_identity(model_dir: str | Path) -> dict:
    """The checkpoint's step and the SHA-256 of its weights file."""
    model_dir = Path(model_dir)
    h = hashlib.sha256()
    with open(model_dir / WEIGHTS, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return {"step": read_meta(model_dir).get("step"), "sha256": h.hexdigest()}


def sample_windows(
    model,
    vocab: Vocab,
    specs: list[Spec],
    tokens: int,
    cfg: PoolConfig,
    log: Callable[[str], None] | None = None,
) -> tuple[np.ndarray, int]:
    """One generation per spec (specs asking the same are one batch), cut to `tokens`; returns (windows (n,
    tokens), how many samples were shorter than the window and dropped). Seeds: cfg.seed + batch number."""
    sampling = SampleConfig(cfg.temperature, 0, cfg.top_p)
    rows, dropped, b = [], 0, 0
    for (style, inst), count in sorted(Counter(specs).items()):
        for at in range(0, count, MAX_BATCH):
            n = min(MAX_BATCH, count - at)
            gc = GenerateConfig(style, inst, cfg.seconds, n, cfg.seed + b, sampling)
            for g in generate_ids(model, vocab, gc):
                ids = g.ids[g.ids != vocab.pad]
                if len(ids) >= tokens:
                    rows.append(ids[:tokens].astype(np.int64))
                else:
                    dropped += 1
            b += 1
            if log is not None:
                log(f"pool: {len(rows)} windows, {dropped} short samples dropped ({b} batches)")
    return (np.stack(rows) if rows else np.zeros((0, tokens), np.int64)), dropped


def manifest_for(model_dir: str | Path, tokens: int, cfg: PoolConfig, specs: list[Spec]) -> dict:
    """What a pool is: the generator, the window length, the sampling settings and what was asked for."""
    asked = hashlib.sha256(json.dumps([[s, list(i)] for s, i in specs]).encode()).hexdigest()
    return {
        "generator": generator_identity(model_dir),
        "tokens": tokens,
        "pool": cfg.to_dict(),
        "specs": asked,
    }


def load_pool(pool_dir: str | Path, want: dict) -> np.ndarray | None:
    """The pool's windows if its manifest matches `want` (see `manifest_for`), else None (stale or missing)."""
    pool_dir = Path(pool_dir)
    try:
        have = json.loads((pool_dir / MANIFEST).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if {k: have.get(k) for k in want} != want:
        return None
    return np.load(pool_dir / WINDOWS)


def save_pool(pool_dir: str | Path, windows: np.ndarray, manifest: dict) -> None:
    pool_dir = Path(pool_dir)
    pool_dir.mkdir(parents=True, exist_ok=True)
    (pool_dir / MANIFEST).unlink(missing_ok=True)  # stale from here until the new manifest lands
    with atomic_path(pool_dir / WINDOWS) as tmp, open(tmp, "wb") as f:
        np.save(f, windows)
    write_text(pool_dir / MANIFEST, json.dumps({**manifest, "count": len(windows)}, indent=2) + "\n")


def ensure_pool(
    pool_dir: str | Path,
    model_dir: str | Path,
    model,
    vocab: Vocab,
    specs: list[Spec],
    tokens: int,
    cfg: PoolConfig,
    log: Callable[[str], None] | None = None,
) -> tuple[np.ndarray, bool]:
    """The pool for this generator: reused if its manifest matches, else sampled and saved. Returns (windows,
    whether it was rebuilt)."""
    specs = specs[: cfg.size]
    want = manifest_for(model_dir, tokens, cfg, specs)
    have = load_pool(pool_dir, want)
    if have is not None:
        return have, False
    windows, dropped = sample_windows(model, vocab, specs, tokens, cfg, log)
    save_pool(pool_dir, windows, {**want, "dropped_short": dropped})
    return windows, True


def fresh_config(cfg: PoolConfig) -> PoolConfig:
    """Sampling settings for held-out samples: the pool's, with seeds the pool never used."""
    return replace(cfg, seed=cfg.seed + 1_000_003)
