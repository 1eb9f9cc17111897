"""Training the critic: balanced batches of real (label 1) and generated (label 0) windows, binary cross-entropy,
and ROC-AUC, the measure of how well it tells them apart; or, for a style critic, real windows and their styles,
cross-entropy, and its accuracy."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .config import CriticConfig, TrainCriticConfig
from .model import Critic

Batches = Callable[[np.random.Generator], tuple[np.ndarray, torch.Tensor]]  # one batch: (B, T) ids, targets


def _fit(critic: Critic, batches: Batches, loss_of, pad: int, train: TrainCriticConfig, log) -> Critic:
    """AdamW with a 20-step warmup and a cosine over train.steps; returns the critic in eval mode."""
    rng = np.random.default_rng(train.seed)
    critic.train()
    opt = torch.optim.AdamW(critic.parameters(), lr=train.lr, weight_decay=train.weight_decay)
    t0 = time.monotonic()
    for step in range(train.steps):
        lr = train.lr * min(1.0, (step + 1) / 20) * 0.5 * (1 + np.cos(np.pi * step / train.steps))
        for group in opt.param_groups:
            group["lr"] = lr
        rows, targets = batches(rng)
        ids = torch.from_numpy(rows)  # (B, T)
        loss = loss_of(critic(ids, ids != pad), targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if log is not None and (step % 50 == 0 or step == train.steps - 1):
            log(f"critic step {step}: loss {loss.item():.4f} ({time.monotonic() - t0:.0f} s)")
    return critic.eval()


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
    half = train.batch_size // 2
    labels = torch.cat([torch.ones(half), torch.zeros(half)])  # (B,)

    def batches(rng: np.random.Generator) -> tuple[np.ndarray, torch.Tensor]:
        pick = [real[rng.integers(len(real), size=half)], fake[rng.integers(len(fake), size=half)]]
        return np.concatenate(pick), labels

    torch.manual_seed(train.seed)  # the critic's initial weights
    return _fit(Critic(config), batches, F.binary_cross_entropy_with_logits, pad, train, log)


def train_style_critic(
    windows: np.ndarray,
    styles: np.ndarray,
    pad: int,
    config: CriticConfig,
    train: TrainCriticConfig,
    log: Callable[[str], None] | None = None,
) -> Critic:
    """windows: (n, tokens) int64, style masked (see `windows.style_windows`); styles: (n,) their style indices.
    Batches drawn uniformly (the windows are already style-balanced). Returns the critic in eval mode."""
    if config.kind != "style":
        raise ValueError("train_style_critic needs a CriticConfig of kind 'style'")
    if len(np.unique(styles)) < 2:
        raise ValueError(f"need windows of at least 2 styles, got {len(np.unique(styles))}")
    targets = torch.from_numpy(np.asarray(styles, np.int64))

    def batches(rng: np.random.Generator) -> tuple[np.ndarray, torch.Tensor]:
        pick = rng.integers(len(windows), size=train.batch_size)
        return windows[pick], targets[pick]

    torch.manual_seed(train.seed)
    return _fit(Critic(config), batches, F.cross_entropy, pad, train, log)


@torch.inference_mode()
def style_accuracy(critic: Critic, windows: np.ndarray, styles: np.ndarray, pad: int) -> dict[str, float]:
    """A style critic's accuracy on windows: plain, and balanced (the mean of the per-style recalls)."""
    if not len(windows):
        raise ValueError("no windows to measure the style critic on")
    guess = logits_of(critic, windows, pad).argmax(-1)
    right = guess == styles
    recalls = [right[styles == s].mean() for s in np.unique(styles)]
    return {"accuracy": float(right.mean()), "balanced_accuracy": float(np.mean(recalls))}


@torch.inference_mode()
def logits_of(critic: Critic, windows: np.ndarray, pad: int, batch: int = 64) -> np.ndarray:
    """(n, tokens) windows -> (n,) logits, or (n, n_styles) for a style critic."""
    critic.eval()
    out = [np.zeros((0, critic.config.n_styles) if critic.styles else 0, np.float32)]
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
