"""Sampling settings that cannot stall generation, and the hard cap on tokens per request (issue 16, finding 3)."""

import math
import subprocess
import sys

import pytest
import torch

from musenet.codec.vocab import Vocab
from musenet.errors import UserError
from musenet.generate import engine
from musenet.generate.config import MIN_TOP_P, SampleConfig
from musenet.generate.engine import GenerateConfig, generate_ids, max_new_tokens
from musenet.generate.sampling import sample
from musenet.model import checkpoint
from musenet.model.config import GPTConfig
from musenet.model.gpt import GPT

VOCAB = Vocab()


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=VOCAB.size, block_size=128, n_layer=1, n_head=2, n_embd=32)).eval()


def unchecked(**fields) -> SampleConfig:
    """A SampleConfig past its own checks: what the sampler and the engine must survive anyway."""
    cfg = SampleConfig()
    for name, value in fields.items():
        object.__setattr__(cfg, name, value)
    return cfg


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"top_p": 1e-300}, "top_p"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": math.nan}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"temperature": 1e-300}, "temperature"),
        ({"temperature": math.inf}, "temperature"),
        ({"temperature": math.nan}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"top_k": -1}, "top_k"),
        ({"top_k": 2.5}, "top_k"),
    ],
)
def test_settings_that_mean_nothing_in_float32_are_refused(kwargs, words):
    with pytest.raises(ValueError, match=words) as e:
        SampleConfig(**kwargs)
    assert len(str(e.value)) < 120


def test_the_smallest_settings_allowed_still_sample():
    SampleConfig(temperature=0.001, top_p=MIN_TOP_P)
    SampleConfig(temperature=0)


def test_the_most_likely_allowed_token_always_survives_the_nucleus():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 300, generator=gen)
    allowed = torch.rand(4, 300, generator=gen) < 0.3
    best = logits.masked_fill(~allowed, -math.inf).argmax(-1)
    for p in (1e-300, 0.0, MIN_TOP_P):
        got = sample(logits, unchecked(top_p=p), gen, allowed)
        assert torch.equal(got, best), (
            p
        )  # before: every token dropped, the last index (not allowed) came back


def test_a_tiny_top_p_ends_like_greedy_instead_of_hanging(model):
    cfg = GenerateConfig(seconds=2, candidates=2, sample=unchecked(top_p=1e-300))
    steps = []

    def progress(fraction):
        steps.append(fraction)
        assert len(steps) <= max_new_tokens(cfg.seconds), "generation went past the cap"

    out = generate_ids(model, VOCAB, cfg, progress=progress)
    assert all(g.ids[g.n_given :].size <= max_new_tokens(cfg.seconds) + 1 for g in out)


def test_the_token_cap_stops_generation_with_one_line(model, monkeypatch):
    monkeypatch.setattr(engine, "CAP_TOKENS_MIN", 3)
    monkeypatch.setattr(engine, "CAP_TOKENS_PER_SECOND", 1)
    steps = []
    cfg = GenerateConfig(seconds=5, candidates=2, sample=SampleConfig(1.0, 0, 1.0))
    with pytest.raises(UserError, match="stopped after 8 tokens") as e:
        generate_ids(model, VOCAB, cfg, progress=steps.append)
    assert "\n" not in str(e.value) and len(steps) == 8


def test_the_cap_leaves_real_music_room():
    # the densest real stream the tests know: the encoder's tokens per second on a written 30-notes-a-second
    # ten-voice texture stay far below the cap's rate
    from musenet.codec.encode import encode
    from musenet.codec.events import Piece, make_notes

    t = torch.arange(0, 10, 1 / 30).numpy()
    piece = Piece(make_notes(t, t + 0.2, 40 + (torch.arange(len(t)).numpy() * 7) % 60, 90, 0))
    ids = encode(piece, VOCAB).ids
    assert len(ids) / 10 < engine.CAP_TOKENS_PER_SECOND / 2


def test_the_cli_refuses_a_stalling_top_p_in_one_line(tmp_path):
    torch.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=VOCAB.size, block_size=64, n_layer=1, n_head=2, n_embd=16))
    checkpoint.save(tmp_path / "m", m, step=0, seed=0, vocab=VOCAB.config.to_dict(), dtype="bf16")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "musenet",
            "generate",
            "--model",
            tmp_path / "m",
            "--top-p",
            "1e-300",
            "--seconds",
            "2",
            "--out",
            tmp_path / "out",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "--top-p" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_the_python_api_refuses_it_too(tmp_path):
    from musenet.generate.composer import load

    torch.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=VOCAB.size, block_size=64, n_layer=1, n_head=2, n_embd=16))
    checkpoint.save(tmp_path / "m", m, step=0, seed=0, vocab=VOCAB.config.to_dict(), dtype="bf16")
    with pytest.raises(UserError, match="top_p"):
        load(tmp_path / "m").generate(seconds=2, top_p=1e-300)
