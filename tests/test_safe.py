"""The isolated loader: limits before parsing, fuzzed and hostile files rejected with one line, never a hang."""

import random
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import PACKAGED, loadable_files

from musenet.codec.events import Piece
from musenet.codec.midi_io import write_midi
from musenet.codec.safe import Limits, MidiError, SafeLoader, load_midi


def test_size_and_header_limits(tmp_path):
    big = tmp_path / "big.mid"
    big.write_bytes(b"MThd" + b"\0" * 2000)
    with pytest.raises(MidiError, match="over the 0 MB limit"):
        load_midi(big, Limits(max_bytes=1000))
    many = tmp_path / "many.mid"
    many.write_bytes(b"MThd\0\0\0\x06\0\x01\x04\x00\x01\xe0")  # claims 1024 tracks
    with pytest.raises(MidiError, match="1024 tracks"):
        load_midi(many)
    with pytest.raises(MidiError, match="is a folder"):
        load_midi(tmp_path)
    with pytest.raises(MidiError, match="cannot read"):
        load_midi(tmp_path / "missing.mid")
    riff = tmp_path / "x.rmi"
    riff.write_bytes(b"RIFF" + b"\0" * 40)
    with pytest.raises(MidiError, match="RIFF"):
        load_midi(riff)


def test_note_and_duration_limits():
    path = PACKAGED["band"]  # 6,059 notes, ~10 minutes
    with pytest.raises(MidiError, match="6059 notes, over the limit"):
        load_midi(path, Limits(max_notes=1000))
    with pytest.raises(MidiError, match="minutes, over the limit of 5"):
        load_midi(path, Limits(max_seconds=300))
    assert len(load_midi(path)) > 6000


def repeated_band(tmp_path: Path, times: int) -> tuple[Path, int]:
    """The packaged band piece `times` over, one after the other, as a MIDI file: (path, notes)."""
    band = load_midi(PACKAGED["band"])
    notes = np.concatenate([band.notes] * times)
    notes["start"] += np.repeat(np.arange(times) * band.duration, len(band.notes))
    notes["end"] += np.repeat(np.arange(times) * band.duration, len(band.notes))
    path = tmp_path / f"band-x{times}.mid"
    write_midi(Piece(notes), path)
    return path, len(notes)


def test_timeout_kills_the_worker_and_the_next_file_loads(tmp_path):
    # 121k notes: ~50 ms of parsing, so that the parent, even descheduled for a while on a busy machine, still
    # finds no answer after 0.1 ms (the 1,500-note "long" file, ~7 ms, was once answered in time under load)
    path, n = repeated_band(tmp_path, 20)
    big = Limits(max_seconds=1e6, max_notes=10**6)
    with SafeLoader(replace(big, timeout_s=1e-4)) as slow, pytest.raises(MidiError, match="took longer than"):
        slow.load(path)
    with SafeLoader(big) as loader:
        assert len(loader.load(path)) == n


def test_memory_cap_turns_into_midierror(tmp_path):
    path, n = repeated_band(tmp_path, 6)  # the same music 6 times over: 36k notes, ~300 kB of MIDI
    assert len(load_midi(path, Limits(max_seconds=1e6, max_notes=10**6))) == n
    with SafeLoader(Limits(memory_mb=1)) as loader, pytest.raises(MidiError, match="memory"):
        loader.load(path)


def test_fuzzed_files_load_or_fail_cleanly():
    """Byte flips, truncations and splices of real files: each loads or gives a one-line MidiError, fast."""
    rng = random.Random(0)
    seeds = [p.read_bytes() for p in loadable_files() if p.stat().st_size < 60_000][:20]
    variants = []
    for data in seeds:
        for _ in range(8):
            b = bytearray(data)
            op = rng.randrange(4)
            if op == 0:
                for _ in range(rng.randint(1, 20)):
                    b[rng.randrange(len(b))] = rng.randrange(256)
            elif op == 1:
                b = b[: rng.randrange(8, len(b))]
            elif op == 2:
                i = rng.randrange(14, len(b))
                b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
            else:  # a huge chunk length or delta time
                i = rng.randrange(14, len(b) - 4)
                b[i : i + 4] = b"\xff\xff\xff\x7f"
            variants.append(bytes(b))
    start = time.monotonic()
    loaded = rejected = 0
    with SafeLoader(Limits(timeout_s=5)) as loader:
        for i, data in enumerate(variants):
            t0 = time.monotonic()
            try:
                loader.load_bytes(data, name=f"fuzz-{i}.mid")
                loaded += 1
            except MidiError as e:
                assert "\n" not in str(e) and str(e).startswith(f"fuzz-{i}.mid: ")
                rejected += 1
            assert time.monotonic() - t0 < 6
    assert loaded + rejected == len(variants) and rejected > 0 and loaded > 0
    assert time.monotonic() - start < 120
