"""`musenet text` through the real entry point: streamed text, labelled candidates, one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_text_helpers import one_thread, tiny_gpt2  # noqa: F401 - one_thread: a fixture, found by name

from musenet.cli import main
from musenet.generate.sampling import SampleConfig
from musenet.text import load
from musenet.text.engine import TextConfig

pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("one_thread")
ROOT = Path(__file__).resolve().parents[1]
PROMPT = "Héllo wörld 🎵"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny-gpt2")
    tiny_gpt2(path)
    return path


def musenet(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "musenet", "text", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env=env,
        timeout=120,
    )


def test_streams_the_same_text_as_the_api(tiny):
    r = musenet(
        "--model", str(tiny), "--prompt", PROMPT, "--max-new-tokens", "40", "--seed", "5", "--top-k", "0"
    )
    assert r.returncode == 0, r.stderr
    want = load(tiny).complete(PROMPT, TextConfig(max_new_tokens=40, seed=5, sample=SampleConfig()))[0]
    assert r.stdout == PROMPT + want + "\n"
    assert "loaded" in r.stderr and "s to generate" in r.stderr


def test_candidates_are_labelled(tiny, capsys):
    assert (
        main(["text", "--model", str(tiny), "--prompt", "Hi", "--max-new-tokens", "10", "--candidates", "3"])
        == 0
    )
    want = load(tiny).complete("Hi", TextConfig(max_new_tokens=10, candidates=3))
    assert capsys.readouterr().out == "".join(
        f"=== candidate {i} ===\nHi{t}\n" for i, t in enumerate(want, 1)
    )


class Recorder:
    """A stdout that records what was visible at each flush."""

    encoding = "utf-8"

    def __init__(self):
        self.text, self.flushed = "", []

    def write(self, s: str) -> int:
        self.text += s
        return len(s)

    def flush(self) -> None:
        self.flushed.append(self.text)


def test_output_is_flushed_as_tokens_come(tiny, monkeypatch, capsys):
    out = Recorder()
    monkeypatch.setattr(sys, "stdout", out)
    assert main(["text", "--model", str(tiny), "--prompt", "Hi", "--max-new-tokens", "30"]) == 0
    growing = [t for a, t in zip(out.flushed, out.flushed[1:], strict=False) if t != a]
    assert len(growing) >= 10  # the text appeared in many steps, not at the end
    assert out.flushed[0] == "Hi"


def test_a_prompt_longer_than_the_context_is_cut_with_a_note(tiny, capsys):
    prompt = "Héllo wörld " * 40  # well over the tiny model's 64 tokens
    assert main(["text", "--model", str(tiny), "--prompt", prompt, "--max-new-tokens", "5"]) == 0
    captured = capsys.readouterr()
    assert "the model sees its last 64" in captured.err
    assert captured.out.startswith(prompt)


def _break(kind: str, src: Path, dst: Path) -> list[str]:
    """Copy the tiny folder into dst, broken in one way; returns extra flags."""
    shutil.copytree(src, dst)
    cfg = json.loads((dst / "config.json").read_text())
    if kind == "no folder":
        shutil.rmtree(dst)
    elif kind == "no config":
        (dst / "config.json").unlink()
    elif kind == "config not json":
        (dst / "config.json").write_text("{")
    elif kind == "another model type":
        (dst / "config.json").write_text(json.dumps({**cfg, "model_type": "llama"}))
    elif kind == "config lacks a field":
        del cfg["n_embd"]
        (dst / "config.json").write_text(json.dumps(cfg))
    elif kind == "unsupported variant":
        (dst / "config.json").write_text(json.dumps({**cfg, "activation_function": "relu"}))
    elif kind == "no weights":
        (dst / "model.safetensors").unlink()
    elif kind == "no tokenizer":
        for name in ("tokenizer.json", "vocab.json"):
            (dst / name).unlink()
    elif kind == "corrupt safetensors":
        (dst / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not a header at all")
    elif kind == "truncated safetensors":
        data = (dst / "model.safetensors").read_bytes()
        (dst / "model.safetensors").write_bytes(data[: len(data) // 2])
    elif kind == "weights of another size":
        (dst / "config.json").write_text(json.dumps({**cfg, "n_layer": cfg["n_layer"] + 1}))
    elif kind == "tokenizer larger than the model":
        (dst / "config.json").write_text(json.dumps({**cfg, "vocab_size": 100}))
    elif kind == "a pickle with code":
        (dst / "model.safetensors").unlink()
        torch.save({"wte.weight": torch.zeros(2), "x": Recorder()}, dst / "pytorch_model.bin")
    elif kind == "a pickle that is not a zip":
        (dst / "model.safetensors").unlink()
        (dst / "pytorch_model.bin").write_bytes(b"garbage")
    elif kind == "bad top-p":
        return ["--top-p", "0"]
    elif kind == "bad candidates":
        return ["--candidates", "0"]
    return []


BROKEN = {
    "no folder": "no such folder",
    "no config": "no config.json",
    "config not json": "not valid JSON",
    "another model type": "model_type 'llama'",
    "config lacks a field": "lacks 'n_embd'",
    "unsupported variant": "unsupported activation",
    "no weights": "has no weights",
    "no tokenizer": "has no tokenizer",
    "corrupt safetensors": "not a readable safetensors file",
    "truncated safetensors": "not a readable safetensors file",
    "weights of another size": "do not fit config.json",
    "tokenizer larger than the model": "the tokenizer has 400 tokens",
    "a pickle with code": "refused by torch.load(weights_only=True)",
    "a pickle that is not a zip": "not a file of plain tensors",
    "bad top-p": "top-p must be in [1.2e-07, 1]",
    "bad candidates": "candidates must be 1..64",
}


@pytest.mark.parametrize("kind", BROKEN)
def test_broken_folders_are_one_line_errors(kind, tiny, tmp_path, capsys):
    dst = tmp_path / "gpt2"
    extra = _break(kind, tiny, dst)
    assert main(["text", "--model", str(dst), "--prompt", "Hi", *extra]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("musenet text: error:"), captured.err
    assert BROKEN[kind] in lines[0]
    assert captured.out == ""


def test_real_entry_point_error_has_no_traceback(tiny, tmp_path):
    _break("another model type", tiny, tmp_path / "gpt2")
    r = musenet("--model", str(tmp_path / "gpt2"), "--prompt", "Hi")
    assert r.returncode == 2
    assert r.stderr.startswith("musenet text: error:") and len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_help_lists_the_command(capsys):
    assert main(["--help"]) == 0
    assert "continue a text prompt with a released GPT-2 checkpoint" in capsys.readouterr().out
