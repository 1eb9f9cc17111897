"""Music statistics on hand-made pieces whose answers are known."""

import math

import numpy as np
import pytest

from musenet.codec.events import DRUMS, Piece, make_notes
from musenet.evaluate.features import SCALARS, VECTORS, Grid, classifier_vector, features

C_MAJOR = [60, 62, 64, 65, 67, 69, 71]


def scale() -> Piece:
    """C major, C4..B4, one note every 0.5 s, each 0.5 s long."""
    starts = np.arange(7) * 0.5
    return Piece(make_notes(starts, starts + 0.5, C_MAJOR, 80, 0))


def test_c_major_scale():
    f = features(scale())
    assert f["pitch_class_entropy"] == pytest.approx(math.log2(7))
    assert f["scale_consistency"] == 1.0
    assert f["pitch_range"] == 11
    assert f["polyphony"] == pytest.approx(1.0) and f["polyphony_rate"] == 0.0
    assert f["ioi"] == pytest.approx(0.5) and f["note_length"] == pytest.approx(0.5)
    assert f["empty_beat_rate"] == 0.0  # 3.5 s = 7 beats, each holds a note
    assert f["pitch_classes_per_bar"] == pytest.approx((4 + 3) / 2)  # bars [0, 2) and [2, 4)
    # onset cells 0, 4, 8, 12 in bar 1 and 0, 4, 8 in bar 2: one of 16 steps differs
    assert f["groove_consistency"] == pytest.approx(15 / 16)
    assert f["notes_per_second"] == pytest.approx(7 / 3.5)
    assert np.isnan(f["drum_pattern_consistency"])  # no drums
    hist = f["note_length_hist"]
    assert hist[4] == 1.0 and hist.sum() == pytest.approx(1.0)  # all in [0.5, 1) s
    # C D E F G A B: steps 2 2 1 2 2 2
    assert f["interval_hist"][1] == pytest.approx(1 / 6) and f["interval_hist"][2] == pytest.approx(5 / 6)
    np.testing.assert_allclose(f["pitch_class_hist"][[0, 2, 4, 5, 7, 9, 11]], 1 / 7)


def test_chromatic_notes_lower_scale_consistency():
    starts = np.arange(12) * 0.25
    f = features(Piece(make_notes(starts, starts + 0.25, np.arange(60, 72), 80, 0)))
    assert f["pitch_class_entropy"] == pytest.approx(math.log2(12))
    assert f["scale_consistency"] == pytest.approx(7 / 12)


def test_chord_polyphony():
    chord = Piece(make_notes([0, 0, 0], [1, 1, 1], [60, 64, 67], 80, 0))
    f = features(chord)
    assert f["polyphony"] == pytest.approx(3.0) and f["polyphony_rate"] == 1.0
    assert f["ioi"] == 0.0  # a single onset moment
    # one note over [0, 2) and one over [1, 2): 1 note for 1 s, 2 notes for 1 s
    f = features(Piece(make_notes([0, 1], [2, 2], [60, 64], 80, 0)))
    assert f["polyphony"] == pytest.approx(1.5) and f["polyphony_rate"] == pytest.approx(0.5)


def test_empty_beats_do_not_count_a_note_ending_on_the_boundary():
    f = features(Piece(make_notes([0.0, 1.5], [0.5, 2.0], [60, 62], 80, 0)))
    assert f["empty_beat_rate"] == pytest.approx(0.5)  # beats [0.5, 1) and [1, 1.5) are empty


def test_drum_pattern_consistency():
    starts = np.arange(16) * 0.5  # a kick on every beat for 8 s: 4 identical bars
    drums = make_notes(starts, starts + 0.1, 36, 100, DRUMS)
    f = features(Piece(drums))
    assert f["drum_pattern_consistency"] == 1.0 and f["groove_consistency"] == 1.0
    assert f["pitch_range"] == 0.0 and f["polyphony"] == 0.0  # drums carry no pitch statistics
    shifted = drums.copy()
    shifted["start"][4:8] += 0.125  # bar 2 one step late: differs from bars 1 and 3 in 8 of 16 steps
    shifted["end"][4:8] += 0.125
    f = features(Piece(shifted))
    assert f["drum_pattern_consistency"] == pytest.approx(1 - (8 + 8 + 0) / (3 * 16))


def test_empty_piece_gives_no_nans():
    f = features(Piece())
    for k in SCALARS:
        if k != "drum_pattern_consistency":
            assert np.isfinite(f[k]), k
    assert f["empty_beat_rate"] == 1.0
    for k in VECTORS:
        assert np.all(np.isfinite(f[k])) and f[k].sum() == 0
    assert np.all(np.isfinite(classifier_vector(f, Piece())))


def test_grid_is_configurable_and_checked():
    f = features(scale(), Grid(beat_seconds=1.0, bar_seconds=4.0))
    assert f["pitch_classes_per_bar"] == 7.0  # one bar
    with pytest.raises(ValueError):
        Grid(beat_seconds=3.0, bar_seconds=2.0)


def test_classifier_vector_is_transposition_invariant():
    a = scale()
    b = Piece(a.notes.copy())
    b.notes["pitch"] += 5
    fa, fb = features(a), features(b)
    va, vb = classifier_vector(fa, a), classifier_vector(fb, b)
    diff = np.flatnonzero(~np.isclose(va, vb))
    assert len(diff) == 1 and vb[diff[0]] - va[diff[0]] == pytest.approx(5)  # only the mean pitch moves
