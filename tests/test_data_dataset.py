"""Training windows: the contract the trainer relies on, prefixes, positions, augmentation in range, determinism."""

import shutil

import numpy as np
import pytest
from conftest import PACKAGED

from musenet.codec.positions import positions
from musenet.data import augment as aug
from musenet.data.build import BuildConfig, build
from musenet.data.dataset import WindowDataset

FILES = [PACKAGED["band"], PACKAGED["long"], PACKAGED["piano"]]
CONTEXT = 256


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    for k, path in enumerate(FILES):
        (root / "midi" / "pop").mkdir(parents=True, exist_ok=True)
        shutil.copy(path, root / "midi" / "pop" / f"{k}.mid")
    out = root / "data"
    # everything in train: the hash split would leave a three-piece test set to chance
    build(
        BuildConfig(
            source=str(root / "midi"), out=out, workers=1, val_fraction=0, test_fraction=0, progress=False
        )
    )
    return out


def full_piece(ds, p):
    row = ds.index[p]
    return np.asarray(ds.tokens[row["offset"] : row["offset"] + row["length"]], dtype=np.int64), row


def test_contract(data_dir):
    ds = WindowDataset(data_dir, "train", CONTEXT, augment=False)
    assert len(ds) > 3  # long pieces give several windows
    assert ds.vocab_size > ds.pad_id >= 0 and ds.chord_positions == ds.vocab_config["max_chord"] + 1
    for i in range(len(ds)):
        s = ds.sample(i, seed=0)
        assert set(s) == {"ids", "time", "chord", "part", "countdown"}
        for a in s.values():
            assert a.dtype == np.int64 and a.shape == (CONTEXT + 1,)
        assert s["ids"].max() < ds.vocab_size and s["chord"].max() < ds.chord_positions
    assert len(WindowDataset(data_dir, "test", CONTEXT, augment=True)) == 0


def test_every_window_carries_the_prefix_and_the_positions_of_the_full_piece(data_dir):
    ds = WindowDataset(data_dir, "train", CONTEXT, augment=False)
    v = ds.vocab
    seen_mid = 0
    for i in range(len(ds)):
        full, row = full_piece(ds, ds.win_piece[i])
        plen = int(row["prefix"])
        pos = positions(full, v, int(row["duration"]))
        s = ds.sample(i, seed=0)
        assert np.array_equal(s["ids"][:plen], full[:plen]) and s["ids"][plen - 1] == v.start
        body = s["ids"][plen:]
        body = body[body != ds.pad_id]
        # find where the slice sits in the piece (a repeated passage has the same tokens twice: the clock tells
        # the copies apart): positions match the full sequence there
        at = next(
            j
            for j in range(plen, len(full) - len(body) + 1)
            if np.array_equal(full[j : j + len(body)], body) and pos.time[j] == s["time"][plen]
        )
        seen_mid += at > plen
        for f in ("time", "chord", "part", "countdown"):
            assert np.array_equal(s[f][:plen], getattr(pos, f)[:plen])
            assert np.array_equal(s[f][plen : plen + len(body)], getattr(pos, f)[at : at + len(body)]), f
        if at > plen:
            assert v.wait_offset <= body[0] < v.style_offset  # mid-piece windows open on a wait
    assert seen_mid > 0


def test_short_pieces_are_padded(data_dir):
    longest = int(WindowDataset(data_dir, "train", CONTEXT, augment=False).index["length"].max())
    ds = WindowDataset(data_dir, "train", longest + 10, augment=False)
    assert len(ds) == len(ds.index)  # one window per piece
    s = ds.sample(0, seed=0)
    pad = s["ids"] == ds.pad_id
    assert pad[-1] and not pad[0]
    for f in ("time", "chord", "part", "countdown"):
        assert not s[f][pad].any()


def test_augmentation_is_deterministic_keeps_notes_in_range_and_changes_something(data_dir):
    ds = WindowDataset(data_dir, "train", CONTEXT, augment=True)
    v = ds.vocab
    changed = 0
    for i in range(len(ds)):
        for seed in range(4):
            a, b = ds.sample(i, seed), ds.sample(i, seed)
            assert all(np.array_equal(a[k], b[k]) for k in a)
            ids = a["ids"][a["ids"] != ds.pad_id]
            notes = ids[ids < v.n_notes]
            t = v.note_table[notes]
            assert ((t[:, 2] >= v.low[t[:, 0]]) & (t[:, 2] <= v.high[t[:, 0]])).all()
            # positions stay consistent with the (augmented) ids
            plen = int(ds.index[ds.win_piece[i]]["prefix"])
            assert np.array_equal(
                np.diff(a["time"][plen : len(ids)]) > 0,
                (ids[plen + 1 :] >= v.wait_offset) & (ids[plen + 1 :] < v.style_offset),
            )
        changed += not np.array_equal(
            ds.sample(i, 1)["ids"], WindowDataset(data_dir, "train", CONTEXT, False).sample(i, 1)["ids"]
        )
    assert changed > 0


