"""The style judge: a multinomial logistic regression on event statistics, trained on real pieces only.

Its inputs are `features.classifier_vector`: pitch-class (rotated to the best-fitting scale), interval, inter-onset
and note-length histograms and the scalar music statistics, computed from notes alone, so it knows nothing of the
generator (no tokens, no model, no instruments). Written in numpy (full-batch gradient descent with L2 on
standardised inputs, a few hundred steps) rather than adding scikit-learn for one small model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClassifierConfig:
    l2: float = 1e-2
    """Weight decay on the weights (not the biases)."""
    steps: int = 500
    lr: float = 0.5
    balanced: bool = True
    """Weigh each class equally (styles are very unevenly represented)."""


class StyleClassifier:
    def __init__(self, cfg: ClassifierConfig = ClassifierConfig()):
        self.cfg = cfg
        self.classes: list[str] = []
        self.mean = self.scale = self.W = self.b = None

    def fit(self, X: np.ndarray, labels: list[str]) -> StyleClassifier:
        X = np.asarray(X, np.float64)
        self.classes = sorted(set(labels))
        y = np.array([self.classes.index(s) for s in labels])
        self.mean = X.mean(axis=0)
        self.scale = X.std(axis=0)
        self.scale[self.scale == 0] = 1.0
        Z = (X - self.mean) / self.scale
        n, d = Z.shape
        k = len(self.classes)
        Y = np.eye(k)[y]
        w = np.ones(n)
        if self.cfg.balanced:
            per_class = np.bincount(y, minlength=k)
            w = n / (k * per_class[y])
        w = w / w.sum()
        self.W, self.b = np.zeros((d, k)), np.zeros(k)
        for _ in range(self.cfg.steps):
            P = self._softmax(Z @ self.W + self.b)
            G = (P - Y) * w[:, None]
            self.W -= self.cfg.lr * (Z.T @ G + self.cfg.l2 * self.W)
            self.b -= self.cfg.lr * G.sum(axis=0)
        return self

    @staticmethod
    def _softmax(a: np.ndarray) -> np.ndarray:
        a = a - a.max(axis=1, keepdims=True)
        e = np.exp(a)
        return e / e.sum(axis=1, keepdims=True)

    def proba(self, X: np.ndarray) -> np.ndarray:
        Z = (np.asarray(X, np.float64) - self.mean) / self.scale
        return self._softmax(Z @ self.W + self.b)

    def predict(self, X: np.ndarray) -> list[str]:
        if not len(X):
            return []
        return [self.classes[i] for i in self.proba(X).argmax(axis=1)]


def accuracy(pred: list[str], truth: list[str]) -> float | None:
    return float(np.mean([p == t for p, t in zip(pred, truth, strict=True)])) if truth else None
