"""Data build speed per format: files per second of a build's worker (read + convert + encode), against music21.

    python -u benchmarks/data_formats.py [--files 40] [--rounds 1] [--shared ../shared]

For each format, the same files go through what one build worker does for a file of a `--source FOLDER` build
(`folder.convert`: our readers, music21 only for what they decline; then the codec's `encode`), and through
music21's own parser (`music21.converter.parse`, forceSource: the parse alone, before any note is extracted, so
the peer's figure is a lower bound of what a music21-based build would cost). One process, one core, no cache.

Files: MusicXML, ABC and kern from music21's corpus (Bach chorales and Beethoven quartet movements, Essen and
O'Neill's ABC, Palestrina's kern masses); MIDI from ../shared/midi (files under 150 kB: music21 needs minutes for a long performance), OpenScore .mxl from ../shared/datasets when
present (skipped otherwise).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from musenet.codec.encode import encode  # noqa: E402
from musenet.codec.events import Piece  # noqa: E402
from musenet.codec.vocab import Vocab  # noqa: E402
from musenet.data import corpus, folder  # noqa: E402
from musenet.data.items import Task  # noqa: E402


def file_sets(n: int, shared: Path) -> dict[str, list[Path]]:
    m21 = corpus.corpus_root()
    sets = {
        "MusicXML (.mxl, music21 corpus)": sorted((m21 / "bach").glob("*.mxl"))[: n - 4]
        + sorted((m21 / "beethoven").rglob("movement1.mxl"))[:4],
        "ABC (music21 corpus)": [
            m21 / "essenFolksong" / "altdeu10.abc",
            m21 / "oneills1850" / "0001-0050.abc",
        ],
        "kern (music21 corpus)": sorted((m21 / "palestrina").glob("*.krn"))[:n],
    }
    midi = sorted(
        p
        for p in (shared / "midi").rglob("*")
        if p.suffix.lower() in (".mid", ".midi")
        and p.stat().st_size < 150_000  # music21 takes minutes on more
    )
    if midi:
        sets["MIDI (../shared/midi)"] = midi[:: max(1, len(midi) // n)][:n]
    openscore = sorted((shared / "datasets").glob("openscore-*/**/*.mxl"))
    if openscore:
        sets["MusicXML (.mxl, OpenScore)"] = openscore[:: max(1, len(openscore) // 8)][:8]
    return sets


def ours(path: Path, vocab: Vocab) -> tuple[int, int]:
    """(pieces, notes) through a build worker's steps."""
    source = "midi" if path.suffix.lower() in folder.MIDI_SUFFIXES else "score"
    tunes = None
    if path.suffix.lower() == ".abc":
        tunes = (0, len(corpus.split_abc(path.read_text(encoding="utf-8", errors="replace"))[1]))
    conv = folder.convert(Task(source, str(path), path.name, "unknown", tunes=tunes))
    for raw in conv.pieces:
        encode(Piece(raw.notes), vocab)
    return len(conv.pieces), sum(len(p.notes) for p in conv.pieces)


def music21_parse(path: Path) -> bool:
    from music21 import converter

    try:
        converter.parse(str(path), forceSource=True)
    except Exception:  # a broken file: music21 refuses it (ours drops it, with its reason)
        return False
    return True


def timed(fn, files: list[Path], rounds: int) -> tuple[float, list]:
    best, out = float("inf"), []
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = [fn(f) for f in files]
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=40, help="files per format (ABC: two files of many tunes)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared", help="the shared data folder")
    args = ap.parse_args()
    warnings.simplefilter("ignore")  # music21 warns about every overfull bar
    vocab = Vocab()
    import music21  # noqa: F401  (imported before timing)

    results = {}
    for name, files in file_sets(args.files, args.shared).items():
        t_ours, counts = timed(lambda f: ours(f, vocab), files, args.rounds)
        t_m21, read = timed(music21_parse, files, args.rounds)
        pieces = sum(c[0] for c in counts)
        notes = sum(c[1] for c in counts)
        n = len(files)
        print(
            f"{name:<34} {n:>3} files ({pieces:,} pieces, {notes:,} notes): musenet {n / t_ours:7.1f} files/s "
            f"({t_ours:6.2f} s), music21 parse {n / t_m21:6.2f} files/s ({t_m21:6.1f} s, {n - sum(read)} refused), "
            f"x{t_m21 / t_ours:.1f}"
        )
        results[name] = {
            "files": n,
            "pieces": pieces,
            "musenet_files_per_s": round(n / t_ours, 2),
            "music21_files_per_s": round(n / t_m21, 3),
            "ratio": round(t_m21 / t_ours, 1),
        }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
