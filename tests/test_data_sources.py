"""The default data's extra sources: the WAD reader, the style table, MMA's chord charts and renders."""

from __future__ import annotations

import csv
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from musenet.codec.events import Piece, empty_notes
from musenet.codec.midi_io import read_midi, write_midi
from musenet.codec.vocab import DEFAULT_STYLES
from musenet.data.sources import mma, styles, wad
from musenet.errors import UserError


def _midi_bytes(tmp_path: Path, pitches: list[int], program: int = 30) -> bytes:
    notes = empty_notes(len(pitches))
    notes["start"] = np.arange(len(pitches)) * 0.25
    notes["end"] = notes["start"] + 0.2
    notes["pitch"], notes["velocity"], notes["program"] = pitches, 90, program
    path = tmp_path / f"m{sum(pitches)}.mid"
    write_midi(Piece(notes), path)
    return path.read_bytes()


def _wad(lumps: list[tuple[str, bytes]], magic: bytes = b"PWAD") -> bytes:
    """A WAD as id's tools write it: header, lumps, then the directory."""
    body, entries, at = b"", b"", 12
    for name, data in lumps:
        entries += struct.pack("<ii8s", at, len(data), name.encode())
        body += data
        at += len(data)
    return struct.pack("<4sii", magic, len(lumps), at) + body + entries


def test_wad_directory_and_midi_lumps(tmp_path):
    song = _midi_bytes(tmp_path, [60, 62, 64])
    data = _wad(
        [("MAP01", b"\x01" * 40), ("D_RUNNIN", song), ("D_MUS", b"MUS\x1a" + b"\0" * 20), ("PLAYPAL", b"x")]
    )
    names = [lump.name for lump in wad.directory(data)]
    assert names == ["MAP01", "D_RUNNIN", "D_MUS", "PLAYPAL"]
    midi = wad.midi_lumps(data)
    assert list(midi) == ["D_RUNNIN"] and midi["D_RUNNIN"] == song  # MUS-format music is not MIDI


def test_wad_extract_dedupes_tracks_across_archives(tmp_path):
    a, b = _midi_bytes(tmp_path, [60, 62]), _midi_bytes(tmp_path, [48, 50, 52])
    one, two = tmp_path / "one.wad", tmp_path / "two.wad"
    one.write_bytes(_wad([("D_A", a), ("D_B", b), ("D_C", a)], b"IWAD"))
    two.write_bytes(_wad([("D_X", b), ("D_Y", _midi_bytes(tmp_path, [70]))]))
    files = wad.extract([one, two], tmp_path / "out")
    assert [f.relative_to(tmp_path / "out").as_posix() for f in files] == [
        "one/d_a.mid",
        "one/d_b.mid",
        "two/d_y.mid",
    ]
    piece = read_midi(files[1])
    assert sorted(piece.notes["pitch"].tolist()) == [48, 50, 52]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PWAD", "too short"),
        (b"RIFF" + b"\0" * 20, "not a WAD"),
        (struct.pack("<4sii", b"IWAD", 5, 12), "corrupt WAD directory"),
        (struct.pack("<4sii", b"IWAD", 1, 12) + struct.pack("<ii8s", 0, 999, b"D_X"), "outside the file"),
    ],
)
def test_wad_bad_archives_are_one_line_errors(tmp_path, data, message):
    with pytest.raises(ValueError, match=message):
        wad.directory(data)
    path = tmp_path / "bad.wad"
    path.write_bytes(data)
    with pytest.raises(UserError, match=message):
        wad.extract([path], tmp_path / "out")


FREEDOOM = Path("/usr/share/games/doom/freedoom2.wad")


@pytest.mark.skipif(not FREEDOOM.is_file(), reason="Debian's freedoom is not installed")
def test_wad_reads_freedoom(tmp_path):
    files = wad.extract([FREEDOOM], tmp_path)
    assert len(files) >= 20
    assert all(read_midi(f).notes.size > 0 for f in files[:5])


def test_style_table_targets_are_vocabulary_styles():
    assert set(styles.GROUPS.values()) <= set(DEFAULT_STYLES)
    assert set(mma.FAMILIES.values()) - set(DEFAULT_STYLES) <= set(
        styles.GROUPS
    )  # every family lands somewhere
    assert all(styles.style_of(f) in DEFAULT_STYLES[1:] for f in mma.FAMILIES.values())


@pytest.mark.parametrize(
    ("raw", "style"),
    [
        ("Chopin", "chopin"),
        ("Schubert,_Franz", "schubert"),
        ("Schumann,_Clara", "romantic"),
        ("Schumann,_Robert", "schumann"),
        ("Holmès,_Augusta_Mary_Anne", "romantic"),
        ("Le_Beau,_Luise_Adolpha", "romantic"),
        ("Webern,_Anton", "modern"),
        ("afrocuban", "latin"),
        ("neworleans", "jazz"),
        ("hiphop", "funk"),
        ("bossanova", "latin"),
        ("no such composer", "unknown"),
    ],
)
def test_style_of(raw, style):
    assert styles.style_of(raw) == style


def test_chord_names():
    assert [mma.chord(n, 2) for n in ("ii7", "V7", "Imaj7", "IV7", "bVII", "vi", "iim7b5", "i6")] == [
        "Em7", "A7", "Dmaj7", "G7", "C", "Bm", "Em7b5", "Dm6",
    ]  # fmt: skip
    with pytest.raises(ValueError):
        mma.chord("VIII", 0)


