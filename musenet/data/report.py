"""The human summary of a build's meta.json: pieces and tokens per split and style, and what was dropped, why."""

from __future__ import annotations


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
