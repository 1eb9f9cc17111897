"""Training the critic: balanced batches of real (label 1) and generated (label 0) windows, binary cross-entropy;
and ROC-AUC, the measure of how well it tells them apart."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .config import CriticConfig, TrainCriticConfig
from .model import Critic


def train_critic(
    real: np.ndarray,
    fake: np.ndarray,
    pad: int,
    config: CriticConfig,
    train: TrainCriticConfig,
    log: Callable[[str], None] | None = None,
) -> Critic:
    """real, fake: (n, tokens) int64 windows (right-padded with `pad`). Returns the critic in eval mode."""
    if len(real) < 1 or len(fake) < 1:
        raise ValueError(f"need real and generated windows, got {len(real)} and {len(fake)}")
    torch.manual_seed(train.seed)
    rng = np.random.default_rng(train.seed)
    critic = Critic(config).train()
    opt = torch.optim.AdamW(critic.parameters(), lr=train.lr, weight_decay=train.weight_decay)
    half = train.batch_size // 2
    labels = torch.cat([torch.ones(half), torch.zeros(half)])  # (B,)
    t0 = time.monotonic()
    for step in range(train.steps):
        lr = train.lr * min(1.0, (step + 1) / 20) * 0.5 * (1 + np.cos(np.pi * step / train.steps))
        for group in opt.param_groups:
            group["lr"] = lr
        rows = np.concatenate(
            [real[rng.integers(len(real), size=half)], fake[rng.integers(len(fake), size=half)]]
        )
        ids = torch.from_numpy(rows)  # (B, T)
        loss = F.binary_cross_entropy_with_logits(critic(ids, ids != pad), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if log is not None and (step % 50 == 0 or step == train.steps - 1):
            log(f"critic step {step}: loss {loss.item():.4f} ({time.monotonic() - t0:.0f} s)")
    return critic.eval()


@torch.inference_mode()
def logits_of(critic: Critic, windows: np.ndarray, pad: int, batch: int = 64) -> np.ndarray:
    """(n, tokens) windows -> (n,) logits."""
    critic.eval()
    out = [np.zeros(0, np.float32)]
    for i in range(0, len(windows), batch):
        ids = torch.from_numpy(windows[i : i + batch])
        out.append(critic(ids, ids != pad).float().numpy())
    return np.concatenate(out)


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """The probability that a random positive scores above a random negative (ties count half)."""
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels, bool)
    pos, neg = scores[labels], scores[~labels]
    if not len(pos) or not len(neg):
        raise ValueError("ROC-AUC needs both classes")
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def auc_of(critic: Critic, real: np.ndarray, fake: np.ndarray, pad: int) -> float:
    scores = np.concatenate([logits_of(critic, real, pad), logits_of(critic, fake, pad)])
    return roc_auc(scores, np.r_[np.ones(len(real), bool), np.zeros(len(fake), bool)])
