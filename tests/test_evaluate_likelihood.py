"""Held-out likelihood: windows score every body token once, and agree with one plain forward pass."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from musenet.codec.encode import encode
from musenet.codec.events import Piece, make_notes
from musenet.codec.vocab import Vocab
from musenet.evaluate.corpus import SplitPiece, note_count
from musenet.evaluate.likelihood import (
    Score,
    capped,
    model_token_nll,
    paired_difference,
    score_model,
    score_ngram,
    train_ngram,
    windows,
)
from musenet.model.config import GPTConfig
from musenet.model.gpt import GPT, Positions

VOCAB = Vocab()


def split_piece(n_notes: int, seed: int = 0, style: str = "bach") -> SplitPiece:
    rng = np.random.default_rng(seed)
    starts = np.cumsum(rng.integers(1, 30, n_notes)) * 0.01
    notes = make_notes(starts, starts + 0.2, rng.integers(50, 80, n_notes), 80, rng.choice([0, 40], n_notes))
    enc = encode(Piece(notes, style=style), VOCAB)
    prefix = int(np.flatnonzero(enc.ids == VOCAB.start)[0]) + 1
    return SplitPiece(style, enc.ids, enc.positions.time, prefix, enc.duration, f"piece {seed}")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=VOCAB.size, block_size=64, n_layer=1, n_head=2, n_embd=16)).eval()


def test_windows_cover_every_body_token_once():
    p = split_piece(120)
    wins = windows(p, VOCAB, context=40)
    scored = np.concatenate([w[0][w[2] :] for w in wins])
    np.testing.assert_array_equal(scored, p.ids[p.prefix :])
    for ids, pos, first in wins:
        assert len(ids) <= 41 and first == p.prefix
        np.testing.assert_array_equal(ids[: p.prefix], p.ids[: p.prefix])
        assert pos.shape == (len(ids), 4)


def test_model_nll_matches_one_forward_pass_when_the_piece_fits(model):
    p = split_piece(10)
    assert len(p.ids) <= 64
    nll = model_token_nll(model, p, VOCAB)
    assert nll.shape == (len(p.ids) - p.prefix,)
    ids = torch.from_numpy(np.asarray(p.ids, np.int64))[None]
    w = windows(p, VOCAB, 64)[0][1]
    pos = Positions(*(torch.from_numpy(w[None, :, k]) for k in range(4)))
    with torch.no_grad():
        logits, _ = model(ids[:, :-1], Positions(*(t[:, :-1] for t in pos)))
    ref = -F.log_softmax(logits[0], -1).gather(-1, ids[0, 1:, None])[:, 0].numpy()
    np.testing.assert_allclose(nll, ref[p.prefix - 1 :], rtol=1e-4, atol=1e-4)


def test_scores_sum_per_token_per_note_and_per_second(model):
    pieces = [split_piece(60, seed=s, style=st) for s, st in ((1, "bach"), (2, "jazz"))]
    s = score_model(model, pieces, VOCAB).summary()
    body = sum(len(p.ids) - p.prefix for p in pieces)
    notes = sum(note_count(p, VOCAB) for p in pieces)
    assert s["tokens"] == body and s["notes"] == notes == 120
    assert s["nll_per_note"] == pytest.approx(s["nll_per_token"] * body / notes)
    # a random model is near uniform over the vocabulary
    assert abs(s["nll_per_token"] - np.log(VOCAB.size)) < 0.5
    assert set(s["nll_per_token_by_style"]) == {"bach", "jazz"}
    kinds = s["tokens_by_kind"]
    assert kinds["note_on"] == kinds["note_off"] == 120 and kinds["end"] == 2 and kinds["drum"] == 0
    assert sum(kinds.values()) == body
    per_kind = sum(s["nll_per_token_by_kind"][k] * n for k, n in kinds.items() if n)
    assert per_kind == pytest.approx(s["nll_per_token"] * body)
    lm = train_ngram([split_piece(200, seed=k) for k in range(5)], VOCAB)
    g = score_ngram(lm, pieces, VOCAB).summary()
    assert g["tokens"] == body and g["nll_per_token"] < s["nll_per_token"]
    assert len(capped(pieces, 1)) == 1 and capped(pieces, None) == pieces


def test_a_token_cap_takes_pieces_round_robin_over_styles():
    pieces = [split_piece(20, seed=k, style="bach") for k in range(4)] + [
        split_piece(20, seed=9, style="jazz")
    ]
    two = sum(len(p.body) for p in pieces[:1] + pieces[4:])
    assert [p.style for p in capped(pieces, two)] == ["bach", "jazz"]
    assert [p.title for p in capped(pieces, 10**9)] == ["piece 0", "piece 9", "piece 1", "piece 2", "piece 3"]


def test_paired_difference_has_an_interval_around_the_gap(model):
    pieces = [split_piece(30, seed=k) for k in range(6)]
    a = score_model(model, pieces, VOCAB)
    same = paired_difference(a, a)
    assert same["nll_per_token"] == 0 and same["ci95"] == [0, 0] and same["pieces"] == 6
    b = Score()
    for p, (nll, tokens) in zip(pieces, a.pieces, strict=True):
        b.add(p.style, nll + 0.1 * tokens, tokens, 1, 1.0)  # 0.1 nats per token worse, on every piece
    d = paired_difference(a, b)
    assert d["nll_per_token"] == pytest.approx(-0.1) and d["ci95"] == pytest.approx([-0.1, -0.1])
    with pytest.raises(ValueError):
        paired_difference(a, score_model(model, pieces[:2], VOCAB))
