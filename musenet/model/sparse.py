"""The Sparse Transformer's attention patterns (Child et al. 2019), as masks.

Each pattern is one predicate `allowed(q, k)` on query and key positions. It builds either a dense boolean mask
for `F.scaled_dot_product_attention` (works everywhere, with backward) or a flex_attention `BlockMask` that skips
blocks with no allowed entry (pays off on GPUs). We use the merged form: every head sees the union of the two
sub-patterns, rather than splitting them across heads or layers.

On CPU, flex_attention has no backward, and the strided/fixed patterns leave one allowed column in every block,
so no block can be skipped: the dense-mask path is the right one there.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch

Predicate = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def strided(q: torch.Tensor, k: torch.Tensor, stride: int) -> torch.Tensor:
    """Causal; the previous `stride` positions, plus every `stride`-th one before them."""
    d = q - k
    return (d >= 0) & ((d < stride) | (d % stride == 0))


def fixed(q: torch.Tensor, k: torch.Tensor, stride: int, summary: int) -> torch.Tensor:
    """Causal; the query's own block of `stride`, plus the last `summary` positions of every earlier block."""
    same_block = q // stride == k // stride
    is_summary = k % stride >= stride - summary
    return (k <= q) & (same_block | is_summary)


def causal(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return k <= q


def predicate(kind: str, stride: int, summary: int) -> Predicate:
    if kind == "dense":
        return causal
    if kind == "strided":
        return partial(strided, stride=stride)
    if kind == "fixed":
        return partial(fixed, stride=stride, summary=summary)
    raise ValueError(f"unknown attention pattern {kind!r}")


def dense_mask(
    pred: Predicate, q_start: int, q_len: int, k_len: int, device: torch.device | None = None
) -> torch.Tensor:
    """(q_len, k_len) bool mask, True = attend; queries sit at positions q_start .. q_start + q_len - 1."""
    q = torch.arange(q_start, q_start + q_len, device=device)[:, None]
    k = torch.arange(k_len, device=device)[None, :]
    return pred(q, k)


def block_mask(pred: Predicate, seq_len: int, device: torch.device | str = "cpu", block: int = 128):
    """A flex_attention BlockMask for self-attention over `seq_len` positions (training, no cache)."""
    from torch.nn.attention.flex_attention import create_block_mask

    def mask_mod(b, h, q_idx, kv_idx):
        return pred(q_idx, kv_idx)

    return create_block_mask(mask_mod, None, None, seq_len, seq_len, device=device, BLOCK_SIZE=block)


def density(pred: Predicate, seq_len: int) -> float:
    """Fraction of the (seq_len, seq_len) score matrix that is attended (dense causal is about 1/2)."""
    return dense_mask(pred, 0, seq_len, seq_len).float().mean().item()
