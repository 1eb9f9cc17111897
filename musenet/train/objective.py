"""The training loss as one module, so DDP and torch.compile wrap a single forward, mixup included.

Mixup (MuseNet): a sequence's input embeddings (token + position + MuseNet's) are blended with another sequence
of the batch, lambda * e_i + (1 - lambda) * e_perm(i), and the loss blends the two sequences' next-token losses
with the same weights.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from musenet.model.gpt import GPT, Positions, cross_entropy


class Objective(nn.Module):
    def __init__(self, model: GPT):
        super().__init__()
        self.model = model

    def forward(
        self,
        x: torch.Tensor,
        pos: Positions,
        y: torch.Tensor,
        mix: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Mean next-token loss of a (B, T) batch; `mix` = (lambda as a 0-d tensor, (B,) permutation) or None."""
        if mix is None:
            return self.model(x, pos, targets=y)[1]
        lam, perm = mix
        m = self.model
        e = m.embed(x, pos)  # (B, T, C)
        e = lam * e + (1 - lam) * e[perm]
        logits = m.logits(m.body(e))
        return lam * cross_entropy(logits, y) + (1 - lam) * cross_entropy(logits, y[perm])
