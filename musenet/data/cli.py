"""`musenet data build|info`: build labelled token shards from the music21 corpus or a folder of MIDI and score
files (MusicXML, .mxl, ABC, kern); summarise one.

musenet data build --source music21 --out data/m21 [--collections bach,palestrina]
musenet data build --source path/to/midi --out data/mine [--labels labels.csv]
musenet data merge data/m21 data/mine --out data/all
musenet data info data/m21
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..errors import UserError

HELP = "build and inspect training data"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        choices=("build", "merge", "info"),
        help="build a dataset, merge built ones (same vocabulary) into one, or summarise a built one",
    )
    parser.add_argument(
        "dirs", nargs="*", type=Path, help="info: the dataset folder; merge: two or more dataset folders"
    )
    parser.add_argument(
        "--source",
        help="build: `music21` (its bundled corpus) or a folder of MIDI, MusicXML (.mxl), ABC or kern files",
    )
    parser.add_argument("--out", type=Path, help="build, merge: output folder (e.g. data/m21)")
    parser.add_argument("--collections", help="music21: comma-separated collections (default: all)")
    parser.add_argument(
        "--labels",
        type=Path,
        help="folder: CSV of `path,style[,split]` (default: sub-folder names; a split pins the file)",
    )
    parser.add_argument(
        "--collection",
        help="build: the source recorded for every piece (default: `music21`, or each file's first folder)",
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: all cores)"
    )
    parser.add_argument("--val", type=float, default=0.02, help="share of pieces in val (default 0.02)")
    parser.add_argument("--test", type=float, default=0.02, help="share of pieces in test (default 0.02)")
    parser.add_argument("--min-notes", type=int, default=8, help="drop pieces with fewer notes (default 8)")
    parser.add_argument(
        "--limit", type=int, help="at most N files per collection (music21) or in all: quick trials"
    )
    parser.add_argument(
        "--cache", type=Path, help="conversion cache folder (default $MUSENET_HOME/cache/pieces)"
    )
    parser.add_argument("--no-cache", action="store_true", help="convert everything again; write no cache")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from .report import summary
    from .shards import read_meta

    if args.action == "info":
        if len(args.dirs) != 1:
            raise UserError("give one dataset folder: `musenet data info DIR`")
        meta = read_meta(args.dirs[0])
        if "composition" not in meta:  # a build from before meta.json stored it: count it now
            from .composition import composition

            meta["composition"] = composition(args.dirs[0], meta)
        print(summary(meta))
        return 0
    if args.action == "merge":
        if len(args.dirs) < 2 or not args.out:
            raise UserError(
                "merge needs two or more dataset folders and --out DIR: `musenet data merge A B --out C`"
            )
        from .merge import merge

        print(summary(merge(args.out, list(args.dirs))))
        print(f"\nwrote {args.out}/")
        return 0
    if args.dirs:
        raise UserError(f"build takes no folder argument (got {args.dirs[0]}); give --source and --out")
    if not args.source or not args.out:
        raise UserError("build needs --source (music21 or a folder of MIDI or score files) and --out DIR")
    if args.source != "music21" and not Path(args.source).is_dir():
        raise UserError(f"--source {args.source}: not `music21` and not a folder")
    if args.collections and args.source != "music21":
        raise UserError("--collections applies to --source music21 only")
    if args.labels and args.source == "music21":
        raise UserError("--labels applies to a folder only (music21 styles come from its collections)")
    if args.labels and not args.labels.is_file():
        raise UserError(f"--labels {args.labels}: no such file")
    from .build import BuildConfig, build

    try:
        cfg = BuildConfig(
            source=args.source,
            out=args.out,
            collections=tuple(c.strip() for c in args.collections.split(",") if c.strip())
            if args.collections
            else None,
            labels=args.labels,
            collection=args.collection,
            workers=args.workers,
            val_fraction=args.val,
            test_fraction=args.test,
            min_notes=args.min_notes,
            limit=args.limit,
            cache_dir=args.cache,
            use_cache=not args.no_cache,
            progress=not args.quiet,
        )
    except ValueError as e:
        raise UserError(str(e)) from None
    meta = build(cfg)
    print(summary(meta))
    print(f"\nwrote {args.out}/ (meta.json, {{train,val,test}}.tokens.npy, pieces.jsonl, dropped.jsonl)")
    return 0
