"""The `musenet` entry point, driven for real in a subprocess."""

import json
import subprocess
import sys

import pytest

from musenet.codec.safe import load_midi
from musenet.codec.vocab import Vocab


def musenet(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "musenet", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def assert_user_error(r, *words):
    assert r.returncode == 2, r
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0]


def test_help_and_vocab():
    r = musenet()
    assert r.returncode == 0 and "tokens" in r.stdout and "vocab" in r.stdout
    r = musenet("vocab")
    assert r.returncode == 0 and f"{Vocab().size} tokens" in r.stdout and "wait:1..128" in r.stdout
    r = musenet("vocab", "--json")
    assert json.loads(r.stdout)["velocity_bins"] == Vocab().config.velocity_bins


def test_tokens_names_json_and_roundtrip(shared_midi, tmp_path):
    path = shared_midi / "MidiTok/tests/MIDIs_one_track/POP909_022.mid"
    r = musenet("tokens", path, "--style", "pop")
    assert r.returncode == 0, r.stderr
    names = r.stdout.split()
    assert names[:3] == ["style:pop", "instrument:piano", "start"] and names[-1] == "end"
    assert "tokens" in r.stderr and "notes" in r.stderr

    r = musenet("tokens", path, "--style", "pop", "--json")
    out = json.loads(r.stdout)
    assert out["names"] == names and len(out["ids"]) == len(names)
    assert all(len(out[f]) == len(names) for f in ("time", "chord", "part", "countdown"))

    dest = tmp_path / "back.mid"
    r = musenet("tokens", path, "--roundtrip", dest)
    assert r.returncode == 0 and dest.exists()
    assert abs(len(load_midi(dest)) - out["notes"]) <= sum(out["counts"].values())


def test_user_errors_are_one_line(shared_midi, tmp_path):
    corrupt = shared_midi / "MidiTok/tests/MIDIs_corrupted/ValueError_Control168.mid"
    dest = tmp_path / "out.mid"
    r = musenet("tokens", corrupt, "--roundtrip", dest)
    assert_user_error(r, "ValueError_Control168.mid", "not a valid MIDI file")
    assert not dest.exists() and not list(tmp_path.iterdir())
    assert_user_error(musenet("tokens", tmp_path / "nope.mid"), "nope.mid", "cannot read")
    assert_user_error(musenet("tokens", corrupt, "--style", "klingon"), "unknown style 'klingon'")
    assert_user_error(musenet("tokens", corrupt, "--bogus"), "unrecognized arguments: --bogus")
    assert_user_error(musenet("frobnicate"), "unknown command 'frobnicate'")
    good = shared_midi / "MidiTok/tests/MIDIs_one_track/POP909_022.mid"
    assert_user_error(
        musenet("tokens", good, "--roundtrip", tmp_path / "no/such/dir/x.mid"), "does not exist"
    )


@pytest.mark.parametrize("cmd", [["vocab"], ["tokens", "--help"]])
def test_output_into_a_closed_pipe_is_quiet(cmd):
    r = subprocess.run(
        f"{sys.executable} -m musenet {' '.join(cmd)} | head -1", shell=True, capture_output=True, text=True
    )
    assert r.returncode == 0 and "Traceback" not in r.stderr
