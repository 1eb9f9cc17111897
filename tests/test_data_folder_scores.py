"""A folder of score files as a build source: MusicXML, .mxl, ABC and kern beside MIDI, bad files as drops.

The files are written by the tests or ship in music21's corpus; OpenScore's .mxl in ../shared/datasets are extra
coverage when present.
"""

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED  # ../shared, or $MUSENET_SHARED

from musenet.codec.events import Piece, make_notes
from musenet.codec.midi_io import write_midi
from musenet.data.build import BuildConfig, build
from musenet.data.shards import open_split

music21 = pytest.importorskip("music21")

DATASETS = SHARED / "datasets"

XML = """<?xml version="1.0"?>
<score-partwise>
 <work><work-title>Two bars</work-title></work>
 <part-list><score-part id="P1"><part-name>Viola</part-name></score-part></part-list>
 <part id="P1">
  <measure number="1"><attributes><divisions>1</divisions></attributes>
   {notes}
  </measure>
 </part>
</score-partwise>"""
NOTE = "<note><pitch><step>{}</step><octave>3</octave></pitch><duration>1</duration></note>"
ABC = """X:1
T:First
M:4/4
L:1/8
K:D
DEFG ABcd|efge dBAF|DEFG ABcd|e2d2 d4|]

X:2
T:Second
M:3/4
L:1/4
K:G
GAB|cde|dBG|A3|]
"""
KERN = """**kern\t**kern
*Ibass\t*Itenor
*M4/4\t*M4/4
4C\t4c
4D\t4d
4E\t4e
4F\t4f
=\t=
4G\t4g
4A\t4a
4B\t4b
4c\t4cc
*-\t*-
"""


def write_mxl(path: Path, xml: str) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(
            "META-INF/container.xml",
            '<container><rootfiles><rootfile full-path="score.xml"/></rootfiles></container>',
        )
        z.writestr("score.xml", xml)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("scores")
    for d in ("xml", "abc", "kern", "midi", "bad"):
        (root / d).mkdir()
    viola = XML.format(notes="".join(NOTE.format(s) for s in "CDEFGABC"))
    (root / "xml" / "viola.musicxml").write_text(viola)
    write_mxl(root / "xml" / "viola.mxl", viola.replace("<octave>3", "<octave>4"))
    (root / "abc" / "tunes.abc").write_text(ABC)
    (root / "kern" / "sung.krn").write_text(KERN)
    write_midi(
        Piece(make_notes(np.arange(10) * 0.5, np.arange(10) * 0.5 + 0.4, 60 + np.arange(10), 80, 0)),
        root / "midi" / "scale.mid",
    )
    (root / "bad" / "page.xml").write_text("<html><body>not music</body></html>")
    (root / "bad" / "torn.xml").write_text("<score-partwise><part")
    (root / "bad" / "junk.mxl").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    with zipfile.ZipFile(root / "bad" / "bomb.mxl", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "score.xml", b"<score-partwise>" + b" " * (300 * 2**20)
        )  # 300 MB of blanks, ~300 kB zipped
    (root / "bad" / "words.abc").write_text("Dear diary, no tunes today.\n")
    (root / "bad" / "noise.krn").write_bytes(bytes(range(256)) * 8)
    return root


def rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "pieces.jsonl").read_text().splitlines()]


def test_every_format_reads_and_every_bad_file_is_a_drop(folder, tmp_path):
    cfg = BuildConfig(
        source=str(folder),
        out=tmp_path / "out",
        workers=2,
        cache_dir=tmp_path / "cache",
        progress=False,
        min_notes=4,
    )
    meta = build(cfg)
    ids = {r["id"]: r for r in rows(cfg.out)}
    assert set(ids) == {
        "score:xml/viola.musicxml",
        "score:xml/viola.mxl",
        "score:abc/tunes.abc#0",
        "score:abc/tunes.abc#1",
        "score:kern/sung.krn",
        "midi:midi/scale.mid",
    }
    assert (
        ids["score:abc/tunes.abc#1"]["title"] == "Second" and ids["score:abc/tunes.abc#1"]["style"] == "abc"
    )
    assert meta["readers"] == {"abc": 3, "kern": 1, "midi": 1, "musicxml": 2}  # words.abc: a tune of no notes
    drops = {d["id"]: d for d in map(json.loads, (cfg.out / "dropped.jsonl").read_text().splitlines())}
    assert drops["score:bad/page.xml"]["reason"] == "not_musicxml"
    assert drops["score:bad/torn.xml"]["reason"] == "invalid_xml"
    assert drops["score:bad/junk.mxl"]["reason"] == "corrupt_mxl"
    assert drops["score:bad/noise.krn"]["reason"] == "parse_error"  # music21 tried after our reader declined
    assert drops["score:bad/words.abc#0"]["reason"] == "too_few_notes"
    assert drops["score:bad/bomb.mxl"]["reason"] == "too_large"
    assert len(drops) == 6 and sum(meta["dropped"].values()) == 6
    # a viola line from C3 is below the violin's range: the part is the cello's (no note folded)
    assert meta["folded"]["xml"]["folded"] == 0 and meta["folded"]["xml"]["pitched_notes"] == 16
    again = build(BuildConfig(**{**cfg.__dict__, "out": tmp_path / "again"}))
    # every score task comes from the cache, good or bad (a MIDI file is read again: it is as fast)
    assert again["build"]["cached_tasks"] == again["build"]["tasks"] - 1 == 10
    assert again["counts"] == meta["counts"]