def test_augment_functions(data_dir):
    ds = WindowDataset(data_dir, "train", CONTEXT, augment=False)
    v = ds.vocab
    ids = ds.sample(0, 0)["ids"]
    ids = ids[ids != ds.pad_id]
    lo, hi = aug.transpose_range(ids, v)
    assert lo <= 0 <= hi
    up = aug.transpose(ids, v, hi)
    t0, t1 = v.note_table[ids[ids < v.n_notes]], v.note_table[up[up < v.n_notes]]
    pitched = ~v.is_drums[t0[:, 0]]
    assert np.array_equal(t1[pitched, 2] - t0[pitched, 2], np.full(pitched.sum(), hi))
    assert np.array_equal(t1[~pitched], t0[~pitched])  # drums never move
    loud = aug.shift_velocity(ids, v, 1)
    l0, l1 = t0[:, 1], v.note_table[loud[loud < v.n_notes]][:, 1]
    assert (l1 == np.where(l0 == 0, 0, np.minimum(l0 + 1, v.config.velocity_bins))).all()
    for f in (0.95, 1.05):
        st = aug.stretch(ids, v, f)
        assert np.array_equal(st[st < v.n_notes], ids[ids < v.n_notes])  # the same notes in the same order
        d0, d1 = positions(ids, v).time[-1], positions(st, v).time[-1]
        assert abs(d1 - d0 * f) <= 1


def test_packing_fills_windows_with_whole_pieces(tmp_path_factory):
    pytest.importorskip("music21")
    out = tmp_path_factory.mktemp("pack") / "data"
    build(BuildConfig(source="music21", out=out, collections=("essenFolksong",), limit=1, test_fraction=0, val_fraction=0, cache_dir=out.parent / "cache", progress=False))  # fmt: skip
    plain = WindowDataset(out, "train", 512, augment=False)
    packed = WindowDataset(out, "train", 512, augment=False, pack=True)
    assert len(packed) < len(plain) / 2
    v = packed.vocab
    n = 513
    covered = []
    for i in range(len(packed)):
        first, count = int(packed.win_piece[i]), int(packed.win_count[i])
        if packed.index[first]["length"] > n:
            continue  # a long piece: windowed as without packing
        s = packed.sample(i, seed=0)
        ids = s["ids"][s["ids"] != packed.pad_id]
        at = 0
        for p in range(first, first + count):
            full, row = full_piece(packed, p)
            assert np.array_equal(ids[at : at + len(full)], full)  # whole pieces, in index order
            pos = positions(full, v, int(row["duration"]))
            for f in ("time", "chord", "part", "countdown"):
                assert np.array_equal(s[f][at : at + len(full)], getattr(pos, f))
            at += len(full)
            covered.append(p)
        assert at == len(ids)
    short = [p for p in range(len(packed.index)) if packed.index[p]["length"] <= n]
    assert covered == short
    assert len(WindowDataset(out, "train", 512, augment=True, pack=True).sample(0, 3)["ids"]) == 513


def test_a_window_opening_mid_chord_continues_the_chord_count(data_dir, monkeypatch):
    import musenet.data.dataset as dataset

    monkeypatch.setattr(dataset, "SNAP_TOKENS", 0)  # no wait to open on: windows start anywhere
    ds = WindowDataset(data_dir, "train", CONTEXT, augment=False)
    mid = [i for i in range(len(ds)) if ds.win_start[i] > 0]
    assert mid
    for i in mid:
        full, row = full_piece(ds, ds.win_piece[i])
        pos = positions(full, ds.vocab, int(row["duration"]))
        s = ds.sample(i, seed=0)
        plen = int(row["prefix"])
        at = plen + int(ds.win_start[i])
        n = min(CONTEXT + 1 - plen, len(full) - at)
        for f in ("ids", "time", "chord", "part", "countdown"):
            ref = full if f == "ids" else getattr(pos, f)
            assert np.array_equal(s[f][plen : plen + n], ref[at : at + n]), f
