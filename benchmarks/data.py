"""Data pipeline speed: a MIDI folder build (files per second) and training-window sampling (ms per sample).

    python benchmarks/data.py [--copies 10] [--workers 2]

The folder is ../shared/midi copied `--copies` times into five style sub-folders (the copies are dropped as
duplicates after encoding, so they cost what new files would). The dataset part samples windows of 2048 tokens
with and without augmentation and packing. The music21 corpus build is timed by `musenet data build` itself
(see musenet/data/README.md).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from musenet.data.build import BuildConfig, build  # noqa: E402
from musenet.data.dataset import WindowDataset  # noqa: E402

SHARED_MIDI = ROOT.parent / "shared" / "midi"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    files = sorted(p for p in SHARED_MIDI.rglob("*") if p.suffix.lower() in (".mid", ".midi"))
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "midi"
        n = 0
        for rep in range(args.copies):
            for k, f in enumerate(files):
                d = src / f"style{k % 5}"
                d.mkdir(parents=True, exist_ok=True)
                shutil.copy(f, d / f"{rep}_{k}.mid")
                n += 1
        t0, c0 = time.monotonic(), time.process_time()
        meta = build(
            BuildConfig(source=str(src), out=Path(tmp) / "out", workers=args.workers, progress=False)
        )
        wall = time.monotonic() - t0
        print(f"MIDI folder: {n} files in {wall:.1f} s = {n / wall:.0f} files/s with {args.workers} workers")
        print(f"  kept {meta['pieces']} pieces; dropped {meta['dropped']}")
        print(f"  (parent CPU {time.process_time() - c0:.1f} s; workers' CPU is not in this number)")
        for pack in (False, True):
            for augment in (False, True):
                ds = WindowDataset(Path(tmp) / "out", "train", 2048, augment=augment, pack=pack)
                idx = np.random.default_rng(0).integers(0, len(ds), 300)
                t0 = time.monotonic()
                for k, i in enumerate(idx):
                    ds.sample(int(i), k)
                ms = (time.monotonic() - t0) / len(idx) * 1e3
                print(f"sample: pack={pack!s:<5} augment={augment!s:<5} {ms:.2f} ms ({len(ds)} windows)")


if __name__ == "__main__":
    main()
