"""`musenet data build|info`: build labelled token shards from the music21 corpus or a folder of MIDI and score
files (MusicXML, .mxl, ABC, kern); summarise one.

musenet data build --source music21 --out data/m21 [--collections bach,palestrina]
musenet data build --source path/to/midi --out data/mine [--labels labels.csv]
musenet data merge data/m21 data/mine --out data/all
musenet data info data/m21
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from ..options import add_flags, from_args
from .build import BuildConfig

NAMES = {
    "val_fraction": "--val",
    "test_fraction": "--test",
    "cache_dir": "--cache",
    "use_cache": "--no-cache",
    "progress": "--quiet",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        choices=("build", "merge", "info"),
        help="build a dataset, merge built ones (same vocabulary) into one, or summarise a built one",
    )
    parser.add_argument(
        "dirs", nargs="*", type=Path, help="info: the dataset folder; merge: two or more dataset folders"
    )
    add_flags(parser, BuildConfig, NAMES, require=False)  # --out is also merge's


def run(args: argparse.Namespace) -> int:
    from .report import summary
    from .shards import read_meta

    out = getattr(args, "out", None)
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
        if len(args.dirs) < 2 or not out:
            raise UserError(
                "merge needs two or more dataset folders and --out DIR: `musenet data merge A B --out C`"
            )
        from .merge import merge

        print(summary(merge(out, list(args.dirs))))
        print(f"\nwrote {out}/")
        return 0
    if args.dirs:
        raise UserError(f"build takes no folder argument (got {args.dirs[0]}); give --source and --out")
    if not getattr(args, "source", None) or not out:
        raise UserError("build needs --source (music21 or a folder of MIDI or score files) and --out DIR")
    from .build import build

    cfg = from_args(BuildConfig, args)
    meta = build(cfg)
    print(summary(meta))
    print(f"\nwrote {cfg.out}/ (meta.json, {{train,val,test}}.tokens.npy, pieces.jsonl, dropped.jsonl)")
    return 0
