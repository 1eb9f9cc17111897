"""Structural positions on a small hand-written piece, and the one-token-at-a-time tracker on real files."""

import numpy as np
import pytest
from conftest import loadable_files

from musenet.codec.encode import encode
from musenet.codec.events import DRUMS, Piece, make_notes
from musenet.codec.midi_io import read_midi
from musenet.codec.positions import PositionTracker, positions
from musenet.codec.vocab import Vocab

VOCAB = Vocab()


def test_hand_written_example():
    # piano C4+E4 at 0 s for 1 s; at 0.5 s a kick drum and a violin G4 until 2.5 s
    piece = Piece(
        make_notes(
            start=[0.0, 0.0, 0.5, 0.5],
            end=[1.0, 1.0, 0.6, 2.5],
            pitch=[60, 64, 36, 67],
            velocity=[80, 80, 100, 64],
            program=[0, 0, DRUMS, 40],
        ),
        style="bach",
    )
    enc = encode(piece, VOCAB)
    names = [VOCAB.name(t) for t in enc.ids]
    assert names == [
        "style:bach", "instrument:piano", "instrument:violin", "instrument:drums", "start",
        "piano:v72:C4", "piano:v72:E4",
        "wait:50", "violin:v57:G4", "drums:v104:C2",
        "wait:50", "piano:v0:C4", "piano:v0:E4",
        "wait:128", "wait:22", "violin:v0:G4",
        "end",
    ]  # fmt: skip
    p = enc.positions
    assert enc.duration == 250
    assert p.time.tolist() == [0] * 7 + [50] * 3 + [100] * 3 + [228, 250, 250, 250]
    assert p.chord.tolist() == [0] * 5 + [1, 2] + [0, 1, 2] + [0] * 7
    # part = 128 * time // 250, capped at 127
    assert p.part.tolist() == [0] * 7 + [25] * 3 + [51] * 3 + [116, 127, 127, 127]
    # countdown = ceil(seconds left), capped at 127: 2.5 s -> 3, 2.0 -> 2, 1.5 -> 2, 0.22 -> 1, 0 -> 0
    assert p.countdown.tolist() == [3] * 7 + [2] * 3 + [2] * 3 + [1, 0, 0, 0]


def test_countdown_caps_and_reaches_zero():
    vocab = Vocab()
    ids = np.array([vocab.start] + [int(vocab.wait_id(128))] * 200 + [vocab.end])
    p = positions(ids, vocab)
    assert p.countdown[0] == vocab.config.countdown - 1  # 256 s left, capped at 127
    assert p.countdown[-1] == 0 and p.part[-1] == vocab.config.parts - 1
    assert np.all(np.diff(p.countdown) <= 0) and np.all(np.diff(p.part) >= 0)


def test_chord_index_is_capped():
    vocab = Vocab()
    ids = [vocab.start] + [int(vocab.note_id(0, 3, 40 + i)) for i in range(vocab.config.max_chord + 5)]
    p = positions(np.array(ids), vocab)
    assert p.chord.max() == vocab.config.max_chord


@pytest.mark.parametrize("path", loadable_files()[::6], ids=lambda p: p.name)
def test_tracker_matches_vectorised(path):
    enc = encode(read_midi(path), VOCAB)
    tracker = PositionTracker(VOCAB, enc.duration)
    got = np.array([tracker.push(int(t)) for t in enc.ids]).reshape(-1, 4)
    want = np.stack([enc.positions.time, enc.positions.chord, enc.positions.part, enc.positions.countdown], 1)
    assert np.array_equal(got, want)


def test_generation_duration_drives_part_and_countdown():
    # the same tokens, told a longer target duration, sit earlier in the piece with more time left
    piece = Piece(make_notes([0.0, 1.0], [1.0, 2.0], [60, 62], [80, 80], [0, 0]))
    enc = encode(piece, VOCAB)
    long = positions(enc.ids, VOCAB, duration=enc.duration * 4)
    assert np.all(long.part <= enc.positions.part) and long.part[-1] == 32
    assert np.all(long.countdown >= enc.positions.countdown) and long.countdown[-1] == 6
