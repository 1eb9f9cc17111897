"""`python -m musenet.data.sources --out data/sources [--shared ../shared/datasets]`: see `prepare`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ...errors import UserError
from .prepare import prepare


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m musenet.data.sources", description=__doc__)
    p.add_argument("--out", type=Path, required=True, help="folder to write (replaced)")
    p.add_argument("--shared", type=Path, help="the shared datasets folder (../shared/datasets)")
    p.add_argument("--miditok", type=Path, help="MidiTok's test MIDI folder (../shared/midi/MidiTok/tests)")
    p.add_argument(
        "--band-labels",
        type=Path,
        default=Path("data-recipes/band-labels.csv"),
        help="labels of the band songs",
    )
    p.add_argument("--mma-renders", type=int, default=64, help="MMA renders per genre family (0: none)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel MMA renders")
    a = p.parse_args(argv)
    try:
        if not a.band_labels.is_file():
            raise UserError(f"--band-labels {a.band_labels}: no such file")
        files = prepare(a.out, a.shared, a.band_labels, a.miditok, a.mma_renders, a.workers)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(", ".join(f"{k} {v}" for k, v in sorted(files.items())), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
