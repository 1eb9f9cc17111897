"""Rotary positions against the pilot's 4 x 256 / 512 run: validation NLL at matched token counts, and a plot.

    python reports/scaling/rotary.py reports/scaling   # reads logs/4x256c512{,-control,-rotary}.csv

The runs share the data, the seed, the batch, the learning rate and the validation windows, and evaluate every 20
steps (81,920 tokens), so their evaluations fall at the same token counts. Writes `rotary.png` (validation NLL
against tokens, and each run minus the rotary-off control) and prints a markdown table: the NLL at a few token
counts, and the mean over the last third of the common range (one evaluation is noisy: 8 windows, and the
training curve wobbles step to step).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

RUNS = {
    "pilot (rotary off)": "4x256c512.csv",
    "control (rotary off, this vocabulary)": "4x256c512-control.csv",
    "rotary": "4x256c512-rotary.csv",
}
AT = (0.25, 0.5, 1.0, 1.5)  # M tokens: the nearest evaluation at or below


def read(path: Path) -> tuple[np.ndarray, np.ndarray]:
    rows = [r for r in csv.DictReader(path.open()) if r["val_loss"]]
    return np.array([float(r["tokens"]) for r in rows]), np.array([float(r["val_loss"]) for r in rows])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("report", type=Path, help="reports/scaling: logs/ in, rotary.png out")
    a = ap.parse_args()
    runs = {k: read(a.report / "logs" / f) for k, f in RUNS.items() if (a.report / "logs" / f).exists()}
    end = min(t[-1] for t, _ in runs.values())
    base = runs.get("control (rotary off, this vocabulary)")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    at = [x for x in AT if x * 1e6 <= end] + [end / 1e6]  # and the last evaluation
    head = " | ".join(f"{x:.3g} M" for x in at)
    lines = [
        f"| run | {head} | mean over {end * 2 / 3e6:.2f}-{end / 1e6:.2f} M |",
        "| --- |" + " ---: |" * (1 + head.count("|") + 1),
    ]
    for name, (tok, nll) in runs.items():
        keep = tok <= end
        tok, nll = tok[keep], nll[keep]
        ax1.plot(tok / 1e6, nll, marker=".", label=name)
        if base is not None and name != "control (rotary off, this vocabulary)":
            ax2.plot(tok[1:] / 1e6, nll[1:] - base[1][: len(nll)][1:], marker=".", label=f"{name} - control")
        cells = [f"{nll[np.flatnonzero(tok <= x * 1e6)[-1]]:.3f}" for x in at]
        last = nll[tok >= end * 2 / 3]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {last.mean():.3f} ({len(last)} evals) |")
    ax1.set(xlabel="training tokens (M)", ylabel="validation NLL (nats/token)", ylim=(4.7, 7.5))
    ax2.set(xlabel="training tokens (M)", ylabel="difference in validation NLL (nats/token)")
    ax2.axhline(0, color="grey", lw=0.8)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(a.report / "rotary.png", dpi=110)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
