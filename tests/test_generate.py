"""Generation under the grammar, with a small random model: every promise holds whatever the weights."""

import numpy as np
import pytest
import torch
from runcli import assert_user_error, main

from musenet.codec.decode import decode
from musenet.codec.events import DRUMS, Piece, make_notes
from musenet.codec.grammar import Grammar
from musenet.codec.vocab import Vocab
from musenet.errors import UserError
from musenet.generate.composer import Composer, primer_tokens
from musenet.generate.engine import GenerateConfig, generate_ids, reachable
from musenet.generate.sampling import SampleConfig, sample
from musenet.model.config import GPTConfig
from musenet.model.gpt import GPT, Positions

VOCAB = Vocab()


def tiny_model(block_size=256, seed=0):
    torch.manual_seed(seed)
    cfg = GPTConfig(vocab_size=VOCAB.size, block_size=block_size, n_layer=2, n_head=2, n_embd=32)
    return GPT(cfg).eval()


@pytest.fixture(scope="module")
def model():
    return tiny_model()


def programs_of(names):
    return {i.program for i in VOCAB.config.instruments if i.name in names}


def test_instruments_length_and_validity(model):
    cfg = GenerateConfig(style="bach", instruments=("violin", "cello"), seconds=6, candidates=3, seed=1)
    out = generate_ids(model, VOCAB, cfg)
    assert len(out) == 3
    for g in out:
        piece, repairs = decode(g.ids, VOCAB)
        assert not repairs
        assert piece.style == "bach"
        # notes there are: 6 s of music allow at most 4 s of silence (max_silence), and none of another instrument
        assert len(piece) > 0 and set(piece.notes["program"].tolist()) <= programs_of({"violin", "cello"})
        end_time = g.positions[list(g.ids).index(VOCAB.end), 0] * VOCAB.config.time_unit_ms / 1000
        assert cfg.min_fraction * 6 - 1e-9 <= end_time <= 6 + 1e-9
        assert piece.duration <= 6 + 1e-9


def test_same_seed_same_tokens_other_seed_other_tokens(model):
    cfg = GenerateConfig(instruments=("piano",), seconds=3, candidates=2, seed=7)
    a, b = generate_ids(model, VOCAB, cfg), generate_ids(model, VOCAB, cfg)
    assert all(np.array_equal(x.ids, y.ids) for x, y in zip(a, b, strict=True))
    c = generate_ids(model, VOCAB, GenerateConfig(instruments=("piano",), seconds=3, candidates=2, seed=8))
    assert not all(np.array_equal(x.ids, y.ids) for x, y in zip(a, c, strict=True))


def test_cached_greedy_decoding_equals_full_recompute(model):
    cfg = GenerateConfig(
        instruments=("piano", "drums"), seconds=2, candidates=1, seed=0, sample=SampleConfig(0.0)
    )
    (g,) = generate_ids(model, VOCAB, cfg)
    # recompute every step from scratch, no cache: the greedy token must be the one the cached run chose
    ids = torch.from_numpy(g.ids[None])
    pos = torch.from_numpy(g.positions[None])
    n_prefix = list(g.ids).index(VOCAB.start) + 1
    end = list(g.ids).index(VOCAB.end)
    with torch.no_grad():
        logits, _ = model(ids[:, :end], Positions(*(pos[:, :end, k] for k in range(4))))
    from musenet.codec.grammar import Grammar

    grammar = Grammar(VOCAB, 1, [0, 9], 200, min_end=int(0.8 * 200), land_waits=True)
    for t in g.ids[:n_prefix]:
        grammar.push(np.array([t]))
    for i in range(n_prefix, end + 1):
        allowed = torch.from_numpy(grammar.mask())
        want = grammar.land(sample(logits[:, i - 1], SampleConfig(0.0), allowed=allowed).numpy())
        assert int(want[0]) == int(g.ids[i]), f"step {i}"
        grammar.push(np.array([g.ids[i]]))


def test_sliding_window_makes_long_pieces_from_a_short_context():
    model = tiny_model(block_size=24)
    cfg = GenerateConfig(instruments=("piano", "drums"), seconds=20, candidates=2, seed=3)
    for g in generate_ids(model, VOCAB, cfg):
        assert len(g.ids) > 4 * 24  # the window slid several times
        piece, repairs = decode(g.ids, VOCAB)
        assert not repairs and 16 <= piece.duration <= 20.2 and len(piece) >= 4  # a note every 4 s at least