def test_charts_are_seeded_and_32_bars(tmp_path):
    style = tmp_path / "bossanova.mma"
    style.write_text(
        "DefGroove BossaNova  plain\nDefGroove BossaNovaSus  strings\nDefGroove BossaNovaEnd  end\n"
    )
    a = mma.charts_for({"bossanova": 3}, tmp_path)
    assert a == mma.charts_for({"bossanova": 3}, tmp_path) and len(a) == 3
    text, family = a["latin/bossanova-00"]
    assert family == "latin" and "BossaNovaEnd" not in text
    bars = [int(line.split()[0]) for line in text.splitlines() if line[:1].isdigit()]
    assert bars == list(range(1, mma.BARS + 1))
    assert len(set(t for t, _ in a.values())) == 3  # each render its own key, tempo and chords


@pytest.mark.skipif(
    shutil.which("mma") is None or not mma.LIBRARY.is_dir(), reason="Debian's mma is not installed"
)
def test_mma_renders_band_midi(tmp_path):
    charts = mma.charts_for({"bossanova": 1, "blues": 1})
    files = mma.render({k: t for k, (t, _) in charts.items()}, tmp_path, workers=2)
    assert len(files) == 2
    piece = read_midi(files[0])
    programs = set(piece.notes["program"].tolist())
    assert 128 in programs and any(32 <= p <= 39 for p in programs)  # drums and a bass
    again = mma.render({k: t for k, (t, _) in charts.items()}, tmp_path / "again", workers=1)
    for a, b in zip(again, files, strict=True):  # RndSeed: the same notes (the header names the temp file)
        assert np.array_equal(read_midi(a).notes, read_midi(b).notes)


def test_labels_csv_of_prepare(tmp_path):
    """The shared collections' metadata become a labels CSV the folder build reads (files the test writes)."""
    from musenet.data.folder import read_labels
    from musenet.data.sources.prepare import shared_collections

    shared = tmp_path / "shared"
    song = _midi_bytes(tmp_path, [60, 64, 67])
    (shared / "groove" / "groove" / "drummer1").mkdir(parents=True)
    (shared / "groove" / "groove" / "drummer1" / "1_funk.mid").write_bytes(song)
    (shared / "groove" / "groove" / "info.csv").write_text(
        "drummer,style,midi_filename\ndrummer1,afrocuban/groove3,drummer1/1_funk.mid\n"
    )
    (shared / "piano-midi" / "midis" / "Chopin").mkdir(parents=True)
    (shared / "piano-midi" / "midis" / "Chopin" / "op10.mid").write_bytes(song)
    (shared / "piano-midi" / "metadata.csv").write_text(
        "composer,title,year,midi,duration\nChopin,Op10,1833,midis/Chopin/op10.mid,60\n"
    )
    (shared / "openscore-lieder" / "scores" / "Schumann,_Clara" / "Op12").mkdir(parents=True)
    (shared / "openscore-lieder" / "scores" / "Schumann,_Clara" / "Op12" / "lc1.mxl").write_bytes(b"PK")
    out = tmp_path / "out"
    rows = shared_collections(shared, out)
    assert [(p, styles.style_of(r)) for p, r, _ in rows] == [
        ("groove/drummer1/1_funk.mid", "latin"),
        ("piano-midi/Chopin/op10.mid", "chopin"),
        ("openscore-lieder/Schumann,_Clara/Op12/lc1.mxl", "romantic"),
    ]
    assert (out / "piano-midi" / "Chopin" / "op10.mid").read_bytes() == song
    labels = out / "labels.csv"
    with labels.open("w", newline="") as f:
        csv.writer(f).writerows(
            [["path", "style", "split", "label"]] + [[p, styles.style_of(r), s, r] for p, r, s in rows]
        )
    assert read_labels(labels, out)["piano-midi/Chopin/op10.mid"] == ("chopin", None)


def test_a_model_trained_before_the_new_styles_keeps_its_own(tmp_path):
    """The vocabulary grew styles; a model trained before (v0.2 had the first 30, no infill tokens) keeps the list
    saved with it, and asking it for a style it never learned is a one-line error, not a wrong token. The shipped
    model's styles, whatever its age, are the default list or a start of it (new styles are only appended)."""
    import torch

    import musenet
    from musenet.codec.vocab import Vocab, VocabConfig
    from musenet.model import checkpoint
    from musenet.model.config import GPTConfig
    from musenet.model.gpt import GPT

    old = Vocab(VocabConfig(styles=DEFAULT_STYLES[:30], infill=False))
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=old.size, block_size=64, n_layer=1, n_head=2, n_embd=32))
    checkpoint.save(tmp_path / "old", model, step=0, seed=0, vocab=old.config.to_dict())
    composer = musenet.load(tmp_path / "old")
    assert "chopin" in DEFAULT_STYLES and "chopin" not in composer.styles
    assert composer.styles == list(DEFAULT_STYLES[:30])
    (piece,) = composer.generate(style="bach", seconds=1.0, candidates=1, seed=3)
    assert len(piece.piece) > 0
    with pytest.raises(UserError, match="unknown style 'chopin'"):
        composer.generate(style="chopin", seconds=1.0, candidates=1)
    shipped = musenet.load().styles
    assert shipped == list(DEFAULT_STYLES[: len(shipped)])
