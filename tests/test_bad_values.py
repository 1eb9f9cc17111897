"""Every subcommand fed bad values: each ends in one line on stderr and exit code 2, never a traceback.

In-process through `musenet.cli.main`: an exception that escapes as a traceback fails the test with that traceback.
"""

from __future__ import annotations

import shutil

import pytest
import torch
from conftest import PACKAGED, corrupt_copy
from runcli import assert_user_error, main
from test_text_helpers import tiny_gpt2
from tokenizers import Tokenizer
from tokenizers.models import BPE

from musenet.codec.vocab import Vocab
from musenet.model import checkpoint
from musenet.model.config import GPTConfig
from musenet.model.gpt import GPT

VOCAB = Vocab()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=VOCAB.size, block_size=64, n_layer=1, n_head=2, n_embd=16))
    checkpoint.save(root / "model", model, step=0, seed=0, vocab=VOCAB.config.to_dict())
    tiny_gpt2(root / "gpt2")
    # a tokenizer without byte fallback, knowing three tokens: a prompt of other characters encodes to nothing
    shutil.copytree(root / "gpt2", root / "narrow")
    for name in ("tokenizer.json", "vocab.json", "merges.txt"):
        (root / "narrow" / name).unlink(missing_ok=True)
    Tokenizer(BPE(vocab={"<|endoftext|>": 0, "a": 1, "b": 2}, merges=[])).save(
        str(root / "narrow" / "tokenizer.json")
    )
    corrupt_copy(PACKAGED["short"], root / "cut.mid")
    (root / "text.mid").write_text("not MIDI")
    (root / "empty").mkdir()
    return root


