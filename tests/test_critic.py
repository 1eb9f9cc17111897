"""The critics: the inner one learns an easy real/fake split, saves and loads, its pool follows the generator's weights,
reranking keeps the critic's favourites reproducibly, and its errors are one line; the style critic learns
which style a window is (its style token masked) and scores the style asked for."""

import json

import numpy as np
import pytest
import torch
from runcli import assert_user_error, main

from musenet import load
from musenet.codec.encode import prefix_ids
from musenet.codec.vocab import Vocab
from musenet.critic.config import CriticConfig, PoolConfig, TrainCriticConfig
from musenet.critic.model import Critic, asked_logit, windows_of
from musenet.critic.pool import MANIFEST, ensure_pool
from musenet.critic.store import WEIGHTS, has_critic, load_critic, save_critic
from musenet.critic.train import auc_of, logits_of, roc_auc, style_accuracy, train_critic, train_style_critic
from musenet.critic.windows import style_windows
from musenet.errors import UserError
from musenet.generate.engine import GenerateConfig, generate_ids
from musenet.generate.sampling import SampleConfig
from musenet.model import checkpoint
from musenet.model.config import GPTConfig
from musenet.model.gpt import GPT

VOCAB = Vocab()
TOKENS = 32


def small_critic(seed=0) -> Critic:
    torch.manual_seed(seed)
    return Critic(CriticConfig(VOCAB.size, TOKENS, n_layer=1, n_head=2, n_embd=32, dropout=0.0))


def save_generator(path, seed=0):
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=VOCAB.size, block_size=128, n_layer=2, n_head=2, n_embd=32))
    checkpoint.save(path, model, step=seed, seed=0, vocab=VOCAB.config.to_dict())
    return path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_generator(tmp_path_factory.mktemp("gen"))


