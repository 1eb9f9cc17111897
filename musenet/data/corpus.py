"""The music21 corpus as a source: which files, which style each gets, and how each file becomes pieces.

The corpus ships inside the music21 wheel (~3,100 files, ~15,000 pieces). Styles come from the collection
folder, not from the composer metadata (inconsistent across formats), grouped as in `COLLECTION_STYLES`.

- Multi-tune ABC files are split into tunes before parsing (one piece each, and the 700-tune Essen files spread
  over workers in chunks of `TUNES_PER_TASK`); the josquin files hold one voice per tune and are merged into one
  piece (as music21's `Opus.mergeScores` would).
- Skipped with a counted reason: Roman-numeral analyses (`.rntxt`), Finale files (`.mus`, `.musx`: no reader, and
  each has a MusicXML twin), the `demos` and `theoryExercises` folders (test files for music21's own features).
- Speed: ABC tunes go through our own reader (`data.abc`, ~1 ms a tune instead of 40-70 ms) and the sung kern
  scores (Palestrina) through `data.kern` (~15 ms instead of ~250 ms); tests check both against music21 note for
  note. Whatever they do not handle goes to music21, with beaming turned off (`makeBeams` is two thirds of
  music21's ABC time, and beams carry no sound).
"""

from __future__ import annotations

import contextlib
import re
import warnings
from pathlib import Path

import numpy as np

from ..codec.events import empty_notes, sort_notes
from .items import Converted, Drop, RawPiece, Task
from .m21notes import DEFAULT_VELOCITY, score_notes, trim_start

TUNES_PER_TASK = 40

COLLECTION_STYLES: dict[str, str] = {
    "bach": "bach",
    "cpebach": "classical",
    "handel": "baroque",
    "corelli": "baroque",
    "palestrina": "palestrina",
    "josquin": "renaissance",
    "lusitano": "renaissance",
    "monteverdi": "monteverdi",
    "trecento": "medieval",
    "ciconia": "medieval",
    "luca": "medieval",
    "beethoven": "beethoven",
    "mozart": "mozart",
    "haydn": "haydn",
    "schumann_robert": "schumann",
    "schumann_clara": "schumann",
    "schubert": "schubert",
    "chopin": "chopin",
    "weber": "romantic",
    "verdi": "romantic",
    "beach": "romantic",
    "schoenberg": "modern",
    "webern": "modern",
    "joplin": "ragtime",
    "johnson_j_r": "hymn",  # "Lift Every Voice and Sing"
    "liliuokalani": "world",  # "Aloha 'Oe"
    "essenFolksong": "german_folk",
    "oneills1850": "irish_folk",
    "ryansMammoth": "irish_folk",
    "airdsAirs": "irish_folk",  # Scottish airs: the Irish/Scottish fiddle-tune group
    "nottingham-dataset": "irish_folk",  # British Isles reels
    "miscFolk": "american_folk",
    "leadSheet": "american_folk",
}

# files whose collection label is wrong for them
FILE_STYLES: dict[str, str] = {
    "essenFolksong/han1.abc": "chinese_folk",  # the Essen collection's Han Chinese songs
    "essenFolksong/han2.abc": "chinese_folk",
    "essenFolksong/irl.abc": "irish_folk",
    "miscFolk/northumbrianminstrelsyopus.abc": "irish_folk",
    "leadSheet/berlinAlexandersRagtime.mxl": "ragtime",
}

SKIPPED_COLLECTIONS = {
    "demos": "demo_file",
    "theoryExercises": "demo_file",
}
SCORE_SUFFIXES = (".abc", ".krn", ".mxl", ".xml", ".musicxml")
SKIPPED_SUFFIXES = {".rntxt": "analysis_not_score", ".mus": "finale_file", ".musx": "finale_file"}
MERGED_COLLECTIONS = ("josquin",)
# sung collections: declared instruments are notation software's defaults (see m21notes.score_notes)
VOCAL_COLLECTIONS = (
    "palestrina", "monteverdi", "trecento", "ciconia", "luca", "josquin", "lusitano", "essenFolksong",
)  # fmt: skip


