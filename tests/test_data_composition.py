"""`musenet data info`: tokens per source and instrument and the band share, counted from the shards; sources
survive a merge. The MIDI files are written by the test."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from musenet.codec.events import DRUMS, Piece, make_notes
from musenet.codec.midi_io import write_midi
from musenet.codec.vocab import Vocab, VocabConfig
from musenet.data.build import BuildConfig, build
from musenet.data.composition import composition, source_of
from musenet.data.merge import merge
from musenet.data.shards import SPLITS, open_split, read_meta


def _write(folder, rng, count, notes, programs):
    folder.mkdir(parents=True)
    for k in range(count):
        start = np.sort(rng.integers(0, notes * 10, size=notes)) / 40.0
        prog = rng.choice(programs, size=notes)
        # each part where its instrument plays (the build gives a part the instrument its register fits)
        low = np.where(prog == 33, 33, 55)
        pitch = np.where(
            prog == DRUMS, rng.integers(36, 52, size=notes), low + rng.integers(0, 25, size=notes)
        )
        piece = Piece(make_notes(start, start + 0.2, pitch, rng.integers(40, 120, size=notes), prog))
        write_midi(piece, folder / f"{k}.mid")


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    root = tmp_path_factory.mktemp("comp")
    rng = np.random.default_rng(1)
    _write(root / "a" / "rockband", rng, 3, 300, [29, 33, DRUMS, 0])  # guitar, bass, drums, piano
    _write(root / "a" / "fiddles", rng, 5, 60, [40])
    _write(root / "b", rng, 2, 80, [0, 33])  # files directly in the root
    # every file labelled `unknown` (a default style): both builds share the vocabulary and can be merged
    for d in ("a", "b"):
        files = sorted(p.relative_to(root / d).as_posix() for p in (root / d).rglob("*.mid"))
        (root / f"{d}.csv").write_text("".join(f"{f},unknown\n" for f in files))
    a = build(BuildConfig(source=str(root / "a"), out=root / "da", labels=root / "a.csv", workers=1,
                          progress=False))  # fmt: skip
    b = build(BuildConfig(source=str(root / "b"), out=root / "db", labels=root / "b.csv", workers=1,
                          progress=False, collection="keys"))  # fmt: skip
    return root, a, b


def counted_by_names(folder) -> tuple[dict[str, int], int]:
    """Note tokens per instrument, read off the vocabulary's token names (an independent path)."""
    vocab = Vocab(VocabConfig.from_dict(read_meta(folder)["vocab"]))
    ids = np.concatenate([np.asarray(open_split(folder, s)[0], dtype=np.int64) for s in SPLITS])
    counts = np.bincount(ids, minlength=vocab.size)
    per: dict[str, int] = {}
    for t in np.flatnonzero(counts[: vocab.n_notes]):
        name = vocab.name(int(t)).split(":")[0]
        per[name] = per.get(name, 0) + int(counts[t])
    return per, int(sum(per.values()))


def test_source_of_an_identity():
    assert source_of("music21:essenFolksong/han1.abc#17") == "music21"
    assert source_of("midi:groove/drummer1/session1/1.mid") == "groove"
    assert source_of("midi:take5.mid") == "midi"


def test_tokens_per_source_and_instrument_and_the_band_share(builds):
    root, a, b = builds
    c = a["composition"]
    assert set(c["sources"]) == {"rockband", "fiddles"}
    assert sum(v["tokens"] for v in c["sources"].values()) == a["tokens"]
    rows = [json.loads(x) for x in (root / "da" / "pieces.jsonl").read_text().splitlines()]
    assert {r["source"] for r in rows} == {"rockband", "fiddles"}
    assert c["sources"]["fiddles"]["pieces"] == sum(r["source"] == "fiddles" for r in rows)
    per, total = counted_by_names(root / "da")
    assert {k: v["tokens"] for k, v in c["instruments"].items() if v["tokens"]} == per
    assert c["note_tokens"] == total
    band = sum(per.get(k, 0) for k in ("drums", "bass", "guitar"))
    assert c["band_share"] == pytest.approx(band / total, abs=1e-6) and 0.3 < c["band_share"] < 0.9
    assert c["sources"]["fiddles"]["band_share"] == 0.0 and c["sources"]["rockband"]["band_share"] > 0.5
    assert (
        c["instruments"]["drums"]["notes"] == c["instruments"]["drums"]["tokens"]
    )  # drums have no note-offs
    assert c["instruments"]["violin"]["notes"] * 2 == c["instruments"]["violin"]["tokens"]
    assert set(b["composition"]["sources"]) == {"keys"}  # named by BuildConfig.collection


def test_merge_keeps_the_sources(builds, tmp_path):
    root, a, b = builds
    m = merge(tmp_path / "m", [root / "da", root / "db"])
    assert set(m["composition"]["sources"]) == {"rockband", "fiddles", "keys"}
    for name in ("rockband", "fiddles"):
        assert m["composition"]["sources"][name] == a["composition"]["sources"][name]
    assert (
        m["composition"]["note_tokens"] == a["composition"]["note_tokens"] + b["composition"]["note_tokens"]
    )


def test_info_shows_it_also_for_builds_that_did_not_store_it(builds, tmp_path):
    import shutil

    root, a, _ = builds
    old = tmp_path / "old"
    shutil.copytree(root / "da", old)
    meta = json.loads((old / "meta.json").read_text())
    del meta["composition"]
    (old / "meta.json").write_text(json.dumps(meta))
    lines = [json.loads(x) for x in (old / "pieces.jsonl").read_text().splitlines()]
    (old / "pieces.jsonl").write_text("".join(json.dumps({k: v for k, v in r.items() if k != "source"}) + "\n"
                                              for r in lines))  # fmt: skip
    assert composition(old) == a["composition"]
    r = subprocess.run(
        [sys.executable, "-m", "musenet", "data", "info", str(old)], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    share = 100 * a["composition"]["band_share"]
    assert (
        f"band instruments (drums, bass, guitar): {share:.1f} % of {a['composition']['note_tokens']:,}"
        in r.stdout
    )
    assert "rockband" in r.stdout and "guitar" in r.stdout
