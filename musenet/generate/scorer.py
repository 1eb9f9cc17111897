"""Reranking by a scorer: sample N per wanted candidate, keep those a scorer rates highest (MuseNet's inner critic).

Generation knows a scorer only as this small protocol; `musenet.critic` provides one (its `Critic`) and the
`ScorerStore` that finds it in a model's folder, and `musenet.load` hands that store to the composer. So the
generate package never imports the critic, and the critic builds on generation (its pool is sampled with it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from ..codec.vocab import Vocab
from .config import MAX_CANDIDATES, GenerateConfig
from .engine import Generated, Primer, generate_ids


class Scorer(Protocol):
    def score(self, streams: Sequence[np.ndarray], start: int, pad: int) -> np.ndarray:
        """One logit per token stream: higher is better (more real, or more surely the style asked for)."""


@dataclass(frozen=True)
class ScorerStore:
    """How a model folder's scorer is found (`exists`) and loaded (`load`, a UserError when broken)."""

    exists: Callable[[Path], bool]
    load: Callable[[Path], Scorer]


def generate_ranked(
    model,
    vocab: Vocab,
    cfg: GenerateConfig,
    scorer: Scorer,
    n: int,
    primer: Primer | None = None,
    progress: Callable[[float], None] | None = None,
) -> list[tuple[Generated, float]]:
    """cfg.candidates * n samples, in batches of at most 64 (batch b seeded cfg.seed + b; with n * candidates
    <= 64 that is one batch under cfg.seed), scored; the best cfg.candidates as (sample, sigmoid of the score:
    P(real), or P(asked style)), best first."""
    total = cfg.candidates * n
    sizes = [min(MAX_CANDIDATES, total - at) for at in range(0, total, MAX_CANDIDATES)]
    out: list[Generated] = []
    for b, size in enumerate(sizes):
        step = None
        if progress is not None:
            step = lambda f, b=b: progress((b + f) / len(sizes))  # noqa: E731 -- one-line rescale
        out += generate_ids(model, vocab, replace(cfg, candidates=size, seed=cfg.seed + b), primer, step)
    logits = scorer.score([g.ids for g in out], vocab.start, vocab.pad)
    best = np.argsort(-logits, kind="stable")[: cfg.candidates]
    prob = 1 / (1 + np.exp(-logits))
    return [(out[int(k)], float(prob[k])) for k in best]
