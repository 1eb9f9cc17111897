"""Overlapping area (Yang & Lerch 2020) on one shared grid: identical sets overlap fully, distant ones not at all."""

import math

import numpy as np
import pytest

from musenet.evaluate.overlap import kl_divergence, overlap_area, set_distances, set_overlap


def test_identical_distributions_overlap_fully():
    x = np.random.default_rng(0).normal(size=50)
    assert overlap_area(x, x) == pytest.approx(1.0)
    assert kl_divergence(x, x) == pytest.approx(0.0, abs=1e-9)
    assert overlap_area([3.0, 3.0], [3.0]) == pytest.approx(1.0)  # constant sets


def test_disjoint_distributions_do_not_overlap():
    assert overlap_area([0.0, 1.0, 2.0], [100.0, 101.0, 102.0]) < 1e-6
    assert overlap_area([0.0], [1.0]) < 1e-6  # single values: a small bandwidth borrowed from the range
    assert kl_divergence([0.0, 1.0, 2.0], [100.0, 101.0, 102.0]) > 10


def test_two_shifted_normals_overlap_as_theory_says():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 4000), rng.normal(1, 1, 4000)
    # the overlap of N(0,1) and N(1,1) is 2 * Phi(-1/2) = 0.617; KDE smoothing widens both a little
    expected = 1 + math.erf(-0.5 / math.sqrt(2))
    assert overlap_area(a, b) == pytest.approx(expected, abs=0.03)
    assert overlap_area(a, b) == pytest.approx(overlap_area(b, a))


def test_nan_and_empty_inputs():
    assert overlap_area([1.0, np.nan, 2.0], [1.0, 2.0]) == pytest.approx(1.0)
    assert math.isnan(overlap_area([], [1.0]))


def test_set_overlap_uses_intra_and_inter_set_distances():
    rng = np.random.default_rng(2)
    real = rng.dirichlet(np.ones(7), 30)
    intra, inter = set_distances(real, real[:10])
    assert len(intra) == 30 * 29 // 2 and len(inter) == 30 * 10
    same, _ = set_overlap(real, rng.dirichlet(np.ones(7), 30))  # drawn from the same distribution
    far, _ = set_overlap(real, np.tile(np.eye(7)[0], (30, 1)))  # every piece one spike
    assert same > 0.8 and far < 0.2
    assert all(math.isnan(v) for v in set_overlap(real[:1], real))


def test_large_real_sets_are_subsampled():
    rng = np.random.default_rng(3)
    real = rng.dirichlet(np.ones(5), 2000)
    oa, _ = set_overlap(real, rng.dirichlet(np.ones(5), 20), max_real=100)
    assert 0.7 < oa <= 1.0
