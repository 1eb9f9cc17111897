"""The report's PNGs (matplotlib, headless): piano rolls, feature distributions, likelihood bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..codec.events import DRUMS, Piece
from .overlap import densities


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _roll(ax, piece: Piece, title: str, names: dict[int, str]) -> None:
    notes = piece.notes
    cmap = _plt().get_cmap("tab10")
    programs = sorted({int(p) for p in notes["program"]})
    for k, prog in enumerate(programs):
        n = notes[notes["program"] == prog]
        label = names.get(prog, "drums" if prog == DRUMS else f"program {prog}")
        # one call per instrument: thousands of notes draw in milliseconds
        ax.hlines(
            n["pitch"],
            n["start"],
            np.maximum(n["end"], n["start"] + 0.02),
            color=cmap(k % 10),
            lw=2.5,
            label=label,
        )
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("seconds")
    ax.set_ylabel("pitch")
    if len(notes):
        ax.set_ylim(int(notes["pitch"].min()) - 2, int(notes["pitch"].max()) + 2)
        ax.legend(fontsize=6, loc="upper right")


def piano_rolls(path: Path, pieces: list[tuple[str, Piece]], names: dict[int, str] | None = None) -> Path:
    """One PNG with a piano roll per (title, piece), stacked; `names` labels GM programs (default: numbers)."""
    plt = _plt()
    fig, axes = plt.subplots(len(pieces), 1, figsize=(10, 2.6 * len(pieces)), squeeze=False)
    for ax, (title, piece) in zip(axes[:, 0], pieces, strict=True):
        _roll(ax, piece, title, names or {})
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def feature_distributions(
    path: Path, style: str, real: dict[str, np.ndarray], gen: dict[str, np.ndarray]
) -> Path:
    """Real vs generated KDEs (on the shared grid the overlapping area uses), one panel per scalar feature."""
    plt = _plt()
    names = list(real)
    cols = 4
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.2 * rows), squeeze=False)
    for ax, name in zip(axes.ravel(), names, strict=False):
        a, b = real[name][np.isfinite(real[name])], gen[name][np.isfinite(gen[name])]
        if len(a) and len(b):
            grid, p, q = densities(a, b)
            ax.plot(grid, p, label="real")
            ax.plot(grid, q, label="generated")
            ax.fill_between(grid, np.minimum(p, q), alpha=0.3, color="grey")
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=6)
    fig.suptitle(f"{style}: real vs generated (grey: overlapping area)", fontsize=10)
    fig.subplots_adjust(
        left=0.04, right=0.98, bottom=0.05, top=0.9, hspace=0.5, wspace=0.25
    )  # tight_layout: slow
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def likelihood_bars(path: Path, values: dict[str, float]) -> Path:
    """NLL per token of each scorer (model, n-gram, compared model)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 2.5))
    ax.barh(list(values), list(values.values()), color="tab:blue")
    ax.set_xlabel("NLL per token (nats) on the test split")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
