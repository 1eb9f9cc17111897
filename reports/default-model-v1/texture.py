"""Note texture of an evaluation's samples: notes per second, median note length and the share of notes that last
at most 40 ms, per style, how many samples are mostly such notes (the `piano` blur, MODEL_CARD's known limits), and
how many end in a smear: their last 3+ onsets (any instrument, drums too) under 50 ms apart (what the grammar's
masked waits left a model that wanted to wait out the final beat; `codec.grammar`, `land_waits`).

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
SMEAR_GAP_S, SMEAR_ONSETS = 0.05, 3


def smeared(notes: np.ndarray) -> bool:
    """Whether the piece's last SMEAR_ONSETS onsets or more follow each other under SMEAR_GAP_S apart."""
    onsets = np.unique(np.round(notes["start"], 3))
    gaps = np.diff(onsets)[::-1]
    run = int(np.argmin(gaps < SMEAR_GAP_S)) if (gaps >= SMEAR_GAP_S).any() else len(gaps)
    return run + 1 >= SMEAR_ONSETS


def texture(path: Path) -> tuple[float, float, float, bool] | None:
    """(notes per second, median note length in s, share of notes <= SHORT_S) of a MIDI file's pitched notes, and
    whether it ends in a smear (all notes)."""
    everything = read_midi(path).notes  # the codec's reading, as the evaluation sees the piece
    notes = everything[everything["program"] != DRUMS]
    if not len(notes):
        return None
    length = notes["end"] - notes["start"]
    nps = len(notes) / max(float(notes["end"].max()), 1e-3)
    return nps, float(np.median(length)), float(np.mean(length <= SHORT_S)), smeared(everything)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", nargs="+", type=Path)
    args = ap.parse_args()
    for report in args.reports:
        per_style: dict[str, list[tuple[float, float, float, bool]]] = defaultdict(list)
        for f in sorted((report / "samples").glob("*.mid")):
            t = texture(f)
            if t is not None:
                per_style[f.stem.rsplit("-", 1)[0]].append(t)
        print(f"{report}")
        print(
            "| style | samples | notes/s | median note | notes <= 40 ms | samples mostly <= 40 ms | smeared endings |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- |")
        blurred = total = smears = 0
        for style, rows in sorted(per_style.items()):
            nps, med, short = (statistics.median(r[i] for r in rows) for i in range(3))
            n_blur, n_smear = sum(r[2] > 0.5 for r in rows), sum(r[3] for r in rows)
            blurred, total, smears = blurred + n_blur, total + len(rows), smears + n_smear
            print(
                f"| {style} | {len(rows)} | {nps:.1f} | {med * 1000:.0f} ms | {short:.0%} | {n_blur} | {n_smear} |"
            )
        print(f"| all | {total} | | | | {blurred} | {smears} |\n")


if __name__ == "__main__":
    main()
