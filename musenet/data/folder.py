"""A folder of MIDI and score files as a source: style labels from sub-folders or a CSV, files read as untrusted input.

Formats: MIDI (`.mid`, `.midi`, `.kar`, `.smf`) and scores: MusicXML (`.musicxml`, `.xml`, compressed `.mxl`),
ABC (`.abc`, split into tunes like the music21 corpus's) and Humdrum kern (`.krn`). Scores go through the corpus's
converter (`corpus.convert`: our fast readers, music21 for what they decline) with the conversion cache; their
pieces are `score:` ids (`score:lieder/an_die_musik.mxl`, `score:tunes/reels.abc#3`), MIDI files' `midi:` ids.

Labels: the first sub-folder under the root (`jazz/miles/so_what.mid` is `jazz`), lower-cased with spaces and
punctuation turned into `_`; files directly in the root are `unknown`. With `--labels CSV` (rows `path,style` or
`path,style,split`, paths relative to the root or absolute, an optional header), the CSV decides, and files it does
not list are `unknown`. A `split` of `train`, `val` or `test` pins the file's pieces there (e.g. to hold a few
pieces of each small style out for evaluation); empty, the hash of the piece's identity decides as usual.

A MIDI track's instrument is chosen by its name, program and register (`data.parts`: the "Cellos" of a
sequenced symphony on the string-ensemble program become the cello, not a violin folded two octaves up).

Each file goes through `codec.safe`: the header is checked, then symusic parses it inside a pool worker that has
capped its own memory (`Limits.memory_mb`); the pool enforces `Limits.timeout_s` per file. A bad file is a drop
with the loader's one-line reason. MIDI is not cached: symusic reads a file in about a millisecond, as fast as the
cache could. A score file gets `BuildConfig.score_timeout_s` (music21, the fallback, can need tens of seconds on a
big score); one that is not a score (an `.xml` of something else, a broken `.mxl`) is a drop with its reason.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from ..codec.midi_io import ReadConfig
from ..codec.safe import Limits, check_header
from ..errors import MidiError, UserError
from .items import Converted, Drop, RawPiece, Task
from .m21notes import trim_start

MIDI_SUFFIXES = (".mid", ".midi", ".kar", ".smf")
SCORE_SUFFIXES = (".musicxml", ".xml", ".mxl", ".abc", ".krn")


def style_label(name: str) -> str:
    label = re.sub(r"[^a-z0-9_+-]+", "_", name.strip().lower()).strip("_")
    return label or "unknown"


SPLITS = ("train", "val", "test")


def read_labels(csv_path: Path, root: Path) -> dict[str, tuple[str, str | None]]:
    """rel path -> (style label, pinned split or None), from a `path,style[,split]` CSV."""
    try:
        rows = list(csv.reader(csv_path.read_text(encoding="utf-8").splitlines()))
    except OSError as e:
        raise UserError(f"cannot read labels {csv_path}: {e.strerror or e}") from None
    labels: dict[str, tuple[str, str | None]] = {}
    for k, row in enumerate(rows):
        if not row or (k == 0 and [c.strip().lower() for c in row[:2]] == ["path", "style"]):
            continue
        if len(row) < 2:
            raise UserError(f"{csv_path}:{k + 1}: expected `path,style[,split]`, got {','.join(row)!r}")
        split = row[2].strip().lower() if len(row) > 2 and row[2].strip() else None
        if split is not None and split not in SPLITS:
            raise UserError(
                f"{csv_path}:{k + 1}: split {row[2].strip()!r} is not one of {', '.join(SPLITS)} (or empty)"
            )
        p = Path(row[0].strip())
        if p.is_absolute():
            try:
                p = p.relative_to(root.resolve())
            except ValueError:
                continue  # a file outside the folder is not part of this build
        labels[p.as_posix()] = (style_label(row[1]), split)
    return labels


def list_tasks(
    root: Path, labels_csv: Path | None = None, limit: int | None = None, limits: Limits = Limits()
) -> tuple[list[Task], list[Drop]]:
    """A task per MIDI or score file (per run of tunes for a multi-tune ABC file); ABC files too big to split."""
    from .corpus import TUNES_PER_TASK, split_abc

    if not root.is_dir():
        raise UserError(f"{root} is not a folder (give `music21` or a folder of MIDI or score files)")
    labels = read_labels(labels_csv, root) if labels_csv else None
    suffixes = MIDI_SUFFIXES + SCORE_SUFFIXES
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
    if not files:
        raise UserError(f"no MIDI or score files ({', '.join(suffixes)}) under {root}")
    if limit is not None:
        files = files[:limit]
    tasks: list[Task] = []
    drops: list[Drop] = []
    for path in files:
        # a name that is not UTF-8 keeps a readable, stable identity: its odd bytes written as \xNN
        rel = (
            path.relative_to(root)
            .as_posix()
            .encode("utf-8", "surrogateescape")
            .decode("utf-8", "backslashreplace")
        )
        split = None
        if labels is not None:
            style, split = labels.get(rel, ("unknown", None))
        else:
            style = style_label(rel.split("/")[0]) if "/" in rel else "unknown"
        suffix = path.suffix.lower()
        if suffix in MIDI_SUFFIXES:
            tasks.append(Task("midi", str(path), rel, style, split=split))
            continue
        if suffix != ".abc":
            tasks.append(Task("score", str(path), rel, style, split=split))
            continue
        size = path.stat().st_size  # the parent reads an ABC file to split it into tunes: bounded first
        if size > limits.max_bytes:
            mb = limits.max_bytes / 2**20
            drops.append(
                Drop(f"score:{rel}", "too_large", f"file is {size / 2**20:.1f} MB, over {mb:.0f} MB")
            )
            continue
        n = len(split_abc(path.read_text(encoding="utf-8", errors="replace"))[1])
        for a in range(0, n, TUNES_PER_TASK):
            tasks.append(
                Task("score", str(path), rel, style, tunes=(a, min(n, a + TUNES_PER_TASK)), split=split)
            )
    if labels and not any(t.rel in labels for t in tasks):
        raise UserError(
            f"{labels_csv} labels none of the files under {root}: its paths must be relative to it"
        )
    return tasks, drops


def init_worker(limits: Limits) -> None:
    """Runs once in each pool worker: the memory cap, after the parser is imported (see `codec.safe`)."""
    import symusic  # noqa: F401

    from ..codec.safe import _cap_memory

    _cap_memory(limits.memory_mb)


def convert(task: Task, limits: Limits = Limits(), read: ReadConfig = ReadConfig()) -> Converted:
    """One file of the folder -> raw pieces (scores through `corpus.convert`), or drops with their reasons."""
    from ..codec.safe import parse
    from .parts import midi_program

    if task.source == "score":
        from .corpus import convert as convert_score

        try:
            size = Path(task.path).stat().st_size
        except OSError as e:
            return Converted(drops=[Drop(f"score:{task.rel}", "unreadable", str(e.strerror or e))])
        if size > limits.max_bytes:
            mb = limits.max_bytes / 2**20
            detail = f"file is {size / 2**20:.1f} MB, over the {mb:.0f} MB limit"
            return Converted(drops=[Drop(f"score:{task.rel}", "too_large", detail)])
        return convert_score(task)

    pid = f"midi:{task.rel}"
    out = Converted()
    try:
        size = Path(task.path).stat().st_size
        if size > limits.max_bytes:
            raise MidiError(
                f"file is {size / 2**20:.1f} MB, over the {limits.max_bytes / 2**20:.0f} MB limit"
            )
        data = Path(task.path).read_bytes()
        check_header(data, limits)
        notes = parse(data, limits, read, program_of=midi_program)
    except MidiError as e:
        out.drops.append(Drop(pid, reason_of(str(e)), str(e)))
        return out
    except OSError as e:
        out.drops.append(Drop(pid, "unreadable", str(e.strerror or e)))
        return out
    out.pieces.append(RawPiece(pid, Path(task.rel).stem, trim_start(notes)))
    out.readers["midi"] += 1
    return out


# loader messages (`codec.safe`) -> the short reasons the summary counts
REASONS = (
    ("not a MIDI file", "not_a_midi_file"),
    ("not a valid MIDI file", "invalid_midi"),
    ("RIFF-wrapped", "riff_midi"),
    ("corrupt MIDI header", "corrupt_header"),
    ("unknown MIDI format", "unknown_format"),
    ("MB limit", "too_large"),
    ("tracks, over the limit", "too_many_tracks"),
    ("notes, over the limit", "too_many_notes"),
    ("minutes, over the limit", "too_long"),
    ("memory limit", "out_of_memory"),
)


def reason_of(message: str) -> str:
    """A loader message -> a short category (`not a MIDI file (...)` -> `not_a_midi_file`)."""
    for text, reason in REASONS:
        if text in message:
            return reason
    head = re.sub(r"\d+(\.\d+)?", "", message.split(" (")[0].split(";")[0])
    return re.sub(r"[^a-z]+", "_", head.lower()).strip("_")[:40] or "midi_error"
