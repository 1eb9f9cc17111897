"""Curves and projections for the scaling study (reports/scaling/run.sh).

    python reports/scaling/plot.py runs/scaling reports/scaling [--hours 15]

Reads each run's log.csv (validation NLL at every eval, tokens, wall-clock), writes `curves.png` (validation NLL
against tokens and against wall-clock) and `table.md`: the last validation NLL, tokens/s, and a projection to the
long run's budget from a power law `L(tokens) = a * tokens^-b` fitted, in log-log space, to the second half of
each curve. A projection from a short pilot is a rough guide, not a promise: it ignores the end of a learning
rate schedule (a gain) and data repetition (a loss).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read(run: Path) -> dict[str, np.ndarray]:
    rows = [r for r in csv.DictReader((run / "log.csv").open()) if r["val_loss"]]
    cols = ("tokens", "elapsed_s", "val_loss")
    return {c: np.array([float(r[c]) for r in rows]) for c in cols}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--hours", type=float, default=15.0, help="the long run's CPU budget (stretches x hours)")
    a = ap.parse_args()
    runs = sorted(p for p in a.runs.iterdir() if (p / "log.csv").exists())
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    lines = [
        f"| shape | evals | tokens | wall-clock | tokens/s | last val NLL | fit b | projected NLL at {a.hours:g} h |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        d = read(run)
        if len(d["val_loss"]) < 2:
            continue
        ax1.plot(d["tokens"] / 1e6, d["val_loss"], marker=".", label=run.name)
        ax2.plot(d["elapsed_s"] / 60, d["val_loss"], marker=".", label=run.name)
        tps = d["tokens"][-1] / d["elapsed_s"][-1]
        half = slice(len(d["tokens"]) // 2, None)
        slope, icpt = np.polyfit(np.log(d["tokens"][half]), np.log(d["val_loss"][half]), 1)
        proj = float(np.exp(icpt + slope * np.log(tps * a.hours * 3600)))
        lines.append(
            f"| {run.name} | {len(d['val_loss'])} | {d['tokens'][-1] / 1e6:.2f} M | "
            f"{d['elapsed_s'][-1] / 60:.0f} min | {tps:.0f} | {d['val_loss'][-1]:.3f} | {-slope:.3f} | {proj:.2f} |"
        )
    ax1.set(xlabel="training tokens (M)", ylabel="validation NLL (nats/token)")
    ax2.set(xlabel="wall-clock (min, 1 thread each, all at once)")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    a.out.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out / "curves.png", dpi=110)
    (a.out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