# (arguments, words the one line must hold); {r} is the folder of the files above
CASES = [
    (["generate", "--model", "{r}/model", "--seconds", "-1"], "--seconds"),
    (["generate", "--model", "{r}/model", "--seconds", "nan"], "--seconds"),
    (["generate", "--model", "{r}/model", "--seconds", "abc"], "invalid float"),
    (["generate", "--model", "{r}/model", "--candidates", "0"], "--candidates"),
    (["generate", "--model", "{r}/model", "--candidates", "1000"], "--candidates"),
    (["generate", "--model", "{r}/model", "--top-p", "0"], "--top-p"),
    (["generate", "--model", "{r}/model", "--top-k", "-3"], "--top-k"),
    (["generate", "--model", "{r}/model", "--temperature", "1000"], "--temperature"),
    (["generate", "--model", "{r}/model", "--instruments", ","], "at least one instrument"),
    (["generate", "--model", "{r}/model", "--min-fraction", "2"], "--min-fraction"),
    (["generate", "--model", "{r}/model", "--max-silence", "0"], "--max-silence"),
    (["generate", "--model", "{r}/model", "--rerank", "0"], "--rerank"),
    (["generate", "--model", "{r}/model", "--seed", str(2**64)], "--seed"),
    (["generate", "--model", "{r}/model", "--prompt", "{r}/cut.mid"], "not a valid MIDI file"),
    (["generate", "--model", "{r}/model", "--prompt", "{r}/text.mid"], "not a MIDI file"),
    (["generate", "--model", "{r}/model", "--prompt-seconds", "3"], "needs a primer"),
    (
        ["generate", "--model", "{r}/model", "--prompt", PACKAGED["piano"], "--prompt-seconds", "-2"],
        "positive",
    ),
    (["generate", "--model", "{r}/model", "--out", PACKAGED["piano"]], "not a folder"),
    (["generate", "--model", "{r}/model", "--soundfont", "{r}/nope.sf2"], "no such file"),
    (["generate", "--model", "{r}/empty"], "not found"),
    (
        ["infill", PACKAGED["piano"], "--model", "{r}/model", "--start", "5", "--end", "2"],
        "--end must come after its start",
    ),
    (["infill", PACKAGED["piano"], "--model", "{r}/model", "--start", "x", "--end", "2"], "invalid float"),
    (
        ["infill", "{r}/cut.mid", "--model", "{r}/model", "--start", "0", "--end", "1"],
        "not a valid MIDI file",
    ),
    (
        ["infill", PACKAGED["piano"], "--model", "{r}/model", "--start", "1e4", "--end", "2e4"],
        "outside the piece",
    ),
    (
        [
            "infill",
            PACKAGED["piano"],
            "--model",
            "{r}/model",
            "--start",
            "0",
            "--end",
            "1",
            "--instruments",
            "kazoo",
        ],
        "unknown instrument",
    ),
    (
        [
            "infill",
            PACKAGED["piano"],
            "--model",
            "{r}/model",
            "--start",
            "0",
            "--end",
            "1",
            "--candidates",
            "0",
        ],
        "--candidates",
    ),
    (["styles", "--model", "{r}/gpt2"], "cannot load the model"),
    (["instruments", "--model", "{r}/nope"], "not found"),
    (["tokens", "{r}/cut.mid"], "not a valid MIDI file"),
    (["tokens", "{r}/empty"], "is a folder"),
    (["tokens", PACKAGED["piano"], "--roundtrip", "{r}/empty"], "is a folder"),
    (["vocab", "--json", "extra"], "unrecognized arguments"),
    (["data", "build", "--source", "{r}/nope", "--out", "{r}/d"], "not `music21` and not a folder"),
    (["data", "build", "--source", "{r}/empty", "--out", "{r}/d", "--workers", "0"], "--workers"),
    (["data", "build", "--source", "{r}/empty", "--out", "{r}/d", "--val", "1.5"], "fractions"),
    (["data", "build", "--source", "{r}/empty", "--out", "{r}/d", "--labels", "{r}/nope.csv"], "--labels"),
    (["data", "info", "{r}/empty"], "empty"),
    (["data", "merge", "{r}/empty", "--out", "{r}/m"], "two or more"),
    (["data", "frobnicate"], "invalid choice"),
    (["train", "--data", "{r}/empty", "--out", "{r}/run", "--lr", "x"], "invalid float"),
    (["train", "--data", "{r}/empty", "--out", "{r}/run", "--batch-size", "0"], "--batch-size"),
    (["train", "--data", "{r}/empty", "--out", "{r}/run", "--device", "tpu"], "invalid choice"),
    (["train", "--data", "{r}/empty", "--out", "{r}/run", "--max-steps", "1"], "not a built dataset"),
    (["train", "--data", "{r}/empty", "--out", "{r}/run", "--context", "1"], "--context"),
    (
        ["train", "--data", "{r}/empty", "--out", "{r}/run", "--n-head", "3"],
        "must be a multiple of n_head (3)",
    ),
    (["train-critic", "--model", "{r}/model", "--data", "{r}/empty", "--width", "40"], "--width"),
    (["train-critic", "--model", "{r}/model", "--data", "{r}/empty", "--top-p", "2"], "--top-p"),
    (["train-critic", "--model", "{r}/model", "--data", "{r}/empty", "--pool-size", "1"], "pool"),
    (["train-critic", "--model", "{r}/model", "--data", "{r}/empty"], "not a built dataset"),
    (["export", "{r}/empty", "{r}/out"], "no checkpoint"),
    (["export", "{r}/model", "{r}/model"], "another folder"),
    (["export", "{r}/model", "{r}/out", "--top-p", "5"], "--top-p"),
    (["render", "{r}/cut.mid", "{r}/out.wav"], "not a valid MIDI file"),
    (["render", PACKAGED["short"], "{r}/empty"], "empty"),  # a folder where the WAV should go
    (["render", PACKAGED["piano"], "{r}/out.wav", "--sample-rate", "-5"], "sample rate"),
    (
        ["evaluate", "--model", "{r}/model", "--data", "{r}/empty", "--out", "{r}/e", "--ngram-order", "9"],
        "--ngram-order",
    ),
    (
        ["evaluate", "--model", "{r}/model", "--data", "{r}/empty", "--out", "{r}/e", "--seconds", "0"],
        "seconds",
    ),
    (
        ["evaluate", "--model", "{r}/model", "--data", "{r}/empty", "--out", "{r}/e", "--rerank", "0"],
        "--rerank",
    ),
    (["evaluate", "--model", "{r}/model", "--data", "{r}/empty", "--out", "{r}/e"], "not a built dataset"),
    (["serve", "--model", "{r}/model", "--port", "70000"], "--port"),
    (["serve", "--model", "{r}/model", "--rerank", "99"], "--rerank"),
    (["serve", "--model", "{r}/model", "--job-timeout", "0"], "--job-timeout"),
    (["text", "--model", "{r}/narrow", "--prompt", "龍龍龍"], "holds no token"),
    (["text", "--model", "{r}/gpt2", "--max-new-tokens", "0"], "--max-new-tokens"),
    (["text", "--model", "{r}/gpt2", "--candidates", "0"], "--candidates"),
    (["text", "--model", "{r}/gpt2", "--seed", "-1"], "--seed"),
    (["text", "--model", "{r}/gpt2", "--temperature", "-1"], "--temperature"),
    (["text", "--model", "{r}/model"], "not a GPT-2 checkpoint"),
    (["text", "--model", "{r}/nope"], "nope"),
]


@pytest.mark.parametrize(
    "args, words", CASES, ids=lambda a: " ".join(map(str, a)) if isinstance(a, list) else None
)
def test_bad_values_are_one_line_errors(files, args, words):
    argv = [str(a).replace("{r}", str(files)) for a in args]
    assert_user_error(main(*argv), words)


def test_every_subcommand_is_fed_bad_values():
    from musenet.cli import COMMANDS

    assert {args[0] for args, _ in CASES} == set(COMMANDS)
