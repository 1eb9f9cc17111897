"""`musenet generate`, `musenet infill`, `musenet styles`, `musenet instruments`: flags -> one call to the Composer."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..errors import UserError
from ..options import add_flags, build, given
from .config import SAMPLE_FIELDS, GenerateConfig, InfillConfig

# sampling left out on the command line: the model's own defaults (its config.json, see its card)
MODEL_DEFAULT = {f"sample.{k}": "the model's" for k in SAMPLE_FIELDS}


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None, help="model folder or name (default: the shipped model)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    add_flags(parser, GenerateConfig, shown=MODEL_DEFAULT)
    parser.add_argument("--prompt", type=Path, metavar="IN.mid", help="a MIDI primer to continue")
    parser.add_argument("--prompt-seconds", type=float, help="use only the primer's last N seconds")
    add_output_arguments(parser)


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the candidates go and in what form (`generate` and `infill`)."""
    parser.add_argument("--out", type=Path, default=Path("out"), help="output folder (default ./out)")
    parser.add_argument("--no-audio", action="store_true", help="write MIDI only, no WAV")
    parser.add_argument("--soundfont", type=Path, help="a General MIDI .sf2 for the audio")
    parser.add_argument("--json", action="store_true", help="print one JSON object describing the files")


def check_output(args: argparse.Namespace) -> None:
    """The output flags' own checks, before any generating."""
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out} exists and is not a folder")
    if args.soundfont is not None and not args.soundfont.is_file():
        raise UserError(f"--soundfont {args.soundfont}: no such file")


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

    check_output(args)
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
        add_model_argument(parser)
        add_flags(parser, InfillConfig, shown=MODEL_DEFAULT)
        add_output_arguments(parser)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from .. import load
        from ..codec.safe import load_midi

        settings = given(args, InfillConfig)
        build(
            InfillConfig, settings
        )  # the checks that need no model (the span, the counts), before loading one
        check_output(args)
        piece = load_midi(args.input)
        composer = load(args.model)
        cfg = composer.infill_config(**settings.pop("sample", {}), **settings)
        t0 = time.monotonic()
        progress = _progress()
        pieces = composer.regenerate(piece, cfg, progress=progress)
        if progress is not None:
            sys.stderr.write("\r" + " " * 20 + "\r")
        elapsed = time.monotonic() - t0
        summaries = save_candidates(pieces, args.out, not args.no_audio, args.soundfont)
        if args.json:
            report = {
                "model": str(composer.path),
                "input": str(args.input),
                "span": [cfg.start, cfg.end],
                "instruments": list(cfg.instruments) if cfg.instruments else None,
                "seed": cfg.seed,
                "generation_seconds": round(elapsed, 2),
                "candidates": summaries,
            }
            print(json.dumps(report))
        else:
            redo = "+".join(cfg.instruments) if cfg.instruments else "all instruments"
            print(
                f"{len(pieces)} candidates, {cfg.start:g}-{cfg.end:g} s of {args.input.name} redone ({redo}), "
                f"{elapsed:.1f} s to generate -> {args.out}/"
            )
            for s in summaries:
                files = ", ".join(Path(f).name for f in s["files"].values())
                print(f"  {s['candidate']}: {s['seconds']:6.1f} s, {s['notes']:5d} notes  ({files})")
        return 0
