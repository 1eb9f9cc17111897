"""Each written rule for real-world mess, triggered on purpose and counted."""

import numpy as np

from musenet.codec.decode import decode
from musenet.codec.encode import encode
from musenet.codec.events import DRUMS, Piece, make_notes
from musenet.codec.vocab import Vocab

VOCAB = Vocab()
PIANO, VIOLIN, DRUM = 0, 1, 9


def roundtrip(start, end, pitch, velocity=80, program=0):
    enc = encode(Piece(make_notes(start, end, pitch, velocity, program)), VOCAB)
    back, repairs = decode(enc.ids, VOCAB)
    assert not repairs
    return enc.counts, back.notes


def test_same_pitch_overlap_is_cut_at_the_retrigger():
    counts, notes = roundtrip([0.0, 0.5], [1.0, 2.0], [60, 60])
    assert counts["overlap_cut"] == 1
    assert notes["start"].tolist() == [0.0, 0.5] and notes["end"].tolist() == [0.5, 2.0]


def test_duplicate_onsets_keep_the_longer_note():
    counts, notes = roundtrip([0.0, 0.0], [0.3, 1.0], [60, 60])
    assert counts["duplicate"] == 1 and notes["end"].tolist() == [1.0]


def test_zero_length_notes_last_one_unit():
    counts, notes = roundtrip([1.0, 2.0], [1.0, 2.003], [60, 62])
    assert counts["zero_length"] == 2
    np.testing.assert_allclose(notes["end"] - notes["start"], [0.01, 0.01])


def test_out_of_range_pitches_fold_by_octaves_and_drums_drop():
    # violin's range starts at G3 (55): C2 (36) folds to C4 (60); a piano C9 (120) folds to C8 (108)
    counts, notes = roundtrip([0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [36, 120, 100], program=[40, 0, DRUMS])
    assert counts["pitch_folded"] == 2 and counts["drum_out_of_range"] == 1
    assert sorted(notes["pitch"].tolist()) == [60, 108]


def test_drum_keys_of_other_kits_become_their_gm_drums():
    # a Roland e-kit's hi-hat edges (22 closed, 26 open) and an XG kit's surdo (13) -> GM 42, 46, 86; the GM
    # keys themselves stay (58 is a vibraslap in GM, even though the e-kit uses it for a tom rim); 5 has no GM twin
    t = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    counts, notes = roundtrip(t, [x + 0.1 for x in t], [22, 26, 13, 42, 58, 5], program=DRUMS)
    assert counts["drum_mapped"] == 3 and counts["drum_out_of_range"] == 1
    assert notes["pitch"].tolist() == [42, 46, 86, 42, 58]


def test_too_many_notes_at_once():
    n = VOCAB.config.max_chord + 6
    counts, notes = roundtrip([0.0] * n, [1.0] * n, list(range(40, 40 + n)))
    assert counts["chord_dropped"] == 6 and len(notes) == VOCAB.config.max_chord
    # the lowest pitches are kept (dropped from the top)
    assert notes["pitch"].max() == 40 + VOCAB.config.max_chord - 1


def test_polyphony_cap_cuts_the_oldest_note():
    cap = VOCAB.config.max_polyphony
    starts = [0.1 * i for i in range(cap + 3)]
    counts, notes = roundtrip(starts, [100.0] * len(starts), list(range(30, 30 + len(starts))))
    assert counts["polyphony_cut"] == 3
    ends = dict(zip(notes["pitch"].tolist(), notes["end"].tolist(), strict=True))
    # the three earliest notes end where notes cap+1, cap+2, cap+3 begin
    np.testing.assert_allclose(
        [ends[30], ends[31], ends[32]], [starts[cap], starts[cap + 1], starts[cap + 2]]
    )
    assert ends[33] == 100.0


def test_dropped_programs_are_counted():
    counts, notes = roundtrip([0.0, 0.0], [1.0, 1.0], [60, 62], program=[0, 126])  # 126 = applause
    assert counts["dropped_program"] == 1 and len(notes) == 1


def test_decoder_repairs_a_bad_stream():
    v = VOCAB
    on, off = int(v.note_id(PIANO, 4, 60)), int(v.note_id(PIANO, 0, 60))
    w = int(v.wait_id(10))
    ids = [v.start, off, on, on, w, off, off, v.style_offset, on, w, v.end, on]
    piece, repairs = decode(ids, v)
    assert repairs == {
        "orphan_note_off": 2,
        "retrigger": 1,
        "zero_length": 1,
        "misplaced": 1,
        "unterminated": 1,
    }
    assert piece.notes["start"].tolist() == [0.0, 0.0, 0.1]
    # the zero-length note (on, on at the same moment) lasts one unit; the last one ends at `end`
    np.testing.assert_allclose(piece.notes["end"], [0.01, 0.1, 0.2])


def test_long_gaps_become_several_waits_and_time_is_kept():
    counts, notes = roundtrip([0.0, 10.0], [0.5, 10.5], [60, 62])
    enc = encode(Piece(make_notes([0.0, 10.0], [0.5, 10.5], [60, 62], 80, 0)), VOCAB)
    waits = [VOCAB.name(t) for t in enc.ids if VOCAB.kind(int(t)) == "wait"]
    assert waits == ["wait:50"] + ["wait:128"] * 7 + ["wait:54", "wait:50"]
    assert notes["start"].tolist() == [0.0, 10.0]
