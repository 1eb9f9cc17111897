"""MIDI -> tokens throughput: musenet's codec against miditok's MIDILike, side by side over ../shared/midi.

Both sides read each file's bytes from memory with symusic and produce tokens for every track (miditok with
`use_programs=True`, so it too keeps the instruments; 8 velocity levels on both sides). Each round times both
tokenizers over all files, alternating which goes first; the best of the rounds is reported (the machine is
shared and noisy). The last line is one JSON object with the figures and `ratio` = ours / miditok (files/s).

    .venv/bin/python benchmarks/codec.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import symusic
from miditok import MIDILike, TokenizerConfig

from musenet.codec.encode import encode
from musenet.codec.midi_io import piece_from_score, score_from_bytes
from musenet.codec.vocab import Vocab

SHARED = Path(__file__).resolve().parents[2] / "shared" / "midi"


def load_corpus() -> list[bytes]:
    out = []
    for p in sorted(SHARED.rglob("*")):
        if p.suffix.lower() not in (".mid", ".midi"):
            continue
        data = p.read_bytes()
        try:
            symusic.Score.from_midi(data)
        except Exception:
            continue  # the deliberately corrupt files
        out.append(data)
    return out


def ours(files: list[bytes]) -> int:
    vocab = Vocab()
    n = 0
    for data in files:
        n += len(encode(piece_from_score(score_from_bytes(data)), vocab).ids)
    return n


def theirs(files: list[bytes]) -> int:
    tok = MIDILike(TokenizerConfig(use_programs=True, num_velocities=8))
    n = 0
    for data in files:
        seq = tok.encode(symusic.Score.from_midi(data))
        n += sum(len(s.ids) for s in seq) if isinstance(seq, list) else len(seq.ids)
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    files = load_corpus()
    best = {"musenet": float("inf"), "miditok": float("inf")}
    tokens = {}
    for r in range(args.rounds):
        order = [("musenet", ours), ("miditok", theirs)]
        for name, fn in order if r % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            tokens[name] = fn(files)
            best[name] = min(best[name], time.perf_counter() - t0)
    for name in best:
        print(
            f"{name:8} {len(files) / best[name]:8.1f} files/s {tokens[name] / best[name]:12,.0f} tokens/s"
            f"  ({tokens[name]:,} tokens, best of {args.rounds}: {best[name]:.3f} s)"
        )
    result = {
        "files": len(files),
        "musenet_files_per_s": round(len(files) / best["musenet"], 1),
        "miditok_files_per_s": round(len(files) / best["miditok"], 1),
        "musenet_tokens_per_s": round(tokens["musenet"] / best["musenet"]),
        "miditok_tokens_per_s": round(tokens["miditok"] / best["miditok"]),
        "ratio": round(best["miditok"] / best["musenet"], 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