def corpus_root() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("music21")
    if spec is None or spec.origin is None:
        from ..errors import UserError

        raise UserError("music21 is not installed: `pip install music21` (or `pip install -e '.[ml]'`)")
    return Path(spec.origin).parent / "corpus"


def collections(root: Path | None = None) -> list[str]:
    root = root or corpus_root()
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def style_of(rel: str) -> str:
    return FILE_STYLES.get(rel) or COLLECTION_STYLES.get(rel.split("/")[0], "unknown")


def split_abc(text: str) -> tuple[str, list[str]]:
    """(file header, [tune texts]): a tune starts at each `X:` line; the header is what comes before the first."""
    starts = [m.start() for m in re.finditer(r"^X:", text, flags=re.M)]
    if not starts:
        return "", [text]
    return text[: starts[0]], [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)], strict=True)]


def list_tasks(names: list[str] | None = None, limit: int | None = None) -> tuple[list[Task], list[Drop]]:
    """Tasks for the given collections (default: all), at most `limit` files per collection; skipped files."""
    root = corpus_root()
    known = collections(root)
    names = names or known
    unknown = sorted(set(names) - set(known))
    if unknown:
        from ..errors import UserError

        raise UserError(f"unknown music21 collection(s) {', '.join(unknown)}; known: {', '.join(known)}")
    tasks: list[Task] = []
    drops: list[Drop] = []
    for name in names:
        files = sorted(p for p in (root / name).rglob("*") if p.is_file())
        if limit is not None:
            files = [p for p in files if p.suffix.lower() in SCORE_SUFFIXES][:limit]
        for path in files:
            rel = path.relative_to(root).as_posix()
            suffix = path.suffix.lower()
            if name in SKIPPED_COLLECTIONS:
                drops.append(
                    Drop(f"music21:{rel}", SKIPPED_COLLECTIONS[name], "a test file for music21's features")
                )
            elif suffix in SKIPPED_SUFFIXES:
                drops.append(Drop(f"music21:{rel}", SKIPPED_SUFFIXES[suffix]))
            elif suffix not in SCORE_SUFFIXES:
                continue  # images, notes, licences: not music, not counted
            elif suffix == ".abc" and name not in MERGED_COLLECTIONS:
                n = len(split_abc(path.read_text(encoding="utf-8", errors="replace"))[1])
                for a in range(0, n, TUNES_PER_TASK):
                    tunes = (a, min(n, a + TUNES_PER_TASK))
                    tasks.append(Task("music21", str(path), rel, style_of(rel), tunes=tunes))
            else:
                tasks.append(Task("music21", str(path), rel, style_of(rel), merge=name in MERGED_COLLECTIONS))
    return tasks, drops


@contextlib.contextmanager
def _no_beams():
    from music21 import stream

    saved = stream.Stream.makeBeams
    stream.Stream.makeBeams = lambda self, *a, **k: None if k.get("inPlace") else self  # type: ignore[method-assign]
    try:
        yield
    finally:
        stream.Stream.makeBeams = saved  # type: ignore[method-assign]


def abc_piece(pid: str, text: str, stem: str) -> RawPiece | None:
    """One tune through the fast reader (`data.abc`), or None when it needs music21."""
    from .abc import read_tune
    from .m21notes import TempoMap, register_program

    try:
        title, tempos, start, end, pitch = read_tune(text)
    except Exception:  # Unsupported, or ABC the reader gets wrong: music21 gets a go
        return None
    tempo = TempoMap(tempos)
    notes = empty_notes(len(start))
    notes["start"], notes["end"], notes["pitch"] = tempo(start), tempo(end), pitch
    notes["velocity"] = DEFAULT_VELOCITY
    notes["program"] = register_program(pitch)
    return RawPiece(pid, title or stem, trim_start(sort_notes(notes)))


