"""Issue 15's sample-side release criteria against training: the same evaluation of several snapshots of the run,
pooled over seeds, beside the validation loss, as a table and a plot.

    python reports/default-model-v1/progress.py OUT.md [STEP[:TAG]=DIR[,DIR...] ...] [--previous OLD.json] \
        [--log runs/v1/log.csv]

Each DIR holds one `musenet evaluate` report (`metrics.json`) of that step's snapshot, made the same way
(`evaluate.sh` or `sweep.py`: 12 styles, 20 s samples, the same sampling); several DIRs of a step are seeds, pooled
per style. Writes OUT.md (the table), OUT.png (style ratio, mean overlap and validation loss against tokens) and
OUT.json (the pooled rows). The reports are large and not kept; `--previous` takes the rows of an earlier OUT.json
(e.g. the committed progress.json), so a new snapshot is added without evaluating the old ones again (a step given
on the command line replaces its earlier row). A TAG marks a snapshot sampled another way than the series (e.g.
`32000:restrike=...` for samples drawn under `--min-restrike`): its row is listed beside the untagged one of its
step; the trends (`projection()`) give each way of sampling (untagged, and each tag) its own offset and read
the criteria on the series of the last snapshot given (or of the newest row).

The style figures carry a standard error (binomial, per style, over the pooled samples, propagated to the mean),
and the table ends with what real music itself would score on "no style at zero": the chance that the
classifier's real held-out recall per style leaves no style at zero in the same number of samples.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from criteria import figures  # noqa: E402

TOKENS_PER_STEP = 4096  # batch 8 x 512 tokens


def pooled(dirs: list[Path]) -> dict:
    """Per-style accuracy pooled over the reports, the style ratio with its standard error, and the means of the
    other sample figures over the reports."""
    ms = [json.loads((d / "metrics.json").read_text()) for d in dirs]
    styles = [s for s, v in ms[0]["style"]["generated"].items() if v["n"]]
    hits, n, real = {}, {}, {}
    for m in ms:
        for s in styles:
            v = m["style"]["generated"][s]
            hits[s] = hits.get(s, 0) + round(v["accuracy"] * v["n"])
            n[s] = n.get(s, 0) + v["n"]
            real[s] = real.get(s, 0.0) + v["real_accuracy"] / len(ms)  # seeds draw other real excerpts too
    acc = {s: hits[s] / n[s] for s in styles}
    gen = sum(acc.values()) / len(styles)
    se = math.sqrt(sum(acc[s] * (1 - acc[s]) / n[s] for s in styles)) / len(styles)
    real_mean = sum(real.values()) / len(styles)
    fs = [figures(m) for m in ms]
    groove: dict[str, float] = {}
    for f in fs:
        for k, v in f["groove"].items():
            groove[k] = groove.get(k, 0.0) + v / len(fs)
    return {
        "reports": len(ms),
        "samples_per_style": min(n.values()),
        "style_gen": gen,
        "style_gen_se": se,
        "style_real": real_mean,
        "style_ratio": gen / real_mean,
        "style_ratio_se": se / real_mean,
        "at_zero": sorted(s for s in styles if hits[s] == 0),
        "recognised": {s: f"{hits[s]}/{n[s]}" for s in styles},
        "real": real,
        "mean_oa": sum(f["mean_oa"] for f in fs) / len(fs),
        "groove": groove,
    }


def val_losses(log: Path) -> dict[int, float]:
    out = {}
    if log.is_file():
        with log.open() as f:
            for row in csv.DictReader(f):
                if row["val_loss"]:
                    out[int(row["step"])] = float(row["val_loss"])
    return out


def _name(p: dict) -> str:
    """A row's step, with its tag if it has one."""
    return f"{p['step']:,}" + (f" ({p['tag']})" if p.get("tag") else "")


