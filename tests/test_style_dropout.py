"""Style dropout: a share of the training windows loses its style to `unknown`, the rest stay as they were."""

import numpy as np
import pytest

from musenet.codec.midi_io import write_midi
from musenet.data.build import BuildConfig, build
from musenet.data.dataset import WindowDataset
from musenet.errors import UserError
from musenet.train.config import TrainConfig
from tests.test_infill import random_piece

CONTEXT = 256


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("dropout")
    for style in ("pop", "jazz"):
        (root / "midi" / style).mkdir(parents=True)
        for k in range(3):
            write_midi(random_piece(20 + k, n=200, seconds=30.0), root / "midi" / style / f"{k}.mid")
    out = root / "data"
    build(
        BuildConfig(
            source=str(root / "midi"), out=out, workers=1, val_fraction=0, test_fraction=0, progress=False
        )
    )
    return out


@pytest.mark.parametrize("pack", [False, True])
def test_a_share_of_windows_loses_its_style_and_nothing_else(data_dir, pack):
    plain = WindowDataset(data_dir, "train", CONTEXT, augment=True, pack=pack)
    dropped = WindowDataset(data_dir, "train", CONTEXT, augment=True, pack=pack, style_dropout=0.5)
    v = plain.vocab
    null = v.style_id(None)
    assert v.config.styles[0] == "unknown"
    changed = kept = 0
    for i in range(len(plain)):
        for seed in range(8):
            a, b = plain.sample(i, seed), dropped.sample(i, seed)
            assert all(np.array_equal(a[k], b[k]) for k in a if k != "ids")
            differ = np.flatnonzero(a["ids"] != b["ids"])
            if len(differ) == 0:
                kept += 1
                continue
            changed += 1
            assert all(v.kind(int(a["ids"][j])) == "style" and a["ids"][j] != null for j in differ)
            assert np.all(b["ids"][differ] == null)
            styles = [j for j, t in enumerate(a["ids"]) if v.kind(int(t)) == "style"]
            assert list(differ) == styles  # every prefix in the window (packed: several), nothing else
    assert changed > 0 and kept > 0
    assert 0.3 < changed / (changed + kept) < 0.7


def test_the_share_is_checked_and_saved(data_dir, tmp_path):
    from musenet.model import checkpoint
    from musenet.train.loop import train

    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="style_dropout"):
            TrainConfig(data="d", out="o", style_dropout=bad)
        with pytest.raises(ValueError, match="style_dropout"):
            WindowDataset(data_dir, "train", CONTEXT, augment=True, style_dropout=bad)
    small = dict(n_layer=1, n_head=2, n_embd=32, context=CONTEXT, batch_size=2, eval_batches=1, threads=1)
    cfg = TrainConfig(data=str(data_dir), out=str(tmp_path / "run"), max_steps=2, eval_interval=2, **small)
    with pytest.raises(UserError, match="cannot take style_dropout"):  # a dataset class without the option
        train(TrainConfig(**{**cfg.__dict__, "dataset": "musenet.train.synthetic:SyntheticDataset",
                             "style_dropout": 0.1}))  # fmt: skip
    train(cfg)
    saved = TrainConfig.from_dict(checkpoint.load_model(tmp_path / "run")[1]["train"])
    assert saved.style_dropout == 0.0
    # a resumed run may start (or stop) dropping styles: it changes the batches to come, not the steps taken
    resumed = saved.resume_with({"style_dropout": 0.1, "max_steps": 4})
    assert resumed.style_dropout == 0.1
    train(TrainConfig(**{**resumed.__dict__}), resume=True)
    _, meta = checkpoint.load_model(tmp_path / "run")
    assert meta["step"] == 4 and meta["train"]["style_dropout"] == 0.1
