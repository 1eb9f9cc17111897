"""`musenet generate`, `musenet infill`, `musenet styles`, `musenet instruments`: flags -> one call to the Composer."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..errors import UserError
from ..options import add_flags, given
from .config import GenerateConfig

# sampling left out on the command line: the model's own defaults (its config.json, see its card)
MODEL_DEFAULT = {f"sample.{k}": "the model's" for k in ("temperature", "top_k", "top_p")}


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None, help="model folder or name (default: the shipped model)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    add_flags(parser, GenerateConfig, shown=MODEL_DEFAULT)
    parser.add_argument("--prompt", type=Path, metavar="IN.mid", help="a MIDI primer to continue")
    parser.add_argument("--prompt-seconds", type=float, help="use only the primer's last N seconds")
    parser.add_argument("--out", type=Path, default=Path("out"), help="output folder (default ./out)")
    parser.add_argument("--no-audio", action="store_true", help="write MIDI only, no WAV")
    parser.add_argument("--soundfont", type=Path, help="a General MIDI .sf2 for the audio")
    parser.add_argument("--json", action="store_true", help="print one JSON object describing the files")


def _progress():
    if not sys.stderr.isatty():
        return None
    state = {"last": -1}

    def show(frac: float) -> None:
        pct = int(max(0.0, min(1.0, frac)) * 100)
        if pct != state["last"]:
            state["last"] = pct
            sys.stderr.write(f"\rgenerating… {pct:3d}%")
            sys.stderr.flush()

    return show


def save_candidates(pieces, out: Path, audio: bool, soundfont: Path | None) -> list[dict]:
    """candidate-N.mid (+ .wav) for each candidate in `out`; their summaries with the files. All or nothing."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    summaries = []
    try:
        for c in pieces:
            files = {"midi": str(c.save_midi(out / f"candidate-{c.index}.mid"))}
            written.append(Path(files["midi"]))
            if audio:
                files["wav"] = str(c.save_wav(out / f"candidate-{c.index}.wav", soundfont=soundfont))
                written.append(Path(files["wav"]))
            summaries.append({**c.summary(), "files": files})
    except BaseException:
        for p in written:  # no half-finished set of files
            p.unlink(missing_ok=True)
        raise
    return summaries


def run(args: argparse.Namespace) -> int:
    from .. import load

    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out} exists and is not a folder")
    if args.soundfont is not None and not args.soundfont.is_file():
        raise UserError(f"--soundfont {args.soundfont}: no such file")
    composer = load(args.model)
    settings = given(args, GenerateConfig)
    cfg = composer.config(**settings.pop("sample", {}), **settings)
    t0 = time.monotonic()
    progress = _progress()
    pieces = composer.compose(cfg, primer=args.prompt, prompt_seconds=args.prompt_seconds, progress=progress)
    if progress is not None:
        sys.stderr.write("\r" + " " * 20 + "\r")
    elapsed = time.monotonic() - t0
    summaries = save_candidates(pieces, args.out, not args.no_audio, args.soundfont)
    if args.json:
        out = {
            "model": str(composer.path),
            "style": cfg.style or composer.styles[0],
            "seed": cfg.seed,
            "seconds_requested": cfg.seconds,
            "generation_seconds": round(elapsed, 2),
            "candidates": summaries,
        }
        print(json.dumps(out))
    else:
        style = cfg.style or composer.styles[0]
        print(f"{len(pieces)} candidates, style {style}, {elapsed:.1f} s to generate -> {args.out}/")
        for s in summaries:
            files = ", ".join(Path(f).name for f in s["files"].values())
            print(
                f"  {s['candidate']}: {s['seconds']:6.1f} s, {s['notes']:5d} notes, {'+'.join(s['instruments']) or '-'}  ({files})"
            )
    return 0


# ---- `musenet styles` and `musenet instruments` ------------------------------------------------------------------


class Styles:
    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        add_model_argument(parser)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from .. import load

        print("\n".join(load(args.model).styles))
        return 0


class Instruments:
    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        add_model_argument(parser)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from .. import load
        from ..codec.vocab import pitch_name

        vocab = load(args.model).vocab
        for inst in vocab.config.instruments:
            print(f"{inst.name:<10} {pitch_name(inst.low)}..{pitch_name(inst.high)}")
        return 0


# ---- `musenet infill` ----------------------------------------------------------------------------------------------


class Infill:
    """`musenet infill IN.mid --start S --end E`: flags -> one `Composer.infill` call -> candidate-N.mid + .wav."""

    HELP = "regenerate a span of a MIDI file (some or all instruments), keeping the rest note for note"

    @staticmethod
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
        parser.add_argument(
            "--candidates", type=int, default=4, help="how many versions to sample (default 4)"
        )
        parser.add_argument(
            "--rerank",
            type=int,
            default=1,
            metavar="N",
            help="sample N per candidate, keep the critic's best",
        )
        parser.add_argument("--temperature", type=float, help="sampling temperature (default: the model's)")
        parser.add_argument("--top-k", type=int, help="sample from the k most likely tokens (0 = all)")
        parser.add_argument("--top-p", type=float, help="nucleus sampling mass (default: the model's)")
        parser.add_argument(
            "--seed", type=int, default=0, help="same seed, model and device: identical files"
        )
        parser.add_argument("--out", type=Path, default=Path("out"), help="output folder (default ./out)")
        parser.add_argument("--no-audio", action="store_true", help="write MIDI only, no WAV")
        parser.add_argument("--soundfont", type=Path, help="a General MIDI .sf2 for the audio")
        parser.add_argument("--json", action="store_true", help="print one JSON object describing the files")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from .. import load
        from ..codec.safe import load_midi

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
