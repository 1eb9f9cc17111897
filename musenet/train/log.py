"""The run's record: log.csv (one row per logged step) and loss.png (train and validation loss against steps)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from musenet.files import atomic_path

FIELDS = ("step", "lr", "loss", "val_loss", "grad_norm", "tokens", "tokens_per_s", "elapsed_s")


class CsvLog:
    """Appends rows to run/log.csv. On resume, rows past the checkpoint's step (written by the run that was
    killed) are dropped first, so the file reads as one uninterrupted run."""

    def __init__(self, run_dir: Path, resume_step: int | None):
        self.path = run_dir / "log.csv"
        rows = read(self.path) if resume_step is not None and self.path.exists() else []
        rows = [r for r in rows if int(r["step"]) <= (resume_step or 0)]
        with atomic_path(self.path) as tmp, open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, FIELDS)
            w.writeheader()
            w.writerows(rows)
        self.f = open(self.path, "a", newline="")  # noqa: SIM115 - held open for the whole run
        self.w = csv.DictWriter(self.f, FIELDS)

    def write(self, **row: float | int | None) -> None:
        self.w.writerow({k: _fmt(row.get(k)) for k in FIELDS})
        self.f.flush()

    def close(self) -> None:
        self.f.close()


def _fmt(v: float | int | None) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}" if abs(v) < 1e-3 or abs(v) >= 1e5 else f"{v:.6f}".rstrip("0").rstrip(".")
    return str(v)


def read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def losses(path: Path, column: str = "loss") -> dict[int, float]:
    """{step: value} for the rows of log.csv that have `column`."""
    return {int(r["step"]): float(r[column]) for r in read(path) if r[column]}


def plot(run_dir: Path) -> Path | None:
    """Draw loss.png from log.csv; None (and no file) when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    train = losses(run_dir / "log.csv")
    val = losses(run_dir / "log.csv", "val_loss")
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if train:
        steps = sorted(train)
        k = max(1, len(steps) // 50)  # a moving average over long runs, so the trend shows through the noise
        raw = [train[s] for s in steps]
        if k == 1:
            ax.plot(steps, raw, lw=1.5, color="C0", label="train")
        else:
            ax.plot(steps, raw, lw=0.6, alpha=0.4, color="C0", label="train")
            smooth = [sum(raw[max(0, i - k + 1) : i + 1]) / min(k, i + 1) for i in range(len(raw))]
            ax.plot(steps, smooth, lw=1.5, color="C0", label=f"train (mean of {k})")
    if val:
        ax.plot(sorted(val), [val[s] for s in sorted(val)], "o-", color="C1", label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    finite = [v for v in list(train.values()) + list(val.values()) if math.isfinite(v)]
    if finite:
        ax.set_ylim(min(finite) * 0.95, min(max(finite), 2 * max(val.values(), default=max(finite))) * 1.05)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(run_dir.name)
    fig.tight_layout()
    out = run_dir / "loss.png"
    with atomic_path(out, durable=False) as tmp:  # redrawn at every evaluation
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return out
