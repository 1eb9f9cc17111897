"""The MIDI loader checks what it returns (issue 16, finding 4): a file whose times come out infinite, negative or
endless is a one-line MidiError, in the Python API, the CLI and (see test_web_abuse) the web upload."""

import subprocess
import sys

import numpy as np
import pytest

from musenet.codec.events import Piece, empty_notes, make_notes
from musenet.codec.midi_io import midi_bytes
from musenet.codec.safe import Limits, MidiError, SafeLoader, check_notes, load_midi


def real_file(seconds=3.0) -> bytearray:
    t = np.arange(0, seconds, 0.5)
    return bytearray(midi_bytes(Piece(make_notes(t, t + 0.4, 60 + np.arange(len(t)), 80, 0))))


@pytest.fixture(scope="module")
def loader():
    with SafeLoader() as loader:
        yield loader


@pytest.mark.parametrize(
    "division, words",
    [(b"\x00\x00", "time division 0"), (b"\xe7\x28", "SMPTE"), (b"\x80\x00", "SMPTE")],
)
def test_a_header_with_a_bad_time_division_is_one_line(loader, division, words):
    data = real_file()
    data[12:14] = division  # a one-byte mutation of a real file
    with pytest.raises(MidiError, match=words) as e:
        loader.load_bytes(bytes(data), name="x.mid")
    assert "\n" not in str(e.value)


def test_a_division_of_one_tick_is_slow_but_finite_and_bounded(loader):
    data = real_file()
    data[12:14] = b"\x00\x01"  # 500 times slower: 24 minutes
    piece = loader.load_bytes(bytes(data))
    assert np.isfinite(piece.notes["end"]).all() and 1000 < piece.duration < 2000
    with (
        SafeLoader(Limits(max_seconds=600)) as short,
        pytest.raises(MidiError, match="minutes, over the limit"),
    ):
        short.load_bytes(bytes(data))


def bad(**columns) -> np.ndarray:
    notes = make_notes(np.array([0.0, 1.0]), np.array([0.5, 1.5]), 60, 80, 0)
    for name, value in columns.items():
        notes[name][1] = value
    return notes


@pytest.mark.parametrize(
    "notes, words",
    [
        (bad(start=np.inf), "not finite"),
        (bad(end=np.nan), "not finite"),
        (bad(start=-1.0), "negative"),
        (bad(end=0.5), "negative"),
        (bad(end=1e9), "minutes, over the limit"),
        (bad(pitch=200), "pitches"),
        (bad(velocity=-3), "velocities"),
    ],
)
def test_check_notes_refuses_what_cannot_be_encoded(notes, words):
    with pytest.raises(MidiError, match=words):
        check_notes(notes, Limits())
    check_notes(empty_notes(), Limits())


def test_the_cli_says_one_line_for_division_zero(tmp_path):
    data = real_file()
    data[12:14] = b"\x00\x00"
    path = tmp_path / "zero.mid"
    path.write_bytes(bytes(data))
    with pytest.raises(MidiError, match="time division 0"):
        load_midi(path)
    r = subprocess.run(
        [sys.executable, "-m", "musenet", "tokens", str(path)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 2 and "time division 0" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
