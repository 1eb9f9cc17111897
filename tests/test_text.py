"""Text mode against transformers: a GPT-2 saved by it, loaded by ours, gives its logits and its continuations."""

from __future__ import annotations

import pytest
import torch
from test_text_helpers import one_thread, tiny_gpt2  # noqa: F401 - one_thread: a fixture, found by name

from musenet.errors import UserError
from musenet.generate.sampling import SampleConfig, sample
from musenet.model.config import GPTConfig
from musenet.model.gpt import GPT
from musenet.model.hf import load_hf_gpt2
from musenet.text import load
from musenet.text.engine import TextConfig, stream_ids
from musenet.text.folder import model_config

transformers = pytest.importorskip("transformers")

GREEDY = SampleConfig(temperature=0.0)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny-gpt2")
    hf = tiny_gpt2(path)
    return path, hf, load(path)


def ids_of(steps) -> list[list[int | None]]:
    """stream_ids' steps -> one id list per candidate."""
    steps = list(steps)
    return [[s[k] for s in steps] for k in range(len(steps[0]))]


def test_logits_match_transformers(tiny):
    _, hf, tm = tiny
    idx = torch.randint(0, hf.config.vocab_size, (2, 64), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = hf(input_ids=idx).logits
        got, _ = tm.model(idx)
    assert (got - want).abs().max().item() <= 1e-4


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_pytorch_model_bin_loads_the_same(tiny, tmp_path, zip_format):
    path, hf, tm = tiny
    for name in ("config.json", "tokenizer.json"):
        (tmp_path / name).write_bytes((path / name).read_bytes())
    torch.save(hf.state_dict(), tmp_path / "pytorch_model.bin", _use_new_zipfile_serialization=zip_format)
    other = load(tmp_path)
    assert other.model.state_dict().keys() == tm.model.state_dict().keys()
    for k, v in tm.model.state_dict().items():
        assert torch.equal(other.model.state_dict()[k], v), k


def test_same_weights_as_the_model_packages_loader(tiny):
    path, _, tm = tiny
    theirs = load_hf_gpt2(path).state_dict()
    ours = tm.model.state_dict()
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert not any(p.is_meta for p in tm.model.parameters())


def test_greedy_continuation_matches_transformers_generate(tiny):
    _, hf, tm = tiny
    eos = tm.eos_id
    for seed in range(3):
        prompt = torch.randint(1, hf.config.vocab_size, (1, 8), generator=torch.Generator().manual_seed(seed))
        new = 64 - 8  # up to the context's end
        with torch.no_grad():
            want = hf.generate(
                prompt, do_sample=False, max_new_tokens=new, eos_token_id=eos, pad_token_id=eos
            )[0, 8:].tolist()
        if eos in want:  # transformers keeps the end-of-text token; ours stops before it
            want = want[: want.index(eos)]
        (got,) = ids_of(stream_ids(tm.model, prompt[0].tolist(), TextConfig(new, sample=GREEDY), eos))
        assert [t for t in got if t is not None] == want
        assert len(want) >= 10 and len(set(want)) >= 5, "the random model says too little to compare"


def test_candidates_match_an_uncached_reference(tiny):
    """K sampled continuations, batched with the KV cache, equal transformers' logits + our sampler, no cache."""
    _, hf, tm = tiny
    prompt = [5, 17, 42, 99]
    cfg = TextConfig(max_new_tokens=30, candidates=3, seed=7, sample=SampleConfig(temperature=1.0, top_k=20))
    got = ids_of(stream_ids(tm.model, prompt, cfg))
    gen = torch.Generator().manual_seed(7)
    seq = torch.tensor([prompt] * 3)
    with torch.no_grad():
        for _ in range(30):
            nxt = sample(hf(input_ids=seq).logits[:, -1], cfg.sample, gen)
            seq = torch.cat([seq, nxt[:, None]], dim=1)
    assert got == seq[:, 4:].tolist()
    assert len({tuple(g) for g in got}) == 3  # three different texts


def test_window_slides_past_the_context(tiny):
    """150 tokens from a 64-token model: when full, the newest 32 tokens are kept (checked without a cache)."""
    _, hf, tm = tiny
    prompt = list(range(1, 71))  # longer than the context: only its last 64 tokens are seen
    (got,) = ids_of(stream_ids(tm.model, prompt, TextConfig(150, sample=GREEDY)))
    window, want = prompt[-64:], []
    with torch.no_grad():
        for _ in range(150):
            t = int(hf(input_ids=torch.tensor([window])).logits[0, -1].argmax())
            want.append(t)
            window = window + [t]
            if len(window) > 64:
                window = window[-32:]
    assert got == want


def test_seeded_sampling_is_reproducible(tiny):
    _, _, tm = tiny
    cfg = TextConfig(max_new_tokens=40, seed=3, sample=SampleConfig(temperature=1.0, top_p=0.9))
    a = tm.complete("Hello wörld", cfg)
    assert a == tm.complete("Hello wörld", cfg)
    assert a != tm.complete("Hello wörld", TextConfig(max_new_tokens=40, seed=4, sample=cfg.sample))


def test_end_of_text_stops_each_candidate(tiny):
    _, _, tm = tiny
    prompt = [5, 17, 42, 99]
    (free,) = ids_of(stream_ids(tm.model, prompt, TextConfig(20, sample=GREEDY)))
    eos = free[5]  # pretend the sixth token is end-of-text
    (got,) = ids_of(stream_ids(tm.model, prompt, TextConfig(20, sample=GREEDY), eos_id=eos))
    assert got == free[: free.index(eos)] + [None]
    # sampled candidates end at different steps; an ended one stays ended, and the batch stops when all have
    cfg = TextConfig(200, candidates=6, seed=1, sample=SampleConfig(temperature=2.0))
    steps = list(stream_ids(tm.model, prompt, cfg, eos_id=free[0]))
    ended_at = [next((i for i, s in enumerate(steps) if s[k] is None), None) for k in range(6)]
    assert all(e is not None for e in ended_at) and len(steps) == max(ended_at) + 1 < 200
    assert all(s[k] is None for k in range(6) for s in steps[ended_at[k] :])


def test_empty_prompt_starts_from_end_of_text(tiny):
    _, _, tm = tiny
    assert tm.prompt_ids("") == [tm.eos_id]
    assert len(tm.complete("", TextConfig(max_new_tokens=5))) == 1


def test_padded_vocabulary_is_never_sampled(tiny):
    """A model with more embedding rows than the tokenizer has tokens never draws the extra ids."""
    _, _, tm = tiny
    V = tm.tokenizer.vocab_size
    allowed = torch.arange(V + 50) < V
    model = GPT(GPTConfig(**{**tm.model.config.to_dict(), "vocab_size": V + 50}))
    with torch.no_grad():
        model.transformer.wte.weight[V:] = 10.0 * model.transformer.wte.weight[V:].sign()  # very likely ids
    cfg = TextConfig(50, candidates=4, sample=SampleConfig(temperature=1.0))
    drawn = {t for step in stream_ids(model.eval(), [1, 2, 3], cfg, allowed=allowed) for t in step}
    assert max(drawn) < V


# The released checkpoints' config.json (openai-community/gpt2, -medium, -large, -xl): the fields that matter.
RELEASED = {
    "gpt2": (768, 12, 12, 124_439_808),
    "gpt2-medium": (1024, 24, 16, 354_823_168),
    "gpt2-large": (1280, 36, 20, 774_030_080),
    "gpt2-xl": (1600, 48, 25, 1_557_611_200),
}


@pytest.mark.parametrize("name", RELEASED)
def test_released_sizes_build_with_transformers_parameter_counts(name, tmp_path):
    n_embd, n_layer, n_head, n_params = RELEASED[name]
    hf_cfg = transformers.GPT2Config(n_embd=n_embd, n_layer=n_layer, n_head=n_head, n_positions=1024)
    with torch.device("meta"):  # shapes only: no memory, no time
        ours = GPT(model_config(hf_cfg.to_dict(), tmp_path))
        theirs = transformers.GPT2LMHeadModel(hf_cfg)
    count = sum(p.numel() for p in ours.parameters())
    assert count == sum(p.numel() for p in theirs.parameters()) == n_params


def test_not_a_plain_gpt2_is_refused(tiny):
    _, _, tm = tiny
    music = GPT(GPTConfig(vocab_size=50, block_size=16, n_layer=1, n_head=2, n_embd=8))
    with pytest.raises(ValueError, match="plain GPT-2"):
        next(stream_ids(music, [1], TextConfig()))
    with pytest.raises(UserError, match="not a GPT-2 config"):
        model_config({"model_type": "gpt2", "n_layer": 2}, tm.path)
