"""Gathers every collection of the default data into one folder, with a labels CSV made from their metadata.

    python -m musenet.data.sources --shared ../shared/datasets --out data/sources

writes `OUT/<collection>/...` (links to the shared files, files taken out of the Debian packages, MMA renders)
and `OUT/labels.csv` (`path,style,split,label`: the style, an optional pinned split, the collection's own label), ready for `musenet data build --source OUT --labels OUT/labels.csv`.
The first folder of every path names the collection, so a piece's identity (`midi:groove/drummer1/...`) says
where it came from. Labels (each mapped through `styles.style_of`):

| collection | label from |
| --- | --- |
| groove | `info.csv`'s `style` (`funk/groove1` -> funk) |
| pop909 | pop |
| piano-midi | `metadata.csv`'s composer |
| openscore-lieder, openscore-quartets | the composer folder (`Schubert,_Franz/...`) |
| freedoom | `metal` when a distorted guitar (GM 29, 30) plays with drums, else `game` |
| simutrans | a style word in the title (swing, blues, march, rock, techno, house), else `game` |
| mma | the style file's family (`mma.FAMILIES`) |
| openmsx, planetblupi, miditok-* | `data-recipes/band-labels.csv` (as in the previous default data) |

A collection whose files are missing (no `--shared`, a Debian package not installed) is skipped with a line
saying so; the build then has less data, never an error. Running it again with the same arguments does nothing
(`OUT/.prepared` records them).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
from pathlib import Path

from ...errors import UserError
from . import mma, wad
from .styles import style_of

VERSION = 2
"""Bump when what `prepare` writes changes, so a cached folder is rebuilt."""
WADS = [Path("/usr/share/games/doom") / f"{n}.wad" for n in ("freedoom1", "freedoom2", "freedm")]
SIMUTRANS = Path("/usr/share/games/simutrans/music")
OPENMSX = Path("/usr/share/games/openttd/baseset/openmsx")
PLANETBLUPI = Path("/usr/share/planetblupi/music")
SIMUTRANS_WORDS = ("swing", "blues", "march", "rock", "techno", "house")
DISTORTED_GUITARS = (29, 30)


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(src.resolve(), dst)


def shared_collections(shared: Path, out: Path) -> list[tuple[str, str, str]]:
    """Links the shared datasets' music into `out`; rows (path, raw label, split) for each file."""
    rows: list[tuple[str, str, str]] = []
    groove = shared / "groove" / "groove"
    if (groove / "info.csv").is_file():
        for r in csv.DictReader((groove / "info.csv").open(encoding="utf-8")):
            src = groove / r["midi_filename"]
            if src.is_file():
                _link(src, out / "groove" / r["midi_filename"])
                rows.append((f"groove/{r['midi_filename']}", r["style"].split("/")[0], ""))
    pop = shared / "pop909" / "POP909"
    for src in sorted(pop.glob("*/*.mid")) if pop.is_dir() else []:
        _link(src, out / "pop909" / src.name)
        rows.append((f"pop909/{src.name}", "pop", ""))
    piano = shared / "piano-midi"
    if (piano / "metadata.csv").is_file():
        for r in csv.DictReader((piano / "metadata.csv").open(encoding="utf-8")):
            src = piano / r["midi"]
            if src.is_file():
                rel = "piano-midi/" + Path(r["midi"]).relative_to("midis").as_posix()
                _link(src, out / rel)
                rows.append((rel, r["composer"], ""))
    for name in ("openscore-lieder", "openscore-quartets"):
        root = shared / name / "scores"
        for src in sorted(root.rglob("*.mxl")) if root.is_dir() else []:
            rel = f"{name}/{src.relative_to(root).as_posix()}"
            _link(src, out / rel)
            rows.append((rel, src.relative_to(root).parts[0], ""))  # the composer folder
    return rows


def freedoom(out: Path) -> list[tuple[str, str, str]]:
    import symusic

    wads = [w for w in WADS if w.is_file()]
    rows = []
    for path in wad.extract(wads, out / "freedoom"):
        score = symusic.Score(str(path))
        programs = {t.program for t in score.tracks if not t.is_drum and len(t.notes)}
        drums = any(t.is_drum and len(t.notes) for t in score.tracks)
        label = "metal" if drums and programs & set(DISTORTED_GUITARS) else "game"
        rows.append((path.relative_to(out).as_posix(), label, ""))
    return rows


