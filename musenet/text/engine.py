"""Sampling token ids from a plain GPT-2: a batch of continuations with a KV cache. Ids in, ids out; no text.

The same `GPT` and `sample` as for music. Generation stops at the end-of-text id or after `max_new_tokens`.
Past the model's context (GPT-2: 1,024 tokens) the window slides: the newest half of the tokens is kept and the
cache recomputed from it, so a long text costs one extra prompt pass every half context.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from ..generate.sampling import SampleConfig, sample
from ..model.decode import Decoder
from ..model.gpt import GPT


@dataclass(frozen=True)
class TextConfig:
    max_new_tokens: int = 100
    """Most tokens to add to each continuation (fewer when it ends with end-of-text)."""
    candidates: int = 1
    """How many continuations to sample, as one batch."""
    seed: int = 0
    """Same seed, model, candidates and device: the same text."""
    sample: SampleConfig = field(default_factory=lambda: SampleConfig(top_k=40))
    """GPT-2's published samples used top-k 40."""

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if not 0 <= self.seed < 2**63:
            raise ValueError(f"seed must be in [0, 2**63), got {self.seed}")
        if not 1 <= self.candidates <= 64:
            raise ValueError(f"candidates must be 1..64, got {self.candidates}")


@torch.inference_mode()
def stream_ids(
    model: GPT,
    prompt: list[int],
    cfg: TextConfig,
    eos_id: int | None = None,
    allowed: torch.Tensor | None = None,
) -> Iterator[list[int | None]]:
    """Continue `prompt` `cfg.candidates` times; yield each step's new id per candidate (None once it has ended).

    The end-of-text id itself is not yielded. `allowed`: an optional (V,) bool mask of ids that may be drawn.
    A prompt longer than the context is cut to its last `block_size` tokens.
    """
    if not prompt:
        raise ValueError("the prompt must hold at least one token")
    if model.config.musenet_embeddings:
        raise ValueError("text generation needs a plain GPT-2 (musenet_embeddings=False)")
    block = model.config.block_size
    keep = max(1, block // 2)  # tokens kept when the window slides
    K, device = cfg.candidates, model.transformer.wte.weight.device
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    seq = torch.tensor(prompt[-block:], device=device).repeat(K, 1)  # (K, T)
    # a cache as long as this run can use: short runs of a big model keep their memory small
    cache = model.new_cache(K, min(block, seq.size(1) + cfg.max_new_tokens))
    logits = model(seq, cache=cache)[0][:, -1]  # (K, V)
    decode = Decoder(model)
    done = torch.zeros(K, dtype=torch.bool, device=device)
    for step in range(cfg.max_new_tokens):
        nxt = sample(logits, cfg.sample, gen, allowed)  # (K,)
        if eos_id is not None:
            done = done | (nxt == eos_id)
        yield [None if d else t for t, d in zip(nxt.tolist(), done.tolist(), strict=True)]
        if done.all() or step == cfg.max_new_tokens - 1:
            return
        seq = torch.cat([seq, nxt[:, None]], dim=1)[:, -block:]
        if cache.length == cache.max_len:  # the context is full: slide
            cache.truncate(0)
            logits = model(seq[:, -keep:], cache=cache)[0][:, -1]
        else:
            logits = decode(nxt, cache=cache)
