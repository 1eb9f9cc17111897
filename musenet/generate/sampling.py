"""Drawing the next token: temperature, top-k and top-p (nucleus) over masked logits. Pure: logits in, ids out."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SampleConfig:
    temperature: float = 1.0
    """Divides the logits; 0 means greedy (always the most likely token)."""
    top_k: int = 0
    """Keep only the k most likely tokens (0 = all)."""
    top_p: float = 1.0
    """Keep the smallest set of most likely tokens whose probability reaches p (1 = all)."""

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")


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
    logits = logits / cfg.temperature
    if cfg.top_k:
        kth = torch.topk(logits, min(cfg.top_k, logits.size(-1)), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if cfg.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        # drop a token when the tokens before it already reach top_p (the most likely one always stays)
        drop = (cum - sorted_logits.softmax(dim=-1)) >= cfg.top_p
        logits = logits.scatter(-1, order, sorted_logits.masked_fill(drop, float("-inf")))
    return draw(logits.softmax(dim=-1), generator)


def draw(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, V) probabilities -> (B,) ids by inverting the CDF at one uniform draw per row.

    The same distribution as `torch.multinomial(probs, 1)`, at an eighth of its cost over a ~5k vocabulary
    (measured: 65 µs against 500 µs at batch 4), which matters when a whole decode step is ~2 ms. Tokens of
    probability 0 are never drawn: `right=True` skips the flat stretches of the CDF.
    """
    cdf = probs.float().cumsum(dim=-1)
    u = torch.rand(probs.size(0), 1, generator=generator, device=probs.device) * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).clamp_(max=probs.size(-1) - 1).squeeze(-1)
