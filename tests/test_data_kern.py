"""The fast kern reader: unit cases, and agreement with music21 on Palestrina."""

import pytest

from musenet.data.abc import Unsupported
from musenet.data.kern import read_kern

music21 = pytest.importorskip("music21")

SCORE = """!!!OTL: Test
**kern\t**kern
*MM60\t*MM60
*M4/2\t*M4/2
=1\t=1
[1c\t2r
.\t4.G#
.\t8B-
=2\t=2
2c]\t0CC
2cc\t.
*-\t*-
"""


def test_durations_pitches_ties_and_tempo():
    title, tempos, parts = read_kern(SCORE)
    assert title == "Test" and tempos == [(0.0, 60.0)]
    (s1, e1, p1), (s2, e2, p2) = parts
    assert (
        list(p1) == [60, 72] and list(s1) == [0, 6] and list(e1) == [6, 8]
    )  # whole + tied half = 6 quarters
    assert list(p2) == [56, 58, 36] and list(s2) == [2, 3.5, 4] and list(e2) == [3.5, 4, 12]  # dotted, breve


def test_spine_splits_go_to_music21():
    with pytest.raises(Unsupported):
        read_kern("**kern\n*^\n4c\t4d\n*v\t*v\n*-\n")


def test_agrees_with_music21_on_palestrina():
    from music21 import converter

    from musenet.data import corpus
    from musenet.data.m21notes import part_events

    files = sorted((corpus.corpus_root() / "palestrina").glob("*.krn"))[::250]
    for f in files:
        _, _, parts = read_kern(f.read_text())
        ours = sorted(
            (round(a, 4), round(b, 4), int(c)) for s, e, p in parts for a, b, c in zip(s, e, p, strict=True)
        )
        theirs = []
        for part in converter.parse(f, forceSource=True).parts:
            s, e, p = part_events(part.flatten())
            theirs += [(round(a, 4), round(b, 4), int(c)) for a, b, c in zip(s, e, p, strict=True)]
        assert ours == sorted(theirs), f.name
    assert len(files) >= 5
