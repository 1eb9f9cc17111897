"""AdamW and its learning-rate schedule (linear warmup, cosine decay), and the choice of precision."""

from __future__ import annotations

import math

import torch
import torch.nn as nn


def make_optimizer(
    model: nn.Module, lr: float, weight_decay: float, betas: tuple[float, float], device: torch.device
) -> torch.optim.AdamW:
    """AdamW; weight decay on matrices and embeddings only (decaying biases and LayerNorm gains only hurts)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        dict(params=[p for p in params if p.dim() >= 2], weight_decay=weight_decay),
        dict(params=[p for p in params if p.dim() < 2], weight_decay=0.0),
    ]
    # The fused kernel (one launch for all parameters) exists for CUDA and, in recent torch, CPU.
    fused = device.type in ("cuda", "cpu")
    try:
        return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=fused)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(groups, lr=lr, betas=betas)


def lr_at(step: int, lr: float, warmup: int, total: int, min_ratio: float) -> float:
    """Learning rate for optimizer step `step` (0-based): linear warmup, then cosine down to lr * min_ratio."""
    if step < warmup:
        return lr * (step + 1) / warmup
    if step >= total:
        return lr * min_ratio
    progress = (step - warmup) / max(1, total - warmup)
    return lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def fast_bf16(device: torch.device) -> bool:
    """Whether bf16 matmuls are fast here. CPUs without AVX512-BF16/AMX run them through a slow fallback
    (measured ~50x slower than fp32 on an AVX2-only EPYC), so 'auto' picks fp32 there."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a private probe; without it, stay on the safe side
        return False


def autocast_dtype(choice: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for --dtype (None = plain fp32)."""
    if choice == "auto":
        choice = "bf16" if fast_bf16(device) else "fp32"
    return torch.bfloat16 if choice == "bf16" else None
