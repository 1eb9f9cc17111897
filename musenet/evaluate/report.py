"""metrics.json -> report.md: one table per section, the command at the top, timings, definitions and caveats."""

from __future__ import annotations


def _f(x, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:.{digits}f}"


def _pm(mean, sd) -> str:
    return "–" if mean is None else f"{mean:.2f} ± {sd:.2f}"


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out + [""]


def _likelihood(m: dict) -> list[str]:
    lk = m["likelihood"]
    out = ["## 1. Held-out likelihood", ""]
    out.append(
        f"Test split: {lk['test_pieces']} of {lk['test_pieces_total']} pieces scored (whole pieces, round-robin over styles, up to "
        f"{_f(lk['tokens_cap'])} body tokens). Every body token (notes, waits, `end`) is scored once; the prefix "
        "(style, instruments, `start`) is the condition. Nats; per note = total / note-ons (drums included); "
        "bits/s = total / ln 2 / seconds of music."
        + (
            f" Left out: {lk['unreadable_pieces']} pieces whose style a scored model's vocabulary lacks"
            f" ({', '.join(lk['unreadable_styles'])}), so every scorer reads the same tokens."
            if lk.get("unreadable_pieces")
            else ""
        )
    )
    out.append("")
    rows = []
    names = [("model", f"model `{lk['model']['path']}`")]
    if "compare" in lk:
        names.append(("compare", f"compared `{lk['compare']['path']}`"))
    for key, label in names:
        s = lk[key]
        emb = "with" if s.get("musenet_embeddings") else "without"
        label += (
            f" ({_f(s.get('params'))} params, {s.get('layers')}x{s.get('width')}, step {_f(s.get('step'))})"
        )
        rows.append([f"{label} ({emb} structural embeddings)", _f(s["nll_per_token"]), _f(s["nll_per_note"]),
                     _f(s["bits_per_second"], 1), _f(s["tokens"]), _f(s["notes"])])  # fmt: skip
    g = lk["ngram"]
    rows.append([f"{g['order']}-gram, Witten-Bell (trained on {_f(g['trained_tokens'])} of {_f(g['train_tokens_total'])} "
                 "training tokens)", _f(g["nll_per_token"]), _f(g["nll_per_note"]), _f(g["bits_per_second"], 1),
                 _f(g["tokens"]), _f(g["notes"])])  # fmt: skip
    out += _table(["scorer", "NLL/token", "NLL/note", "bits/s", "tokens", "notes"], rows)
    if "compare" in lk:
        d = lk["compare"]["model_minus_compare"]
        lo, hi = d["ci95"]
        verdict = "lower than" if hi < 0 else "higher than" if lo > 0 else "not distinguishable from"
        out += [
            f"Model minus compared, NLL per token: **{d['nll_per_token']:+.4f}** nats (95% bootstrap interval over "
            f"{d['pieces']} pieces: {lo:+.4f} .. {hi:+.4f}): the model's NLL is {verdict} the compared model's.",
            "",
        ]
    kinds = [k for k, n in lk["model"].get("tokens_by_kind", {}).items() if n]
    if kinds:
        scorers = [("model", "model"), ("ngram", "n-gram")] + (
            [("compare", "compared")] if "compare" in lk else []
        )
        rows = [[k, _f(lk["model"]["tokens_by_kind"][k])] + [_f(lk[s]["nll_per_token_by_kind"].get(k)) for s, _ in scorers]
                for k in kinds]  # fmt: skip
        out += ["NLL per token by kind of token:", ""]
        out += _table(["token kind", "tokens"] + [name for _, name in scorers], rows)
    styles = sorted(lk["model"]["nll_per_token_by_style"])
    if len(styles) > 1:
        rows = [[s, _f(lk["model"]["nll_per_token_by_style"].get(s)), _f(g["nll_per_token_by_style"].get(s))]
                + ([_f(lk["compare"]["nll_per_token_by_style"].get(s))] if "compare" in lk else []) for s in styles]  # fmt: skip
        out += _table(["style", "model", "n-gram"] + (["compared"] if "compare" in lk else []), rows)
    sources = sorted(lk["model"].get("by_source", {}))
    if len(sources) > 1:
        scorers = ["model", "ngram"] + (["compare"] if "compare" in lk else [])
        rows = [[src, _f(lk["model"]["by_source"][src]["tokens"])]
                + [f"{_f(lk[k]['by_source'][src]['nll_per_token'])} / {_f(lk[k]['by_source'][src]['bits_per_second'], 1)}"
                   for k in scorers] for src in sources]  # fmt: skip
        out += ["By source collection, NLL per token / bits per second:", ""]
        out += _table(
            ["source", "tokens", "model", "n-gram"] + (["compared"] if "compare" in lk else []), rows
        )
    return out


