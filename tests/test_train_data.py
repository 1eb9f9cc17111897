"""`musenet train` on a real built dataset (musenet.data.dataset.WindowDataset), through the CLI entry point."""

import shutil

import pytest
from conftest import PACKAGED

from musenet.model import checkpoint
from musenet.train.log import losses

FILES = [PACKAGED["band"], PACKAGED["piano"]]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    from musenet.data.build import BuildConfig, build

    root = tmp_path_factory.mktemp("ds")
    (root / "midi" / "pop").mkdir(parents=True)
    for k, path in enumerate(FILES):
        shutil.copy(path, root / "midi" / "pop" / f"{k}.mid")
    build(BuildConfig(source=str(root / "midi"), out=root / "data", workers=1, val_fraction=0, test_fraction=0,
                      progress=False))  # fmt: skip
    return root / "data"


def test_train_on_a_built_dataset(data_dir, tmp_path, capsys):
    from musenet.cli import main
    from musenet.data.dataset import WindowDataset

    run = tmp_path / "run"
    args = ["train", "--data", str(data_dir), "--out", str(run), "--n-layer", "1", "--n-head", "2", "--n-embd", "64",
            "--context", "128", "--batch-size", "4", "--max-steps", "30", "--warmup-steps", "3", "--lr", "3e-3",
            "--eval-interval", "30", "--threads", "1"]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    curve = [v for _, v in sorted(losses(run / "log.csv").items())]
    assert sum(curve[-5:]) / 5 < sum(curve[:5]) / 5 - 1.0, curve
    model, meta = checkpoint.load_model(run)
    ds = WindowDataset(data_dir, "train", 128, augment=False)
    assert meta["vocab"] == ds.vocab_config
    assert model.config.vocab_size == ds.vocab_size and model.config.chord_positions == ds.chord_positions


@pytest.mark.slow
def test_tiny_preset_lowers_the_validation_loss_on_bach(tmp_path):
    """The issue's check: the tiny preset on a small build lowers the validation loss clearly within minutes."""
    pytest.importorskip("music21")
    from musenet.data.build import BuildConfig, build
    from musenet.train.config import TrainConfig
    from musenet.train.loop import train

    data = tmp_path / "bach"
    build(BuildConfig(source="music21", out=data, collections=("bach",), limit=120, val_fraction=0.1,
                      test_fraction=0.0, progress=False))  # fmt: skip
    train(
        TrainConfig(data=str(data), out=str(tmp_path / "run"), preset="tiny", max_steps=60, eval_interval=30)
    )
    val = losses(tmp_path / "run" / "log.csv", "val_loss")
    assert val[60] < val[0] - 2.0, val


@pytest.mark.slow
def test_compiled_training_step(tmp_path):
    from musenet.train.config import TrainConfig
    from musenet.train.loop import train

    cfg = TrainConfig(data="u", out=str(tmp_path / "run"), dataset="musenet.train.synthetic:SyntheticDataset",
                      n_layer=1, n_head=2, n_embd=32, context=32, batch_size=4, max_steps=4, mixup=0.3,
                      compile=True)  # fmt: skip
    result = train(cfg)
    assert result.loss is not None and result.val_loss is not None
