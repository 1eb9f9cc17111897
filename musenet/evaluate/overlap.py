"""How alike two sets of pieces are, feature by feature: the overlapping area (OA) of Yang & Lerch (2020).

Scalar features: each set's per-piece values become a Gaussian kernel density (Scott's bandwidth) evaluated on one
shared grid spanning both sets (their union range, padded by 3 bandwidths); each density is normalised to area 1
on that grid, and OA = the area under min(p, q): 1 for identical sets, 0 for sets far apart.

Vector features (histograms): Yang & Lerch's set comparison. The *intra-set* distances are the Euclidean distances
between pairs of real pieces, the *inter-set* distances those between each real and each generated piece; OA is
the overlap of those two distance distributions (1: a generated piece sits among the real ones as the real ones
sit among themselves), and KL(intra || inter) on the same grid is reported beside it. A real set of more than 300
pieces is subsampled (seeded) for this: the pairs grow with the square of the set.
"""

from __future__ import annotations

import numpy as np

GRID_POINTS = 512


def _area(y: np.ndarray, x: np.ndarray) -> float:
    """Trapezoid rule (np.trapezoid is numpy >= 2 only)."""
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2)


def _bandwidth(x: np.ndarray, scale: float) -> float:
    sd = float(np.std(x))
    bw = 1.06 * sd * len(x) ** (-1 / 5) if sd > 0 else 0.0
    # a constant set (or one piece) has no spread of its own: borrow a small one from the union's scale
    return bw if bw > 0 else max(scale * 0.05, 1e-6)


def densities(
    a: np.ndarray, b: np.ndarray, points: int = GRID_POINTS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grid, p, q): KDEs of a and b on their shared grid, each normalised to area 1 there."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    both = np.concatenate([a, b])
    lo, hi = float(both.min()), float(both.max())
    scale = hi - lo if hi > lo else max(abs(hi), 1.0)
    ha, hb = _bandwidth(a, scale), _bandwidth(b, scale)
    pad = 3 * max(ha, hb)
    grid = np.linspace(lo - pad, hi + pad, points)

    def kde(x: np.ndarray, h: float) -> np.ndarray:
        d = np.zeros(points)
        for i in range(0, len(x), 4096):  # chunks keep the (grid, chunk) matrix small
            z = (grid[:, None] - x[None, i : i + 4096]) / h
            d += np.exp(-0.5 * z**2).sum(axis=1)
        return d / _area(d, grid)

    return grid, kde(a, ha), kde(b, hb)


def overlap_area(a, b) -> float:
    """OA of two samples of a scalar on one shared grid; NaN if either is empty (NaN values are dropped)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if not len(a) or not len(b):
        return float("nan")
    grid, p, q = densities(a, b)
    return float(np.clip(_area(np.minimum(p, q), grid), 0.0, 1.0))


def kl_divergence(a, b) -> float:
    """KL(p_a || p_b) in nats on the shared grid (both KDEs); NaN if either is empty."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if not len(a) or not len(b):
        return float("nan")
    grid, p, q = densities(a, b)
    eps = 1e-12
    return float(max(0.0, _area(p * np.log((p + eps) / (q + eps)), grid)))


def set_distances(real: np.ndarray, gen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(intra-set distances among the real pieces, inter-set distances real x generated); rows are pieces."""
    real, gen = np.asarray(real, np.float64), np.asarray(gen, np.float64)
    d_rr = np.linalg.norm(real[:, None, :] - real[None, :, :], axis=-1)
    intra = d_rr[np.triu_indices(len(real), k=1)]
    inter = np.linalg.norm(real[:, None, :] - gen[None, :, :], axis=-1).ravel()
    return intra, inter


def set_overlap(real: np.ndarray, gen: np.ndarray, max_real: int = 300, seed: int = 0) -> tuple[float, float]:
    """(OA, KL) of the intra-set and inter-set distance distributions; NaN with < 2 real or 0 generated pieces.
    More than `max_real` real pieces are subsampled (seeded): the pairs grow with the square of the set."""
    if len(real) < 2 or len(gen) < 1:
        return float("nan"), float("nan")
    if len(real) > max_real:
        real = real[np.sort(np.random.default_rng(seed).choice(len(real), max_real, replace=False))]
    intra, inter = set_distances(real, gen)
    return overlap_area(intra, inter), kl_divergence(intra, inter)
