"""`musenet infill IN.mid --start S --end E`: flags -> one `Composer.infill` call -> candidate-N.mid + .wav."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..errors import UserError
from .cli import _progress, add_model_argument, save_candidates

HELP = "regenerate a span of a MIDI file (some or all instruments), keeping the rest note for note"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, metavar="IN.mid", help="the piece to change")
    parser.add_argument("--start", type=float, required=True, help="the span's start, in seconds")
    parser.add_argument("--end", type=float, required=True, help="the span's end (exclusive), in seconds")
    parser.add_argument(
        "--instruments",
        default=None,
        help="comma-separated instruments to redo in the span (default: all of the piece's)",
    )
    add_model_argument(parser)
    parser.add_argument("--style", default=None, help="the style to tell the model (default: none given)")
    parser.add_argument("--candidates", type=int, default=4, help="how many versions to sample (default 4)")
    parser.add_argument(
        "--rerank", type=int, default=1, metavar="N", help="sample N per candidate, keep the critic's best"
    )
    parser.add_argument("--temperature", type=float, help="sampling temperature (default: the model's)")
    parser.add_argument("--top-k", type=int, help="sample from the k most likely tokens (0 = all)")
    parser.add_argument("--top-p", type=float, help="nucleus sampling mass (default: the model's)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, model and device: identical files")
    parser.add_argument("--out", type=Path, default=Path("out"), help="output folder (default ./out)")
    parser.add_argument("--no-audio", action="store_true", help="write MIDI only, no WAV")
    parser.add_argument("--soundfont", type=Path, help="a General MIDI .sf2 for the audio")
    parser.add_argument("--json", action="store_true", help="print one JSON object describing the files")


def run(args: argparse.Namespace) -> int:
    from ..codec.safe import load_midi
    from .composer import load

    if not args.end > args.start:
        raise UserError(f"--end ({args.end:g}) must be greater than --start ({args.start:g})")
    instruments = None
    if args.instruments is not None:
        instruments = tuple(s.strip() for s in args.instruments.split(",") if s.strip())
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out} exists and is not a folder")
    if args.soundfont is not None and not args.soundfont.is_file():
        raise UserError(f"--soundfont {args.soundfont}: no such file")
    piece = load_midi(args.input)
    composer = load(args.model)
    t0 = time.monotonic()
    progress = _progress()
    pieces = composer.infill(
        piece,
        start=args.start,
        end=args.end,
        instruments=instruments,
        candidates=args.candidates,
        style=args.style,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        progress=progress,
        rerank=args.rerank,
    )
    if progress is not None:
        sys.stderr.write("\r" + " " * 20 + "\r")
    elapsed = time.monotonic() - t0
    summaries = save_candidates(pieces, args.out, not args.no_audio, args.soundfont)
    if args.json:
        report = {
            "model": str(composer.path),
            "input": str(args.input),
            "span": [args.start, args.end],
            "instruments": list(instruments) if instruments else None,
            "seed": args.seed,
            "generation_seconds": round(elapsed, 2),
            "candidates": summaries,
        }
        print(json.dumps(report))
    else:
        redo = "+".join(instruments) if instruments else "all instruments"
        print(
            f"{len(pieces)} candidates, {args.start:g}-{args.end:g} s of {args.input.name} redone ({redo}), "
            f"{elapsed:.1f} s to generate -> {args.out}/"
        )
        for s in summaries:
            files = ", ".join(Path(f).name for f in s["files"].values())
            print(f"  {s['candidate']}: {s['seconds']:6.1f} s, {s['notes']:5d} notes  ({files})")
    return 0
