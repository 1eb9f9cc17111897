"""Issue 15's release criteria, read from two `musenet evaluate` reports made the same way (`evaluate.sh`).

    python reports/default-model-v1/criteria.py reports/default-model/eval        # OUT and OUT/v0.2
    python reports/default-model-v1/criteria.py reports/default-model/eval --data data/default

Prints a markdown table: each criterion, the candidate's figure, v0.2's, met or not. Speed is not in the reports:
`benchmarks/generate.py` measures it. With `--data` (the corpus the reports read), one more row, not a criterion:
the generated groove against every real piece of each drum style (train, val and test splits), where the criterion
reads the test split's few (blues: 3 pieces).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DRUM_STYLES = ("pop", "rock", "jazz", "blues", "game", "funk", "metal", "latin", "country", "soul", "reggae")


def figures(m: dict) -> dict:
    lk, s, st, music = m["likelihood"], m["samples"], m["style"]["generated"], m["music"]
    model, ngram = lk["model"], lk["ngram"]
    styles = [x for x in st if st[x]["n"]]
    gen_acc = sum(st[x]["accuracy"] for x in styles) / len(styles)
    real_acc = sum(st[x]["real_accuracy"] for x in styles) / len(styles)
    era_gen = sum(st[x].get("era_accuracy", st[x]["accuracy"]) for x in styles) / len(styles)
    era_real = sum(st[x].get("real_era_accuracy", st[x]["real_accuracy"]) for x in styles) / len(styles)
    groove = {}
    for x in music:
        g = music[x]["features"].get("groove_consistency", {})
        if x in DRUM_STYLES and g.get("gen_mean") is not None and g.get("real_mean"):
            groove[x] = g["gen_mean"] / g["real_mean"]
    m21 = model.get("by_source", {}).get("music21", {})
    return {
        "nll": model["nll_per_token"],
        "below_ngram": 1 - model["nll_per_token"] / ngram["nll_per_token"],
        "bits_s": model["bits_per_second"],
        "bits_s_music21": m21.get("bits_per_second"),
        "style_ratio": gen_acc / real_acc if real_acc else None,
        "style_gen": gen_acc,
        "style_real": real_acc,
        "styles_at_zero": sorted(x for x in styles if st[x]["accuracy"] == 0),
        "era_ratio": era_gen / era_real if era_real else None,
        "era_gen": era_gen,
        "era_real": era_real,
        "era_at_zero": sorted(x for x in styles if st[x].get("era_accuracy", st[x]["accuracy"]) == 0),
        "n_styles": len(styles),
        "per_style_n": min(st[x]["n"] for x in styles),
        "mean_oa": sum(music[x]["mean_oa"] for x in music if music[x]["mean_oa"] is not None)
        / max(1, sum(music[x]["mean_oa"] is not None for x in music)),
        "groove": groove,
        "recall": s["instrument_recall"],
        "precision": s["instrument_precision"],
        "length_ratio": s["length_ratio"],
        "length_err": s["length_abs_error_s"] / s["seconds_asked"],
        "validity": s["validity"],
        "copied_max": m["memorisation"]["generated"]["max"],
    }


def corpus_grooves(data: str, styles: list[str], seconds: float) -> dict[str, tuple[float, int]]:
    """Per style: the mean groove consistency of the first `seconds` of every real piece of it in the corpus
    (train, val and test), and the number of pieces."""
    import numpy as np

    from musenet.evaluate.corpus import read_splits
    from musenet.evaluate.features import features
    from musenet.evaluate.run import real_excerpts

    split = read_splits(data, ("train", "val", "test"))
    out = {}
    for style in styles:
        pieces = [p for p in split.pieces if p.style == style]
        excerpts = real_excerpts(pieces, split.vocab, seconds, min_real=1)  # the first `seconds` of each
        g = [features(e)["groove_consistency"] for e in excerpts if len(e)]
        if g:
            out[style] = (float(np.mean(g)), len(g))
    return out


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def main(out: str, data: str | None = None) -> None:
    m = json.loads((Path(out) / "metrics.json").read_text())
    a = figures(m)
    v02 = json.loads((Path(out) / "v0.2" / "metrics.json").read_text())
    b = figures(v02)
    grooves = lambda f: ", ".join(f"{k} {v:.2f}" for k, v in sorted(f["groove"].items())) or "-"  # noqa: E731
    rows = [
        ("NLL/token ≥ 30 % below the trigram", f"{a['below_ngram']:.1%}", f"{b['below_ngram']:.1%}",
         a["below_ngram"] >= 0.30),
        ("bits/s on music21's test pieces below v0.2's", _f(a["bits_s_music21"]), _f(b["bits_s_music21"]),
         None if a["bits_s_music21"] is None else a["bits_s_music21"] < b["bits_s_music21"]),
        ("bits/s on every test piece both read (not a criterion)", f"{a['bits_s']:.1f}", f"{b['bits_s']:.1f}", None),
        ("style accuracy, generated / real, mean over styles ≥ 0.6",
         f"{a['style_ratio']:.2f} ({a['style_gen']:.0%} / {a['style_real']:.0%})",
         f"{b['style_ratio']:.2f} ({b['style_gen']:.0%} / {b['style_real']:.0%})", a["style_ratio"] >= 0.6),
        ("no evaluated style at zero", ", ".join(a["styles_at_zero"]) or "none", ", ".join(b["styles_at_zero"]) or "none",
         not a["styles_at_zero"]),
        ("the same at the level of eras, styles at zero (not a criterion; `ERAS`: a composer heard for its era)",
         f"{a['era_ratio']:.2f} ({a['era_gen']:.0%} / {a['era_real']:.0%}), {', '.join(a['era_at_zero']) or 'none'}",
         f"{b['era_ratio']:.2f} ({b['era_gen']:.0%} / {b['era_real']:.0%}), {', '.join(b['era_at_zero']) or 'none'}",
         None),
        ("mean overlapping area ≥ 0.6", f"{a['mean_oa']:.2f}", f"{b['mean_oa']:.2f}", a["mean_oa"] >= 0.6),
        ("groove consistency of drum styles, generated / real, within 0.8-1.2", grooves(a), grooves(b),
         all(0.8 <= v <= 1.2 for v in a["groove"].values()) if a["groove"] else None),
        ("instrument recall ≥ 98 %", f"{a['recall']:.1%}", f"{b['recall']:.1%}", a["recall"] >= 0.98),
        ("instrument precision 100 %", f"{a['precision']:.1%}", f"{b['precision']:.1%}", a["precision"] == 1.0),
        ("length within ±10 %", f"{a['length_err']:.1%} off", f"{b['length_err']:.1%} off", a["length_err"] <= 0.10),
        ("validity 100 %", f"{a['validity']:.0%}", f"{b['validity']:.0%}", a["validity"] == 1.0),
        ("no copied run > 32 notes", f"longest {a['copied_max']}", f"longest {b['copied_max']}",
         a["copied_max"] is not None and a["copied_max"] <= 32),
    ]  # fmt: skip
    if data:
        corpus = corpus_grooves(data, sorted(a["groove"]), m["config"]["seconds"])

        def against(metrics: dict) -> str:
            music = metrics["music"]
            gen = {x: music[x]["features"]["groove_consistency"]["gen_mean"] for x in corpus if x in music}
            return ", ".join(f"{x} {gen[x] / corpus[x][0]:.2f}" for x in sorted(gen) if gen[x] is not None)

        pieces = ", ".join(f"{x} {n}" for x, (_, n) in sorted(corpus.items()))
        name = (
            f"the same against every real piece of the style, all splits (not a criterion; pieces: {pieces})"
        )
        rows.insert(8, (name, against(m), against(v02), None))
    print(f"{a['n_styles']} styles, at least {a['per_style_n']} samples each\n")
    print("| criterion | this model | v0.2 | met |\n| --- | --- | --- | --- |")
    for name, x, y, ok in rows:
        print(f"| {name} | {x} | {y} | {'-' if ok is None else 'yes' if ok else '**no**'} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="Issue 15's release criteria from two evaluation reports.")
    ap.add_argument("out", help="an evaluate.sh report folder (with v0.2/ inside)")
    ap.add_argument("--data", help="the corpus folder, for the groove of every real piece of each drum style")
    args = ap.parse_args()
    main(args.out, args.data)
