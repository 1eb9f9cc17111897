"""`make demo`: musenet on a real MIDI file, then composing with the shipped model.

1. The codec: encodes examples/pop909_008.mid into MuseNet tokens, prints the start of the stream with its
   structural positions, decodes it back and writes out/demo/roundtrip.mid.
2. The composer (when a default model is installed): continues the example's first 10 seconds, and composes
   from scratch in seven styles and instrumentations (a pop band, a rock band and a jazz combo with drums, Chopin
   on the piano, a Schubert string quartet, Bach on the piano, an Irish fiddle tune), two candidates each, writing
   out/demo/*.mid and *.wav. A model that predates a style skips its piece.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .codec.decode import decode
from .codec.encode import encode
from .codec.midi_io import write_midi
from .codec.safe import load_midi
from .codec.vocab import Vocab
from .errors import UserError

ROOT = Path(__file__).resolve().parents[1]


def show_codec(src: Path, out_dir: Path) -> None:
    vocab = Vocab()
    vocab.check()
    print(vocab.layout().splitlines()[0])
    print(f"\n== the codec on {src.name} ==")
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
    for i in range(min(16, len(enc))):
        name = vocab.name(int(enc.ids[i]))
        print(
            f"{i:>4}  {name:<22} {p.time[i] * unit:>5.2f}s {p.chord[i]:>5} {p.part[i]:>4} {p.countdown[i]:>9}"
        )
    print("   …")
    back, repairs = decode(enc.ids, vocab)
    dest = out_dir / "roundtrip.mid"
    write_midi(back, dest)
    print(f"decoded {len(back)} notes, {back.duration:.1f} s (repairs: {dict(repairs) or 'none'}) -> {dest}")


def show_composer(src: Path, out_dir: Path) -> None:
    from . import load

    try:
        composer = load()
    except UserError as e:
        print(f"\n(no composing: {e})")
        return
    step = composer.meta.get("step")
    print(f"\n== composing with the default model ({composer.path.name}, step {step}) ==")
    jobs = [
        ("continue", dict(primer=src, prompt_seconds=None, style="pop", instruments=["piano"], seconds=20)),
        ("pop-band", dict(style="pop", instruments=["piano", "bass", "guitar", "drums"], seconds=20)),
        ("rock-band", dict(style="rock", instruments=["guitar", "bass", "drums"], seconds=20)),
        ("jazz-combo", dict(style="jazz", instruments=["piano", "bass", "trumpet", "drums"], seconds=20)),
        ("chopin", dict(style="chopin", instruments=["piano"], seconds=20)),
        ("string-quartet", dict(style="schubert", instruments=["violin", "cello"], seconds=20)),
        ("bach", dict(style="bach", instruments=["piano"], seconds=20)),
        ("irish", dict(style="irish_folk", instruments=["violin"], seconds=20)),
    ]
    known = set(composer.styles)
    skipped = [f"{name} ({kw['style']})" for name, kw in jobs if kw["style"] not in known]
    if skipped:
        print(f"  (this model predates some styles; skipping {', '.join(skipped)})")
    jobs = [(name, kw) for name, kw in jobs if kw["style"] in known]
    for name, kwargs in jobs:
        if kwargs.get("primer") is not None:
            kwargs["primer"] = load_midi(src).window(0.0, 10.0)
        t0 = time.monotonic()
        pieces = composer.generate(candidates=2, seed=1, **kwargs)
        wall = time.monotonic() - t0
        for c in pieces:
            base = out_dir / f"{name}-{c.index}"
            c.save_midi(base.with_suffix(".mid"))
            c.save_wav(base.with_suffix(".wav"))
            print(
                f"  {name}-{c.index}: {c.seconds:5.1f} s, {len(c.piece):4d} notes, {'+'.join(c.instruments)}"
                f" -> {base}.mid/.wav"
            )
        print(f"  ({wall:.1f} s to compose {len(pieces)} candidates)")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    src = Path(argv[0]) if argv else ROOT / "examples" / "pop909_008.mid"
    out_dir = ROOT / "out" / "demo"
    out_dir.mkdir(parents=True, exist_ok=True)
    show_codec(src, out_dir)
    show_composer(src, out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
