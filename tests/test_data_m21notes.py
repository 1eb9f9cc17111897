"""music21 scores -> notes: tempo, ties, dynamics, instruments by name and register."""

import numpy as np
import pytest

from musenet.data.m21notes import CELLO, VIOLIN, TempoMap, register_program, score_notes

music21 = pytest.importorskip("music21")


def test_tempo_map():
    assert np.allclose(TempoMap([])(np.array([0.0, 1.0, 10.0])), [0, 0.6, 6.0])  # 100 qpm by default
    t = TempoMap([(0.0, 60.0), (4.0, 120.0)])
    assert np.allclose(t(np.array([0.0, 4.0, 6.0])), [0, 4.0, 5.0])


def test_register_program():
    assert register_program(np.array([67, 72, 79])) == VIOLIN[0]  # a soprano line
    assert register_program(np.array([48, 55, 60, 64])) == CELLO[0]  # a tenor line
    assert register_program(np.array([], dtype=np.int64)) == VIOLIN[0]


def test_score_ties_dynamics_tempo_and_names():
    from music21 import dynamics, instrument, note, stream, tempo, tie

    s = stream.Score()
    vln, voice = stream.Part(), stream.Part()
    vln.partName, voice.partName = "Violino I", "Bass"
    vln.insert(0, tempo.MetronomeMark(number=120))
    vln.insert(0, dynamics.Dynamic("p"))
    a, b = note.Note("C5", quarterLength=1), note.Note("C5", quarterLength=1)
    a.tie, b.tie = tie.Tie("start"), tie.Tie("stop")
    vln.append([a, b, note.Note("D5", quarterLength=2)])
    voice.insert(0, instrument.Piano())  # notation software's default: a part named "Bass" is a voice
    voice.append([note.Note("C3", quarterLength=2), note.Note("G2", quarterLength=2)])
    s.insert(0, vln)
    s.insert(0, voice)
    notes = score_notes(s, vocal=True)
    by_prog = {int(p): notes[notes["program"] == p] for p in np.unique(notes["program"])}
    assert set(by_prog) == {VIOLIN[0], CELLO[0]}
    v = by_prog[VIOLIN[0]]
    assert (
        len(v) == 2 and np.allclose(v["start"], [0, 1.0]) and np.allclose(v["end"], [1.0, 2.0])
    )  # 120 qpm, tie
    assert (v["velocity"] == 52).all()  # p
    assert (by_prog[CELLO[0]]["velocity"] == 80).all()  # no dynamic: mf
