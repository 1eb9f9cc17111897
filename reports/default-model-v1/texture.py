"""Note texture of an evaluation's samples: notes per second, median note length and the share of notes that last
at most 40 ms, per style, and how many samples are mostly such notes (the `piano` blur, MODEL_CARD's known limits).

    python reports/default-model-v1/texture.py REPORT_DIR [REPORT_DIR ...]   # folders with samples/STYLE-N.mid
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from pathlib import Path

import numpy as np

from musenet.codec.events import DRUMS
from musenet.codec.midi_io import read_midi

SHORT_S = 0.04


def texture(path: Path) -> tuple[float, float, float] | None:
    """(notes per second, median note length in s, share of notes <= SHORT_S) of a MIDI file's pitched notes."""
    notes = read_midi(path).notes  # the codec's reading, as the evaluation sees the piece
    notes = notes[notes["program"] != DRUMS]
    if not len(notes):
        return None
    length = notes["end"] - notes["start"]
    nps = len(notes) / max(float(notes["end"].max()), 1e-3)
    return nps, float(np.median(length)), float(np.mean(length <= SHORT_S))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", nargs="+", type=Path)
    args = ap.parse_args()
    for report in args.reports:
        per_style: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
        for f in sorted((report / "samples").glob("*.mid")):
            t = texture(f)
            if t is not None:
                per_style[f.stem.rsplit("-", 1)[0]].append(t)
        print(f"{report}")
        print("| style | samples | notes/s | median note | notes <= 40 ms | samples mostly <= 40 ms |")
        print("| --- | --- | --- | --- | --- | --- |")
        blurred = total = 0
        for style, rows in sorted(per_style.items()):
            nps, med, short = (statistics.median(r[i] for r in rows) for i in range(3))
            n_blur = sum(r[2] > 0.5 for r in rows)
            blurred, total = blurred + n_blur, total + len(rows)
            print(f"| {style} | {len(rows)} | {nps:.1f} | {med * 1000:.0f} ms | {short:.0%} | {n_blur} |")
        print(f"| all | {total} | | | | {blurred} |\n")


if __name__ == "__main__":
    main()