def test_primer_is_kept_verbatim_and_continued(model):
    notes = make_notes([0.0, 0.5, 1.0], [0.5, 1.0, 2.0], [60, 64, 67], [70, 80, 90], [0, 0, 40])
    notes["start"] += 0.003  # off the 10 ms grid: kept exactly, not quantised
    notes["end"] += 0.003
    primer = Piece(notes)
    composer = Composer(model, VOCAB)
    out = composer.generate(instruments=["flute"], seconds=3, primer=primer, candidates=2, seed=2)
    for c in out:
        head = c.piece.notes[: len(notes)]
        assert np.array_equal(head, primer.notes)
        rest = c.piece.notes[len(notes) :]
        assert len(rest) > 0 and np.all(rest["start"] >= 2.0 - 1e-9)
        assert set(rest["program"].tolist()) <= programs_of({"flute"})
        assert c.piece.duration <= 2.003 + 3 + 1e-6
    # only the last second of the primer
    out = composer.generate(instruments=["flute"], seconds=1, primer=primer, prompt_seconds=1.0, candidates=1)
    first = out[0].piece.notes[0]
    assert first["pitch"] == 67 and abs(first["start"]) < 1e-5  # the window starts 1 s before the end


def test_the_decoded_rows_hold_every_token_the_grammar_can_allow(model):
    # a primer with piano and violin, new music for flute and drums: the engine computes logits only for the
    # tokens of `reachable`; replaying the whole vocabulary's grammar over its streams never allows another
    notes = make_notes([0.0, 0.5, 1.0], [1.6, 1.0, 2.0], [60, 64, 67], [70, 80, 90], [0, 0, 40])
    insts = ("flute", "drums")
    cfg = GenerateConfig(instruments=insts, seconds=4, candidates=3, seed=5, sample=SampleConfig(1.5))
    names = [i.name for i in VOCAB.config.instruments]
    present = sorted({names.index(n) for n in (*insts, "piano", "violin")})
    rows = reachable(VOCAB, present)
    assert len(rows) < VOCAB.size / 2
    for g in generate_ids(model, VOCAB, cfg, primer=primer_tokens(Piece(notes), VOCAB)):
        grammar = Grammar(VOCAB, 1, [names.index(n) for n in insts], g.positions[-1, 0], min_end=0)
        seen = 0
        for i, t in enumerate(g.ids):
            if i >= list(g.ids).index(VOCAB.start) + 1:
                allowed = np.flatnonzero(grammar.mask()[0])
                assert np.isin(allowed, rows).all(), [
                    VOCAB.name(int(a)) for a in allowed[~np.isin(allowed, rows)]
                ]
                seen += len(allowed)
            grammar.push(np.array([t]))
        assert seen > 0


def test_a_drum_hit_at_the_primer_end_is_not_doubled(model):
    # the primer's last event is a drum hit at 1.0 s, exactly where the new music starts
    primer = Piece(make_notes([0.0, 1.0], [1.0, 1.1], [60, 36], [80, 100], [0, 128]))
    composer = Composer(model, VOCAB)
    for c in composer.generate(instruments=["piano"], seconds=2, primer=primer, candidates=3, seed=4):
        kicks = c.piece.notes[(c.piece.notes["program"] == 128) & (c.piece.notes["pitch"] == 36)]
        assert len(kicks) == 1
        assert np.array_equal(c.piece.notes[c.piece.notes["program"] == 128], primer.notes[1:])


def test_bad_requests_are_user_errors(model):
    composer = Composer(model, VOCAB)
    for kwargs, words in [
        (dict(instruments=["kazoo"]), "unknown instrument 'kazoo'"),
        (dict(style="klingon"), "unknown style"),
        (dict(seconds=-1), "seconds"),
        (dict(candidates=0), "candidates"),
        (dict(temperature=-1), "temperature"),
        (dict(top_p=0), "top_p"),
        (dict(prompt_seconds=3), "needs a primer"),
    ]:
        with pytest.raises(UserError, match=words):
            composer.generate(**kwargs)


def test_draw_matches_the_distribution():
    from musenet.generate.sampling import draw

    probs = torch.tensor([[0.0, 0.1, 0.0, 0.6, 0.3]]).repeat(20000, 1)
    got = torch.bincount(draw(probs, torch.Generator().manual_seed(0)), minlength=5).float() / 20000
    assert got[0] == 0 and got[2] == 0
    assert torch.allclose(got, probs[0], atol=0.015)


def test_sampling_filters():
    logits = torch.tensor([[0.0, 1.0, 2.0, 3.0]])
    g = torch.Generator().manual_seed(0)
    assert sample(logits, SampleConfig(0.0)).item() == 3
    draws = {sample(logits, SampleConfig(1.0, top_k=2), g).item() for _ in range(200)}
    assert draws == {2, 3}
    # top_p 0.5: token 3 alone has p = 0.64 >= 0.5
    assert {sample(logits, SampleConfig(1.0, top_p=0.5), g).item() for _ in range(50)} == {3}
    allowed = torch.tensor([[True, True, False, False]])
    assert {sample(logits, SampleConfig(1.0), g, allowed).item() for _ in range(100)} <= {0, 1}


