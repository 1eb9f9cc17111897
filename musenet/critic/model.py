"""The critic: the project's GPT (plain, no MuseNet positions) as an encoder, mean-pooled, one linear head: one
real-vs-generated logit (kind `real`) or one logit per style (kind `style`, the style token masked).

A separate small model rather than a head on the generator's trunk: C. Payne found a separately trained critic
beat one fine-tuned from the generator, and a 2-layer, 128-wide one trains in about a minute on one CPU thread.
No structural embeddings on purpose: generated samples' `part`/`countdown` follow the requested length, real
windows' follow the whole piece, so they would give the answer away; time is in the `wait` tokens anyway.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from ..model.config import GPTConfig
from ..model.gpt import GPT
from .config import CriticConfig


class Critic(nn.Module):
    def __init__(self, config: CriticConfig):
        super().__init__()
        self.config = config
        self.trunk = GPT(
            GPTConfig(
                vocab_size=config.vocab_size,
                block_size=config.tokens,
                n_layer=config.n_layer,
                n_head=config.n_head,
                n_embd=config.n_embd,
                dropout=config.dropout,
                musenet_embeddings=False,
            )
        )
        self.styles = config.kind == "style"
        self.head = nn.Linear(config.n_embd, config.n_styles if self.styles else 1)

    def forward(self, ids: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """(B, T) ids and (B, T) bool mask of real tokens (padding on the right) -> (B,) logits, > 0 = real; or,
        for a style critic, (B, n_styles) logits."""
        # causal attention: the right padding changes nothing at the real tokens before it
        h = self.trunk.body(self.trunk.embed(ids))  # (B, T, C)
        w = valid.to(h.dtype).unsqueeze(-1)  # (B, T, 1)
        pooled = (h * w).sum(1) / w.sum(1).clamp(min=1)  # (B, C)
        out = self.head(pooled)
        return out if self.styles else out.squeeze(-1)

    def mask_style(self, stream: np.ndarray) -> tuple[np.ndarray, int]:
        """A style critic's view of a stream: its style token replaced by `style:unknown`, and the style's index."""
        asked = int(stream[0]) - self.config.style_offset
        if not 0 <= asked < self.config.n_styles:
            raise ValueError("a token stream that does not open with a style token")
        masked = stream.copy()
        masked[0] = self.config.style_offset
        return masked, asked

    @torch.inference_mode()
    def score(self, streams: list[np.ndarray], start: int, pad: int, batch: int = 64) -> np.ndarray:
        """One logit per token stream (prefix + body, padding anywhere after `end` ignored): the mean over its
        windows of `tokens`, each the stream's prefix + the next stretch of its body (at most 8 windows). For a
        style critic a window's logit is log(p / (1 - p)), p its probability of the style the prefix asks for."""
        self.eval()
        rows, owner, asked = [], [], []
        for k, s in enumerate(streams):
            s = np.asarray(s, np.int64)
            style = -1
            if self.styles:
                s, style = self.mask_style(s)
                if self.config.trained_styles and style not in self.config.trained_styles:
                    style = -1  # a style it never learnt (e.g. `unknown`): a neutral score
            for w in windows_of(s, start, pad, self.config.tokens):
                rows.append(w)
                owner.append(k)
                asked.append(style)
        logits = []
        for i in range(0, len(rows), batch):
            ids = torch.from_numpy(np.stack(rows[i : i + batch]))
            out = self(ids, ids != pad).float()
            if self.styles:
                want = torch.tensor(asked[i : i + batch])
                out = torch.where(want >= 0, asked_logit(out, want.clamp(min=0)), 0.0)
            logits.append(out.numpy())
        flat = np.concatenate(logits) if logits else np.zeros(0)
        owner_a = np.asarray(owner, np.int64)
        return np.array([flat[owner_a == k].mean() for k in range(len(streams))])


def asked_logit(logits: torch.Tensor, asked: torch.Tensor) -> torch.Tensor:
    """(B, S) style logits and (B,) asked styles -> (B,) log(p / (1 - p)) of each asked style: its logit minus the
    log-sum-exp of the others', exact and finite however sure the critic is."""
    mine = logits.gather(1, asked[:, None]).squeeze(1)
    others = logits.scatter(1, asked[:, None], float("-inf"))
    return mine - torch.logsumexp(others, -1)


def prefix_length(ids: np.ndarray, start: int) -> int:
    """Tokens up to and including `start`."""
    hits = np.flatnonzero(ids == start)
    if not len(hits):
        raise ValueError("a token stream without a start token")
    return int(hits[0]) + 1


def windows_of(stream: np.ndarray, start: int, pad: int, tokens: int, most: int = 8) -> list[np.ndarray]:
    """A stream cut into windows of exactly `tokens` (right-padded): prefix + consecutive stretches of the body."""
    stream = stream[stream != pad]
    plen = prefix_length(stream, start)
    prefix, body = stream[:plen], stream[plen:]
    room = max(1, tokens - plen)
    out = []
    for at in range(0, max(1, len(body)), room):
        w = np.full(tokens, pad, np.int64)
        part = np.concatenate([prefix, body[at : at + room]])[:tokens]
        w[: len(part)] = part
        out.append(w)
        if len(out) == most:
            break
    return out
