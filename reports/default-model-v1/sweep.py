"""A sampling sweep: `musenet evaluate` of one model at several settings (style guidance, temperature), the same
samples plan as `evaluate.sh`, and a table of the sample-side release criteria per setting.

    python reports/default-model-v1/sweep.py MODEL OUT --guidance 1 2 [--temperature 0.8 1] [--top-p 0.95 1] \
        [--rerank 1 4]

Each setting's report is in OUT/g<guidance>-t<temperature>-p<top-p>[-r<rerank>]/ (rerank N: the model's critic keeps
the best of N samples per sample); the likelihood stage is cut to a few test tokens
(sampling does not change it). The table is printed and written to OUT/sweep.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from criteria import figures  # noqa: E402

STYLES = "german_folk,irish_folk,chinese_folk,palestrina,bach,romantic,piano,pop,rock,jazz,blues,game"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("out", type=Path)
    ap.add_argument("--guidance", type=float, nargs="+", default=[1.0])
    ap.add_argument("--temperature", type=float, nargs="+", default=[0.8])
    ap.add_argument("--top-p", type=float, nargs="+", default=[0.95])
    ap.add_argument("--rerank", type=int, nargs="+", default=[1])
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--styles", default=STYLES)
    ap.add_argument("--data", default="data/default")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0, help="another seed: other instrument draws and samples")
    a = ap.parse_args()
    rows = []
    for g, t, p, r in itertools.product(a.guidance, a.temperature, a.top_p, a.rerank):
        out = (
            a.out
            / (f"g{g:g}-t{t:g}-p{p:g}" + (f"-r{r}" if r > 1 else ""))
            / (f"seed{a.seed}" if a.seed else "")
        )
        if not (out / "metrics.json").is_file():
            t0 = time.monotonic()
            cmd = [".venv/bin/musenet", "evaluate", "--model", a.model, "--data", a.data, "--out", str(out),
                   "--styles", a.styles, "--samples", str(a.samples), "--seconds", "20", "--max-test-tokens",
                   "2000", "--guidance", str(g), "--temperature", str(t), "--top-p", str(p), "--threads", str(a.threads), "--seed", str(a.seed), "--rerank", str(r), "--quiet"]  # fmt: skip
            subprocess.run(cmd, check=True)
            print(f"g {g:g}, T {t:g}, p {p:g}, rerank {r}: {time.monotonic() - t0:.0f} s", flush=True)
        m = json.loads((out / "metrics.json").read_text())
        f = figures(m)
        gen_s = m["timings_s"].get("generation")
        grooves = ", ".join(f"{k} {v:.2f}" for k, v in sorted(f["groove"].items()))
        rows.append(
            f"| {g:g} | {t:g} | {p:g} | {r} | {f['style_ratio']:.2f} ({f['style_gen']:.0%}) | "
            f"{', '.join(f['styles_at_zero']) or 'none'} | {f['mean_oa']:.3f} | {grooves} | "
            f"{f['recall']:.0%} | {f['validity']:.0%} | {f['copied_max']} | {gen_s:.0f} |"
        )
    head = [
        f"`python reports/default-model-v1/sweep.py {a.model} {a.out} --guidance {' '.join(map(str, a.guidance))} "
        f"--temperature {' '.join(map(str, a.temperature))} --top-p {' '.join(map(str, a.top_p))} --rerank {' '.join(map(str, a.rerank))} --seed {a.seed}` ({a.samples} samples x 20 s of each of "
        f"{len(a.styles.split(','))} styles per setting)",
        "",
        "| guidance | temperature | top-p | rerank | style ratio (generated accuracy) | styles at zero | mean OA | groove gen/real |"
        " recall | valid | longest copy | generation s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    text = "\n".join(head + rows) + "\n"
    (a.out / "sweep.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
