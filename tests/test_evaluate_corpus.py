"""Reading a split's pieces back: excerpts decode only what they need and match a full decode; sample adherence."""

from collections import Counter

import numpy as np
import pytest

from musenet.codec.decode import decode
from musenet.codec.encode import encode
from musenet.codec.events import DRUMS, Piece, make_notes
from musenet.codec.vocab import Vocab
from musenet.evaluate.corpus import SplitPiece, excerpt, instruments_of, note_count
from musenet.evaluate.samples import Sample, adherence, draw_instruments

VOCAB = Vocab()


def split_piece() -> SplitPiece:
    rng = np.random.default_rng(0)
    n = 200
    starts = np.cumsum(rng.integers(5, 40, n)) * 0.01
    programs = rng.choice([0, 40, DRUMS], n)
    notes = make_notes(starts, starts + rng.uniform(0.05, 1.5, n), rng.integers(40, 80, n), 80, programs)
    enc = encode(Piece(notes, style="jazz"), VOCAB)
    prefix = int(np.flatnonzero(enc.ids == VOCAB.start)[0]) + 1
    return SplitPiece("jazz", enc.ids, enc.positions.time, prefix, enc.duration, "t")


@pytest.mark.parametrize("start, seconds", [(0.0, 5.0), (3.0, 4.0), (0.0, 1000.0)])
def test_excerpt_matches_a_window_of_the_full_decode(start, seconds):
    p = split_piece()
    full, _ = decode(p.ids, VOCAB)
    want = full.window(start, start + seconds).notes
    got = excerpt(p, VOCAB, seconds, start)
    assert got.style == "jazz" and len(got) == len(want) > 0
    np.testing.assert_array_equal(got.notes, want)


def test_instruments_and_note_count():
    p = split_piece()
    assert instruments_of(p, VOCAB) == ("piano", "violin", "drums")
    assert note_count(p, VOCAB) == len(decode(p.ids, VOCAB)[0])


def test_adherence_counts_validity_instruments_and_length():
    piece = Piece(make_notes([0, 1], [1, 9], [60, 62], 80, [0, 40]))
    ok = Sample("jazz", ("piano", "violin"), 10.0, 0, piece, playing=["piano", "violin"])
    partial = Sample("jazz", ("piano", "flute"), 10.0, 0, piece, playing=["piano", "violin"])
    repaired = Sample("jazz", ("piano",), 10.0, 0, piece, repairs=Counter(retrigger=1), playing=["piano"])
    failed = Sample("jazz", ("piano",), 10.0, 0, error="RuntimeError: boom")
    a = adherence([ok, partial, repaired, failed])
    assert a["count"] == 4 and a["generated"] == 3
    assert a["validity"] == 0.5 and a["repaired"] == 0.25 and a["nonempty"] == 0.75
    assert a["instrument_precision"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert a["instrument_recall"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert a["instrument_exact"] == pytest.approx(2 / 3)
    assert (
        a["seconds_got"] == 9.0 and a["length_abs_error_s"] == 1.0 and a["length_ratio"] == pytest.approx(0.9)
    )
    assert adherence([]) == {"count": 0}


def test_instrument_sets_are_drawn_from_real_pieces():
    rng = np.random.default_rng(0)
    sets = [("piano",), ("violin", "cello")]
    drawn = draw_instruments(sets, 50, rng)
    assert set(drawn) == set(sets)
    assert draw_instruments([], 2, rng) == [("piano",), ("piano",)]


def test_real_excerpts_fill_in_small_styles_with_consecutive_windows():
    from musenet.evaluate.run import real_excerpts

    p = split_piece()  # ~40 s of notes
    seconds = p.duration * VOCAB.config.time_unit_ms / 1000
    one = real_excerpts([p] * 20, VOCAB, 5.0, 16)  # enough pieces: the first excerpt of each
    assert len(one) == 20 and all(np.array_equal(e.notes, excerpt(p, VOCAB, 5.0).notes) for e in one)
    few = real_excerpts([p, p], VOCAB, 5.0, 16)  # two pieces: 8 consecutive windows of each
    assert len(few) == 16
    for k in range(8):
        np.testing.assert_array_equal(few[k].notes, excerpt(p, VOCAB, 5.0, 5.0 * k).notes)
    # never past the piece's end
    assert len(real_excerpts([p], VOCAB, seconds / 2, 100)) <= 3
