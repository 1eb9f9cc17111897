"""The n-gram baseline on toy corpora: normalised, learns what it saw, backs off for what it did not."""

import numpy as np
import pytest

from musenet.evaluate.ngram import NGram


def prob(lm: NGram, context: list[int], w: int) -> float:
    return float(np.exp(-lm.token_nll(np.array(context + [w]))[-1]))


def test_probabilities_sum_to_one_for_seen_and_unseen_contexts():
    rng = np.random.default_rng(0)
    lm = NGram(6, order=3).fit([rng.integers(0, 6, 200) for _ in range(5)])
    for ctx in ([0, 1], [5, 5], [2], []):
        assert sum(prob(lm, ctx, w) for w in range(6)) == pytest.approx(1.0)
    unseen = NGram(6, order=3).fit([np.array([0, 1, 2, 0, 1, 2])])
    assert sum(prob(unseen, [5, 4], w) for w in range(6)) == pytest.approx(1.0)


def test_a_deterministic_corpus_is_learnt():
    seq = np.array([0, 1, 2, 3] * 50)
    lm = NGram(4, order=3).fit([seq] * 4)
    nll = lm.token_nll(seq)
    assert nll[2:].mean() < 0.05  # after two tokens the next one is certain
    assert NGram(4, order=1).fit([seq]).token_nll(seq).mean() == pytest.approx(np.log(4), abs=0.01)


def test_witten_bell_by_hand():
    # corpus "a b a c" (a=0, b=1, c=2), bigram: after "a" come b and c once each: c(a) = 2, T(a) = 2
    lm = NGram(3, order=2).fit([np.array([0, 1, 0, 2])])
    p1 = {0: (2 + 1) / (4 + 3), 1: (1 + 1) / (4 + 3), 2: (1 + 1) / (4 + 3)}
    assert prob(lm, [0], 1) == pytest.approx((1 + 2 * p1[1]) / (2 + 2))
    assert prob(lm, [0], 0) == pytest.approx((0 + 2 * p1[0]) / (2 + 2))
    assert prob(lm, [2], 0) == pytest.approx(p1[0])  # "c" is never a context: the unigram


def test_ngrams_do_not_cross_piece_boundaries():
    lm = NGram(3, order=2).fit([np.array([0, 1]), np.array([2, 2])])
    # "1 2" never occurs inside a piece, so after "1" the model has seen nothing: the unigram decides
    assert lm.levels[0].keys.size == 2 + 2  # (bos,0) (0,1) (bos,2) (2,2)
    assert prob(lm, [1], 2) == pytest.approx((2 + 1) / (4 + 3))