def easy_windows(n: int, real: bool, rng: np.random.Generator) -> np.ndarray:
    """Real: a steady beat (wait, one note, wait, the next note up...); fake: notes and waits at random."""
    prefix = prefix_ids(VOCAB, "bach", [0])
    body = TOKENS - len(prefix)
    out = []
    for _ in range(n):
        if real:
            notes = VOCAB.note_id(0, 5, 60 + (rng.integers(0, 12) + np.arange(body) // 2) % 24)
            b = np.where(np.arange(body) % 2 == 0, VOCAB.wait_id(10), notes)
        else:
            b = np.where(
                rng.random(body) < 0.5,
                VOCAB.wait_id(rng.integers(1, 100, body)),
                VOCAB.note_id(0, 5, rng.integers(40, 90, body)),
            )
        out.append(np.concatenate([prefix, b]).astype(np.int64))
    return np.stack(out)


def test_roc_auc():
    assert roc_auc(np.array([3.0, 2, 1, 0]), np.array([1, 1, 0, 0])) == 1.0
    assert roc_auc(np.array([0.0, 1, 2, 3]), np.array([1, 1, 0, 0])) == 0.0
    assert roc_auc(np.array([1.0, 1, 1, 1]), np.array([1, 0, 1, 0])) == 0.5
    with pytest.raises(ValueError):
        roc_auc(np.array([1.0]), np.array([1]))


@pytest.mark.slow
def test_critic_separates_an_easy_pair_on_held_out_windows():
    rng = np.random.default_rng(0)
    real, fake = easy_windows(64, True, rng), easy_windows(64, False, rng)
    cfg = CriticConfig(VOCAB.size, TOKENS, n_layer=1, n_head=2, n_embd=32, dropout=0.0)
    train = TrainCriticConfig(steps=60, batch_size=16, lr=3e-3)
    critic = train_critic(real, fake, VOCAB.pad, cfg, train)
    held_real, held_fake = easy_windows(32, True, rng), easy_windows(32, False, rng)
    assert auc_of(critic, held_real, held_fake, VOCAB.pad) > 0.95
    # the training decides the direction, not the setup: with the labels swapped it learns the opposite
    # (an untrained critic is no control here: a random net can split so easy a pair either way by chance)
    swapped = train_critic(fake, real, VOCAB.pad, cfg, train)
    assert auc_of(swapped, held_real, held_fake, VOCAB.pad) < 0.05


def test_padding_does_not_change_a_window_score():
    critic = small_critic()
    w = easy_windows(1, True, np.random.default_rng(1))[0]
    short = w.copy()
    short[20:] = VOCAB.pad
    trunc = w[:20]
    a = critic.score([short], VOCAB.start, VOCAB.pad)
    b = critic.score([np.concatenate([trunc, np.full(7, VOCAB.pad)])], VOCAB.start, VOCAB.pad)
    assert np.allclose(a, b)
    assert len(windows_of(np.concatenate([w, w[8:], w[8:]]), VOCAB.start, VOCAB.pad, TOKENS)) == 3


def test_save_load_round_trip_and_a_torn_pair(tmp_path):
    critic = small_critic(3)
    windows = easy_windows(4, False, np.random.default_rng(2))
    assert not has_critic(tmp_path)
    with pytest.raises(UserError, match="no critic"):
        load_critic(tmp_path)
    save_critic(tmp_path, critic, {"figures": {"heldout_auc": 0.5}})
    back, meta = load_critic(tmp_path)
    assert meta["figures"]["heldout_auc"] == 0.5 and meta["critic"]["tokens"] == TOKENS
    mask = torch.from_numpy(windows) != VOCAB.pad
    with torch.no_grad():
        assert torch.equal(critic(torch.from_numpy(windows), mask), back(torch.from_numpy(windows), mask))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "critic.json",
        "critic.safetensors",
    ]  # no temp files
    (tmp_path / WEIGHTS).write_bytes((tmp_path / WEIGHTS).read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(UserError, match="incomplete"):
        load_critic(tmp_path)


def test_pool_is_reused_until_the_generator_changes(tmp_path):
    gen = save_generator(tmp_path / "gen", seed=0)
    model, _ = checkpoint.load_model(gen)
    specs = [("bach", ("piano",))] * 3
    cfg = PoolConfig(size=3, seconds=2.0)
    pool = tmp_path / "pool"
    first, rebuilt = ensure_pool(pool, gen, model, VOCAB, specs, 8, cfg)
    assert rebuilt and first.shape[1] == 8 and len(first) <= 3
    assert json.loads((pool / MANIFEST).read_text())["generator"]["step"] == 0
    again, rebuilt = ensure_pool(pool, gen, model, VOCAB, specs, 8, cfg)
    assert not rebuilt and np.array_equal(first, again)
    # other sampling settings or window length: a different pool
    assert ensure_pool(pool, gen, model, VOCAB, specs, 8, PoolConfig(size=3, seconds=2.0, seed=1))[1]
    assert ensure_pool(pool, gen, model, VOCAB, specs, 8, cfg)[1]
    assert ensure_pool(pool, gen, model, VOCAB, [("mozart", ("piano",))] * 3, 8, cfg)[1]  # other requests
    assert ensure_pool(pool, gen, model, VOCAB, specs, 8, cfg)[1]
    # new weights at the same step still invalidate it (the hash, not only the step)
    torch.manual_seed(9)
    other = GPT(model.config)
    checkpoint.save(gen, other, step=0, seed=0, vocab=VOCAB.config.to_dict())
    assert ensure_pool(pool, gen, other, VOCAB, specs, 8, cfg)[1]
    assert not ensure_pool(pool, gen, other, VOCAB, specs, 8, cfg)[1]


@pytest.fixture(scope="module")
def with_critic(tmp_path_factory):
    path = save_generator(tmp_path_factory.mktemp("withcritic"))
    save_critic(path, small_critic(5), {})
    return path


def test_rerank_keeps_the_top_scored_candidates_reproducibly(with_critic):
    composer = load(with_critic)
    assert composer.has_critic
    kw = dict(style="bach", instruments=["piano"], seconds=3, candidates=2, seed=4, top_p=0.95)
    a = composer.generate(**kw, rerank=3)
    b = composer.generate(**kw, rerank=3)
    assert [c.index for c in a] == [1, 2]
    assert all(np.array_equal(x.ids, y.ids) for x, y in zip(a, b, strict=True))
    # the same 6 samples drawn by hand (one batch under the same seed), all scored: rerank kept the best 2
    cfg = GenerateConfig("bach", ("piano",), 3, 6, 4, SampleConfig(1.0, 0, 0.95))
    every = generate_ids(composer.model, composer.vocab, cfg)
    logits = composer.critic().score([g.ids for g in every], VOCAB.start, VOCAB.pad)
    best = np.argsort(-logits)[:2]
    assert [list(every[k].ids) for k in best] == [list(c.ids) for c in a]
    probs = [c.summary()["critic"] for c in a]
    assert probs[0] >= probs[1] and np.isclose(probs[0], 1 / (1 + np.exp(-logits[best[0]])), atol=1e-4)
    assert "critic" not in composer.generate(**kw)[0].summary()  # no rerank, no score


def test_rerank_errors(model_dir):
    composer = load(model_dir)
    assert not composer.has_critic
    with pytest.raises(UserError, match="no critic"):
        composer.generate(seconds=1, candidates=1, rerank=2)
    with pytest.raises(UserError, match="rerank must be 1..64"):
        composer.generate(seconds=1, candidates=1, rerank=0)


musenet = main  # in-process through `musenet.cli.main`


@pytest.mark.parametrize(
    "args, words",
    [
        (["generate", "--rerank", "2", "--seconds", "1", "--no-audio"], "has no critic"),
        (["train-critic", "--data", "/nonexistent"], "not a built dataset"),
        (["train-critic", "--data", "/nonexistent", "--tokens", "2"], "--tokens must be at least 8"),
    ],
)
def test_cli_errors_are_one_line(model_dir, tmp_path, args, words):
    r = main(*args, "--model", model_dir, *(["--out", tmp_path / "o"] if args[0] == "generate" else []))
    assert_user_error(r, words)


def write_dataset(out, rng, styles=0):
    """A built-dataset folder of easy 'real' pieces (see easy_windows), train and val splits; with `styles` N, of
    'bach' pieces and every Nth one 'mozart' (see two_style_windows)."""
    from musenet.data.shards import write_meta, write_split

    out.mkdir()
    dtype = [("offset", "<i8"), ("length", "<i4"), ("prefix", "<i2"), ("duration", "<i4"),
             ("style", "<i2"), ("piece", "<i4")]  # fmt: skip
    for split in ("train", "val", "test"):
        pieces, labels = two_style_windows(12, rng, styles) if styles else (easy_windows(12, True, rng), 0)
        n, t = pieces.shape
        index = np.zeros(n, dtype)
        index["style"] = labels
        index["offset"], index["length"], index["prefix"] = np.arange(n) * t, t, 3
        index["duration"], index["piece"] = 200, np.arange(n)
        write_split(out, split, pieces.ravel().astype(np.int32), np.zeros(n * t, np.int32), index)
    write_meta(out, {"vocab": VOCAB.config.to_dict()})
    return out


def test_train_critic_end_to_end(tmp_path):
    gen = save_generator(tmp_path / "gen")
    data = write_dataset(tmp_path / "data", np.random.default_rng(3))
    args = ["--model", gen, "--data", data, "--tokens", 16, "--real", 12, "--pool-size", 8, "--heldout", 4,
            "--seconds", 3, "--steps", 5, "--width", 32, "--quiet"]  # fmt: skip
    r = musenet("train-critic", *args)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert 0 <= out["heldout_auc"] <= 1 and out["train_real"] == 12
    critic, meta = load_critic(gen)
    assert critic.config.tokens == 16 and meta["generator"]["step"] == 0
    assert (gen / "critic-pool" / MANIFEST).is_file()
    checkpoint.load_model(gen)  # the generator's folder still loads
    assert load(gen).generate(seconds=2, candidates=1, rerank=2)[0].critic is not None


def two_style_windows(n: int, rng: np.random.Generator, every: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """n pieces, 'bach' (the easy steady beat) and every `every`th one 'mozart' (notes and waits at random), each
    opening with its own style token, and their style indices."""
    bach, mozart = (VOCAB.style_id(s) - VOCAB.style_offset for s in ("bach", "mozart"))
    rows, styles = [], []
    for k in range(n):
        is_bach = k % every != 1
        w = easy_windows(1, is_bach, rng)[0]
        styles.append(bach if is_bach else mozart)
        w[0] = VOCAB.style_offset + styles[-1]
        rows.append(w)
    return np.stack(rows), np.array(styles)


def style_critic_config(trained: tuple[int, ...] = ()) -> CriticConfig:
    return CriticConfig(
        VOCAB.size, TOKENS, n_layer=1, n_head=2, n_embd=32, dropout=0.0, kind="style",
        style_offset=VOCAB.style_offset, n_styles=len(VOCAB.config.styles), trained_styles=trained,
    )  # fmt: skip


def masked(windows: np.ndarray) -> np.ndarray:
    out = windows.copy()
    out[:, 0] = VOCAB.style_offset
    return out


@pytest.mark.slow
def test_style_critic_learns_which_style_and_scores_the_asked_one():
    rng = np.random.default_rng(0)
    train, styles = two_style_windows(64, rng)
    held, held_styles = two_style_windows(32, rng)
    critic = train_style_critic(
        masked(train),
        styles,
        VOCAB.pad,
        style_critic_config(),
        TrainCriticConfig(steps=60, batch_size=16, lr=3e-3),
    )
    assert style_accuracy(critic, masked(held), held_styles, VOCAB.pad)["accuracy"] > 0.95
    # a stream scores high when its music is the style its prefix asks for, low when another style is asked
    right = critic.score(list(held), VOCAB.start, VOCAB.pad)
    swapped = held.copy()
    bach, mozart = VOCAB.style_id("bach"), VOCAB.style_id("mozart")
    swapped[:, 0] = np.where(held[:, 0] == bach, mozart, bach)
    wrong = critic.score(list(swapped), VOCAB.start, VOCAB.pad)
    assert (right > 0).all() and (wrong < 0).all()


def test_asked_logit_is_the_log_odds_and_stays_finite():
    logits = torch.tensor([[0.0, 0.0], [30.0, 0.0], [1.0, 2.0], [-200.0, 200.0]])
    got = asked_logit(logits, torch.tensor([0, 0, 1, 0]))
    p = torch.softmax(logits[2], -1)[1]
    assert torch.allclose(
        got[:3], torch.stack([torch.tensor(0.0), torch.tensor(30.0), torch.log(p / (1 - p))])
    )
    assert got[3] == -400.0  # float32's softmax would round p to 0 here: no clamp, no tie


def test_style_score_reads_the_music_not_the_style_token():
    torch.manual_seed(0)
    bach, mozart = (VOCAB.style_id(s) - VOCAB.style_offset for s in ("bach", "mozart"))
    critic = Critic(style_critic_config(trained=(bach, mozart))).eval()
    streams, _ = two_style_windows(4, np.random.default_rng(2))
    # the score is the asked style's log-odds of the masked window: the style token never reaches the trunk
    raw = torch.from_numpy(logits_of(critic, masked(streams), VOCAB.pad))
    asked = torch.from_numpy(streams[:, 0] - VOCAB.style_offset)
    want = asked_logit(raw, asked).numpy()
    assert np.allclose(critic.score(list(streams), VOCAB.start, VOCAB.pad), want, atol=1e-5)
    # a style it was not trained on (`unknown`, or any other): a neutral 0, so reranking keeps the sampled order
    other = streams.copy()
    other[:, 0] = [
        VOCAB.style_id(None),
        VOCAB.style_id("jazz"),
        VOCAB.style_offset + bach,
        VOCAB.style_id("jazz"),
    ]
    got = critic.score(list(other), VOCAB.start, VOCAB.pad)
    assert (
        got[0] == 0
        and got[1] == 0
        and got[3] == 0
        and np.isclose(got[2], asked_logit(raw[2:3], torch.tensor([bach]))[0])
    )
    with pytest.raises(ValueError, match="style token"):
        critic.score([streams[0][1:]], VOCAB.start, VOCAB.pad)
    with pytest.raises(ValueError, match="no windows"):
        style_accuracy(critic, masked(streams)[:0], np.zeros(0, np.int64), VOCAB.pad)


def test_style_windows_mask_the_style_and_balance_the_styles(tmp_path):
    data = write_dataset(tmp_path / "data", np.random.default_rng(4), styles=6)  # 10 bach pieces, 2 mozart
    windows, styles = style_windows(data, "train", VOCAB, 16, 400, seed=0)
    assert windows.shape == (400, 16) and (windows[:, 0] == VOCAB.style_offset).all()
    assert (windows[:, 1:3] == prefix_ids(VOCAB, "bach", [0])[1:]).all()  # the instruments and start kept
    named = {VOCAB.config.styles[s] for s in styles}
    assert named == {"bach", "mozart"} and 150 < (styles == styles[0]).sum() < 250
    # each window's body is a stretch of its own piece: bach's bodies are the steady beat (a wait every 2nd token)
    bach = windows[styles == VOCAB.style_id("bach") - VOCAB.style_offset]
    assert (bach[:, 3:] == VOCAB.wait_id(10)).sum(1).min() >= 6
    again, _ = style_windows(data, "train", VOCAB, 16, 400, seed=0)
    assert np.array_equal(windows, again)


def test_train_style_critic_end_to_end(tmp_path):
    gen = save_generator(tmp_path / "gen")
    data = write_dataset(tmp_path / "data", np.random.default_rng(5), styles=2)
    args = ["--model", gen, "--data", data, "--kind", "style", "--tokens", 16, "--real", 64, "--heldout", 16,
            "--steps", 5, "--width", 32, "--quiet"]  # fmt: skip
    r = musenet("train-critic", *args)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert 0 <= out["heldout_accuracy"] <= 1 and out["train_styles"] == 2 and out["chance"] == 0.5
    critic, meta = load_critic(gen)
    assert critic.config.kind == "style" and meta["figures"]["heldout_windows"] == 16 and meta["format"] == 2
    assert set(critic.config.trained_styles) == {
        VOCAB.style_id(s) - VOCAB.style_offset for s in ("bach", "mozart")
    }
    assert not (gen / "critic-pool").exists()  # no generated pool for a style critic
    best = load(gen).generate(style="bach", seconds=2, candidates=1, rerank=2)[0]
    assert 0 < best.critic < 1
    r = musenet("train-critic", "--model", gen, "--data", write_dataset(tmp_path / "plain", np.random.default_rng(6)),
                "--kind", "style", "--quiet")  # fmt: skip
    assert_user_error(r, "at least 2 labelled styles")
