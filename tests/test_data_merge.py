"""Pinned splits from a labels CSV, and merging built datasets: tokens, offsets and piece rows stay consistent."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import M21, PACKAGED
from runcli import assert_user_error, main

from musenet.data.build import BuildConfig, build
from musenet.data.merge import merge
from musenet.data.shards import open_split, read_meta
from musenet.errors import UserError

# real files shipped inside music21: five distinct pieces for one build, three for the other
BAND = [M21 / f"midi/testPrimitive/test{k:02d}.mid" for k in (2, 3, 6, 7, 9)]
KEYS = [M21 / "midi/testPrimitive/test11.mid", M21 / "midi/testPrimitive/test17.mid", PACKAGED["short"]]


def _folder(root: Path, names: list[Path]) -> Path:
    root.mkdir(parents=True)
    for p in names:
        shutil.copy(p, root / p.name)
    return root


@pytest.fixture
def two_builds(tmp_path):
    band = _folder(tmp_path / "band", BAND)
    keys = _folder(tmp_path / "keys", KEYS)
    csv = tmp_path / "band.csv"
    names = sorted(p.name for p in band.iterdir())
    # every file pinned: two to test, one to val, the rest to train, whatever their hashes say
    pins = ["test", "test", "val"] + ["train"] * (len(names) - 3)
    csv.write_text(
        "path,style,split\n" + "".join(f'"{n}",pop,{s}\n' for n, s in zip(names, pins, strict=True))
    )
    a = build(BuildConfig(source=str(band), out=tmp_path / "a", labels=csv, workers=1, progress=False))
    csv2 = tmp_path / "keys.csv"
    csv2.write_text("".join(f"{p.name},piano,\n" for p in sorted(keys.iterdir())))
    b = build(
        BuildConfig(
            source=str(keys), out=tmp_path / "b", labels=csv2, workers=1, progress=False, test_fraction=0.5
        )
    )
    return tmp_path, names, pins, a, b


def _pieces(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "pieces.jsonl").read_text().splitlines()]


def test_a_labels_csv_pins_splits(two_builds):
    tmp, names, pins, a, _ = two_builds
    got = {r["id"].removeprefix("midi:"): r["split"] for r in _pieces(tmp / "a")}
    assert got == dict(zip(names, pins, strict=True))
    assert a["counts"]["test"]["pieces"] == 2 and a["counts"]["val"]["pieces"] == 1
    assert a["splits"]["pinned"] == len(names)


def test_a_bad_split_in_the_csv_is_a_user_error(tmp_path):
    root = _folder(tmp_path / "m", [PACKAGED["piano"]])
    csv = tmp_path / "l.csv"
    csv.write_text(f"{PACKAGED['piano'].name},pop,holdout\n")
    with pytest.raises(UserError, match="holdout"):
        build(BuildConfig(source=str(root), out=tmp_path / "o", labels=csv, workers=1, progress=False))


def test_merge_keeps_every_piece_its_split_and_its_tokens(two_builds):
    tmp, _, _, a, b = two_builds
    meta = merge(tmp / "ab", [tmp / "a", tmp / "b"])
    assert read_meta(tmp / "ab") == json.loads((tmp / "ab" / "meta.json").read_text())
    assert meta["pieces"] == a["pieces"] + b["pieces"] and meta["tokens"] == a["tokens"] + b["tokens"]
    rows = _pieces(tmp / "ab")
    assert [r["id"] for r in rows] == [r["id"] for r in _pieces(tmp / "a") + _pieces(tmp / "b")]
    for split in ("train", "val", "test"):
        tokens, time, index = open_split(tmp / "ab", split)
        assert len(tokens) == len(time) == int(index["length"].sum())
        assert meta["counts"][split]["pieces"] == len(index)
        # each merged piece is byte-identical to the same piece in its source, found by its id
        for row in index:
            rid = rows[row["piece"]]["id"]
            assert rows[row["piece"]]["split"] == split
            src = tmp / ("a" if any(r["id"] == rid for r in _pieces(tmp / "a")) else "b")
            st, stime, sindex = open_split(src, split)
            srows = _pieces(src)
            (k,) = [k for k, r in enumerate(sindex) if srows[r["piece"]]["id"] == rid]
            s = sindex[k]
            np.testing.assert_array_equal(
                tokens[row["offset"] : row["offset"] + row["length"]],
                st[s["offset"] : s["offset"] + s["length"]],
            )
            np.testing.assert_array_equal(
                time[row["offset"] : row["offset"] + row["length"]],
                stime[s["offset"] : s["offset"] + s["length"]],
            )
            assert (row["prefix"], row["duration"], row["style"]) == (s["prefix"], s["duration"], s["style"])
    styles = {s for c in meta["counts"].values() for s in c["styles"]}
    assert styles == {"pop", "piano"}


def test_merge_refuses_what_it_cannot_merge(two_builds):
    tmp, _, _, _, _ = two_builds
    with pytest.raises(UserError, match="both"):
        merge(tmp / "aa", [tmp / "a", tmp / "a"])
    with pytest.raises(UserError, match="one of the sources"):
        merge(tmp / "a", [tmp / "a", tmp / "b"])
    with pytest.raises(UserError, match="not a built dataset"):
        merge(tmp / "x", [tmp / "a", tmp / "nothing"])
    # another vocabulary: a style outside the defaults is appended to the styles
    other = _folder(tmp / "odd", [PACKAGED["piano"]])
    build(BuildConfig(source=str(other.parent / "odd"), out=tmp / "c", workers=1, progress=False))
    (tmp / "weird" / "bebop").mkdir(parents=True)
    shutil.copy(PACKAGED["short"], tmp / "weird" / "bebop" / "x.mid")
    build(BuildConfig(source=str(tmp / "weird"), out=tmp / "d", workers=1, progress=False))
    with pytest.raises(UserError, match="another vocabulary"):
        merge(tmp / "cd", [tmp / "c", tmp / "d"])
    assert not (tmp / "cd" / "meta.json").exists()


def test_merge_cli(two_builds):
    tmp, _, _, _, _ = two_builds
    r = main("data", "merge", tmp / "a", tmp / "b", "--out", tmp / "m")
    assert r.returncode == 0, r.stderr
    assert "merged from" in r.stdout and (tmp / "m" / "meta.json").is_file()
    assert_user_error(main("data", "merge", tmp / "a", "--out", tmp / "m2"), "two or more")
