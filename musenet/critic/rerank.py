"""Reranking: sample N per wanted candidate, keep those the critic rates most real (MuseNet's inner critic)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ..codec.events import Piece
from ..codec.vocab import Vocab
from ..generate.engine import GenerateConfig, Generated, generate_ids
from .model import Critic

MAX_BATCH = 64  # GenerateConfig's limit on candidates per batch


def generate_ranked(
    model,
    vocab: Vocab,
    cfg: GenerateConfig,
    critic: Critic,
    n: int,
    primer: Piece | None = None,
    progress: Callable[[float], None] | None = None,
) -> list[tuple[Generated, float]]:
    """cfg.candidates * n samples, in batches of at most 64 (batch b seeded cfg.seed + b; with n * candidates
    <= 64 that is one batch under cfg.seed), scored; the best cfg.candidates as (sample, P(real)), best first."""
    total = cfg.candidates * n
    sizes = [min(MAX_BATCH, total - at) for at in range(0, total, MAX_BATCH)]
    out: list[Generated] = []
    for b, size in enumerate(sizes):
        step = None
        if progress is not None:
            step = lambda f, b=b: progress((b + f) / len(sizes))  # noqa: E731 -- one-line rescale
        out += generate_ids(model, vocab, replace(cfg, candidates=size, seed=cfg.seed + b), primer, step)
    logits = critic.score([g.ids for g in out], vocab.start, vocab.pad)
    best = np.argsort(-logits, kind="stable")[: cfg.candidates]
    prob = 1 / (1 + np.exp(-logits))
    return [(out[int(k)], float(prob[k])) for k in best]