CORPUS_FILES = [
    "bach/bwv66.6.mxl",
    "palestrina/Agnus_II_47.krn",
    "chopin/mazurka06-2.krn",
    "essenFolksong/altdeu10.abc",
]


def test_music21_corpus_files_read_as_in_the_corpus_build(tmp_path):
    """Files of music21's corpus in a folder: the same readers and the same notes as the music21 source."""
    from musenet.data import corpus
    from musenet.data.items import Task

    src = corpus.corpus_root()
    root = tmp_path / "f"
    for rel in CORPUS_FILES:
        (root / Path(rel).parent).mkdir(parents=True, exist_ok=True)
        shutil.copy(src / rel, root / rel)
    meta = build(
        BuildConfig(source=str(root), out=tmp_path / "a", workers=2, progress=False, use_cache=False)
    )
    # the piano mazurka goes to music21: our kern reader takes sung kern only (it knows no instruments)
    assert meta["readers"]["music21"] == 1 and meta["readers"]["kern"] == 1 and meta["readers"]["abc"] > 30
    assert meta["dropped"] == {}
    for rel in CORPUS_FILES:
        tunes = (0, 5) if rel.endswith(".abc") else None
        theirs = corpus.convert(Task("music21", str(src / rel), rel, "x", tunes=tunes))
        mine = corpus.convert(Task("score", str(root / rel), rel, "x", tunes=tunes))
        assert mine.readers == theirs.readers and len(mine.pieces) == len(theirs.pieces) > 0
        for a, b in zip(mine.pieces, theirs.pieces, strict=True):
            assert a.id == "score:" + b.id.split(":", 1)[1] and np.array_equal(a.notes, b.notes)


@pytest.mark.skipif(
    not (DATASETS / "openscore-quartets").is_dir(), reason="../shared/datasets is not beside the repo"
)
def test_openscore_mxl_read_by_our_reader_with_their_instruments(tmp_path):
    from musenet.codec.vocab import Vocab, VocabConfig

    root = tmp_path / "os"
    picks = {
        "openscore-quartets": sorted((DATASETS / "openscore-quartets").rglob("*.mxl"))[:3],
        "openscore-lieder": sorted((DATASETS / "openscore-lieder").rglob("*.mxl"))[:6],
    }
    for name, files in picks.items():
        (root / name).mkdir(parents=True)
        for f in files:
            shutil.copy(f, root / name / f.name)
    meta = build(
        BuildConfig(source=str(root), out=tmp_path / "out", workers=2, progress=False, use_cache=False)
    )
    assert meta["readers"] == {"musicxml": 9} and meta["pieces"] == 9
    assert set(meta["folded"]) == set(picks) and all(f["share"] < 0.01 for f in meta["folded"].values())
    vocab = Vocab(VocabConfig.from_dict(meta["vocab"]))  # the folder names are styles of their own
    names = {i: inst.name for i, inst in enumerate(vocab.config.instruments)}
    for split in ("train", "val", "test"):
        tokens, _, index = open_split(tmp_path / "out", split)
        pieces = rows(tmp_path / "out")
        for row in index:
            prefix = np.asarray(tokens[row["offset"] + 1 : row["offset"] + row["prefix"] - 1])
            insts = {names[int(t) - vocab.instrument_offset] for t in prefix}
            style = pieces[row["piece"]]["style"]
            # quartets: violins and the cello (the viola by its register); lieder: the piano and the voice's string
            assert insts <= (
                {"violin", "cello"} if style == "openscore-quartets" else {"piano", "violin", "cello"}
            )
            assert "piano" in insts or style == "openscore-quartets"
