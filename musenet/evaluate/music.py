"""Generated vs real, per style: the features of two sets of pieces side by side, with their overlapping areas."""

from __future__ import annotations

import numpy as np

from ..codec.events import Piece
from .features import SCALARS, VECTORS, Grid, features
from .overlap import kl_divergence, overlap_area, set_overlap


def feature_table(
    pieces: list[Piece], grid: Grid | None = None
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(scalar name -> (n,) values, vector name -> (n, d) rows) for a set of pieces."""
    grid = grid or Grid()
    rows = [features(p, grid) for p in pieces]
    scalars = {k: np.array([float(r[k]) for r in rows], dtype=np.float64) for k in SCALARS}
    vectors = {}
    for k in VECTORS:
        d = len(features(Piece(), grid)[k])
        vectors[k] = np.array([np.asarray(r[k]) for r in rows], dtype=np.float64).reshape(len(rows), d)
    return scalars, vectors


def _stats(x: np.ndarray) -> tuple[float | None, float | None, int]:
    x = x[np.isfinite(x)]
    return (float(x.mean()), float(x.std()), len(x)) if len(x) else (None, None, 0)


def compare_sets(real: list[Piece], gen: list[Piece], grid: Grid | None = None) -> dict:
    """Per scalar feature: means, spreads, OA and KL(real || generated) of the value distributions; per vector
    feature: OA and KL of the intra-set (real) and inter-set (real x generated) distance distributions."""
    rs, rv = feature_table(real, grid)
    gs, gv = feature_table(gen, grid)
    out: dict = {"n_real": len(real), "n_generated": len(gen), "features": {}, "vectors": {}}
    for k in SCALARS:
        rm, rsd, rn = _stats(rs[k])
        gm, gsd, gn = _stats(gs[k])
        a, b = rs[k][np.isfinite(rs[k])], gs[k][np.isfinite(gs[k])]
        out["features"][k] = {
            "real_mean": rm,
            "real_std": rsd,
            "real_n": rn,
            "gen_mean": gm,
            "gen_std": gsd,
            "gen_n": gn,
            "oa": overlap_area(a, b),
            "kl": kl_divergence(a, b),
        }
    for k in VECTORS:
        oa, kl = set_overlap(rv[k], gv[k])
        out["vectors"][k] = {"oa": oa, "kl": kl}
    oas = [v["oa"] for v in out["features"].values() if np.isfinite(v["oa"])]
    out["mean_oa"] = float(np.mean(oas)) if oas else float("nan")
    out["_scalars"] = (rs, gs)  # for the plots; dropped before writing JSON
    return out
