"""`musenet generate` through the real entry point, with a small random model saved in the checkpoint format."""

import json
from pathlib import Path

import pytest
import torch
from conftest import PACKAGED
from runcli import assert_user_error, main, subprocess

from musenet.codec.safe import load_midi
from musenet.codec.vocab import Vocab
from musenet.model import checkpoint
from musenet.model.config import GPTConfig
from musenet.model.gpt import GPT

VOCAB = Vocab()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=VOCAB.size, block_size=128, n_layer=2, n_head=2, n_embd=32))
    path = tmp_path_factory.mktemp("model")
    checkpoint.save(path, model, step=0, seed=0, vocab=VOCAB.config.to_dict(), dtype="bf16")
    return path


musenet = subprocess  # the real entry point, where reproducible files are the point


def test_generate_through_the_real_entry_point(model_dir, tmp_path):
    out = tmp_path / "out"
    r = subprocess("generate", "--model", model_dir, "--instruments", "piano", "--seconds", 2, "--candidates", 1,
                   "--out", out, "--no-audio", "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    (c,) = json.loads(r.stdout)["candidates"]
    assert c["notes"] == len(load_midi(c["files"]["midi"])) and "wav" not in c["files"]
    assert sorted(p.name for p in out.iterdir()) == ["candidate-1.mid"]


@pytest.mark.slow
def test_generate_writes_midi_and_wav_and_reports_json(model_dir, tmp_path):
    out = tmp_path / "out"
    args = [
        "generate",
        "--model",
        model_dir,
        "--style",
        "bach",
        "--instruments",
        "piano,violin",
        "--seconds",
        4,
    ]
    r = musenet(*args, "--candidates", 2, "--seed", 5, "--out", out, "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert [c["candidate"] for c in report["candidates"]] == [1, 2]
    for c in report["candidates"]:
        assert set(c["instruments"]) <= {"piano", "violin"} and c["seconds"] <= 4.0 + 1e-6
        piece = load_midi(c["files"]["midi"])
        assert len(piece) == c["notes"]
        wav = Path(c["files"]["wav"]).read_bytes()
        assert wav[:4] == b"RIFF" and len(wav) > 44100 * 2 * 2  # more than a second of 16-bit stereo
    # reproducible: the same seed gives byte-identical files; another seed does not
    again = tmp_path / "again"
    assert musenet(*args, "--candidates", 2, "--seed", 5, "--out", again).returncode == 0
    for name in ("candidate-1.mid", "candidate-2.mid", "candidate-1.wav"):
        assert (out / name).read_bytes() == (again / name).read_bytes()
    other = tmp_path / "other"
    assert musenet(*args, "--candidates", 1, "--seed", 6, "--out", other, "--no-audio").returncode == 0
    assert not (other / "candidate-1.wav").exists()
    assert (other / "candidate-1.mid").read_bytes() != (out / "candidate-1.mid").read_bytes()


def test_generate_continues_a_primer(model_dir, tmp_path):
    primer = PACKAGED["piano"]
    r = main(
        "generate", "--model", model_dir, "--prompt", primer, "--prompt-seconds", 5, "--instruments", "flute",
        "--seconds", 3, "--candidates", 1, "--out", tmp_path, "--no-audio", "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    (c,) = json.loads(r.stdout)["candidates"]
    assert "piano" in c["instruments"] and 5.0 <= c["seconds"] <= 8.0 + 1e-6


def test_styles_and_instruments(model_dir):
    r = main("styles", "--model", model_dir)
    assert r.returncode == 0 and r.stdout.split() == list(VOCAB.config.styles)
    r = main("instruments", "--model", model_dir)
    assert r.returncode == 0 and r.stdout.split()[::2] == [i.name for i in VOCAB.config.instruments]


@pytest.mark.parametrize(
    "args, words",
    [
        (["--instruments", "kazoo"], "unknown instrument 'kazoo'"),
        (["--style", "klingon"], "unknown style 'klingon'"),
        (["--seconds", "0"], "--seconds"),
        (["--prompt", "/nonexistent.mid"], "cannot read"),
        (["--temperature", "-2"], "temperature"),
    ],
)
def test_bad_flags_are_one_line_errors(model_dir, tmp_path, args, words):
    assert_user_error(main("generate", "--model", model_dir, "--out", tmp_path / "o", *args), words)
    assert not (tmp_path / "o").exists()


def test_missing_model_is_a_one_line_error(tmp_path):
    assert_user_error(main("generate", "--model", tmp_path / "nope"), "not found")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json")
    assert_user_error(main("generate", "--model", tmp_path / "bad"), "cannot load the model")
