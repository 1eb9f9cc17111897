"""The `musenet` entry point: commands in-process through `musenet.cli.main`, the real process where it matters."""

import json
import subprocess
import sys

import pytest
from conftest import PACKAGED, corrupt_copy
from runcli import assert_user_error, main

from musenet.codec.safe import load_midi
from musenet.codec.vocab import Vocab


def test_help_and_vocab():
    r = main()
    assert r.returncode == 0 and "tokens" in r.stdout and "vocab" in r.stdout
    r = main("vocab")
    assert r.returncode == 0 and f"{Vocab().size} tokens" in r.stdout and "wait:1..128" in r.stdout
    r = main("vocab", "--json")
    assert json.loads(r.stdout)["velocity_bins"] == Vocab().config.velocity_bins


def test_tokens_names_json_and_roundtrip(tmp_path):
    path = PACKAGED["piano"]
    r = main("tokens", path, "--style", "pop")
    assert r.returncode == 0, r.stderr
    names = r.stdout.split()
    assert names[:3] == ["style:pop", "instrument:piano", "start"] and names[-1] == "end"
    assert "tokens" in r.stderr and "notes" in r.stderr

    r = main("tokens", path, "--style", "pop", "--json")
    out = json.loads(r.stdout)
    assert out["names"] == names and len(out["ids"]) == len(names)
    assert out["notes"] == len(load_midi(path)) > 100
    assert all(len(out[f]) == len(names) for f in ("time", "chord", "part", "countdown"))

    dest = tmp_path / "back.mid"
    r = main("tokens", path, "--roundtrip", dest)
    assert r.returncode == 0 and dest.exists()
    assert abs(len(load_midi(dest)) - out["notes"]) <= sum(out["counts"].values())


def test_user_errors_are_one_line(tmp_path):
    corrupt = corrupt_copy(PACKAGED["short"], tmp_path / "cut.mid")
    dest = tmp_path / "out.mid"
    r = main("tokens", corrupt, "--roundtrip", dest)
    assert_user_error(r, "cut.mid", "not a valid MIDI file")
    assert not dest.exists() and [p.name for p in tmp_path.iterdir()] == ["cut.mid"]
    assert_user_error(main("tokens", tmp_path / "nope.mid"), "nope.mid", "cannot read")
    assert_user_error(main("tokens", corrupt, "--style", "klingon"), "unknown style 'klingon'")
    assert_user_error(main("tokens", corrupt, "--bogus"), "unrecognized arguments: --bogus")
    assert_user_error(main("frobnicate"), "unknown command 'frobnicate'")
    good = PACKAGED["piano"]
    assert_user_error(main("tokens", good, "--roundtrip", tmp_path / "no/such/dir/x.mid"), "does not exist")


@pytest.mark.parametrize("cmd", [["vocab"], ["tokens", "--help"]])
def test_output_into_a_closed_pipe_is_quiet(cmd):
    # pipefail: the exit code is musenet's, not head's
    r = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"{sys.executable} -m musenet {' '.join(cmd)} | head -1"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and r.stdout.strip()