def reference_filter(logits: torch.Tensor, cfg: SampleConfig) -> torch.Tensor:
    """Top-k then top-p over a full sort of the vocabulary: (B, V) probabilities."""
    if cfg.top_k:
        kth = torch.topk(logits, cfg.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    p = sorted_logits.softmax(-1)
    p = p.masked_fill((p.cumsum(-1) - p) >= cfg.top_p, 0.0)
    return torch.zeros_like(p).scatter(-1, order, p / p.sum(-1, keepdim=True))


@pytest.mark.parametrize("scale", [0.5, 8.0])  # flat (top-p needs most of the vocabulary) and peaked
@pytest.mark.parametrize("cfg", [SampleConfig(1.0, top_p=0.9), SampleConfig(1.0, top_k=50, top_p=0.8)])
def test_top_k_and_top_p_keep_what_a_full_sort_keeps(cfg, scale):
    from musenet.generate.sampling import candidates

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 3000, generator=g) * scale
    logits[1, ::2] = float("-inf")  # a masked row
    probs, ids = candidates(logits, cfg)
    got = torch.zeros(3, 3000).scatter_add(-1, ids, probs)
    want = reference_filter(logits, cfg)
    assert ((got > 0) == (want > 0)).all()
    torch.testing.assert_close(got / got.sum(-1, keepdim=True), want)


def test_package_level_load(tmp_path):
    import musenet
    from musenet.model import checkpoint

    checkpoint.save(tmp_path, tiny_model(block_size=64), step=0, seed=0, vocab=VOCAB.config.to_dict())
    composer = musenet.load(tmp_path)
    (c,) = composer.generate(instruments=["harp"], seconds=1, candidates=1)
    assert c.instruments in ([], ["harp"]) and c.seconds <= 1.0 + 1e-9
    with pytest.raises(UserError, match="not found"):
        musenet.load(tmp_path / "missing")


def test_the_model_s_sampling_defaults_apply_unless_overridden(tmp_path):
    import json

    import musenet
    from musenet.model import checkpoint

    run = tmp_path / "run"
    checkpoint.save(run, tiny_model(block_size=64), step=3, seed=0, vocab=VOCAB.config.to_dict())
    out = tmp_path / "greedy"
    cmd = ["export", run, out, "--temperature", "0"]
    r = main(*cmd)
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "config.json").read_text())["sampling"] == {"temperature": 0.0}
    composer = musenet.load(out)
    assert composer.sampling == SampleConfig(0.0, 0, 0.95)
    kw = dict(instruments=["piano", "flute"], seconds=3, candidates=1)
    # temperature 0 from the model's config: greedy, so every seed gives the same piece...
    a, b = (composer.generate(seed=s, **kw)[0] for s in (1, 2))
    assert np.array_equal(a.ids, b.ids)
    # ...and a temperature given by the caller wins
    c, d = (composer.generate(seed=s, temperature=1.0, top_p=1.0, **kw)[0] for s in (1, 2))
    assert not np.array_equal(c.ids, d.ids)
    # a model without the entry samples at temperature 1, nucleus 0.95
    assert musenet.load(run).sampling == SampleConfig(1.0, 0, 0.95)
    assert_user_error(main(*cmd[:-1], "-1"), "--temperature must be 0 (greedy) or")
    assert_user_error(main("export", tmp_path / "nope", tmp_path / "x"), "no checkpoint")


def _restrikes(piece, seconds=0.05):
    """Pitched onsets that strike a key its instrument struck less than `seconds` before."""
    n = piece.notes[piece.notes["program"] != 128]
    count = 0
    for prog in np.unique(n["program"]):
        for pitch in np.unique(n["pitch"][n["program"] == prog]):
            starts = np.sort(n["start"][(n["program"] == prog) & (n["pitch"] == pitch)])
            count += int((np.diff(starts) < seconds - 1e-9).sum())
    return count


def test_the_shipped_model_s_piano_never_restrikes_a_key_within_50_ms():
    """The shipped model's `piano` style can fall into re-striking one key every 10-30 ms (MODEL_CARD, known
    limits); the default `min_restrike` (0.05 s) forbids it, `None` lets it through."""
    import musenet

    composer = musenet.load()
    kw_cfg = dict(style="piano", seconds=8, candidates=4, seed=0)
    kw = dict(instruments=["piano"], **kw_cfg)
    ruled = composer.generate(**kw)
    assert sum(_restrikes(c.piece) for c in ruled) == 0
    assert all(len(c.piece) > 20 for c in ruled)
    free = composer.compose(composer.config(min_restrike=None, instruments=("piano",), **kw_cfg))
    assert sum(_restrikes(c.piece) for c in free) > 0


