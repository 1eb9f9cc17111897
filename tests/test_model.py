"""The GPT: shapes, loss, MuseNet embeddings, the KV cache, block-sparse attention, and import hygiene."""

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from musenet.model import GPT, Decoder, GPTConfig, Positions, sparse

V, T = 97, 48


def tiny(**kw) -> GPT:
    torch.manual_seed(0)
    cfg = dict(
        vocab_size=V, block_size=64, n_layer=2, n_head=2, n_embd=32, time_positions=50, chord_positions=5
    )
    return GPT(GPTConfig(**{**cfg, **kw})).eval()


def positions(B: int, T: int, seed: int = 0) -> Positions:
    g = torch.Generator().manual_seed(seed)
    time = torch.randint(0, 3, (B, T), generator=g).cumsum(1)  # non-decreasing, with repeats (chords)
    chord = torch.randint(0, 9, (B, T), generator=g)  # beyond the table: clamped
    part = torch.full((B, T), 7)
    countdown = torch.full((B, T), 120)
    return Positions(time, chord, part, countdown)


def test_model_does_not_import_codec_or_data():
    code = (
        "import sys, musenet.model, musenet.model.checkpoint, musenet.model.hf\n"
        "bad = [m for m in sys.modules if m.startswith(('musenet.codec', 'musenet.data'))]\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_forward_shapes_and_loss_ignores_padding():
    m = tiny()
    idx = torch.randint(0, V, (2, T))
    pos = positions(2, T)
    logits, loss = m(idx, pos, targets=idx)
    assert logits.shape == (2, T, V) and loss.ndim == 0
    targets = idx.clone()
    targets[:, T // 2 :] = -100
    _, masked = m(idx, pos, targets=targets)
    expect = F.cross_entropy(logits[:, : T // 2].reshape(-1, V), idx[:, : T // 2].reshape(-1))
    torch.testing.assert_close(masked, expect)
    assert m(idx, pos)[1] is None


def test_fresh_model_loss_is_near_uniform():
    _, loss = tiny()(torch.randint(0, V, (4, T)), positions(4, T), targets=torch.randint(0, V, (4, T)))
    assert abs(loss.item() - torch.log(torch.tensor(float(V))).item()) < 0.3


def test_musenet_embeddings_are_used_and_time_wraps():
    m = tiny()
    idx = torch.randint(0, V, (1, T))
    pos = positions(1, T)
    base = m(idx, pos)[0]
    shifted_time = pos._replace(time=pos.time + 50)  # one whole table later: same rows
    torch.testing.assert_close(m(idx, shifted_time)[0], base)
    for field in Positions._fields:
        other = pos._replace(**{field: getattr(pos, field) + 1})
        assert not torch.allclose(m(idx, other)[0], base), field
    with pytest.raises(ValueError, match="MuseNet embeddings"):
        m(idx)


def test_plain_gpt2_has_no_extra_tables():
    m = tiny(musenet_embeddings=False)
    extra = ("wtime", "wchord", "wpart", "wcount")
    assert not any(k.split(".")[1] in extra for k in m.state_dict())
    assert all(any(k.split(".")[1] == e for k in tiny().state_dict()) for e in extra)
    assert m(torch.randint(0, V, (1, T)))[0].shape == (1, T, V)


def test_too_long_sequence_is_refused():
    with pytest.raises(ValueError, match="block_size"):
        tiny()(torch.zeros(1, 65, dtype=torch.long), positions(1, 65))


@pytest.mark.parametrize("rotary", [False, True])
@pytest.mark.parametrize("attention", ["dense", "strided", "fixed"])
def test_cached_decoding_equals_full_forward(attention, rotary):
    m = tiny(attention=attention, sparse_stride=8, sparse_summary=2, rotary=rotary)
    idx = torch.randint(0, V, (2, T))
    pos = positions(2, T)
    with torch.no_grad():
        full = m(idx, pos)[0]
        cache = m.new_cache(batch=2, max_len=T)
        steps = [m(idx[:, :20], Positions(*(p[:, :20] for p in pos)), cache=cache)[0]]  # prefill
        steps.append(m(idx[:, 20:27], Positions(*(p[:, 20:27] for p in pos)), cache=cache)[0])  # a chunk
        for t in range(27, T):  # one token at a time
            steps.append(m(idx[:, t : t + 1], Positions(*(p[:, t : t + 1] for p in pos)), cache=cache)[0])
    assert cache.length == T
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=1e-4)


def step_positions(pos: Positions | None, t: int) -> Positions | None:
    return None if pos is None else Positions(*(p[:, t] for p in pos))


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"musenet_embeddings": False},
        {"bias": False},
        {"attention": "strided", "sparse_stride": 8},
        {"rotary": True},
        {"rotary": True, "attention": "strided", "sparse_stride": 8},
        "train",
    ],
)
@pytest.mark.parametrize("batch", [1, 3])  # a matrix-vector product, and a product of a few rows
def test_decoder_equals_full_forward(kw, batch):
    m = tiny() if kw == "train" else tiny(**kw)
    if kw == "train":
        m.train()  # the general path (dropout is 0, so the same function)
    idx = torch.randint(0, V, (batch, T))
    pos = positions(batch, T) if m.config.musenet_embeddings else None
    with torch.no_grad():
        full = m(idx, pos)[0]
        cache = m.new_cache(batch=batch, max_len=T)
        m(idx[:, :10], None if pos is None else Positions(*(p[:, :10] for p in pos)), cache=cache)
        step = Decoder(m)
        assert step.size == V
        steps = [step(idx[:, t], step_positions(pos, t), cache) for t in range(10, T)]
    assert cache.length == T
    torch.testing.assert_close(torch.stack(steps, 1), full[:, 10:], atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="cache holds"):
        step(idx[:, 0], step_positions(pos, 0), cache)


