"""Shared test fixtures: the real MIDI files beside the repo, and a private MUSENET_HOME per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_MIDI = Path(__file__).resolve().parents[2] / "shared" / "midi"

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
    return [p for p in shared_midi_files() if p.name not in CORRUPT]


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