def simutrans(out: Path) -> list[tuple[str, str, str]]:
    rows = []
    for src in sorted(SIMUTRANS.glob("*.mid")) if SIMUTRANS.is_dir() else []:
        shutil.copyfile(src, (out / "simutrans").joinpath(src.name))
        title = src.stem.lower()
        word = next((w for w in SIMUTRANS_WORDS if w in title), "game")
        rows.append((f"simutrans/{src.name}", word, ""))
    return rows


def band(out: Path, band_labels: Path, miditok: Path | None) -> list[tuple[str, str, str]]:
    """The previous default data's band and game songs, labelled (and a few pinned to test) by its CSV."""
    for src, name in ((OPENMSX, "openmsx"), (PLANETBLUPI, "planetblupi")):
        if src.is_dir():
            shutil.copytree(src, out / name, ignore=shutil.ignore_patterns("*.txt"))
    if miditok is not None:
        for sub in ("MIDIs_multitrack", "MIDIs_one_track"):
            if (miditok / sub).is_dir():
                shutil.copytree(miditok / sub, out / ("miditok-" + sub[6:].lower().replace("_", "-")))
    rows = []
    for r in csv.DictReader(band_labels.open(encoding="utf-8")):
        if (out / r["path"]).is_file():
            rows.append((r["path"], r["style"], r.get("split") or ""))
    return rows


def prepare(
    out: Path,
    shared: Path | None,
    band_labels: Path,
    miditok: Path | None,
    mma_renders: int,
    workers: int = 2,
) -> dict[str, int]:
    """Writes `out` (see the module docstring); returns files per collection."""
    out = Path(out).resolve()
    stamp = out / ".prepared"
    args = {"version": VERSION, "shared": str(shared), "miditok": str(miditok), "mma_renders": mma_renders}
    if stamp.is_file() and json.loads(stamp.read_text())["args"] == args:
        return json.loads(stamp.read_text())["files"]
    for old in out.iterdir() if out.is_dir() else []:
        if old.name != "mma":  # MMA's renders are kept: `mma.render` redoes only the charts that changed
            shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()
    (out / "simutrans").mkdir(parents=True)
    rows: list[tuple[str, str, str]] = []
    steps = [
        ("shared datasets", lambda: shared_collections(shared, out) if shared and shared.is_dir() else []),
        ("freedoom", lambda: freedoom(out)),
        ("simutrans", lambda: simutrans(out)),
        ("mma", lambda: _mma(out, mma_renders, workers)),
        ("band songs", lambda: band(out, band_labels, miditok)),
    ]
    for what, step in steps:
        got = step()
        print(f"prepare: {what}: {len(got)} files", file=sys.stderr)
        rows += got
    unknown = sorted({raw for _, raw, _ in rows if style_of(raw) == "unknown"})
    if unknown:
        raise UserError(
            f"{len(unknown)} labels the style table does not know ({', '.join(unknown[:8])}): "
            "add them to musenet/data/sources/styles.py GROUPS"
        )
    with (out / "labels.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "style", "split", "label"])  # `label`: the collection's own, for the record
        for path, raw, split in rows:
            w.writerow([path, style_of(raw), split, raw])
    files: dict[str, int] = {}
    for path, _, _ in rows:
        files[path.split("/")[0]] = files.get(path.split("/")[0], 0) + 1
    stamp.write_text(json.dumps({"args": args, "files": files}))
    return files


def _mma(out: Path, renders: int, workers: int) -> list[tuple[str, str, str]]:
    if shutil.which("mma") is None or not mma.LIBRARY.is_dir() or renders <= 0:
        return []
    plan = mma.plan(renders)
    charts = mma.charts_for(plan)
    for stale in (out / "mma").rglob("*") if (out / "mma").is_dir() else []:
        name = stale.relative_to(out / "mma").with_suffix("").as_posix()
        if stale.is_file() and name not in charts:
            stale.unlink()
    done = mma.render({name: text for name, (text, _) in charts.items()}, out / "mma", workers)
    family = {out / "mma" / f"{name}.mid": fam for name, (_, fam) in charts.items()}
    return [(p.relative_to(out).as_posix(), family[p], "") for p in done]
