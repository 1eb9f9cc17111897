"""`musenet infill` through the real entry point, on a MIDI file the test writes, with small random models saved in
the checkpoint format: files written, the untouched music note for note, bad input one line and exit 2."""

import json
import shlex
import subprocess
import sys

import numpy as np
import pytest
import torch

from musenet.cli import Parser
from musenet.codec.midi_io import write_midi
from musenet.codec.rules import to_units
from musenet.codec.safe import load_midi
from musenet.codec.vocab import Vocab, VocabConfig
from musenet.generate.cli import Infill
from musenet.generate.config import InfillConfig, SampleConfig
from musenet.model import checkpoint
from musenet.model.config import GPTConfig
from musenet.model.gpt import GPT
from musenet.options import field_docs, from_args, given
from tests.test_infill import random_piece

VOCAB = Vocab()


def save_model(path, vocab):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=vocab.size, block_size=512, n_layer=2, n_head=2, n_embd=32))
    checkpoint.save(path, model, step=0, seed=0, vocab=vocab.config.to_dict(), dtype="bf16")
    return path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_model(tmp_path_factory.mktemp("model"), VOCAB)


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    path = tmp_path_factory.mktemp("midi") / "song.mid"
    write_midi(random_piece(7, n=120, seconds=16.0), path)
    return path


def musenet(*args):
    return subprocess.run(
        [sys.executable, "-m", "musenet", "infill", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def rows(notes):
    return sorted(
        zip(
            np.round(notes["start"], 6).tolist(),
            np.round(notes["end"], 6).tolist(),
            notes["pitch"].tolist(),
            notes["velocity"].tolist(),
            notes["program"].tolist(),
            strict=True,
        )
    )


def test_infill_writes_candidates_and_keeps_the_rest_note_for_note(model_dir, song, tmp_path):
    out = tmp_path / "out"
    args = [song, "--model", model_dir, "--start", 5, "--end", 9, "--instruments", "bass,drums", "--seed", 3]
    r = musenet(*args, "--candidates", 2, "--out", out, "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert [c["candidate"] for c in report["candidates"]] == [1, 2]
    source = load_midi(song)
    inst = VOCAB.program_to_instrument[source.notes["program"].astype(np.int64)]
    start, end = to_units(source.notes["start"], 10), to_units(source.notes["end"], 10)
    redo = np.isin(inst, [3, 9])  # bass, drums
    touched = redo & (start < 900) & ((start >= 500) | ((end > 500) & ~VOCAB.is_drums[inst]))
    for c in report["candidates"]:
        assert (out / f"candidate-{c['candidate']}.wav").read_bytes()[:4] == b"RIFF"
        result = load_midi(c["files"]["midi"]).notes
        left = rows(result)
        for row in rows(source.notes[~touched]):
            left.remove(row)  # every untouched note is there, exactly
        new = np.array(left, dtype=float).reshape(-1, 5)
        fresh = new[new[:, 0] >= 5.0 - 1e-9]
        assert np.all(fresh[:, 0] < 9.0) and set(fresh[:, 4].astype(int)) <= {33, 128, 32, 34, 35}
    again = tmp_path / "again"
    assert musenet(*args, "--candidates", 2, "--out", again, "--no-audio").returncode == 0
    assert (again / "candidate-1.mid").read_bytes() == (out / "candidate-1.mid").read_bytes()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--start", 9, "--end", 5], "--end must come after its start"),
        (["--start", 4, "--end", 4], "--end must come after its start"),
        (["--start", -1, "--end", 4], "--start must be >= 0 s, got -1"),
        (["--start", "nan", "--end", 4], "--start and --end must be numbers of seconds"),
        (["--start", 0, "--end", "inf"], "--start and --end must be numbers of seconds"),
        (["--start", 0, "--end", 4, "--instruments", ","], "choose at least one instrument to redo"),
        (["--start", 0, "--end", 4, "--instruments", "kazoo"], "unknown instrument 'kazoo'"),
        (["--start", 0, "--end", 4, "--style", "polka"], "unknown style 'polka'"),
        (["--start", 0, "--end", 4, "--candidates", 0], "--candidates must be 1..64, got 0"),
        (["--start", 0, "--end", 4, "--rerank", 65], "--rerank must be 1..64, got 65"),
        (["--start", 0, "--end", 4, "--seed", -1], "--seed must be in [0, 2**63)"),
        (["--start", 0, "--end", 4, "--temperature", 1000], "--temperature must be 0 (greedy)"),
        (["--start", 0, "--end", 4, "--top-p", 0], "--top-p must be in"),
        (["--start", 20, "--end", 30], "outside the piece"),
        (["--start", 0, "--end", 16.5, "--instruments", "piano,kazoo"], "unknown instrument 'kazoo'"),
        (["--start", 0, "--end", 16.4], "longer than the model can see"),
    ],
)
def test_bad_requests_are_one_line_exit_2_nothing_written(model_dir, song, tmp_path, flags, message):
    out = tmp_path / "out"
    r = musenet(song, "--model", model_dir, *flags, "--out", out)
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not out.exists()


def test_a_model_that_never_learned_infilling_says_so_in_one_line(song, tmp_path):
    old = save_model(tmp_path / "old", Vocab(VocabConfig(infill=False)))
    r = musenet(song, "--model", old, "--start", 1, "--end", 2, "--out", tmp_path / "out")
    assert r.returncode == 2 and "never learned infilling" in r.stderr and len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_file_that_is_not_midi_is_one_line(model_dir, tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not a midi file")
    r = musenet(bad, "--model", model_dir, "--start", 1, "--end", 2, "--out", tmp_path / "out")
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and not (tmp_path / "out").exists()


def test_help_lists_the_flags_with_the_dataclasss_docstrings():
    r = musenet("--help")
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    for name, doc in field_docs(InfillConfig).items():
        if name == "sample":
            continue  # a nested config: its own fields are the flags
        flag = "--" + name.replace("_", "-")
        assert f"{flag} " in text and doc.rstrip(".") in text, (flag, doc)
    for doc in field_docs(SampleConfig).values():
        assert doc.rstrip(".") in text
    for flag in ("--model", "--out", "--no-audio", "--soundfont", "--json"):
        assert f"{flag} " in text
    assert "--candidates N How many versions of the span to sample, as one batch (default 4)" in text
    assert "(default: the model's)" in text  # sampling left out: the model's own defaults


def test_the_documented_command_lines_parse_into_the_config():
    """The command lines in README.md and generate/README.md, as they were before the flags were derived."""
    parser = Parser(prog="musenet infill")
    Infill.add_arguments(parser)
    args = parser.parse_args(
        shlex.split(
            "song.mid --start 10 --end 18 --instruments bass,drums --candidates 4 --seed 1 --out out/"
        )
    )
    assert from_args(InfillConfig, args) == InfillConfig(10.0, 18.0, ("bass", "drums"), candidates=4, seed=1)
    args = parser.parse_args(shlex.split("song.mid --model runs/v1 --start 10 --end 18 --instruments bass"))
    assert from_args(InfillConfig, args) == InfillConfig(10.0, 18.0, ("bass",))
    assert args.model == "runs/v1" and str(args.out) == "out" and not args.no_audio and not args.json
    args = parser.parse_args(
        shlex.split("song.mid --start 2.5 --end 6 --temperature 0.9 --top-k 20 --rerank 3")
    )
    assert given(args, InfillConfig) == {
        "start": 2.5,
        "end": 6.0,
        "sample": {"temperature": 0.9, "top_k": 20},
        "rerank": 3,
    }
