"""Style-balanced windows: the drawn shares follow tokens^alpha, alpha 1 draws by tokens, resume replays them.

The dataset is built from MIDI files this test writes: one style with a few long band pieces, one with many short
fiddle tunes, one with a single piano piece, so the styles' token counts differ by an order of magnitude.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from musenet.codec.events import DRUMS, Piece, make_notes
from musenet.codec.midi_io import write_midi
from musenet.data.build import BuildConfig, build
from musenet.data.dataset import SNAP_TOKENS, PackedWindowDataset, WindowDataset
from musenet.train.data import StyleBalance, TrainBatches, step_rng
from musenet.train.synthetic import SyntheticDataset

CONTEXT = 128


def _piece(rng: np.random.Generator, notes: int, programs: list[int]) -> Piece:
    start = np.sort(rng.integers(0, notes * 12, size=notes)) / 50.0  # a note every ~0.12 s on average
    prog = rng.choice(programs, size=notes)
    pitch = np.where(prog == DRUMS, rng.integers(36, 52, size=notes), rng.integers(45, 80, size=notes))
    return Piece(make_notes(start, start + 0.2, pitch, rng.integers(40, 120, size=notes), prog))


def write_corpus(root, rng) -> None:
    """rock: 6 long band pieces; folk: 30 short fiddle tunes; jazz: one piano piece."""
    for style, count, notes, programs in (
        ("rock", 6, 800, [29, 33, DRUMS]),
        ("folk", 30, 14, [40]),
        ("jazz", 1, 120, [0]),
    ):
        (root / style).mkdir(parents=True)
        for k in range(count):
            write_midi(_piece(rng, notes, programs), root / style / f"{k}.mid")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("balance")
    write_corpus(root / "midi", np.random.default_rng(0))
    build(BuildConfig(source=str(root / "midi"), out=root / "data", workers=1, val_fraction=0,
                      test_fraction=0, progress=False))  # fmt: skip
    return root / "data"


def style_tokens(ds) -> dict[str, float]:
    t = np.bincount(ds.win_style, weights=ds.win_tokens, minlength=len(ds.styles))
    return {ds.styles[k]: float(t[k]) for k in range(len(t)) if t[k]}


def expected(ds, alpha: float) -> dict[str, float]:
    mass = {s: t**alpha for s, t in style_tokens(ds).items()}
    return {s: m / sum(mass.values()) for s, m in mass.items()}


def drawn_styles(ds, balance: StyleBalance, steps: int, batch: int) -> dict[str, float]:
    """Shares of the styles of the windows the trainer's batches hold, read off each window's style token."""
    tb = TrainBatches(ds, batch, 1, seed=5, rank=0, mixup=0.0, balance=balance)
    try:
        first = np.concatenate([tb._make(s).micro[0].x[:, 0].numpy() for s in range(steps)])
    finally:
        tb.close()
    names = [ds.vocab.name(int(t)).removeprefix("style:") for t in first]
    return {s: names.count(s) / len(names) for s in set(names)}


def test_the_windows_hold_what_the_shards_hold(data_dir):
    ds = WindowDataset(data_dir, "train", CONTEXT, augment=False)
    tokens = style_tokens(ds)
    assert set(tokens) == {"rock", "folk", "jazz"}
    assert tokens["rock"] > 5 * tokens["folk"] and tokens["folk"] > 2 * tokens["jazz"]
    for i in range(len(ds)):  # each window's token count is its non-padding length, up to the snap to a wait
        held = np.count_nonzero(ds.sample(i, 0)["ids"] != ds.pad_id)
        assert (
            held == ds.win_tokens[i] if ds.win_start[i] == 0 else 0 <= ds.win_tokens[i] - held <= SNAP_TOKENS
        )
    packed = PackedWindowDataset(data_dir, "train", CONTEXT, augment=False)
    assert len(packed) < len(ds) and packed.win_tokens.sum() == ds.win_tokens[ds.win_count == 1].sum()


@pytest.mark.parametrize("alpha", [0.5, 0.0])
def test_the_drawn_shares_follow_tokens_to_the_alpha(data_dir, alpha):
    ds = WindowDataset(data_dir, "train", CONTEXT, augment=True)
    balance = StyleBalance(ds, alpha)
    want = expected(ds, alpha)
    assert balance.shares() == pytest.approx(want)
    got = drawn_styles(ds, balance, steps=250, batch=8)  # 2,000 windows: one standard error is <= 1.1 %
    assert got == pytest.approx(want, abs=0.04), (got, want)
    # the balance moved windows towards the small styles
    assert got["jazz"] > 3 * expected(ds, 1.0)["jazz"]


def test_alpha_one_draws_in_proportion_to_tokens(data_dir):
    ds = PackedWindowDataset(data_dir, "train", CONTEXT, augment=False)
    balance = StyleBalance(ds, 1.0)
    assert not balance.uniform  # packed runs of short tunes hold fewer tokens than full windows
    n = 200_000
    idx = np.concatenate([balance.draw(step_rng(1, s, 0), n // 100) for s in range(100)])
    freq = np.bincount(idx, minlength=len(ds)) / n
    want = ds.win_tokens / ds.win_tokens.sum()  # every token equally likely
    assert np.abs(freq - want).max() < 5 * np.sqrt(want.max() / n), np.abs(freq - want).max()
    tokens = style_tokens(ds)
    assert balance.shares() == pytest.approx({s: t / sum(tokens.values()) for s, t in tokens.items()})


def test_alike_windows_keep_the_old_draw_bit_for_bit():
    ds = SyntheticDataset("x", "train", 32, augment=False)  # no styles: every window alike
    for alpha in (0.0, 0.5, 1.0):
        balance = StyleBalance(ds, alpha)
        assert balance.uniform
        assert np.array_equal(
            balance.draw(step_rng(3, 9, 1), 64), step_rng(3, 9, 1).integers(len(ds), size=64)
        )


def test_resume_and_ranks_replay_the_same_balanced_batches(data_dir):
    ds = WindowDataset(data_dir, "train", CONTEXT, augment=True)

    def batches(rank):
        return TrainBatches(ds, 4, 2, seed=7, rank=rank, mixup=0.0, balance=StyleBalance(ds, 0.5))

    straight, resumed, other = batches(0), batches(0), batches(1)
    try:
        for s in range(6):
            a = straight.get(s)
        b = resumed.get(5)  # a fresh run picking up at step 5
        assert all(np.array_equal(x.x, y.x) and np.array_equal(x.pos.time, y.pos.time)
                   for x, y in zip(a.micro, b.micro, strict=True))  # fmt: skip
        assert not np.array_equal(other.get(5).micro[0].x, a.micro[0].x)
    finally:
        for t in (straight, resumed, other):
            t.close()


def test_a_run_reports_the_shares_saves_alpha_and_resumes_exactly(data_dir, tmp_path, capsys):
    from musenet.model import checkpoint
    from musenet.train.config import TrainConfig
    from musenet.train.log import losses
    from musenet.train.loop import train

    # min_lr_ratio 1: a constant rate after warmup, so a 3-step run resumed to 6 has the 6-step run's schedule
    common = dict(data=str(data_dir), n_layer=1, n_head=2, n_embd=32, context=CONTEXT, batch_size=4, lr=2e-3,
                  warmup_steps=1, min_lr_ratio=1.0, eval_interval=3, threads=1, style_alpha=0.3)  # fmt: skip
    train(TrainConfig(out=str(tmp_path / "straight"), max_steps=6, **common))
    out = capsys.readouterr().out
    assert "share of windows per style (tokens^0.3" in out
    saved = checkpoint.read_meta(tmp_path / "straight")
    assert saved["train"]["style_alpha"] == 0.3
    shares = {r["style"]: r["share"] for r in saved["style_shares"]}
    assert shares == pytest.approx(expected(WindowDataset(data_dir, "train", CONTEXT, True), 0.3))
    assert re.search(rf"jazz +{100 * shares['jazz']:.1f} %", out), out

    train(TrainConfig(out=str(tmp_path / "split"), max_steps=3, **common))
    cfg = TrainConfig.from_dict(checkpoint.read_meta(tmp_path / "split")["train"]).resume_with(
        {"max_steps": 6}
    )
    train(cfg, resume=True)
    want, got = losses(tmp_path / "straight" / "log.csv"), losses(tmp_path / "split" / "log.csv")
    assert sorted(got) == sorted(want) == list(range(1, 7))
    assert all(abs(got[s] - want[s]) <= 1e-5 for s in want), (got, want)
    with pytest.raises(ValueError, match="cannot change style_alpha"):
        cfg.resume_with({"style_alpha": 1.0})


def test_old_runs_load_as_alpha_one_and_bad_alphas_are_refused():
    from musenet.train.config import TrainConfig

    old = TrainConfig(data="d", out="o").to_dict()
    del old["style_alpha"]
    assert TrainConfig.from_dict(old).style_alpha == 1.0
    assert TrainConfig(data="d", out="o").style_alpha == 0.5
    with pytest.raises(ValueError, match="style_alpha"):
        TrainConfig(data="d", out="o", style_alpha=1.5)
    assert json.dumps(TrainConfig(data="d", out="o").to_dict())  # saved with the run


def test_worker_processes_make_the_same_batches(data_dir):
    from functools import partial

    from musenet.train.data import open_dataset

    spec = "musenet.data.dataset:WindowDataset"
    ds = open_dataset(spec, str(data_dir), "train", CONTEXT, True)
    opener = partial(open_dataset, spec, str(data_dir), "train", CONTEXT, True)
    one = TrainBatches(ds, 4, 2, seed=3, rank=0, mixup=0.3, balance=StyleBalance(ds, 0.5))
    many = TrainBatches(
        ds, 4, 2, seed=3, rank=0, mixup=0.3, balance=StyleBalance(ds, 0.5), workers=2, opener=opener
    )
    try:
        for s in (0, 1, 2, 3, 7, 8):
            a, b = one.get(s), many.get(s)
            assert a.torch_seed == b.torch_seed
            for x, y in zip(a.micro, b.micro, strict=True):
                assert (
                    np.array_equal(x.x, y.x)
                    and np.array_equal(x.y, y.y)
                    and np.array_equal(x.pos.chord, y.pos.chord)
                )
                assert float(x.mix[0]) == float(y.mix[0]) and np.array_equal(x.mix[1], y.mix[1])
    finally:
        one.close()
        many.close()
