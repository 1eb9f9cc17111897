"""Classifier-free guidance on the style: each candidate's unstyled twin, one batch, `u + g (s - u)` per step."""

import numpy as np
import pytest
import torch

from musenet.codec.decode import decode
from musenet.codec.grammar import Grammar
from musenet.codec.vocab import Vocab
from musenet.errors import UserError
from musenet.generate.config import GenerateConfig, SampleConfig
from musenet.generate.engine import generate_ids
from musenet.generate.sampling import sample
from musenet.model.config import GPTConfig
from musenet.model.gpt import GPT, Positions

VOCAB = Vocab()


def tiny_model(block_size=256, seed=0):
    torch.manual_seed(seed)
    cfg = GPTConfig(vocab_size=VOCAB.size, block_size=block_size, n_layer=2, n_head=2, n_embd=32)
    model = GPT(cfg).eval()
    with torch.no_grad():  # a style embedding that matters: the random model's are too alike to tell apart
        model.transformer.wte.weight[VOCAB.style_id("jazz")] *= 40
    return model


@pytest.fixture(scope="module")
def model():
    return tiny_model()


def greedy(style, guidance, seconds=2.0, candidates=1, seed=0):
    return GenerateConfig(
        style=style, instruments=("piano", "drums"), seconds=seconds, candidates=candidates, seed=seed,
        sample=SampleConfig(0.0, guidance=guidance),
    )  # fmt: skip


def test_guided_greedy_decoding_equals_the_formula_recomputed_from_scratch(model):
    g = 3.0
    (out,) = generate_ids(model, VOCAB, greedy("jazz", g))
    end = list(out.ids).index(VOCAB.end)
    styled = torch.from_numpy(out.ids[None, :end])
    plain = styled.clone()
    plain[0, 0] = VOCAB.style_id(None)
    pos = torch.from_numpy(out.positions[None, :end])
    p = Positions(*(pos[..., k] for k in range(4)))
    with torch.no_grad():
        s, u = model(styled, p)[0], model(plain, p)[0]
    mixed = u + g * (s - u)
    grammar = Grammar(VOCAB, 1, [0, 9], 200, min_end=160, must_play=[0, 9], entry=100, land_waits=True)
    n_prefix = list(out.ids).index(VOCAB.start) + 1
    for t in out.ids[:n_prefix]:
        grammar.push(np.array([t]))
    for i in range(n_prefix, end + 1):
        want = sample(mixed[:, i - 1], SampleConfig(0.0), allowed=torch.from_numpy(grammar.mask()))
        assert int(grammar.land(want.numpy())[0]) == int(out.ids[i]), f"step {i}"
        grammar.push(out.ids[i : i + 1])
    assert not decode(out.ids, VOCAB)[1]


def test_guidance_zero_is_the_unstyled_model_and_one_is_off(model):
    # g = 0 samples from the twin alone: what the model plays told no style, through a sliding window too
    small = tiny_model(block_size=24)
    a = generate_ids(small, VOCAB, greedy("jazz", 0.0, seconds=3))
    b = generate_ids(small, VOCAB, greedy(None, 1.0, seconds=3))
    assert len(a[0].ids) > 24  # the window slid
    assert np.array_equal(a[0].ids[1:], b[0].ids[1:]) and a[0].ids[0] == VOCAB.style_id("jazz")
    # 6 s: long enough for guidance to change the random model's streams (at 3 s they were 45 tokens, the same)
    sampled = dict(style="jazz", instruments=("piano",), seconds=6, candidates=3, seed=5)
    off = generate_ids(model, VOCAB, GenerateConfig(**sampled, sample=SampleConfig(0.9)))
    one = generate_ids(model, VOCAB, GenerateConfig(**sampled, sample=SampleConfig(0.9, guidance=1.0)))
    strong = generate_ids(model, VOCAB, GenerateConfig(**sampled, sample=SampleConfig(0.9, guidance=4.0)))
    assert all(np.array_equal(x.ids, y.ids) for x, y in zip(off, one, strict=True))
    assert not all(np.array_equal(x.ids, y.ids) for x, y in zip(off, strong, strict=True))
    for x in strong:  # the twins never leak into what is returned
        assert x.ids[0] == VOCAB.style_id("jazz") and not decode(x.ids, VOCAB)[1]


@pytest.mark.parametrize("bad", [-0.5, 10.5, float("nan"), float("inf"), "2"])
def test_bad_guidance_is_refused(bad):
    with pytest.raises(ValueError, match="guidance"):
        SampleConfig(guidance=bad)


def test_only_a_model_trained_with_style_dropout_takes_guidance_and_its_default_applies(tmp_path):
    import json

    from runcli import assert_user_error, main

    import musenet
    from musenet.model import checkpoint

    vocab = VOCAB.config.to_dict()
    checkpoint.save(
        tmp_path / "plain", tiny_model(64), step=1, seed=0, vocab=vocab, train={"style_dropout": 0.0}
    )
    checkpoint.save(
        tmp_path / "run", tiny_model(64), step=1, seed=0, vocab=vocab, train={"style_dropout": 0.15}
    )
    plain = musenet.load(tmp_path / "plain")
    assert not plain.guided
    with pytest.raises(UserError, match="--style-dropout"):
        plain.generate(style="jazz", seconds=1, candidates=1, guidance=2)
    r = main(
        "generate",
        "--model",
        tmp_path / "plain",
        "--guidance",
        "2",
        "--seconds",
        "1",
        "--out",
        tmp_path / "o",
    )
    assert_user_error(r, "style-dropout")
    assert not (tmp_path / "o").exists()
    # a guided model's export carries its guidance; the caller's value wins
    r = main("export", tmp_path / "run", tmp_path / "guided", "--guidance", "2.5", "--temperature", "0.8")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "guided" / "config.json").read_text())["sampling"]["guidance"] == 2.5
    guided = musenet.load(tmp_path / "guided")
    assert guided.guided and guided.sampling.guidance == 2.5
    assert guided.config(style="jazz").sample.guidance == 2.5
    assert guided.config(1.0, None, None, 1.0, style="jazz").sample.guidance == 1.0
    (c,) = guided.generate(style="jazz", instruments=["piano"], seconds=1, candidates=1, seed=3)
    assert c.piece.style == "jazz"