@pytest.mark.parametrize("strided", [False, True])
def test_decoder_rows_are_those_logits_in_that_order(strided):
    m = tiny(**({"attention": "strided", "sparse_stride": 8} if strided else {}))
    rows = torch.tensor([96, 3, 50, 0, 7])
    idx = torch.randint(0, V, (2, 20))
    pos = positions(2, 20)
    with torch.no_grad():
        full = m(idx, pos)[0][:, -1]
        cache = m.new_cache(2, 20)
        m(idx[:, :19], Positions(*(p[:, :19] for p in pos)), cache=cache)
        step = Decoder(m, rows)
        got = step(idx[:, 19], step_positions(pos, 19), cache)
    assert step.size == 5 and got.shape == (2, 5)
    torch.testing.assert_close(got, full[:, rows], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kw", [{}, {"attention": "strided", "sparse_stride": 8}, {"rotary": True}])
@pytest.mark.parametrize("batch", [1, 3])
def test_decoder_fill_is_the_last_positions_logits_and_fills_the_cache(kw, batch):
    m = tiny(**kw)
    rows = torch.tensor([96, 3, 50, 0, 7])
    idx = torch.randint(0, V, (batch, 20))
    pos = positions(batch, 20)
    step = Decoder(m, rows)
    with torch.no_grad():
        cache = m.new_cache(batch, 20)
        got = step.fill(idx[:, :19], Positions(*(p[:, :19] for p in pos)), cache)
        assert cache.length == 19 and got.shape == (batch, 5)
        torch.testing.assert_close(got, m(idx[:, :19], Positions(*(p[:, :19] for p in pos)))[0][:, -1, rows])
        nxt = step(idx[:, 19], step_positions(pos, 19), cache)  # the filled cache carries on
        torch.testing.assert_close(nxt, m(idx, pos)[0][:, -1, rows], atol=1e-5, rtol=1e-4)


def test_one_decoder_serves_every_batch_size():
    m = tiny()
    step = Decoder(m)
    for batch in (2, 1, 4, 2):
        idx = torch.randint(0, V, (batch, 12))
        pos = positions(batch, 12)
        with torch.no_grad():
            cache = m.new_cache(batch, 12)
            m(idx[:, :11], Positions(*(p[:, :11] for p in pos)), cache=cache)
            got = step(idx[:, 11], step_positions(pos, 11), cache)
            full = m(idx, pos)[0][:, -1]
        torch.testing.assert_close(got, full, atol=1e-5, rtol=1e-4)


def test_a_decoder_built_after_the_weights_change_sees_the_change():
    m = tiny()
    idx = torch.randint(0, V, (1, 8))
    pos = positions(1, 8)
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(1.5)
        cache = m.new_cache(1, 8)
        m(idx[:, :7], Positions(*(p[:, :7] for p in pos)), cache=cache)
        got = Decoder(m)(idx[:, 7], step_positions(pos, 7), cache)
        full = m(idx, pos)[0][:, -1]
    torch.testing.assert_close(got, full, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("rotary", [False, True])
def test_decoder_in_bf16_stays_close_to_fp32(rotary):
    m = tiny(rotary=rotary)
    mb = tiny(rotary=rotary).to(torch.bfloat16)
    idx = torch.randint(0, V, (2, 24))
    pos = positions(2, 24)
    with torch.no_grad():
        c, cb = m.new_cache(2, 24), mb.new_cache(2, 24)
        head = Positions(*(p[:, :12] for p in pos))
        m(idx[:, :12], head, cache=c), mb(idx[:, :12], head, cache=cb)
        step, step_b = Decoder(m), Decoder(mb)
        for t in range(12, 24):
            p = step_positions(pos, t)
            a, b = step(idx[:, t], p, c), step_b(idx[:, t], p, cb)
            assert b.dtype == torch.bfloat16
            torch.testing.assert_close(b.float().softmax(-1), a.softmax(-1), atol=2e-3, rtol=0.05)


def test_cache_truncate_branches_from_a_prefix():
    m = tiny()
    idx = torch.randint(0, V, (1, T))
    pos = positions(1, T)
    with torch.no_grad():
        cache = m.new_cache(1, T)
        m(idx[:, :30], Positions(*(p[:, :30] for p in pos)), cache=cache)
        cache.truncate(10)
        out = m(idx[:, 10:T], Positions(*(p[:, 10:T] for p in pos)), cache=cache)[0]
        torch.testing.assert_close(out, m(idx, pos)[0][:, 10:], atol=1e-5, rtol=1e-4)
        with pytest.raises(ValueError, match="cache holds"):
            m(idx[:, :1], Positions(*(p[:, :1] for p in pos)), cache=cache)


def test_sparse_patterns_match_their_definitions():
    n, s, c = 40, 8, 3
    strided = sparse.dense_mask(sparse.predicate("strided", s, c), 0, n, n)
    fixed = sparse.dense_mask(sparse.predicate("fixed", s, c), 0, n, n)
    for i in range(n):
        for j in range(n):
            assert strided[i, j] == (j <= i and (i - j < s or (i - j) % s == 0))
            assert fixed[i, j] == (j <= i and (i // s == j // s or j % s >= s - c))
    assert sparse.density(sparse.predicate("strided", 32, 1), 1024) < 0.1


@pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")
@pytest.mark.parametrize("kind", ["strided", "fixed"])
def test_flex_block_sparse_equals_dense_attention_under_the_same_mask(kind):
    pred = sparse.predicate(kind, 16, 4)
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 2, 256, 16, generator=g) for _ in range(3))
    from torch.nn.attention.flex_attention import flex_attention

    got = flex_attention(q, k, v, block_mask=sparse.block_mask(pred, 256, block=64))
    want = F.scaled_dot_product_attention(q, k, v, attn_mask=sparse.dense_mask(pred, 0, 256, 256))
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    # and through the model: the flex kernel path gives the dense-mask path's logits
    m = tiny(attention=kind, sparse_stride=8, sparse_summary=2, block_size=128)
    idx, pos = torch.randint(0, V, (1, 128)), positions(1, 128)
    with torch.no_grad():
        dense = m(idx, pos)[0]
        m.use_flex = True
        torch.testing.assert_close(m(idx, pos)[0], dense, atol=1e-5, rtol=1e-4)


def test_sparse_with_a_long_stride_is_dense_causal():
    idx, pos = torch.randint(0, V, (1, T)), positions(1, T)
    with torch.no_grad():
        torch.testing.assert_close(
            tiny(attention="strided", sparse_stride=64)(idx, pos)[0], tiny()(idx, pos)[0]
        )


def test_sparse_model_trains():
    m = tiny(attention="fixed", sparse_stride=8, sparse_summary=2).train()
    idx, pos = torch.randint(0, V, (2, T)), positions(2, T)
    _, loss = m(idx, pos, targets=idx)
    loss.backward()
    assert all(p.grad is not None for p in m.parameters())


def test_config_checks():
    with pytest.raises(ValueError, match="multiple"):
        GPTConfig(n_embd=30, n_head=4)
    with pytest.raises(ValueError, match="attention"):
        GPTConfig(attention="local")
    assert GPTConfig.from_dict(GPTConfig().to_dict()) == GPTConfig()
