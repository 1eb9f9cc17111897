"""GPT-2 parity: with MuseNet's embeddings off, our GPT loads a Hugging Face GPT-2 and gives its logits."""

import pytest
import torch

from musenet.model.hf import load_hf_gpt2

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    cfg = transformers.GPT2Config(vocab_size=211, n_positions=64, n_embd=48, n_layer=3, n_head=4)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(cfg).eval()
    with torch.no_grad():  # random LayerNorm and bias values, so a mix-up of them cannot pass unnoticed
        for name, p in model.named_parameters():
            if "ln_" in name or name.endswith("bias"):
                p.normal_(0.0, 0.5 if name.endswith("weight") else 0.1).add_(
                    1.0 if name.endswith("weight") else 0.0
                )
    path = tmp_path_factory.mktemp("gpt2")
    model.save_pretrained(path, safe_serialization=True)
    return path, model


def test_logits_match_transformers(hf_dir):
    path, hf = hf_dir
    ours = load_hf_gpt2(path)
    idx = torch.randint(0, 211, (3, 64), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = hf(input_ids=idx).logits
        got, _ = ours(idx)
    assert (got - want).abs().max().item() <= 1e-4
    # the loss too (HF shifts labels itself)
    with torch.no_grad():
        hf_loss = hf(input_ids=idx, labels=idx).loss
        _, our_loss = ours(idx[:, :-1], targets=idx[:, 1:])
    assert abs(hf_loss.item() - our_loss.item()) <= 1e-4


def test_cached_decoding_matches_transformers(hf_dir):
    path, hf = hf_dir
    ours = load_hf_gpt2(path)
    idx = torch.randint(0, 211, (2, 20), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want = hf(input_ids=idx).logits[:, -1]
        cache = ours.new_cache(2, 20)
        ours(idx[:, :19], cache=cache)
        got = ours(idx[:, 19:], cache=cache)[0][:, -1]
    assert (got - want).abs().max().item() <= 1e-4


def test_unsupported_variants_are_refused():
    from musenet.model.hf import config_from_hf

    base = transformers.GPT2Config(n_embd=48, n_layer=1, n_head=4).to_dict()
    config_from_hf(base)
    for change in ({"activation_function": "relu"}, {"scale_attn_by_inverse_layer_idx": True}):
        with pytest.raises(ValueError, match="unsupported"):
            config_from_hf({**base, **change})
