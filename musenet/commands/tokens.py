"""`musenet tokens IN.mid`: MIDI -> MuseNet tokens (names, or JSON with ids and positions), and back."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..codec.decode import decode
from ..codec.encode import encode
from ..codec.midi_io import write_midi
from ..codec.positions import FIELDS
from ..codec.safe import load_midi
from ..codec.vocab import Vocab
from ..errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("midi", type=Path, help="the MIDI file to encode")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object: ids, names, positions, counts"
    )
    parser.add_argument(
        "--style", help="style token for the prefix (default: the vocabulary's first, 'unknown')"
    )
    parser.add_argument(
        "--roundtrip", type=Path, metavar="OUT.mid", help="also write decode(encode(IN)) as MIDI"
    )


def run(args: argparse.Namespace) -> int:
    vocab = Vocab()
    if args.style is not None and args.style not in vocab.config.styles:
        raise UserError(f"unknown style {args.style!r}; see `musenet vocab` for the styles")
    if args.roundtrip is not None and args.roundtrip.is_dir():
        raise UserError(f"--roundtrip {args.roundtrip} is a folder: give the MIDI file to write")
    if args.roundtrip is not None and not args.roundtrip.parent.is_dir():
        raise UserError(f"cannot write {args.roundtrip}: folder {args.roundtrip.parent} does not exist")
    piece = load_midi(args.midi)
    enc = encode(piece, vocab, style=args.style)
    unit = vocab.config.time_unit_ms / 1000
    if args.json:
        out = {
            "file": str(args.midi),
            "notes": len(piece),
            "duration_s": round(enc.duration * unit, 3),
            "ids": enc.ids.tolist(),
            "names": [vocab.name(t) for t in enc.ids],
            **{f: getattr(enc.positions, f).tolist() for f in FIELDS},
            "counts": dict(enc.counts),
        }
        json.dump(out, sys.stdout)
        sys.stdout.write("\n")
    else:
        names = vocab.names
        sys.stdout.write("".join(names[t] + "\n" for t in enc.ids))
    rules = ", ".join(f"{k}={v}" for k, v in sorted(enc.counts.items())) or "none"
    sys.stderr.write(
        f"{args.midi.name}: {len(piece)} notes, {len(enc)} tokens, {enc.duration * unit:.1f} s; rules applied: {rules}\n"
    )
    if args.roundtrip is not None:
        back, _ = decode(enc.ids, vocab)
        write_midi(back, args.roundtrip)
        sys.stderr.write(f"wrote {args.roundtrip} ({len(back)} notes)\n")
    return 0
