"""`merge(out, sources)`: built datasets with one vocabulary -> one dataset, split by split.

    musenet data merge data/m21 data/band --out data/all

Each split of the result is the sources' splits one after another: tokens and times concatenated, index rows with
their offsets shifted and their piece rows renumbered, `pieces.jsonl` and `dropped.jsonl` concatenated (each row
keeps its `source`, the collection it came from, derived from its identity for builds older than that). A piece
keeps the split its own build gave it, so a piece held out for testing stays out. The sources must share the
vocabulary config (same instruments, styles and time grid: every id means the same thing) and no piece identity;
anything else is a one-line error before anything is written.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import UserError
from . import shards
from .build import folded_share
from .composition import composition, source_of


def _lines(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def merge(out: Path, sources: list[Path]) -> dict:
    """Writes the merged dataset into `out`; returns its meta.json."""
    if len(sources) < 2:
        raise UserError("merge needs at least two built datasets")
    if any(Path(out).resolve() == Path(s).resolve() for s in sources):
        raise UserError(f"--out {out} is one of the sources; merge into a new folder")
    metas = [shards.read_meta(s) for s in sources]
    vocab = metas[0]["vocab"]
    for src, meta in zip(sources[1:], metas[1:], strict=True):
        if meta["vocab"] != vocab:
            raise UserError(
                f"{src} has another vocabulary than {sources[0]} (instruments, styles or time grid differ); "
                "build both with the same styles to merge them"
            )
    rows: list[dict] = []
    row_base: list[int] = []
    seen: dict[str, Path] = {}
    for src in sources:
        row_base.append(len(rows))
        for r in _lines(Path(src) / "pieces.jsonl"):
            if r["id"] in seen:
                raise UserError(
                    f"piece {r['id']} is in both {seen[r['id']]} and {src}; merge distinct datasets"
                )
            seen[r["id"]] = src
            rows.append({**r, "source": r.get("source") or source_of(r["id"])})
    drops = [d for src in sources for d in _lines(Path(src) / "dropped.jsonl")]

    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "meta.json").unlink(
        missing_ok=True
    )  # until the new one is written, the folder is no dataset
    styles = list(metas[0]["styles"])
    counts: dict[str, dict] = {}
    for split in shards.SPLITS:
        parts = [shards.open_split(s, split) for s in sources]
        base = np.cumsum([0] + [len(t) for t, _, _ in parts[:-1]])
        tokens = np.concatenate([np.asarray(t) for t, _, _ in parts])
        time_ = np.concatenate([np.asarray(c) for _, c, _ in parts])
        index = np.concatenate([i.copy() for _, _, i in parts])
        k = 0
        for (_, _, i), off, rb in zip(parts, base, row_base, strict=True):
            index["offset"][k : k + len(i)] += off
            index["piece"][k : k + len(i)] += rb
            k += len(i)
        shards.write_split(Path(out), split, tokens, time_, index)
        by_style: Counter = Counter()
        tok_style: Counter = Counter()
        for row in index:
            by_style[styles[row["style"]]] += 1
            tok_style[styles[row["style"]]] += int(row["length"])
        counts[split] = {
            "pieces": len(index),
            "tokens": int(index["length"].sum()),
            "styles": {s: {"pieces": by_style[s], "tokens": tok_style[s]} for s in sorted(by_style)},
        }
    shards.write_lines(Path(out) / "pieces.jsonl", rows)
    shards.write_lines(Path(out) / "dropped.jsonl", drops)
    total: dict[str, Counter] = {"dropped": Counter(), "rules": Counter(), "readers": Counter()}
    for meta in metas:
        for key, counter in total.items():
            counter.update(meta.get(key, {}))
    folded: dict[str, Counter] = {}
    for m in metas:
        for src, entry in m.get("folded", {}).items():
            folded.setdefault(src, Counter()).update({k: entry[k] for k in ("pitched_notes", "folded")})
    meta = {
        "source": " + ".join(str(m["source"]) for m in metas),
        "collections": None,
        "vocab": vocab,
        "vocab_size": metas[0]["vocab_size"],
        "styles": styles,
        "splits": {"merged": [m["splits"] for m in metas]},
        "sources": [
            {"dir": str(s), "source": m["source"], "pieces": m["pieces"], "build": m["build"]}
            for s, m in zip(sources, metas, strict=True)
        ],
        "counts": counts,
        "pieces": sum(c["pieces"] for c in counts.values()),
        "tokens": sum(c["tokens"] for c in counts.values()),
        **{key: dict(sorted(counter.items())) for key, counter in total.items()},
        "folded": {src: folded_share(c["pitched_notes"], c["folded"]) for src, c in folded.items()},
        "build": {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "merged": [str(s) for s in sources],
        },
    }
    meta["composition"] = composition(out, meta)
    shards.write_meta(Path(out), meta)
    return meta
