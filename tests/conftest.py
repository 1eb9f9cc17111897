"""Shared test fixtures: real MIDI files, and a private MUSENET_HOME per test.

Real files come from two places. `PACKAGED` ships inside an installed package (music21's own MIDI test files and
two Mozart renders), so every clone has them and the round trips run there too. `../shared/midi` beside the
checkout (or `$MUSENET_SHARED/midi`) holds ~111 more, among them known-corrupt ones: extra coverage where present,
skipped where not (a user's clone). `MUSENET_SHARED=/empty/dir pytest` runs the suite as a user's clone does.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

SHARED = Path(os.environ.get("MUSENET_SHARED") or Path(__file__).resolve().parents[2] / "shared")
SHARED_MIDI = SHARED / "midi"


def _music21_dir() -> Path:
    spec = importlib.util.find_spec("music21")  # found, not imported: music21 takes seconds to import
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("music21 is not installed: `pip install -e '.[ml,dev]'` (the Makefile does)")
    return Path(next(iter(spec.submodule_search_locations)))


M21 = _music21_dir()
# Real MIDI files inside the music21 wheel, by what tests need of them
PACKAGED = {
    "piano": M21 / "midi/testPrimitive/test02.mid",  # 163 notes, 18 s, one piano
    "short": M21 / "omr/k525short.mid",  # Eine kleine Nachtmusik's opening: 211 notes, 16 s, strings
    "band": M21 / "midi/testPrimitive/test04.mid",  # 6,059 notes, 593 s, 6 programs
    "long": M21 / "omr/k525MIDIMvt1.mid",  # 6,398 notes, 326 s
}


def packaged_midi_files() -> list[Path]:
    return sorted(M21.glob("midi/testPrimitive/*.mid")) + sorted(M21.glob("omr/*.mid"))


def corrupt_copy(src: Path, dest: Path) -> Path:
    """A real file cut in the middle of a track: its chunk says more bytes follow than do."""
    data = src.read_bytes()
    dest.write_bytes(data[: len(data) // 2])
    return dest


# Files in ../shared/midi that no parser accepts (bad status or data bytes, truncated chunks, not MIDI at all).
# `symusic/.../MIDIs_corrupted/RunTimeError_unexpected_EOF.mid` is not among them: its 16 tracks are well formed
# (each chunk ends with End-of-Track where its length says), and symusic and mido both read it.
CORRUPT = {
    "ValueError_Control168.mid",
    "Issue104_Bizarre_Love_Triangle2.mid",
    "test-corrupt-file-missing-byte.mid",
    "test-empty-file.mid",
    "test-illegal-message-all.mid",
    "test-illegal-message-f4.mid",
    "test-illegal-message-f5.mid",
    "test-illegal-message-f9.mid",
    "test-illegal-message-fd.mid",
    "test-not-a-midi-file.mid",
}


def shared_midi_files() -> list[Path]:
    if not SHARED_MIDI.is_dir():
        if os.environ.get("CI"):
            raise RuntimeError(f"{SHARED_MIDI} is missing: CI needs ../shared/midi beside the repo")
        return []
    return sorted(p for p in SHARED_MIDI.rglob("*") if p.suffix.lower() in (".mid", ".midi"))


def loadable_files() -> list[Path]:
    """Every real file a parser accepts: the packaged ones, and the shared ones where present."""
    return packaged_midi_files() + [p for p in shared_midi_files() if p.name not in CORRUPT]


@pytest.fixture(autouse=True)
def musenet_home(tmp_path_factory, monkeypatch) -> Path:
    home = tmp_path_factory.mktemp("musenet_home")
    monkeypatch.setenv("MUSENET_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def shared_midi() -> Path:
    if not SHARED_MIDI.is_dir():
        pytest.skip("../shared/midi is not beside the repo")
    return SHARED_MIDI


@pytest.fixture
def corrupt_midi(tmp_path) -> Path:
    return corrupt_copy(PACKAGED["short"], tmp_path / "corrupt.mid")
