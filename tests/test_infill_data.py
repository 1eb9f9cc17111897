"""The fill-in-the-middle training transform over a dataset the test builds from MIDI files it writes."""

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
    root = tmp_path_factory.mktemp("fim")
    (root / "midi" / "pop").mkdir(parents=True)
    for k in range(3):
        write_midi(random_piece(10 + k, n=200, seconds=30.0), root / "midi" / "pop" / f"{k}.mid")
    out = root / "data"
    build(
        BuildConfig(
            source=str(root / "midi"), out=out, workers=1, val_fraction=0, test_fraction=0, progress=False
        )
    )
    return out


def test_share_zero_is_the_plain_dataset_and_other_windows_do_not_change(data_dir):
    plain = WindowDataset(data_dir, "train", CONTEXT, augment=True)
    half = WindowDataset(data_dir, "train", CONTEXT, augment=True, infill_share=0.5)
    fill = plain.vocab.special("fill")
    transformed = 0
    for i in range(len(plain)):
        a, b = plain.sample(i, 100 + i), half.sample(i, 100 + i)
        if fill in b["ids"]:
            transformed += 1
        else:
            assert all(np.array_equal(a[k], b[k]) for k in a)
    assert 0 < transformed < len(plain)


def test_every_transformed_window_is_a_well_formed_fim_sample(data_dir):
    ds = WindowDataset(data_dir, "train", CONTEXT, augment=True, infill_share=1.0)
    v = ds.vocab
    span_start, span_end = v.special("span_start"), v.special("span_end")
    fill, fill_end, infill = v.special("fill"), v.special("fill_end"), v.special("infill")
    for i in range(len(ds)):
        for seed in range(5):
            s = ds.sample(i, seed)
            ids, time = s["ids"], s["time"]
            assert all(len(a) == CONTEXT + 1 for a in s.values())
            if fill not in ids:
                continue
            plen = int(np.flatnonzero(ids == v.start)[0]) + 1
            assert ids[plen] == infill
            head = plen + 1
            while v.kind(int(ids[head])) == "instrument":
                head += 1
            redo = ids[plen + 1 : head] - v.instrument_offset
            t0 = time[ids == span_start][0]
            t1 = time[ids == span_end][0]
            f = int(np.flatnonzero(ids == fill)[0])
            assert t0 < t1 and time[f] == t0
            middle = ids[f + 1 :]
            mtime = time[f + 1 :]
            end = np.flatnonzero(middle == fill_end)
            if len(end):  # the sample kept its closing token: the middle reaches t1 exactly
                middle, mtime = middle[: end[0]], mtime[: end[0]]
                assert time[f + 1 + end[0]] == t1 and (not len(mtime) or mtime[-1] == t1)
            notes = middle[middle < v.n_notes]
            assert np.all(np.isin(v.note_table[notes, 0], redo))
            assert np.all(np.diff(mtime) >= 0) and np.all((mtime >= t0) & (mtime <= t1))
            ons = (middle < v.n_notes) & (v.note_table[np.minimum(middle, v.n_notes - 1), 1] > 0)
            assert np.all(mtime[ons] < t1)


def test_the_share_is_a_checked_saved_train_field():
    with pytest.raises(ValueError, match="infill_share"):
        TrainConfig(data="d", out="o", infill_share=1.5)
    cfg = TrainConfig(data="d", out="o", infill_share=0.25)
    assert TrainConfig.from_dict(cfg.to_dict()).infill_share == 0.25
    saved = cfg.to_dict()
    del saved["infill_share"]  # a run saved before the field existed trained left to right
    assert TrainConfig.from_dict(saved).infill_share == 0.0


def test_data_without_infill_tokens_cannot_train_infilling(data_dir, tmp_path):
    import json
    import shutil

    old = tmp_path / "old"
    shutil.copytree(data_dir, old)
    meta = json.loads((old / "meta.json").read_text())
    meta["vocab"]["infill"] = False
    (old / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="rebuild"):
        WindowDataset(old, "train", CONTEXT, augment=True, infill_share=0.5)


def test_a_run_with_an_infill_share_trains_and_saves_it(data_dir, tmp_path):
    from musenet.model import checkpoint
    from musenet.train.loop import train

    small = dict(n_layer=1, n_head=2, n_embd=32, context=CONTEXT, batch_size=2, eval_batches=1, threads=1)
    cfg = TrainConfig(data=str(data_dir), out=str(tmp_path / "run"), max_steps=2, eval_interval=2, **small)
    with pytest.raises(UserError, match="cannot take infill_share"):  # a dataset class without the option
        train(
            TrainConfig(
                **{**cfg.__dict__, "dataset": "musenet.train.synthetic:SyntheticDataset", "infill_share": 0.5}
            )
        )
    train(TrainConfig(**{**cfg.__dict__, "infill_share": 0.5}))
    _, meta = checkpoint.load_model(tmp_path / "run")
    assert meta["train"]["infill_share"] == 0.5 and meta["vocab"]["infill"] is True
