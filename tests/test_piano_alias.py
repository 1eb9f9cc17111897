"""The piano alias: a share of the windows of solo-piano concert pieces carries the style `piano`; nothing else
changes, and no other piece is touched."""

import numpy as np
import pytest

from musenet.codec.midi_io import write_midi
from musenet.data.build import BuildConfig, build
from musenet.data.dataset import WindowDataset
from musenet.errors import UserError
from musenet.train.config import TrainConfig
from musenet.train.data import StyleBalance
from tests.test_infill import random_piece

CONTEXT = 256
BAND = (0, 33, 40)
# folder -> programs of its pieces: solo piano in a concert style (aliasable), the same style as a band, and solo
# piano in a style that is not concert music (POP909's arrangements are solo piano too)
FOLDERS = {"chopin": (0,), "beethoven": BAND, "pop": (0,)}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("alias")
    for k, (style, programs) in enumerate(FOLDERS.items()):
        (root / "midi" / style).mkdir(parents=True)
        for j in range(2):
            piece = random_piece(40 + 3 * k + j, n=200, seconds=30.0, programs=programs)
            write_midi(piece, root / "midi" / style / f"{j}.mid")
    out = root / "data"
    build(
        BuildConfig(
            source=str(root / "midi"), out=out, workers=1, val_fraction=0, test_fraction=0, progress=False
        )
    )
    return out


def _prefixes(ds, ids):
    """(position, style) of every prefix's style token in a window."""
    v = ds.vocab
    return [(j, ds.styles[int(t) - v.style_offset]) for j, t in enumerate(ids) if v.kind(int(t)) == "style"]


@pytest.mark.parametrize("pack", [False, True])
def test_only_solo_piano_concert_pieces_become_piano(data_dir, pack):
    plain = WindowDataset(data_dir, "train", CONTEXT, augment=True, pack=pack)
    always = WindowDataset(data_dir, "train", CONTEXT, augment=True, pack=pack, piano_alias=1.0)
    assert sorted(plain.styles[s] for s in set(plain.index["style"])) == sorted(FOLDERS)
    assert always.aliasable.sum() == 2  # the two solo chopin pieces; not the band, not the pop piano
    seen = set()
    for i in range(len(plain)):
        for seed in range(3):
            a, b = plain.sample(i, seed), always.sample(i, seed)
            assert all(np.array_equal(a[k], b[k]) for k in a if k != "ids")
            before, after = _prefixes(plain, a["ids"]), _prefixes(always, b["ids"])
            assert [j for j, _ in before] == [j for j, _ in after]
            for (_, s), (_, t) in zip(before, after, strict=True):
                assert t == ("piano" if s == "chopin" else s)
                seen.add((s, t))
            differ = np.flatnonzero(a["ids"] != b["ids"])
            assert set(differ) <= {j for j, s in before if s == "chopin"}
    assert seen == {("chopin", "piano"), ("beethoven", "beethoven"), ("pop", "pop")}


def test_a_share_of_the_windows_is_aliased_and_the_trainer_says_how_many(data_dir):
    half = WindowDataset(data_dir, "train", CONTEXT, augment=True, piano_alias=0.5)
    piano = half.vocab.style_id("piano")
    solo = np.flatnonzero(half.aliasable[half.win_piece])
    got = [half.sample(int(i), seed)["ids"][0] == piano for i in solo for seed in range(40)]
    assert 0.35 < np.mean(got) < 0.65
    # the same (window, seed) always carries the same style
    assert all(half.sample(int(i), 7)["ids"][0] == half.sample(int(i), 7)["ids"][0] for i in solo)
    report = StyleBalance(half, 0.5).report()
    assert "piano alias: 50 % of the solo-piano concert windows" in report
    plain = WindowDataset(data_dir, "train", CONTEXT, augment=True)
    assert "piano alias" not in StyleBalance(plain, 0.5).report()


def test_the_share_is_checked_and_a_resume_may_change_it(data_dir, tmp_path):
    from musenet.model import checkpoint
    from musenet.train.loop import train

    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="piano_alias"):
            TrainConfig(data="d", out="o", piano_alias=bad)
        with pytest.raises(ValueError, match="piano_alias"):
            WindowDataset(data_dir, "train", CONTEXT, augment=True, piano_alias=bad)
    small = dict(n_layer=1, n_head=2, n_embd=32, context=CONTEXT, batch_size=2, eval_batches=1, threads=1)
    cfg = TrainConfig(data=str(data_dir), out=str(tmp_path / "run"), max_steps=2, eval_interval=2, **small)
    with pytest.raises(UserError, match="cannot take piano_alias"):  # a dataset class without the option
        train(TrainConfig(**{**cfg.__dict__, "dataset": "musenet.train.synthetic:SyntheticDataset",
                             "piano_alias": 0.3}))  # fmt: skip
    train(cfg)
    saved = TrainConfig.from_dict(checkpoint.load_model(tmp_path / "run")[1]["train"])
    assert saved.piano_alias == 0.0
    train(TrainConfig(**{**saved.resume_with({"piano_alias": 0.3, "max_steps": 4}).__dict__}), resume=True)
    _, meta = checkpoint.load_model(tmp_path / "run")
    assert meta["step"] == 4 and meta["train"]["piano_alias"] == 0.3
