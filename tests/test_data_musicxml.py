"""The fast MusicXML reader: a hand-written score, and agreement with music21 on corpus files."""

import warnings

import numpy as np
import pytest

from musenet.data.abc import Unsupported
from musenet.data.musicxml import read_musicxml

music21 = pytest.importorskip("music21")

SCORE = b"""<?xml version="1.0"?>
<score-partwise>
 <work><work-title>Test</work-title></work>
 <part-list><score-part id="P1"><part-name>Violoncello</part-name>
  <midi-instrument id="I1"><midi-program>1</midi-program></midi-instrument></score-part></part-list>
 <part id="P1">
  <measure number="1">
   <attributes><divisions>2</divisions><time><beats>2</beats><beat-type>4</beat-type></time></attributes>
   <direction><direction-type><dynamics><f/></dynamics></direction-type><sound tempo="60"/></direction>
   <note><pitch><step>C</step><octave>3</octave></pitch><duration>4</duration><tie type="start"/></note>
   <note><chord/><pitch><step>E</step><alter>-1</alter><octave>3</octave></pitch><duration>4</duration></note>
   <backup><duration>4</duration></backup>
   <note><pitch><step>C</step><octave>2</octave></pitch><duration>4</duration></note>
  </measure>
  <measure number="2">
   <note><pitch><step>C</step><octave>3</octave></pitch><duration>2</duration><tie type="stop"/></note>
   <note><grace/><pitch><step>D</step><octave>5</octave></pitch></note>
   <note><rest/><duration>1</duration></note>
   <note><pitch><step>G</step><octave>3</octave></pitch><duration>1</duration></note>
  </measure>
 </part>
</score-partwise>"""


def test_reads_time_chords_ties_grace_backup_tempo_dynamics():
    title, tempos, (part,) = read_musicxml(SCORE)
    assert title == "Test" and tempos == [(0.0, 60.0)]
    assert part.name == "Violoncello" and part.program == 0
    start, end, pitch, velocity = part.arrays()
    got = sorted(zip(start.tolist(), end.tolist(), pitch.tolist(), strict=True))
    # C3 tied over the bar, Eb3 in its chord, C2 in a second voice, G3 after a grace note and a rest
    assert got == [(0.0, 2.0, 36), (0.0, 2.0, 51), (0.0, 3.0, 48), (3.5, 4.0, 55)]
    assert (velocity == 96).all()


def test_timewise_goes_to_music21():
    with pytest.raises(Unsupported):
        read_musicxml(b"<score-timewise></score-timewise>")


def test_agrees_with_music21_on_corpus_files():
    from music21 import converter

    from musenet.data import corpus
    from musenet.data.m21notes import score_notes, trim_start

    root = corpus.corpus_root()
    rels = ["bach/bwv66.6.mxl", "haydn/opus1no1/movement1.mxl", "trecento/Fava_Dicant_nunc_iudei.xml"]
    for rel in rels:
        vocal = rel.split("/")[0] in corpus.VOCAL_COLLECTIONS
        fast = corpus.xml_piece("x", str(root / rel), "x", vocal)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = trim_start(score_notes(converter.parse(root / rel, forceSource=True), vocal))
        for f in ("pitch", "program", "velocity"):
            assert np.array_equal(np.sort(fast.notes[f]), np.sort(ref[f])), (rel, f)
        assert np.allclose(np.sort(fast.notes["start"]), np.sort(ref["start"])), rel
        assert np.allclose(np.sort(fast.notes["end"]), np.sort(ref["end"])), rel


def test_a_printed_metronome_mark_wins_over_a_disagreeing_sound_tempo():
    # OpenScore Lieder's lc5669857: "quarter = 148" printed over <sound tempo="48">, then <sound tempo="148">
    direction = (
        b"<direction><direction-type><metronome><beat-unit>quarter</beat-unit><per-minute>148</per-minute>"
        b"</metronome></direction-type><sound tempo='48'/></direction>"
    )
    score = SCORE.replace(b'<sound tempo="60"/>', b"").replace(
        b'<measure number="1">', b'<measure number="1">' + direction
    )
    assert read_musicxml(score)[1] == [(0.0, 148.0)]
