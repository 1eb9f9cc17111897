"""Reading honours the tempo map and the sustain pedal; writing plays at the same seconds."""

import numpy as np
import symusic

from musenet.codec.decode import decode
from musenet.codec.encode import encode
from musenet.codec.events import DRUMS, Piece, make_notes
from musenet.codec.midi_io import midi_bytes, piece_from_score, score_from_bytes, write_midi
from musenet.codec.vocab import Vocab


def _score_with_tempo_change() -> bytes:
    # 480 ticks per quarter; 120 bpm, then 60 bpm from tick 960 on a *second* track (a known trap)
    score = symusic.Score(480)
    score.tempos.append(symusic.Tempo(0, 120.0))
    score.tempos.append(symusic.Tempo(960, 60.0))
    track = symusic.Track("piano", 0, False)
    for tick in (0, 960, 1440):
        track.notes.append(symusic.Note(tick, 240, 60, 90))
    score.tracks.append(track)
    return score.dumps_midi()


def test_tempo_map_gives_seconds():
    piece = piece_from_score(score_from_bytes(_score_with_tempo_change()))
    # 960 ticks at 120 bpm = 1 s; then 480 ticks at 60 bpm = 1 s more
    np.testing.assert_allclose(piece.notes["start"], [0.0, 1.0, 2.0])
    # a quarter's half: 0.25 s at 120 bpm, 0.5 s at 60 bpm
    np.testing.assert_allclose(piece.notes["end"] - piece.notes["start"], [0.25, 0.5, 0.5])


def test_decoded_midi_plays_at_the_right_times():
    vocab = Vocab()
    piece = piece_from_score(score_from_bytes(_score_with_tempo_change()))
    back, _ = decode(encode(piece, vocab).ids, vocab)
    reread = piece_from_score(score_from_bytes(midi_bytes(back)))
    np.testing.assert_allclose(reread.notes["start"], [0.0, 1.0, 2.0], atol=1e-3)
    np.testing.assert_allclose(reread.notes["end"], [0.25, 1.5, 2.5], atol=1e-3)


def test_sustain_pedal_extends_released_notes():
    score = symusic.Score(480)
    score.tempos.append(symusic.Tempo(0, 120.0))
    track = symusic.Track("piano", 0, False)
    track.notes.append(symusic.Note(0, 240, 60, 90))  # released at 0.25 s, pedal down 0.1-1.0 s
    track.notes.append(symusic.Note(1200, 240, 62, 90))  # after the pedal: untouched
    track.controls.append(symusic.ControlChange(96, 64, 127))
    track.controls.append(symusic.ControlChange(960, 64, 0))
    score.tracks.append(track)
    data = score.dumps_midi()
    piece = piece_from_score(score_from_bytes(data))
    np.testing.assert_allclose(piece.notes["end"], [1.0, 1.5])
    from musenet.codec.midi_io import ReadConfig

    dry = piece_from_score(score_from_bytes(data), ReadConfig(sustain_pedal=False))
    np.testing.assert_allclose(dry.notes["end"], [0.25, 1.5])


def test_write_midi_is_atomic_and_keeps_drums(tmp_path):
    piece = Piece(make_notes([0.0, 0.5], [0.5, 0.6], [60, 36], [80, 100], [40, DRUMS]))
    out = tmp_path / "x.mid"
    write_midi(piece, out)
    assert out.exists() and not list(tmp_path.glob(".*tmp"))
    score = symusic.Score(str(out))
    kinds = sorted((t.is_drum, t.program) for t in score.tracks)
    assert kinds == [(False, 40), (True, 0)]
