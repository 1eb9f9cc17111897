"""Builders shared by the text-mode tests (no tests here): a byte-level BPE and a random GPT-2, made in the test.

The tokenizer is trained on text full of multi-byte characters, with a vocabulary small enough that some tokens
hold only part of a character; the model is a Hugging Face GPT2LMHeadModel saved with `save_pretrained`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

CORPUS = [
    "Hello world. Héllo wörld, naïve café, Größe, ½ ¾ — “quotes”.",
    "日本語のテキストと音楽。中文的音乐。한국어 음악.",
    "Emoji 🎵🎶🎹🎻🥁 music is great! Ελληνικά και русский текст.",
] * 20


def train_tokenizer(folder: Path, vocab_size: int = 400):
    """A byte-level BPE (GPT-2's kind) written as vocab.json + merges.txt and tokenizer.json; returns it."""
    from tokenizers import ByteLevelBPETokenizer

    tok = ByteLevelBPETokenizer()
    tok.train_from_iterator(CORPUS, vocab_size=vocab_size, min_frequency=1, special_tokens=["<|endoftext|>"])
    folder.mkdir(parents=True, exist_ok=True)
    tok.save_model(str(folder))
    tok._tokenizer.save(str(folder / "tokenizer.json"))  # the Tokenizer itself, as HF folders ship it
    return tok


def tiny_gpt2(folder: Path, n_positions: int = 64, seed: int = 0):
    """A random GPT-2 and its tokenizer saved into `folder`; returns the transformers model (eval mode)."""
    import transformers

    tok = train_tokenizer(folder)
    eos = tok.token_to_id("<|endoftext|>")
    cfg = transformers.GPT2Config(
        vocab_size=tok.get_vocab_size(),
        n_positions=n_positions,
        n_embd=48,
        n_layer=3,
        n_head=4,
        bos_token_id=eos,
        eos_token_id=eos,
    )
    torch.manual_seed(seed)
    model = transformers.GPT2LMHeadModel(cfg).eval()
    with torch.no_grad():
        # Random LayerNorm and bias values, so a mix-up of them cannot pass unnoticed. Wider weights than GPT-2's
        # initialisation: its random model repeats one token forever, and its logits nearly tie, so float noise
        # could flip a greedy choice; these give varied text with top-2 logit gaps >= ~1e-3 (noise: ~1e-6).
        for name, p in model.named_parameters():
            if "ln_" in name or name.endswith("bias"):
                p.normal_(0.0, 0.5 if name.endswith("weight") else 0.1).add_(
                    1.0 if name.endswith("weight") else 0.0
                )
            elif p.dim() == 2 and name.startswith("transformer.h."):
                p.normal_(0.0, 0.4)
        model.transformer.wte.weight.normal_(0.0, 0.2)
    model.save_pretrained(folder)
    return model


@pytest.fixture(scope="module", autouse=False)
def one_thread():
    """Tiny models on a shared 2-core machine: one thread is many times faster than two fighting for it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