def onset_gaps_over(piece: Piece, cap: float, lo: float = 0.0, hi: float = float("inf")) -> list[tuple]:
    """The gaps between consecutive onsets (a, b), a in [lo, hi - cap), longer than `cap` while a note struck by a
    still sounded `cap` after it: what `max_hold` forbids."""
    unit = VOCAB.config.time_unit_ms / 1000
    n = piece.notes
    starts = np.unique(np.r_[lo, n["start"][(n["start"] >= lo) & (n["start"] < hi)]])
    bad = []
    for a, b in zip(starts[:-1], np.r_[starts[1:], hi][: len(starts) - 1], strict=True):
        if a + cap < hi and b - a > cap + unit / 2:
            sounding = n[(n["start"] <= a) & (n["end"] > a)]
            if len(sounding) and sounding["end"].max() > a + cap + unit / 2:
                bad.append((a, b))
    return bad


def test_max_hold_reaches_the_grammar(model):
    """With `max_hold` 0.3 s and no silence cap, whatever the random model samples, no notes are held past 0.3 s
    without a new onset; without it they are; a bad value is a one-line error."""
    kw = dict(instruments=("piano", "cello"), seconds=8, candidates=4, seed=3, max_silence=None)
    held = generate_ids(model, VOCAB, GenerateConfig(max_hold=None, **kw))
    capped = generate_ids(model, VOCAB, GenerateConfig(max_hold=0.3, **kw))
    assert sum(len(onset_gaps_over(decode(g.ids, VOCAB)[0], 0.3)) for g in held) > 0
    assert all(not onset_gaps_over(decode(g.ids, VOCAB)[0], 0.3) for g in capped)
    with pytest.raises(ValueError, match="max_hold"):
        GenerateConfig(max_hold=0)
    assert_user_error(main("generate", "--max-hold", "-1", "--no-audio"), "--max-hold must be > 0")


def longest_note(piece: Piece) -> float:
    n = piece.notes[piece.notes["program"] != DRUMS]
    return float((n["end"] - n["start"]).max()) if len(n) else 0.0


def test_max_note_reaches_the_grammar(model):
    """With `max_note` 0.5 s, whatever the random model samples, no pitched note sounds longer; without it some
    do; a bad value is a one-line error."""
    kw = dict(instruments=("piano", "cello", "drums"), seconds=8, candidates=4, seed=3)
    free = generate_ids(model, VOCAB, GenerateConfig(max_note=None, **kw))
    capped = generate_ids(model, VOCAB, GenerateConfig(max_note=0.5, **kw))
    assert max(longest_note(decode(g.ids, VOCAB)[0]) for g in free) > 0.5
    assert all(0 < longest_note(decode(g.ids, VOCAB)[0]) <= 0.5 + 1e-9 for g in capped)
    with pytest.raises(ValueError, match="max_note"):
        GenerateConfig(max_note=float("inf"))
    assert_user_error(main("generate", "--max-note", "0", "--no-audio"), "--max-note must be > 0")


def test_release_after_ends_the_long_notes_in_the_output_only(model):
    """`release_after` 0.3 s: the same tokens as without it (the model is not told), every new pitched note ends
    within 0.3 s of its start, the drums and the primer's own long note are as they were; a bad value is a one-line
    error."""
    primer = Piece(make_notes([0.0, 0.5], [2.0, 0.6], [48, 38], [80, 100], [0, DRUMS]))
    composer = Composer(model, VOCAB)
    kw = dict(instruments=("piano", "cello", "drums"), seconds=8, candidates=4, seed=3)
    free = composer.compose(GenerateConfig(release_after=None, **kw), primer=primer)
    cut = composer.compose(GenerateConfig(release_after=0.3, **kw), primer=primer)
    assert max(longest_note(Piece(c.piece.notes[2:])) for c in free) > 0.3
    for f, c in zip(free, cut, strict=True):
        assert np.array_equal(f.ids, c.ids)
        assert np.array_equal(c.piece.notes[:2], primer.notes)
        new_f, new_c = f.piece.notes[2:], c.piece.notes[2:]
        assert 0 < longest_note(Piece(new_c)) <= 0.3 + 1e-9
        assert np.array_equal(new_c[["start", "pitch", "program"]], new_f[["start", "pitch", "program"]])
        drums = new_c["program"] == DRUMS
        assert np.array_equal(new_c[drums], new_f[drums])
    with pytest.raises(ValueError, match="release_after"):
        GenerateConfig(release_after=-1)
    assert_user_error(main("generate", "--release-after", "0", "--no-audio"), "--release-after must be > 0")
