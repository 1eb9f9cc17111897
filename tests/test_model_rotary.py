"""Rotary positions (`GPTConfig.rotary`): the model against an independent reference forward, off unchanged,
saved and loaded, and the generation engine's cache exact across window slides."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from musenet.codec.vocab import Vocab
from musenet.generate import engine
from musenet.generate.engine import GenerateConfig, generate_ids, reachable
from musenet.model import GPT, GPTConfig, Positions
from musenet.model import checkpoint as ckpt
from musenet.model.gpt import rotary_tables, rotate

V, T = 61, 40


def tiny(seed: int = 0, sharp: float = 1.0, **kw) -> GPT:
    """A random model; `sharp` scales the query/key/value weights (at GPT-2's initial scale, attention is nearly
    uniform and positions barely matter)."""
    torch.manual_seed(seed)
    cfg = dict(
        vocab_size=V, block_size=48, n_layer=2, n_head=2, n_embd=32, time_positions=64, chord_positions=5
    )
    m = GPT(GPTConfig(**{**cfg, **kw})).eval()
    with torch.no_grad():
        for b in m.transformer.h:
            b.attn.c_attn.weight.mul_(sharp)
    return m


def positions(B: int, T: int) -> Positions:
    g = torch.Generator().manual_seed(1)
    time = torch.randint(0, 3, (B, T), generator=g).cumsum(1)
    return Positions(
        time, torch.randint(0, 5, (B, T), generator=g), torch.full((B, T), 3), torch.full((B, T), 9)
    )


def rope_complex(x: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """RoPE written another way: each pair (x_i, x_{i+D/2}) a complex number, times e^(i * p * base^(-2i/D))."""
    D, n = x.size(-1), x.size(-2)
    z = torch.complex(x[..., : D // 2].double(), x[..., D // 2 :].double())
    angle = torch.arange(n, dtype=torch.float64)[:, None] * base ** (-torch.arange(0, D, 2).double() / D)
    z = z * torch.polar(torch.ones_like(angle), angle)
    return torch.cat([z.real, z.imag], -1).float()


def reference(m: GPT, idx: torch.Tensor, pos: Positions, rotary: bool) -> torch.Tensor:
    """GPT-2 with MuseNet's embeddings from the weights, with explicit softmax attention: (B, T, V) logits."""
    c, t = m.config, m.transformer
    B, n = idx.shape
    H, D = c.n_head, c.head_dim
    x = t.wte.weight[idx] + t.wpe.weight[:n] + m.structural(pos)
    causal = torch.ones(n, n).tril().bool()
    for b in t.h:
        h = F.layer_norm(x, (c.n_embd,), b.ln_1.weight, b.ln_1.bias, c.layer_norm_eps)
        q, k, v = (z.reshape(B, n, H, D).transpose(1, 2) for z in b.attn.c_attn(h).split(c.n_embd, -1))
        if rotary:
            q, k = rope_complex(q), rope_complex(k)
        att = (q @ k.transpose(-1, -2) / math.sqrt(D)).masked_fill(~causal, float("-inf")).softmax(-1)
        x = x + b.attn.c_proj((att @ v).transpose(1, 2).reshape(B, n, c.n_embd))
        h = F.layer_norm(x, (c.n_embd,), b.ln_2.weight, b.ln_2.bias, c.layer_norm_eps)
        x = x + b.mlp.c_proj(F.gelu(b.mlp.c_fc(h), approximate="tanh"))
    x = F.layer_norm(x, (c.n_embd,), t.ln_f.weight, t.ln_f.bias, c.layer_norm_eps)
    return x @ t.wte.weight.T


