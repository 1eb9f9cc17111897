"""The human summary of a build's meta.json: pieces and tokens per split and style, tokens per source and
instrument with the band instruments' share (`composition`), and what was dropped, why."""

from __future__ import annotations

from .composition import BAND


def summary(meta: dict) -> str:
    counts = meta["counts"]
    splits = list(counts)
    lines = [
        f"source {meta['source']}: {meta['pieces']:,} pieces, {meta['tokens']:,} tokens "
        f"(vocabulary {meta['vocab_size']} tokens, {len(meta['styles'])} styles)",
    ]
    b = meta.get("build", {})
    if "seconds" in b:
        lines.append(
            f"built in {b['seconds']:.1f} s with {b['workers']} workers; {b['cached_tasks']}/{b['tasks']} tasks from the cache"
        )
    if "merged" in b:
        lines.append("merged from " + ", ".join(b["merged"]))
    lines += ["", f"{'style':<16}" + "".join(f"{s + ' pieces':>14}{s + ' tokens':>16}" for s in splits)]
    styles = sorted({s for c in counts.values() for s in c["styles"]})
    for style in styles:
        row = f"{style:<16}"
        for s in splits:
            c = counts[s]["styles"].get(style, {"pieces": 0, "tokens": 0})
            row += f"{c['pieces']:>14,}{c['tokens']:>16,}"
        lines.append(row)
    lines.append(
        f"{'total':<16}" + "".join(f"{counts[s]['pieces']:>14,}{counts[s]['tokens']:>16,}" for s in splits)
    )
    if "composition" in meta:
        lines += composition_lines(meta["composition"])
    dropped = meta.get("dropped", {})
    lines += ["", f"dropped ({sum(dropped.values()):,}; every one is listed in dropped.jsonl):"]
    lines += [f"  {reason:<28}{n:>8,}" for reason, n in sorted(dropped.items(), key=lambda kv: -kv[1])] or [
        "  nothing"
    ]
    readers = meta.get("readers", {})
    if readers:
        lines += ["", "scores read by: " + ", ".join(f"{k} {v:,}" for k, v in readers.items())]
    folded = meta.get("folded", {})
    if folded:
        lines += ["", "pitches moved by octaves into their instrument's range (the rest keep their pitch):"]
        lines += [
            f"  {src}: {f['share']:.2%} of {f['pitched_notes']:,} pitched notes" for src, f in folded.items()
        ]
    rules = meta.get("rules", {})
    if rules:
        lines += ["", "codec rules applied (notes): " + ", ".join(f"{k}={v:,}" for k, v in rules.items())]
    return "\n".join(lines)


def composition_lines(c: dict) -> list[str]:
    """Tokens per source, note tokens per instrument, the band share (all splits together)."""
    total = sum(v["tokens"] for v in c["sources"].values()) or 1
    lines = ["", f"{'source':<24}{'pieces':>10}{'tokens':>14}{'share':>8}{'band':>8}"]
    for name, v in sorted(c["sources"].items(), key=lambda kv: -kv[1]["tokens"]):
        lines.append(
            f"{name:<24}{v['pieces']:>10,}{v['tokens']:>14,}{100 * v['tokens'] / total:>7.1f}%"
            f"{100 * v['band_share']:>7.1f}%"
        )
    notes = c["note_tokens"] or 1
    lines += ["", f"{'instrument':<24}{'note tokens':>14}{'share':>8}{'notes':>14}"]
    for name, v in sorted(c["instruments"].items(), key=lambda kv: -kv[1]["tokens"]):
        if v["tokens"]:
            lines.append(f"{name:<24}{v['tokens']:>14,}{100 * v['tokens'] / notes:>7.1f}%{v['notes']:>14,}")
    lines.append(
        f"band instruments ({', '.join(BAND)}): {100 * c['band_share']:.1f} % of {c['note_tokens']:,} note tokens"
    )
    return lines