def _val(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def real_passes(real: dict[str, float], n: int) -> float:
    """The chance that real excerpts, recognised at these per-style rates, leave no style at zero in n each."""
    return math.prod(1 - (1 - r) ** n for r in real.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="the table's path (.md); the plot goes beside it (.png)")
    ap.add_argument("snapshots", nargs="*", help="STEP[:TAG]=DIR[,DIR...]")
    ap.add_argument("--previous", type=Path, help="OUT.json of an earlier run: its rows are kept")
    ap.add_argument("--log", type=Path, default=Path("runs/v1/log.csv"))
    a = ap.parse_args()
    val = val_losses(a.log)
    by_step = {}
    if a.previous:
        by_step = {(p["step"], p.get("tag", "")): p for p in json.loads(a.previous.read_text())["rows"]}
    for spec in a.snapshots:
        key, dirs = spec.split("=", 1)
        step, _, tag = key.partition(":")
        p = pooled([Path(d) for d in dirs.split(",")])
        p["step"] = int(step)
        p["tag"] = tag
        p["val"] = val.get(int(step))
        by_step[(p["step"], tag)] = p
    if not by_step:
        ap.error("nothing to tabulate: give STEP=DIR snapshots or --previous")
    rows = [by_step[k] for k in sorted(by_step)]
    lines = [
        "| step | tokens | val loss | samples a style | style ratio ± s.e. (generated accuracy) | styles at zero | "
        "mean OA | groove gen/real |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for p in rows:
        grooves = ", ".join(f"{k} {v:.2f}" for k, v in sorted(p["groove"].items()))
        lines.append(
            f"| {_name(p)} | {p['step'] * TOKENS_PER_STEP / 1e6:.1f} M | "
            f"{_val(p['val'])} | {p['samples_per_style']} | "
            f"{p['style_ratio']:.2f} ± {p['style_ratio_se']:.2f} ({p['style_gen']:.0%}) | "
            f"{', '.join(p['at_zero']) or 'none'} | {p['mean_oa']:.3f} | {grooves} |"
        )
    styles = sorted(rows[-1]["recognised"])
    lines += ["", "Recognised as their style, per snapshot (pooled over its seeds):", ""]
    lines += ["| style | real held-out recall | " + " | ".join(_name(p) for p in rows) + " |"]
    lines += ["| --- | --- | " + " | ".join("---" for _ in rows) + " |"]
    for s in styles:
        lines.append(
            f"| {s} | {rows[-1]['real'][s]:.0%} | "
            + " | ".join(p["recognised"].get(s, "-") for p in rows)
            + " |"
        )
    real = rows[-1]["real"]
    lines += [
        "",
        f"Real music on the same test: the classifier recognises {rows[-1]['style_real']:.0%} of real held-out "
        f"excerpts averaged over these styles; real excerpts would leave no style at zero with probability "
        f"{real_passes(real, 16):.0%} at 16 samples a style and {real_passes(real, 32):.0%} at 32.",
    ]
    series = a.snapshots[-1].split("=", 1)[0].partition(":")[2] if a.snapshots else None
    lines += ["", *projection(rows, tokens_per_s(a.log), series)]
    text = "\n".join(lines) + "\n"
    a.out.write_text(text)
    a.out.with_suffix(".json").write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    print(text)
    plot(rows, val, a.out.with_suffix(".png"))


def tokens_per_s(log: Path, last: int = 2000) -> float | None:
    """The median training speed over the log's last rows (this machine's cores, as the run has had them)."""
    if not log.is_file():
        return None
    with log.open() as f:
        speeds = [float(r["tokens_per_s"]) for r in csv.DictReader(f) if r["tokens_per_s"]][-last:]
    return sorted(speeds)[len(speeds) // 2] if speeds else None


def fit_series(
    xs: list[float], series: list[str], ys: list[float], sigma: list[float] | None = None
) -> tuple[dict[str, float], float, float]:
    """Least squares y = c[series] + d x: one slope shared by the series, an offset each (weighted by 1 / sigma^2
    when given). Returns the offsets, d and d's standard error, scaled up by the scatter when the points spread
    more than their error bars say (seed-to-seed and snapshot-to-snapshot noise beyond the binomial)."""
    import numpy as np

    names = sorted(set(series))
    X = np.array([[x] + [float(s == n) for n in names] for x, s in zip(xs, series, strict=True)])
    y = np.asarray(ys, float)
    w = np.ones(len(y)) if sigma is None else 1 / np.asarray(sigma, float) ** 2
    beta = np.linalg.lstsq(X * np.sqrt(w)[:, None], y * np.sqrt(w), rcond=None)[0]
    resid = y - X @ beta
    dof = max(1, len(y) - X.shape[1])
    chi2 = float(resid @ (w * resid)) / dof
    cov = np.linalg.inv(X.T @ (X * w[:, None])) * (chi2 if sigma is None else max(1.0, chi2))
    return dict(zip(names, map(float, beta[1:]), strict=True)), float(beta[0]), float(math.sqrt(cov[0, 0]))


def fit(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    """Least squares y = a + b x: a, b and b's standard error (scaled by the residuals)."""
    offsets, b, b_se = fit_series(xs, [""] * len(xs), ys)
    return offsets[""], b, b_se


def loss_trends(val: dict[int, float]) -> tuple[float, float, float, float]:
    """The two fits of the validation loss L at the evaluated steps against the tokens D: log-linear,
    L = a + b ln D (the same nats every doubling), and a power law, L = exp(pa) D^pb (fewer nats every doubling, as
    real curves flatten). Returns a, b, pa, pb."""
    steps = sorted(val)
    ln_tok = [math.log(s * TOKENS_PER_STEP) for s in steps]
    a, b, _ = fit(ln_tok, [val[s] for s in steps])
    pa, pb, _ = fit(ln_tok, [math.log(val[s]) for s in steps])
    return a, b, pa, pb


def projection(
    rows: list[dict], speed: float | None, series: str | None = None, target: float = 0.6
) -> list[str]:
    """Where the trends of the evaluated snapshots put the criteria: validation loss against tokens, each
    criterion against validation loss, solved for the criterion's threshold. An order of magnitude, not a forecast:

    - the loss is fitted over every evaluated step two ways, log-linear (the same nats every doubling of the tokens)
      and a power law (fewer nats every doubling, as real curves flatten): the tokens are given as that range;
    - a criterion is fitted against the loss with one slope shared by the series of snapshots (one per tag: the
      sampling changed between them, e.g. the re-strike rule) and an offset per series, and solved on the series
      of `series` (a tag; None: the newest snapshot's), at its newest snapshot."""
    pts = [p for p in rows if p.get("val") is not None]
    val = {p["step"]: p["val"] for p in pts}
    if len(val) < 3:
        return []
    steps = sorted(val)
    last_tokens = steps[-1] * TOKENS_PER_STEP
    a, b, pa, pb = loss_trends(val)
    if series is None:
        series = max(pts, key=lambda p: p["step"]).get("tag") or ""
    newest = max((p for p in pts if (p.get("tag") or "") == series), key=lambda p: p["step"])
    n_series = len({p.get("tag") or "" for p in pts})
    out = [
        f"Trends over {len(pts)} evaluated rows ({len(val)} steps, {n_series} series; `projection()`: an order of "
        f"magnitude, not a forecast): validation loss = {a:.2f} {b:+.3f} ln(tokens) (log-linear, "
        f"{-b * math.log(2):.3f} nats per doubling), or {math.exp(pa):.1f} × tokens^{pb:.3f} (a power law: it "
        f"flattens, {val[steps[-1]] * (1 - 2**pb):.3f} nats for the next doubling). Criteria are read on the "
        f"series of {_name(newest)}."
    ]

    def tokens_for(loss: float) -> list[float]:
        """The tokens at which each loss trend reaches `loss` (inf where it never does)."""
        return [
            math.exp((loss - a) / b) if b < 0 else math.inf,
            math.exp((math.log(loss) - pa) / pb) if pb < 0 and loss > 0 else math.inf,
        ]

    def reach(need: float) -> str:
        lo, hi = sorted(tokens_for(need))
        if not math.isfinite(lo):
            return ", which the loss trends never reach"
        span = f"~{lo / 1e9:.2g}" + (f"-{hi / 1e9:.2g}" if math.isfinite(hi) else "+") + " B tokens"
        if not speed:
            return f", {span}"
        h_lo = max(0.0, lo - last_tokens) / speed / 3600
        h_hi = f"-{max(0.0, hi - last_tokens) / speed / 3600:,.0f}" if math.isfinite(hi) else "+"
        return f", {span}, ~{h_lo:,.0f}{h_hi} more hours at this run's {speed:,.0f} tokens/s"

    for name, key, se in (("style ratio", "style_ratio", "style_ratio_se"), ("mean OA", "mean_oa", None)):
        sigma = [max(p[se], 1e-3) for p in pts] if se else None
        offsets, d, d_se = fit_series(
            [p["val"] for p in pts], [p.get("tag") or "" for p in pts], [p[key] for p in pts], sigma
        )
        now = newest[key]
        trend = f"{d:+.2f} ± {d_se:.2f} per nat of validation loss"
        if now >= target:
            out.append(f"- {name}: {now:.3f}, at or over {target} already.")
        elif target - now < 0.02:
            out.append(
                f"- {name}: {now:.3f}, within 0.02 of {target}: seed-to-seed spread, not a trend, decides it."
            )
        elif d >= 0:
            out.append(f"- {name}: {trend}: it does not improve with the loss, so no projection to {target}.")
        else:
            need = (target - offsets[series]) / d
            where = f"{target} at a loss of {need:.2f}{reach(need)}"
            if need >= newest["val"]:  # the fitted line is past the threshold already; this snapshot is not
                where = (
                    f"the fit puts {target} at a loss of {need:.2f}, above this snapshot's {newest['val']:.3f}: "
                    f"its {now:.3f} is snapshot-to-snapshot scatter, not distance"
                )
            if abs(d) < 2 * d_se:
                out.append(f"- {name}: {trend}, within two standard errors of none; at face value {where}.")
            else:
                out.append(f"- {name}: {trend}; {where}.")
    return out


def plot(rows: list[dict], val: dict[int, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tagged = [p for p in rows if p.get("tag")]
    rows = [p for p in rows if not p.get("tag")]
    tok = [p["step"] * TOKENS_PER_STEP / 1e6 for p in rows]
    fig, (ax1, ax3, ax2) = plt.subplots(1, 3, figsize=(16, 4))
    ax1.errorbar(tok, [p["style_ratio"] for p in rows], yerr=[p["style_ratio_se"] for p in rows], marker="o",
                 capsize=3, label="style ratio (generated / real accuracy)")  # fmt: skip
    ax1.plot(tok, [p["mean_oa"] for p in rows], marker="s", label="mean overlapping area")
    for k, tag in enumerate(sorted({p["tag"] for p in tagged})):
        group = [p for p in tagged if p["tag"] == tag]
        x = [p["step"] * TOKENS_PER_STEP / 1e6 for p in group]
        ax1.errorbar(x, [p["style_ratio"] for p in group], yerr=[p["style_ratio_se"] for p in group], marker="^",
                     color=f"C{4 + 2 * k}", capsize=3, label=f"style ratio, {tag}")  # fmt: skip
        ax1.plot(x, [p["mean_oa"] for p in group], marker="^", color=f"C{5 + 2 * k}", label=f"mean OA, {tag}")
    ax1.axhline(0.6, color="grey", linestyle="--", linewidth=1, label="criterion (both): 0.6")
    ax1.set_xlabel("training tokens (M)")
    ax1.set_ylim(0, 1)
    ax1.legend(loc="upper left", fontsize=8)
    ax1.set_title("sample-side criteria vs training")
    unmet(ax3, sorted(rows + tagged, key=lambda p: p["step"]))
    steps = sorted(s for s in val if s > 0)
    ax2.plot([s * TOKENS_PER_STEP / 1e6 for s in steps], [val[s] for s in steps], linewidth=0.8, color="C2")
    evaluated = sorted({p["step"]: p["val"] for p in rows + tagged if p["val"] is not None}.items())
    ax2.plot([s * TOKENS_PER_STEP / 1e6 for s, _ in evaluated], [v for _, v in evaluated], "o", color="C3",
             label="evaluated snapshots")  # fmt: skip
    ax2.set_xlabel("training tokens (M)")
    ax2.set_ylabel("validation loss (nats/token)")
    if len(evaluated) >= 3:  # the two loss trends of `projection()`, on to 3x the tokens
        a, b, pa, pb = loss_trends(dict(evaluated))
        x = [
            evaluated[0][0] * TOKENS_PER_STEP * (3 * evaluated[-1][0] / evaluated[0][0]) ** (i / 50)
            for i in range(51)
        ]
        ax2.plot([t / 1e6 for t in x], [a + b * math.log(t) for t in x], "--", color="C0", linewidth=1,
                 label="log-linear trend")  # fmt: skip
        ax2.plot([t / 1e6 for t in x], [math.exp(pa) * t**pb for t in x], ":", color="C1", linewidth=1.2,
                 label="power-law trend")  # fmt: skip
        evaluated.append((3 * evaluated[-1][0], a + b * math.log(x[-1])))  # the y-range holds the trends
    ax2.set_ylim(min([val[s] for s in steps] + [v for _, v in evaluated]) - 0.05, 3.6)
    ax2.legend(fontsize=8)
    ax2.set_title("validation loss")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def unmet(ax, rows: list[dict]) -> None:
    """The two criteria the run has missed longest, per snapshot (every series): the share of samples recognised
    as the style most often at zero, against real music's recall of it; and the drum style whose groove is
    furthest from real, against the 0.8-1.2 band."""
    tok = [p["step"] * TOKENS_PER_STEP / 1e6 for p in rows]
    zero = max(rows[-1]["recognised"], key=lambda s: sum(s in p["at_zero"] for p in rows))
    share = [fraction(p["recognised"].get(zero, "0/1")) for p in rows]
    ax.plot(tok, share, "o", color="C3", label=f"{zero}: generated recognised")
    ax.axhline(
        rows[-1]["real"][zero], color="C3", linestyle="--", linewidth=1, label=f"{zero}: real recognised"
    )
    ax.set_ylim(0, 0.5)
    ax.set_ylabel("share recognised as its style")
    ax.set_xlabel("training tokens (M)")
    groove = max(rows[-1]["groove"], key=lambda s: abs(math.log(rows[-1]["groove"][s])))
    tw = ax.twinx()
    tw.plot(tok, [p["groove"].get(groove) for p in rows], "s", color="C0", label=f"{groove}: groove gen/real")
    tw.axhspan(0.8, 1.2, color="C0", alpha=0.12, label="groove criterion 0.8-1.2")
    tw.set_ylim(0.6, 1.8)
    tw.set_ylabel("groove consistency, generated / real")
    lines = ax.get_legend_handles_labels()
    twin = tw.get_legend_handles_labels()
    ax.legend(lines[0] + twin[0], lines[1] + twin[1], loc="upper left", fontsize=8)
    ax.set_title("the criteria not met")


def fraction(hits: str) -> float:
    """'a/b' -> a / b."""
    a, b = hits.split("/")
    return int(a) / int(b)


if __name__ == "__main__":
    main()