@torch.no_grad()
def test_rotary_on_and_off_match_a_reference_forward_and_differ():
    idx = torch.randint(0, V, (2, T))
    pos = positions(2, T)
    off, on = tiny(sharp=10), tiny(sharp=10, rotary=True)
    torch.testing.assert_close(off(idx, pos)[0], reference(off, idx, pos, rotary=False), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(on(idx, pos)[0], reference(on, idx, pos, rotary=True), atol=1e-4, rtol=1e-4)
    assert not torch.allclose(on(idx, pos)[0], off(idx, pos)[0], atol=0.01)


def test_rotary_adds_no_weights_and_a_config_without_the_field_means_off():
    off, on = tiny(), tiny(rotary=True)
    d = off.config.to_dict()
    del d["rotary"]  # a config saved before the field existed
    old = GPT(GPTConfig.from_dict(d))
    assert old.config.rotary is False and old.config == off.config
    assert list(on.state_dict()) == list(off.state_dict()) == list(old.state_dict())
    for k, v in off.state_dict().items():  # the same initial weights for the same seed
        assert torch.equal(on.state_dict()[k], v), k


def test_rotated_scores_depend_only_on_the_distance():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 16, generator=g).unbind(0)
    cos, sin = rotary_tables(64, 16)

    def score(p: int, s: int) -> float:
        return float(rotate(q, cos[p], sin[p]) @ rotate(k, cos[s], sin[s]))

    assert score(10, 3) == pytest.approx(score(50, 43), abs=1e-4)
    assert score(10, 3) != pytest.approx(score(10, 4), abs=1e-3)
    torch.testing.assert_close(rotate(q, cos[0], sin[0]), q)  # position 0: no turn


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_rotary_survives_save_and_export(tmp_path, dtype):
    m = tiny(rotary=True)
    ckpt.save(tmp_path / "run", m, step=1, seed=0, vocab=None, train={})
    out = ckpt.export(tmp_path / "run", tmp_path / "export", dtype=dtype)
    assert json.loads((out / "config.json").read_text())["model"]["rotary"] is True
    loaded, _ = ckpt.load_model(out)
    assert loaded.config.rotary is True
    idx, pos = torch.randint(0, V, (1, T)), positions(1, T)
    with torch.no_grad():
        tol = 1e-5 if dtype == "fp32" else 0.1
        torch.testing.assert_close(loaded(idx, pos)[0], m(idx, pos)[0], atol=tol, rtol=tol)


@pytest.mark.parametrize("rotary", [False, True])
def test_generation_logits_equal_a_full_forward_of_the_window_across_slides(monkeypatch, rotary):
    """Every step's logits in the engine (cached decoding, refills after each slide) equal a fresh forward over
    the tokens the window showed at that step: a token's position is its index in the window, for the learned
    table and for the rotary angles alike."""
    vocab, context = Vocab(), 24
    torch.manual_seed(0)
    model = GPT(
        GPTConfig(vocab_size=vocab.size, block_size=context, n_layer=2, n_head=2, n_embd=32, rotary=rotary)
    ).eval()
    seen: list[torch.Tensor] = []

    def recording(logits, *args, **kw):
        seen.append(logits.clone())
        return sample(logits, *args, **kw)

    sample = engine.sample
    monkeypatch.setattr(engine, "sample", recording)
    cfg = GenerateConfig(instruments=("piano", "drums"), seconds=8, candidates=2, seed=3)
    out = generate_ids(model, vocab, cfg)
    names = vocab.config.instrument_names
    rows = torch.from_numpy(reachable(vocab, sorted(names.index(n) for n in cfg.instruments)))
    ids = torch.from_numpy(np.stack([g.ids for g in out]))
    pos = torch.from_numpy(np.stack([g.positions for g in out]))
    n_prefix = int(np.flatnonzero(out[0].ids == vocab.start)[0]) + 1
    keep = max(1, context - n_prefix - context // 4)  # the engine's Window policy

    def visible(n: int) -> list[int]:
        return list(range(n_prefix)) + list(range(max(n_prefix, n - keep), n))

    cols, refills = visible(out[0].n_given), 1
    for step, logits in enumerate(seen):
        with torch.no_grad():
            full = model(ids[:, cols], Positions(*(pos[:, cols, k] for k in range(4))))[0][:, -1, rows]
        torch.testing.assert_close(logits, full, atol=1e-4, rtol=1e-4, msg=f"step {step}")
        i = out[0].n_given + step  # the token drawn from these logits
        if len(cols) + 1 > context:
            cols, refills = visible(i + 1), refills + 1
        else:
            cols = cols + [i]
    assert refills >= 3  # the window slid at least twice