def _samples(m: dict) -> list[str]:
    s = m["samples"]
    out = ["## 2. Samples: validity, instruments, length", ""]
    if not s.get("count"):
        return out + ["No samples were generated (`--samples 0`).", ""]
    gen_s = m["timings_s"].get("generation")
    out.append(
        f"{s['count']} samples of {_f(s['seconds_asked'], 1)} s in {_f(gen_s, 1)} s of generation. Valid = decoded "
        "with no repairs and at least one note. Instrument precision = share of the playing instruments that were "
        "asked for; recall = share of the asked instruments that play; exact = both sets equal. Length = the last "
        "note's end vs the seconds asked."
    )
    if m.get("sampling"):
        d = m["sampling"]
        out += [
            "",
            f"Sampling: temperature {d['temperature']:g}, top-k {d['top_k'] or 'off'}, top-p {d['top_p']:g}"
            + (f", style guidance {d['guidance']:g}" if d.get("guidance", 1) != 1 else "")
            + (f", critic reranking {d['rerank']} per sample" if d.get("rerank", 1) > 1 else "")
            + ", under the grammar masks of `musenet generate`.",
        ]
    out.append("")
    rows = []
    for style, a in [("all", s)] + list(s["per_style"].items()):
        if not a.get("count"):
            continue
        rows.append([style, str(a["count"]), _pct(a["validity"]), _pct(a["repaired"]), _f(a["instrument_precision"], 2),
                     _f(a["instrument_recall"], 2), _pct(a["instrument_exact"]), _f(a["seconds_got"], 1),
                     _f(a["length_abs_error_s"], 1)])  # fmt: skip
    out += _table(["style", "n", "valid", "repaired", "instr. precision", "instr. recall", "instr. exact",
                   "seconds got", "|got - asked| s"], rows)  # fmt: skip
    if s.get("midi"):
        out += [
            f"The samples are in `samples/` as MIDI ({', '.join(s['midi'][:4])}{', ...' if len(s['midi']) > 4 else ''}).",
            "",
        ]
    if s.get("errors"):
        out += ["Generation errors: " + "; ".join(f"`{e}`" for e in s["errors"]), ""]
    return out


def _music(m: dict) -> list[str]:
    g = m["config"]["grid"]
    held = " + ".join(m["config"]["real_splits"])
    out = [f"## 3. Music statistics: generated vs real held-out excerpts ({held} split), per style", ""]
    out.append(
        f"Features per piece on the codec's events (see `musenet/evaluate/features.py`). Times are seconds, so a "
        f"'beat' is a fixed {g['beat_seconds']} s and a 'bar' {g['bar_seconds']} s ({g['steps_per_bar']} steps for "
        f"onset patterns), not the music's own meter. Real = the first {m['config']['seconds']} s of each {held} piece "
        f"of the style (and, for a style with under {m['config'].get('min_real', 16)} held-out pieces, the "
        "following excerpts of the same length). OA = overlapping area of the two per-piece distributions (Gaussian KDEs on one shared grid, "
        "Yang & Lerch 2020; 1 = identical); KL = KL(real || generated) in nats (it saturates near 30 for disjoint sets: the densities are floored at 1e-12). Histogram features compare the "
        "intra-set (real-real) and inter-set (real-generated) distance distributions."
    )
    out.append("")
    for style, r in m["music"].items():
        out.append(
            f"### {style} ({r['n_real']} real, {r['n_generated']} generated; mean OA {_f(r['mean_oa'], 2)})"
        )
        out.append("")
        rows = []
        for k, v in r["features"].items():
            real, gen = _pm(v["real_mean"], v["real_std"]), _pm(v["gen_mean"], v["gen_std"])
            rows.append([k, real, gen, _f(v["oa"], 2), _f(v["kl"], 2)])
        for k, v in r["vectors"].items():
            rows.append([f"{k} (set distances)", "", "", _f(v["oa"], 2), _f(v["kl"], 2)])
        out += _table(["feature", "real mean ± sd", "generated mean ± sd", "OA", "KL"], rows)
        if f"features-{style}.png" in m.get("plots", []):
            out += [f"![{style} features](features-{style}.png)", ""]
    return out


