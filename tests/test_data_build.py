"""Building datasets: a small music21 build, a MIDI folder with a corrupt file, the split, the cache, the CLI."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import CORRUPT, PACKAGED, shared_midi_files
from runcli import assert_user_error, main

from musenet.codec.vocab import Vocab, VocabConfig
from musenet.data.build import BuildConfig, build
from musenet.data.shards import open_split, read_meta, split_of
from musenet.errors import UserError

GOOD = PACKAGED["piano"]


@pytest.fixture(scope="module")
def m21_build(tmp_path_factory):
    pytest.importorskip("music21")
    root = tmp_path_factory.mktemp("m21")
    cfg = BuildConfig(
        source="music21",
        out=root / "data",
        collections=("bach", "josquin", "essenFolksong", "demos"),
        limit=2,
        workers=2,
        cache_dir=root / "cache",
        progress=False,
    )
    return cfg, build(cfg)


def test_music21_build_counts_styles_and_files(m21_build):
    cfg, meta = m21_build
    assert read_meta(cfg.out) == json.loads((cfg.out / "meta.json").read_text())
    styles = {s for c in meta["counts"].values() for s in c["styles"]}
    assert styles == {"bach", "renaissance", "german_folk"}
    assert meta["pieces"] > 500  # two Essen files hold ~600 tunes
    assert meta["dropped"].get("demo_file") == 2  # the demos folder is counted, not built
    assert meta["readers"].get("abc", 0) > 500 and meta["readers"].get("musicxml", 0) >= 2  # the fast paths
    rows = [json.loads(line) for line in (cfg.out / "pieces.jsonl").read_text().splitlines()]
    assert len(rows) == meta["pieces"] and len({r["id"] for r in rows}) == len(rows)
    # josquin's voices are merged: one piece per file
    assert sum(r["id"].startswith("music21:josquin/") for r in rows) == 2
    assert all("#" not in r["id"] for r in rows if r["id"].startswith("music21:josquin/"))
    total = 0
    vocab = Vocab(VocabConfig.from_dict(meta["vocab"]))
    assert vocab.size == meta["vocab_size"]
    for split in ("train", "val", "test"):
        tokens, time, index = open_split(cfg.out, split)
        assert len(tokens) == len(time) == int(index["length"].sum())
        total += len(tokens)
        for row in index[:20]:
            ids = np.asarray(tokens[row["offset"] : row["offset"] + row["length"]])
            assert ids[row["prefix"] - 1] == vocab.start  # the `start` token ends the prefix
            assert ids[-1] == vocab.end
    assert total == meta["tokens"]


def test_split_is_a_stable_hash_of_identity(m21_build):
    cfg, _ = m21_build
    rows = [json.loads(line) for line in (cfg.out / "pieces.jsonl").read_text().splitlines()]
    assert all(r["split"] == split_of(r["id"], cfg.val_fraction, cfg.test_fraction) for r in rows)
    assert split_of("music21:bach/bwv1.6.mxl", 0.02, 0.02) == split_of("music21:bach/bwv1.6.mxl", 0.02, 0.02)
    shares = [split_of(f"piece {k}", 0.1, 0.1) for k in range(5000)]
    assert 0.08 < shares.count("test") / 5000 < 0.12 and 0.08 < shares.count("val") / 5000 < 0.12


def test_rebuild_uses_the_cache_and_gives_the_same_shards(m21_build, tmp_path):
    cfg, meta = m21_build
    again = BuildConfig(**{**cfg.__dict__, "out": tmp_path / "again"})
    meta2 = build(again)
    assert meta2["build"]["cached_tasks"] == meta2["build"]["tasks"] > 0
    assert meta2["counts"] == meta["counts"]
    a, _, _ = open_split(cfg.out, "train")
    b, _, _ = open_split(again.out, "train")
    assert np.array_equal(a, b)


@pytest.fixture
def midi_folder(tmp_path):
    root = tmp_path / "midi"
    for sub in ("Jazz Standards", "rock"):
        (root / sub).mkdir(parents=True)
    shutil.copy(GOOD, root / "Jazz Standards" / "a.mid")
    shutil.copy(GOOD, root / "rock" / "b.mid")  # the same notes: a duplicate, dropped
    shutil.copy(PACKAGED["band"], root / "rock" / "c.mid")
    (root / "rock" / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\xff\xff")
    (root / "rock" / "notes.mid").write_text("not a midi file at all")
    return root


def test_midi_folder_labels_and_bad_files_are_drops(midi_folder, tmp_path):
    meta = build(BuildConfig(source=str(midi_folder), out=tmp_path / "out", workers=2, progress=False))
    assert meta["pieces"] == 2
    styles = {s for c in meta["counts"].values() for s in c["styles"]}
    assert styles == {"jazz_standards", "rock"}
    assert "jazz_standards" in meta["styles"] and meta["styles"][: len(meta["styles"]) - 2][0] == "unknown"
    assert meta["dropped"]["duplicate"] == 1
    assert sum(meta["dropped"].values()) == 3, meta["dropped"]
    drops = [json.loads(line) for line in (tmp_path / "out" / "dropped.jsonl").read_text().splitlines()]
    assert {d["id"] for d in drops} >= {"midi:rock/broken.mid", "midi:rock/notes.mid"}
    assert all(d["detail"] for d in drops)


def test_labels_csv_overrides_folders(midi_folder, tmp_path):
    csv = tmp_path / "labels.csv"
    csv.write_text("path,style\nJazz Standards/a.mid,Bebop\n")
    meta = build(
        BuildConfig(source=str(midi_folder), out=tmp_path / "out", labels=csv, workers=1, progress=False)
    )
    styles = {s for c in meta["counts"].values() for s in c["styles"]}
    assert styles == {"bebop", "unknown"}
    csv.write_text("elsewhere/a.mid,bebop\n")
    with pytest.raises(UserError):
        build(
            BuildConfig(source=str(midi_folder), out=tmp_path / "out", labels=csv, workers=1, progress=False)
        )


def test_shared_midi_folder_builds_with_every_corrupt_file_dropped(tmp_path, shared_midi):
    """Extra coverage where ../shared/midi is present: ~111 files, 10 of them corrupt."""
    meta = build(BuildConfig(source=str(shared_midi), out=tmp_path / "out", workers=2, progress=False))
    drops = [json.loads(line) for line in (tmp_path / "out" / "dropped.jsonl").read_text().splitlines()]
    dropped = {Path(d["id"]).name for d in drops if d["reason"] not in ("duplicate", "too_few_notes")}
    assert dropped >= CORRUPT
    assert meta["pieces"] + len(drops) == len(shared_midi_files())


def test_cli_build_info_and_user_errors(midi_folder, tmp_path):
    r = main("data", "build", "--source", midi_folder, "--out", tmp_path / "d", "--quiet", "--workers", "1")
    assert r.returncode == 0, r.stderr
    assert "2 pieces" in r.stdout and "dropped" in r.stdout
    r = main("data", "info", tmp_path / "d")
    assert r.returncode == 0 and "jazz_standards" in r.stdout
    (tmp_path / "empty").mkdir()
    for args, words in (
        (("build", "--source", tmp_path / "nope", "--out", tmp_path / "x"), "not `music21` and not a folder"),
        (("build", "--source", tmp_path / "empty", "--out", tmp_path / "x"), "empty"),
        (("build", "--source", "music21", "--out", tmp_path / "x", "--collections", "nope"), "nope"),
        (
            ("build", "--source", midi_folder, "--out", tmp_path / "x", "--collections", "bach"),
            "--collections",
        ),
        (("build", "--source", "music21", "--out", tmp_path / "x", "--labels", midi_folder), "--labels"),
        (("build", "--source", midi_folder, "--out", tmp_path / "x", "--val", "0.7", "--test", "0.5"), "sum"),
        (("info", tmp_path / "nope"), "nope"),
    ):
        assert_user_error(main("data", *args), words)
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_the_whole_music21_corpus(tmp_path):
    """`make test-slow`: every collection, a cold cache (~3 min of 2 cores), then a re-run from the cache."""
    pytest.importorskip("music21")
    cfg = BuildConfig(source="music21", out=tmp_path / "m21", cache_dir=tmp_path / "cache", progress=False)
    meta = build(cfg)
    assert meta["pieces"] > 14_000 and meta["tokens"] > 5_000_000
    assert "parse_error" not in meta["dropped"] and "timeout" not in meta["dropped"]
    again = build(cfg)
    assert again["build"]["cached_tasks"] == again["build"]["tasks"] and again["counts"] == meta["counts"]


def test_odd_file_names_and_reasons(tmp_path):
    import os

    root = tmp_path / "midi"
    (root / "a").mkdir(parents=True)
    shutil.copy(GOOD, root / "a" / os.fsdecode(b"caf\xe9.MID"))  # not UTF-8, upper-case suffix
    (root / "a" / "big.mid").write_bytes(b"MThd" + bytes(17 * 2**20))
    meta = build(BuildConfig(source=str(root), out=tmp_path / "out", workers=1, progress=False))
    assert meta["pieces"] == 1 and meta["dropped"] == {"too_large": 1}
    rows = [json.loads(line) for line in (tmp_path / "out" / "pieces.jsonl").read_text().splitlines()]
    assert rows[0]["id"] == "midi:a/caf\\xe9.MID"
