"""Style recognisability: train the style judge on real training excerpts, then read real and generated pieces.

Only styles with at least `min_pieces` training pieces become classes (a style with one piece cannot be learnt,
and its presence only adds noise); at most `max_pieces` per style are drawn at random (seeded), each giving up to
`excerpts` consecutive excerpts of `seconds` (an excerpt with under 8 notes past the first is skipped). Training
is class-balanced, so the judge does not call everything the largest style; accuracy on held-out real pieces is
reported plain and balanced (mean per-style recall), next to chance and the majority-class rate.

Concert music is also read at the level of its era (`data.sources.styles.ERAS`): a prediction counts there when
it names the asked style's era or a composer of it. The era tokens (`romantic`: the many romantic composers with
too little data for a token of their own) share their music with the composers that have one, and a classifier
of statistics tells them apart no better than chance (real romantic lieder are mostly called Schubert or Brahms):
at the era level the figure says whether a request sounds like its period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..codec.events import Piece
from ..data.sources.styles import era_of
from .classifier import StyleClassifier, accuracy
from .corpus import Split, excerpt
from .features import Grid, classifier_vector, features
from .samples import Sample


@dataclass(frozen=True)
class StyleConfig:
    seconds: float = 20.0
    excerpts: int = 4
    max_pieces: int = 300
    min_pieces: int = 5
    seed: int = 0
    grid: Grid = Grid()


def _vectors(pieces: list[Piece], grid: Grid) -> np.ndarray:
    return np.array([classifier_vector(features(p, grid), p) for p in pieces]).reshape(len(pieces), -1)


def training_set(train: Split, cfg: StyleConfig) -> tuple[list[Piece], list[str], list[str]]:
    """(excerpts, their styles, styles left out for having too few pieces)."""
    rng = np.random.default_rng(cfg.seed)
    pieces, labels, left_out = [], [], []
    for style in train.styles():
        mine = train.of_style(style)
        if len(mine) < cfg.min_pieces:
            left_out.append(style)
            continue
        pick = rng.choice(len(mine), min(len(mine), cfg.max_pieces), replace=False)
        for i in sorted(pick):
            whole = excerpt(mine[int(i)], train.vocab, cfg.seconds * cfg.excerpts)
            for k in range(cfg.excerpts):
                piece = whole.window(k * cfg.seconds, (k + 1) * cfg.seconds)
                if k == 0 or len(piece) >= 8:
                    pieces.append(piece)
                    labels.append(style)
    return pieces, labels, left_out


def recognisability(train: Split, held: Split, samples: list[Sample], cfg: StyleConfig) -> dict:
    pieces, y, left_out = training_set(train, cfg)
    out: dict = {"train_excerpts": len(pieces), "classes": sorted(set(y)), "left_out": left_out}
    if len(set(y)) < 2:
        out["note"] = f"fewer than two styles with >= {cfg.min_pieces} training pieces: no classifier"
        return out
    clf = StyleClassifier().fit(_vectors(pieces, cfg.grid), y)
    counts = {s: y.count(s) for s in clf.classes}
    out.update(chance=1 / len(clf.classes), majority=None, train_counts=counts)
    real = [p for p in held.pieces if p.style in clf.classes]
    truth = [p.style for p in real]
    pred = clf.predict(_vectors([excerpt(p, held.vocab, cfg.seconds) for p in real], cfg.grid))
    said = {s: [a for a, t in zip(pred, truth, strict=True) if t == s] for s in clf.classes if s in truth}
    recall = {s: accuracy(p, [s] * len(p)) for s, p in said.items()}
    era_recall = {s: _era_share(p, s) for s, p in said.items()}
    out["real_accuracy"] = accuracy(pred, truth)
    out["real_balanced_accuracy"] = float(np.mean(list(recall.values()))) if recall else None
    out["real_recall"] = recall
    out["real_era_recall"] = era_recall
    out["real_predicted"] = {s: _counts(p) for s, p in said.items()}
    out["real_n"] = len(real)
    out["majority"] = max(truth.count(s) for s in set(truth)) / len(truth) if truth else None
    gen: dict = {}
    for style in sorted({s.style for s in samples}):
        got = [s.piece for s in samples if s.style == style and s.piece is not None]
        if style not in clf.classes:
            gen[style] = {"n": len(got), "accuracy": None, "note": "not a class (too few training pieces)"}
            continue
        p = clf.predict(_vectors(got, cfg.grid))
        gen[style] = {
            "n": len(got),
            "accuracy": accuracy(p, [style] * len(got)),
            "real_accuracy": recall.get(style),
            "predicted": _counts(p),
            "era_accuracy": _era_share(p, style),
            "real_era_accuracy": era_recall.get(style),
        }
    out["generated"] = gen
    return out


def _counts(predicted: list[str]) -> dict[str, int]:
    return {c: predicted.count(c) for c in sorted(set(predicted))}


def _era_share(predicted: list[str], style: str) -> float | None:
    """The share of `predicted` in `style`'s era (`data.sources.styles.era_of`); None for no predictions."""
    era = era_of(style)
    return sum(era_of(p) == era for p in predicted) / len(predicted) if predicted else None
