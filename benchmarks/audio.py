"""Render speed: seconds of audio per wall-clock second, for two 4-minute files of ../shared/midi.

POP909_022 is solo piano (251 s, 1,535 notes); Funkytown is a full band with drums (238 s, 4,860 notes). Each
round times what `musenet render` does after reading the MIDI: load the SoundFont, synthesize at 44.1 kHz,
normalise, write the 16-bit WAV (to a temp folder). The best of the rounds is reported (the machine is shared).
SoundFonts: the bundled TimGM6mb.sf2, plus the system FluidR3_GM.sf2 if installed, plus any given with
--soundfont. The last line is one JSON object with the figures.

    .venv/bin/python benchmarks/audio.py [--rounds 3] [--soundfont FluidR3_GM.sf2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from musenet.audio import (
    SAMPLE_RATE,
    SYSTEM_SOUNDFONTS,
    SoundFont,
    bundled_soundfont,
    normalise,
    save_wav,
    synthesize,
)
from musenet.codec.midi_io import read_midi

SHARED = Path(__file__).resolve().parents[2] / "shared" / "midi" / "MidiTok" / "tests"
FILES = [SHARED / "MIDIs_one_track" / "POP909_022.mid", SHARED / "MIDIs_multitrack" / "Funkytown.mid"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--soundfont", type=Path, action="append", default=[])
    args = ap.parse_args()

    fonts = [SoundFont(bundled_soundfont(), "pretty_midi")]
    fonts += [SoundFont(p, "system") for p in SYSTEM_SOUNDFONTS[:2] if p.is_file()]
    fonts += [SoundFont(p, "--soundfont") for p in args.soundfont]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in FILES:
            piece = read_midi(path)
            for sf in fonts:
                best = float("inf")
                for _ in range(args.rounds):
                    t = time.perf_counter()
                    audio, _ = normalise(synthesize(piece, SAMPLE_RATE, sf)[0])
                    save_wav(audio, Path(tmp) / "out.wav", SAMPLE_RATE)
                    best = min(best, time.perf_counter() - t)
                seconds = len(audio) / SAMPLE_RATE
                row = {
                    "file": path.name,
                    "soundfont": sf.path.name,
                    "notes": len(piece),
                    "audio_s": round(seconds, 1),
                    "wall_s": round(best, 3),
                    "x_realtime": round(seconds / best, 1),
                }
                results.append(row)
                print(
                    f"{path.name:<16} {sf.path.name:<16} {len(piece):>5} notes  {seconds:6.1f} s of audio "
                    f"in {best:5.2f} s  = {seconds / best:6.1f} x real time"
                )
    print(json.dumps({"sample_rate": SAMPLE_RATE, "rounds": args.rounds, "results": results}))


if __name__ == "__main__":
    main()
