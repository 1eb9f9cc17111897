"""`make demo`: the codec on a real MIDI file (until a trained model ships, this is what musenet can show).

Encodes examples/pop909_008.mid into MuseNet tokens, prints the start of the stream with its structural
positions, decodes it back and writes out/demo/roundtrip.mid.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .codec.decode import decode
from .codec.encode import encode
from .codec.midi_io import write_midi
from .codec.safe import load_midi
from .codec.vocab import Vocab

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    src = Path(argv[0]) if argv else ROOT / "examples" / "pop909_008.mid"
    out_dir = ROOT / "out" / "demo"
    out_dir.mkdir(parents=True, exist_ok=True)
    vocab = Vocab()
    vocab.check()
    print(vocab.layout().splitlines()[0])
    print(f"\n== {src.name} ==")
    piece = load_midi(src)
    enc = encode(piece, vocab, style="pop")
    unit = vocab.config.time_unit_ms / 1000
    print(
        f"{len(piece)} notes, {piece.duration:.1f} s -> {len(enc)} tokens ({len(enc) / max(len(piece), 1):.2f} per note)"
    )
    rules = ", ".join(f"{k} {v}" for k, v in sorted(enc.counts.items())) or "none"
    print(f"mess rules applied: {rules}\n")
    p = enc.positions
    print(f"{'#':>4}  {'token':<22} {'time':>6} {'chord':>5} {'part':>4} {'countdown':>9}")
    for i in range(min(24, len(enc))):
        print(
            f"{i:>4}  {vocab.name(int(enc.ids[i])):<22} {p.time[i] * unit:>5.2f}s {p.chord[i]:>5} {p.part[i]:>4}"
            f" {p.countdown[i]:>9}"
        )
    print("   …")
    back, repairs = decode(enc.ids, vocab)
    dest = out_dir / "roundtrip.mid"
    write_midi(back, dest)
    print(
        f"\ndecoded {len(back)} notes, {back.duration:.1f} s (repairs: {dict(repairs) or 'none'}) -> {dest}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