def xml_piece(pid: str, path: str, stem: str, vocal: bool) -> RawPiece | None:
    """A MusicXML score through the fast reader (`data.musicxml`), or None when it needs music21.

    XML that is not well-formed raises `ParseError`: music21's parser would refuse it too."""
    import xml.etree.ElementTree as ET

    from .m21notes import TempoMap
    from .musicxml import read_musicxml, xml_bytes
    from .parts import choose_program

    try:
        title, tempos, parts = read_musicxml(xml_bytes(path))
    except ET.ParseError:
        raise
    except Exception:  # Unsupported, or XML the reader cannot take: music21 gets a go
        return None
    tempo = TempoMap(tempos)
    chunks = []
    for part in parts:
        start, end, pitch, velocity = part.arrays()
        if not len(start):
            continue
        notes = empty_notes(len(start))
        notes["start"], notes["end"], notes["pitch"], notes["velocity"] = (
            tempo(start),
            tempo(end),
            pitch,
            velocity,
        )
        names = [part.name] if vocal else [part.name, part.instrument]
        notes["program"] = choose_program(names, None if vocal else part.program, pitch)
        chunks.append(notes)
    notes = sort_notes(np.concatenate(chunks)) if chunks else empty_notes()
    return RawPiece(pid, title or stem, trim_start(notes))


def kern_piece(pid: str, text: str, stem: str) -> RawPiece | None:
    """A sung kern score through the fast reader (`data.kern`), or None when it needs music21."""
    from .kern import read_kern
    from .m21notes import TempoMap, register_program

    try:
        title, tempos, parts = read_kern(text)
    except Exception:  # Unsupported, or kern the reader gets wrong: music21 gets a go
        return None
    tempo = TempoMap(tempos)
    chunks = []
    for start, end, pitch in parts:
        notes = empty_notes(len(start))
        notes["start"], notes["end"], notes["pitch"] = tempo(start), tempo(end), pitch
        notes["velocity"] = DEFAULT_VELOCITY
        notes["program"] = register_program(pitch)
        chunks.append(notes)
    notes = sort_notes(np.concatenate(chunks)) if chunks else empty_notes()
    return RawPiece(pid, title or stem, trim_start(notes))


# Humdrum instrument codes of voices (`*Itenor`); a kern file naming any other instrument goes to music21, which
# reads its instruments (our kern reader gives every spine the string of its register)
KERN_VOICES = {
    "soprn", "sopran", "mezzo", "calto", "alto", "ctenor", "tenor", "barit", "bass", "vox", "voice", "cant",
    "cantus", "quint", "sext", "bassus", "altus", "tenore", "basso", "cvox",
}  # fmt: skip


def sung_kern(text: str) -> bool:
    """Whether a kern file declares no instrument but voices (`*Ibass`, `*Icant`, ...): then our reader takes it."""
    return all(
        code.lower() in KERN_VOICES for code in re.findall(r"(?:^|\t)\*I([A-Za-z]+)", text, flags=re.M)
    )


MAX_UNZIPPED = 256 * 2**20  # the largest OpenScore quartet (460 kB) unpacks to 11 MB


def not_musicxml(path: str) -> tuple[str, str] | None:
    """(reason, detail) when a `.xml`/`.musicxml`/`.mxl` file is no MusicXML score at all, else None."""
    import io
    import xml.etree.ElementTree as ET
    import zipfile

    from .musicxml import xml_bytes

    try:
        if path.lower().endswith(".mxl"):
            with zipfile.ZipFile(path) as z:
                size = sum(i.file_size for i in z.infolist())
            if size > MAX_UNZIPPED:  # a zip bomb, or no score anyone wrote
                return "too_large", f"unpacks to {size / 2**20:.0f} MB, over {MAX_UNZIPPED / 2**20:.0f} MB"
        data = xml_bytes(path)
    except (zipfile.BadZipFile, StopIteration, KeyError) as e:
        return "corrupt_mxl", f"not a readable MusicXML archive ({type(e).__name__}: {str(e)[:120]})"
    try:  # the root element only; a score that is not well-formed further on is `xml_piece`'s to find
        _, root = next(ET.iterparse(io.BytesIO(data), events=("start",)))
    except (ET.ParseError, StopIteration) as e:
        return "invalid_xml", f"not well-formed XML ({str(e)[:120]})"
    if root.tag not in ("score-partwise", "score-timewise"):
        return "not_musicxml", f"an XML file whose root is <{root.tag[:60]}>, not a MusicXML score"
    return None


