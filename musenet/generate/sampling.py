"""Drawing the next token: temperature, top-k and top-p (nucleus) over masked logits. Pure: logits in, ids out."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# Bounds that mean something in float32, the dtype sampling runs in. Below MIN_TEMPERATURE the logits divided by
# it overflow (inf - inf = nan) and the draw is greedy anyway; past MAX_TEMPERATURE every token is equally likely
# to float32's precision. A nucleus mass under float32's epsilon rounds to 0 against the cumulated probabilities,
# which once dropped every token: the sampler then returned the last index forever, and generation never ended.
MIN_TEMPERATURE, MAX_TEMPERATURE = 1e-3, 100.0
MIN_TOP_P = float(torch.finfo(torch.float32).eps)  # ~1.2e-7; any smaller mass is the most likely token alone


@dataclass(frozen=True)
class SampleConfig:
    temperature: float = 1.0
    """Divides the logits; 0 means greedy (always the most likely token), else 0.001..100."""
    top_k: int = 0
    """Keep only the k most likely tokens (0 = all)."""
    top_p: float = 1.0
    """Keep the smallest set of most likely tokens whose probability reaches p (1 = all), p in [1.2e-7, 1]."""

    def __post_init__(self) -> None:
        t, k, p = self.temperature, self.top_k, self.top_p
        if not (isinstance(t, (int, float)) and (t == 0 or MIN_TEMPERATURE <= t <= MAX_TEMPERATURE)):
            raise ValueError(
                f"temperature must be 0 (greedy) or {MIN_TEMPERATURE:g}..{MAX_TEMPERATURE:g}, got {_shown(t)}"
            )
        if not (isinstance(k, int) and 0 <= k < 2**31):
            raise ValueError(f"top_k must be a whole number >= 0, got {_shown(k)}")
        if not (isinstance(p, (int, float)) and math.isfinite(p) and MIN_TOP_P <= p <= 1):
            raise ValueError(f"top_p must be in [{MIN_TOP_P:.2g}, 1], got {_shown(p)}")


def _shown(value) -> str:
    """A value for an error message: a number in 3 digits, anything else cut to 20 characters."""
    return f"{value:.3g}" if isinstance(value, float) else repr(value)[:20]


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