def _style(m: dict) -> list[str]:
    c = m["style"]
    out = ["## 4. Style recognisability", ""]
    if "real_accuracy" not in c:
        return out + [c.get("note", "no classifier"), ""]
    left = (
        f" Left out (< {m['config']['classifier_min_pieces']} training pieces): {', '.join(c['left_out'])}."
        if c["left_out"]
        else ""
    )
    out.append(
        f"A multinomial logistic regression (numpy, class-balanced) on event statistics only (pitch-class histogram "
        f"rotated to its best-fitting scale, interval / inter-onset / note-length histograms, the scalar features; "
        f"no instruments, no tokens), trained on {c['train_excerpts']} excerpts of real training pieces of "
        f"{len(c['classes'])} styles.{left} On real held-out excerpts (n = {c['real_n']}): accuracy "
        f"**{_pct(c['real_accuracy'])}** (always guessing the most common held-out style: {_pct(c['majority'])}), "
        f"balanced accuracy **{_pct(c['real_balanced_accuracy'])}** (chance {_pct(c['chance'])})."
    )
    out.append("")
    out += [
        "Real held-out recall per style: " + ", ".join(f"{k} {_pct(v)}" for k, v in c["real_recall"].items()),
        "",
    ]
    rows, eras = [], False
    for style, v in c.get("generated", {}).items():
        predicted = ", ".join(f"{k}: {n}" for k, n in v.get("predicted", {}).items()) or v.get("note", "")
        era = v.get("era_accuracy") is not None and v["era_accuracy"] != v.get("accuracy")
        real_era = v.get("real_era_accuracy") is not None and v["real_era_accuracy"] != v.get("real_accuracy")
        eras |= era or real_era
        rows.append([
            style, str(v["n"]),
            _pct(v.get("accuracy")) + (f" (era {_pct(v['era_accuracy'])})" if era else ""),
            _pct(v.get("real_accuracy")) + (f" (era {_pct(v['real_era_accuracy'])})" if real_era else ""),
            predicted,
        ])  # fmt: skip
    if rows:
        out += _table(
            ["asked style", "samples", "recognised", "real held-out recognised", "predicted as"], rows
        )
    if eras:
        out += [
            "(era N %: the share predicted as the asked style's era or one of its composers, `ERAS` in "
            "`musenet/data/sources/styles.py`: an era token such as `romantic` stands for the composers with too "
            "little data for a token of their own, and shares its music with those that have one.)",
            "",
        ]
    return out


def _memo(m: dict) -> list[str]:
    mm = m["memorisation"]
    inv = (
        "transposition-invariant"
        if mm["transpose_invariant"]
        else "exact pitches (not transposition-invariant)"
    )
    out = ["## 5. Memorisation", ""]
    out.append(
        f"Longest run of consecutive pitched notes (pitches and onset intervals, {inv}; drums left out) shared with "
        f"any of the {mm['train_pieces']} training pieces; runs under {mm['k']} notes are not searched (0). Real "
        f"held-out excerpts of the same length give the scale: real pieces share material too."
    )
    out.append("")
    rows = []
    for name, key in (("generated samples", "generated"), ("real held-out excerpts", "real")):
        s = mm[key]
        rows.append([name, str(s["n"]), _f(s["max"]), _f(s["mean"], 1), _pct(s["share_at_least_k"])])
    out += _table(["set", "n", "longest", "mean longest", f"share with a run >= {mm['k']}"], rows)
    worst = sorted(mm["generated"]["per_sample"], key=lambda r: -r["longest"])[:3]
    if worst and worst[0]["longest"]:
        out += ["Longest copies: " + "; ".join(f"{r['longest']} notes from *{r['source']}* ({r['style']})"
                                               for r in worst if r["longest"]), ""]  # fmt: skip
    return out


def render(m: dict) -> str:
    t = m["timings_s"]
    r = m.get("run", {})
    out = ["# musenet evaluation", "", "```", m.get("command") or "(called from Python)", "```", ""]
    out += [f"{r.get('date', '')}, musenet {r.get('musenet', '?')}, {r.get('torch_threads', '?')} torch CPU threads. "
            f"Time per stage:", ""]  # fmt: skip
    out += _table(["stage", "seconds"], [[k, _f(v, 1)] for k, v in t.items()])
    out += _likelihood(m)
    if "likelihood.png" in m.get("plots", []):
        out += ["![likelihood](likelihood.png)", ""]
    out += _samples(m) + _music(m) + _style(m) + _memo(m)
    rolls = [p for p in m.get("plots", []) if p.startswith("pianoroll-")]
    if rolls:
        out += ["## 6. Piano rolls", ""] + [f"![{p}]({p})" for p in rolls] + [""]
    out += [
        "## Caveats",
        "",
        "- Few samples per style give wide error bars: an OA or an accuracy over 4 pieces is a hint, not a result.",
        "- Bars and beats are fixed 2 s / 0.5 s windows (our events carry no meter); groove and per-bar numbers "
        "measure regularity against that grid, for real and generated alike.",
        "- Real excerpts are the first seconds of held-out pieces (consecutive excerpts for styles with few); generated samples start from scratch with the "
        "instrument set of a real piece of the style. Samples are drawn with the grammar masks of `musenet "
        "generate`, so validity and instrument precision are guaranteed by construction; recall and length are not.",
        "- The style classifier is weak by design (a linear model on a few statistics): its accuracy on real held-out "
        "pieces is the ceiling to read generated accuracy against.",
        "- Memorisation compares exact note sequences (10 ms onsets); a copy with changed timing or instruments "
        "only partly counts.",
        "",
    ]
    return "\n".join(out)