def _scores(obj) -> list:
    from music21 import stream

    if isinstance(obj, stream.Opus):
        return list(obj.scores)
    return [obj]


def _title(score, fallback: str) -> str:
    md = getattr(score, "metadata", None)
    title = (md.title if md is not None else None) or fallback
    return str(title)[:200]


def _error(e: Exception) -> str:
    return f"{type(e).__name__}: {' '.join(str(e).split())[:160]}"


def convert(task: Task) -> Converted:
    """Parses one task's score file (or tunes) into raw pieces: our fast readers first, music21 for the rest.

    A task of the music21 corpus (`music21:` ids) or a score file of a folder (`score:` ids, see `data.folder`). A
    failing tune or a file that is not a score is a drop with its reason, never an exception.
    """
    out = Converted()
    base = f"{task.source}:{task.rel}"
    vocal = task.source == "music21" and task.rel.split("/")[0] in VOCAL_COLLECTIONS
    stem = Path(task.rel).stem
    suffix = Path(task.path).suffix.lower()
    if task.source != "music21" and suffix in (".xml", ".musicxml", ".mxl"):
        reason = not_musicxml(task.path)  # a folder's .xml may be anything: say so rather than ask music21
        if reason is not None:
            out.drops.append(Drop(base, *reason))
            return out
    from music21 import converter

    with _no_beams(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # music21 warns about every overfull bar; the notes are what we keep
        if Path(task.path).suffix.lower() == ".abc":
            header, tunes = split_abc(Path(task.path).read_text(encoding="utf-8", errors="replace"))
            first, last = task.tunes or (0, len(tunes))
            voices = []
            for i in range(first, last):
                pid = base if task.merge else f"{base}#{i}"
                if not task.merge:
                    fast = abc_piece(pid, header + tunes[i], stem)
                    if fast is not None:
                        out.pieces.append(fast)
                        out.readers["abc"] += 1
                        continue
                try:
                    for score in _scores(converter.parseData(header + tunes[i], format="abc")):
                        out.readers["music21"] += 1
                        if task.merge:
                            voices.append(score_notes(score, vocal))
                        else:
                            out.pieces.append(
                                RawPiece(pid, _title(score, stem), trim_start(score_notes(score, vocal)))
                            )
                except Exception as e:  # music21 raises many types on a malformed tune
                    out.drops.append(Drop(pid, "parse_error", _error(e)))
            if task.merge and voices:
                notes = sort_notes(np.concatenate(voices))
                out.pieces.append(RawPiece(base, stem, trim_start(notes)))
            return out
        if task.path.lower().endswith((".xml", ".musicxml", ".mxl")):
            try:
                fast = xml_piece(base, task.path, stem, vocal)
            except Exception as e:  # ParseError
                out.drops.append(Drop(base, "invalid_xml", f"not well-formed XML ({str(e)[:120]})"))
                return out
            if fast is not None:
                out.pieces.append(fast)
                out.readers["musicxml"] += 1
                return out
        if suffix == ".krn":
            text = Path(task.path).read_text(encoding="utf-8", errors="replace")
            fast = kern_piece(base, text, stem) if vocal or sung_kern(text) else None
            if fast is not None:
                out.pieces.append(fast)
                out.readers["kern"] += 1
                return out
        try:
            scores = _scores(converter.parse(task.path, forceSource=True))
        except Exception as e:
            out.drops.append(Drop(base, "parse_error", _error(e)))
            return out
    out.readers["music21"] += len(scores)
    for k, score in enumerate(scores):
        pid = base if k == 0 else f"{base}#{k}"
        try:
            out.pieces.append(RawPiece(pid, _title(score, stem), trim_start(score_notes(score, vocal))))
        except Exception as e:
            out.drops.append(Drop(pid, "convert_error", _error(e)))
    return out
