"""The style classifier, trained on event statistics only, tells two clearly different synthetic styles apart."""

import numpy as np

from musenet.codec.events import Piece, make_notes
from musenet.evaluate.classifier import StyleClassifier, accuracy
from musenet.evaluate.features import classifier_vector, features


def chorale(rng) -> Piece:
    """Slow diatonic four-note chords, one every 0.5 s."""
    notes = []
    for k in range(16):
        root = 60 + int(rng.choice([0, 2, 4, 5, 7, 9]))
        for p in (root - 12, root, root + 4, root + 7):
            notes.append((k * 0.5, k * 0.5 + 0.5, p))
    s, e, p = zip(*notes, strict=True)
    return Piece(make_notes(s, e, p, 80, 0))


def runs(rng) -> Piece:
    """Fast chromatic single notes with wide leaps, 10 per second."""
    n = 80
    starts = np.arange(n) * 0.1 + rng.uniform(0, 0.02, n)
    return Piece(make_notes(starts, starts + 0.05, rng.integers(40, 90, n), 80, 0))


def dataset(rng, n: int):
    pieces = [chorale(rng) for _ in range(n)] + [runs(rng) for _ in range(n)]
    labels = ["chorale"] * n + ["runs"] * n
    return np.array([classifier_vector(features(p), p) for p in pieces]), labels


def test_beats_chance_on_two_clearly_different_styles():
    rng = np.random.default_rng(0)
    X, y = dataset(rng, 20)
    clf = StyleClassifier().fit(X, y)
    Xt, yt = dataset(rng, 10)
    assert clf.classes == ["chorale", "runs"]
    assert accuracy(clf.predict(Xt), yt) >= 0.9
    assert np.allclose(clf.proba(Xt).sum(axis=1), 1.0)


def test_labels_that_carry_no_signal_stay_near_chance():
    rng = np.random.default_rng(1)
    X, _ = dataset(rng, 30)
    y = list(rng.choice(["a", "b"], len(X)))
    clf = StyleClassifier().fit(X, y)
    Xt, _ = dataset(rng, 30)
    yt = list(rng.choice(["a", "b"], len(Xt)))
    assert 0.2 <= accuracy(clf.predict(Xt), yt) <= 0.8
    assert accuracy([], []) is None
