"""`musenet render IN.mid OUT.wav`: a MIDI file -> a normalised 16-bit WAV through a General MIDI SoundFont."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..audio import ENV_VAR, PEAK_DBFS, SAMPLE_RATE, render_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("midi", type=Path, help="the MIDI file to render (read with the safe loader)")
    parser.add_argument("wav", type=Path, help="the WAV file to write (16-bit stereo, peak at -1 dBFS)")
    parser.add_argument(
        "--soundfont",
        type=Path,
        metavar="SF2",
        help=f"SoundFont to play with (default: ${ENV_VAR}, else a system FluidR3_GM.sf2, "
        "else TimGM6mb.sf2 from pretty_midi)",
    )
    parser.add_argument(
        "--sample-rate", type=int, default=SAMPLE_RATE, metavar="HZ", help=f"default {SAMPLE_RATE}"
    )


def run(args: argparse.Namespace) -> int:
    info = render_file(args.midi, args.wav, sample_rate=args.sample_rate, soundfont=args.soundfont)
    level = "silent" if info.gain_db is None else f"peak {PEAK_DBFS:.1f} dBFS (gain {info.gain_db:+.1f} dB)"
    missing = (
        f"; programs {', '.join(map(str, info.missing))} are not in the SoundFont, played as program 0"
        if info.missing
        else ""
    )
    print(
        f"wrote {args.wav}: {info.seconds:.1f} s, {info.notes} notes, {info.sample_rate} Hz, "
        f"SoundFont {info.soundfont}, {level}{missing}"
    )
    return 0
