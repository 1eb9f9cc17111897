"""Drawing the next token: temperature, top-k and top-p (nucleus) over masked logits. Pure: logits in, ids out."""

from __future__ import annotations

import torch

from .config import SampleConfig


def sample(
    logits: torch.Tensor,
    cfg: SampleConfig,
    generator: torch.Generator | None = None,
    allowed: torch.Tensor | None = None,
) -> torch.Tensor:
    """(B, V) logits (and an optional (B, V) bool mask of legal tokens) -> (B,) token ids."""
    logits = logits.float()
    if allowed is not None:
        logits = logits.masked_fill(~allowed, float("-inf"))
    if cfg.temperature == 0:
        return logits.argmax(dim=-1)
    probs, ids = candidates(logits / cfg.temperature, cfg)
    pick = draw(probs, generator)
    return pick if ids is None else ids.gather(-1, pick[:, None]).squeeze(-1)


def candidates(logits: torch.Tensor, cfg: SampleConfig) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(B, V) tempered logits -> the distribution top-k and top-p leave: ((B, K) probabilities, (B, K) token ids),
    most likely first; or ((B, V) probabilities, None) when neither filter is on.

    Top-p takes the 512 most likely tokens, and sorts the whole vocabulary only when they do not hold the mass p: a
    model's next-token distribution is mostly peaked, and a sort of 4 x 4,925 logits is ~1.5 ms, most of a decode
    step (`topk` of 512: ~0.1 ms). The default model at temperature 0.8 and top-p 0.95 needs 27 tokens at the
    median, more than 256 for 11 % of the steps, 767 at most (a pop band, 20 s, 4 candidates).
    """
    probs = logits.softmax(dim=-1)
    if not cfg.top_k and cfg.top_p >= 1.0:
        return probs, None
    V = probs.size(-1)
    k = min(cfg.top_k or 512, V)
    while True:
        top, ids = probs.topk(k, dim=-1)  # (B, k), most likely first
        if cfg.top_k:
            top = top / top.sum(dim=-1, keepdim=True)  # top-p, if any, applies within the top k
        cum = top.cumsum(dim=-1)
        if cfg.top_k or k == V or bool((cum[:, -1] >= cfg.top_p).all()):
            break
        k = V  # a flat distribution: every token, sorted
    if cfg.top_p < 1.0:
        # drop a token when the tokens before it already reach top_p (the most likely one always stays)
        drop = (cum - top) >= cfg.top_p
        drop[:, 0] = False
        top = top.masked_fill(drop, 0.0)
    return top, ids


def draw(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, V) probabilities -> (B,) ids by inverting the CDF at one uniform draw per row.

    The same distribution as `torch.multinomial(probs, 1)`, at an eighth of its cost over a ~5k vocabulary
    (measured: 65 µs against 500 µs at batch 4), which matters when a whole decode step is ~2 ms. Tokens of
    probability 0 are never drawn: `right=True` skips the flat stretches of the CDF.
    """
    cdf = probs.float().cumsum(dim=-1)
    u = torch.rand(probs.size(0), 1, generator=generator, device=probs.device) * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).clamp_(max=probs.size(-1) - 1).squeeze(-1)
