"""Infilling: the fill-in-the-middle split, its grammar, and `Composer.infill` with a small random model: every
promise (span, instruments, untouched notes, no repairs) holds whatever the weights."""

import numpy as np
import pytest
import torch

from musenet.codec.encode import encode
from musenet.codec.events import DRUMS, Piece, make_notes
from musenet.codec.grammar import Grammar
from musenet.codec.infill import split
from musenet.codec.rules import to_units
from musenet.codec.vocab import Vocab, VocabConfig
from musenet.data.infill import draw_span
from musenet.errors import UserError
from musenet.generate.composer import Composer
from musenet.model.config import GPTConfig
from musenet.model.gpt import GPT

VOCAB = Vocab()
UNIT = VOCAB.config.time_unit_ms


def random_piece(seed=0, n=150, seconds=20.0, programs=(0, 33, 40, DRUMS)):
    rng = np.random.default_rng(seed)
    start = np.sort(rng.uniform(0, seconds, n))
    return Piece(
        make_notes(
            start,
            start + rng.uniform(0.05, 4.0, n),
            rng.integers(36, 84, n),
            rng.integers(20, 127, n),
            rng.choice(programs, n),
        ),
        style="pop",
    )


def tiny_model(vocab=VOCAB, block_size=256, seed=0):
    torch.manual_seed(seed)
    cfg = GPTConfig(vocab_size=vocab.size, block_size=block_size, n_layer=2, n_head=2, n_embd=32)
    return GPT(cfg).eval()


@pytest.fixture(scope="module")
def composer():
    return Composer(tiny_model(block_size=512), VOCAB)


def test_vocab_infill_tokens_after_pad_and_old_configs_mean_what_they_meant():
    new, old = VOCAB, Vocab(VocabConfig(infill=False))
    assert new.size == old.size + 5 and new.pad == old.pad
    assert [new.name(new.special(n)) for n in ("infill", "fill", "fill_end")] == [
        "infill",
        "fill",
        "fill_end",
    ]
    saved = old.config.to_dict()
    del saved["infill"]  # a config saved before the field existed
    assert VocabConfig.from_dict(saved) == old.config
    assert "fill_end" in new.layout() and "fill_end" not in old.layout()
    with pytest.raises(KeyError):
        old.special("fill")


def streams(piece):
    enc = encode(piece, VOCAB)
    at = int(np.flatnonzero(enc.ids == VOCAB.start)[0]) + 1
    return enc.ids[:at], enc.ids[at:], enc.positions.time[at:], enc.duration


@pytest.mark.parametrize("seed", range(6))
def test_split_middle_is_accepted_by_the_span_grammar_at_the_right_times(seed):
    prefix, body, time, duration = streams(random_piece(seed))
    insts = [int(t) - VOCAB.instrument_offset for t in prefix if VOCAB.kind(int(t)) == "instrument"]
    rng = np.random.default_rng(seed)
    for _ in range(10):
        t0, t1, redo = draw_span(body, time, 0, insts, rng, VOCAB)
        fim = split(body, time, VOCAB, t0, t1, redo)
        closer = VOCAB.special("fill_end")
        g = Grammar(
            VOCAB, 1, redo, t1, min_end=t1, closer=closer, piece_duration=duration, drums_at_limit=False
        )
        g.begin(t0, fim.sounding)
        for k, tok in enumerate([*fim.middle.tolist(), closer]):
            assert g.mask()[0, tok], (t0, t1, redo, k, VOCAB.name(tok))
            p = g.push(np.array([tok]))
            assert p[0, 0] == (fim.middle_time[k] if k < len(fim.middle) else t1)
        # the context keeps every token's clock, marks the span where it is, and holds no redone onset in it
        ctx, ct = fim.context, fim.context_time
        assert np.all(np.diff(ct) >= 0)
        assert (
            ct[ctx == VOCAB.special("span_start")][0] == t0 and ct[ctx == VOCAB.special("span_end")][0] == t1
        )
        notes = ctx < VOCAB.n_notes
        tab = VOCAB.note_table[ctx[notes]]
        inside = (ct[notes] >= t0) & (ct[notes] < t1) & (tab[:, 1] > 0) & np.isin(tab[:, 0], redo)
        assert not inside.any()


def check_candidate(source, cand, start, end, redo):
    """Untouched notes identical, new notes only inside the span and only for redo, held notes closed in it."""
    assert not cand.repairs
    inst_of = VOCAB.program_to_instrument
    t0, t1 = to_units(start, UNIT), to_units(end, UNIT)
    src, out = source.notes, cand.piece.notes
    s_inst = inst_of[src["program"].astype(np.int64)]
    s_start, s_end = to_units(src["start"], UNIT), to_units(src["end"], UNIT)
    mine = np.isin(s_inst, redo)
    replaced = mine & (s_start >= t0) & (s_start < t1)
    held = mine & ~VOCAB.is_drums[s_inst] & (s_start < t0) & (s_end > t0)
    untouched = src[~replaced & ~held]
    key = lambda a: sorted(map(tuple, a[["start", "end", "pitch", "velocity", "program"]].tolist()))  # noqa: E731
    out_rows = key(out)
    for row in key(untouched):  # every untouched note, exactly
        out_rows.remove(row)
    rest = make_notes(*(np.array([r[i] for r in out_rows]) for i in range(5))) if out_rows else src[:0]
    # what is left: the held notes (same start, pitch, velocity, program; ended inside the span) and new notes
    r_start, r_end = to_units(rest["start"], UNIT), to_units(rest["end"], UNIT)
    is_held = r_start < t0
    assert is_held.sum() == held.sum()
    assert np.all(r_end[is_held] > t0 - 1) and np.all(r_end[is_held] <= t1)
    fresh = rest[~is_held]
    assert np.all((r_start[~is_held] >= t0) & (r_start[~is_held] < t1))
    assert np.all(np.isin(inst_of[fresh["program"].astype(np.int64)], redo))
    f_drum = VOCAB.is_drums[inst_of[fresh["program"].astype(np.int64)]]
    assert np.all(r_end[~is_held][~f_drum] <= t1)


@pytest.mark.parametrize(
    ("start", "end", "instruments"),
    [
        (5.0, 9.0, None),
        (3.33, 12.5, ("bass",)),
        (0.0, 4.0, ("drums", "piano")),
        (15.0, 20.0, ("violin", "cello")),
    ],
)
def test_infill_keeps_the_untouched_music_note_for_note(composer, start, end, instruments):
    source = random_piece(1)
    out = composer.infill(source, start=start, end=end, instruments=instruments, candidates=3, seed=2)
    assert [c.index for c in out] == [1, 2, 3] and all(c.span == (start, end) for c in out)
    names = [i.name for i in VOCAB.config.instruments]
    present = {int(k) for k in VOCAB.program_to_instrument[source.notes["program"].astype(np.int64)]}
    redo = sorted(present) if instruments is None else [names.index(n) for n in instruments]
    for c in out:
        check_candidate(source, c, start, end, redo)


def test_infill_seeds_and_greedy(composer):
    source = random_piece(2)
    a = composer.infill(source, start=4, end=8, candidates=2, seed=5)
    b = composer.infill(source, start=4, end=8, candidates=2, seed=5)
    c = composer.infill(source, start=4, end=8, candidates=2, seed=6)
    assert all(np.array_equal(x.ids, y.ids) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x.ids, y.ids) for x, y in zip(a, c, strict=True))
    g = composer.infill(source, start=4, end=8, candidates=2, seed=1, temperature=0)
    assert np.array_equal(g[0].ids, g[1].ids)


def test_infill_a_long_piece_trims_the_context_around_the_span(composer):
    source = random_piece(3, n=900, seconds=120.0)
    out = composer.infill(source, start=60, end=62, instruments=["piano"], candidates=2, seed=0)
    for c in out:
        check_candidate(source, c, 60, 62, [0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(start=8, end=4), "must come after"),
        (dict(start=30, end=40), "outside the piece"),
        (dict(start=5, end=25), "outside the piece"),
        (dict(start=0, end=20, instruments=["kazoo"]), "unknown instrument 'kazoo'"),
        (dict(start=0, end=19), "longer than the model can see"),
    ],
)
def test_infill_bad_requests_say_what_is_wrong(composer, kwargs, message):
    with pytest.raises(UserError, match=message):
        composer.infill(random_piece(4, n=400), candidates=1, **kwargs)


def test_a_model_that_never_learned_infilling_says_so():
    old = Vocab(VocabConfig(infill=False))
    with pytest.raises(UserError, match="never learned infilling"):
        Composer(tiny_model(old), old).infill(random_piece(0), start=1, end=2)


def test_infill_sounds_no_note_past_max_note(composer):
    """A span of solo piano redone with `max_note` 0.4 s: every note struck inside the span ends within 0.4 s;
    without the cap the random model holds some longer."""
    source = random_piece(5, n=60, programs=(0,))
    kw = dict(start=4.0, end=12.0, candidates=3, seed=1)

    def over(pieces):
        n = np.concatenate([c.piece.notes for c in pieces])
        inside = n[(n["start"] >= 4.0) & (n["start"] < 12.0)]
        return int(((inside["end"] - inside["start"]) > 0.4 + 1e-9).sum())

    assert over(composer.regenerate(source, composer.infill_config(max_note=0.4, **kw))) == 0
    assert over(composer.regenerate(source, composer.infill_config(max_note=None, **kw))) > 0


def test_infill_release_after_ends_the_span_notes_only(composer):
    """`release_after` 0.4 s: the same tokens as without it, every note struck inside the span ends within 0.4 s,
    the piece's notes before the span are untouched."""
    source = random_piece(5, n=60, programs=(0,))
    kw = dict(start=4.0, end=12.0, candidates=3, seed=1)
    cut = composer.regenerate(source, composer.infill_config(release_after=0.4, **kw))
    free = composer.regenerate(source, composer.infill_config(release_after=None, **kw))
    before = source.notes[source.notes["end"] <= 4.0]
    assert len(before) and (before["end"] - before["start"] > 0.4).any()
    for c, f in zip(cut, free, strict=True):
        assert np.array_equal(c.ids, f.ids)
        n = c.piece.notes
        inside = n[(n["start"] >= 4.0) & (n["start"] < 12.0)]
        assert len(inside) and ((inside["end"] - inside["start"]) <= 0.4 + 1e-9).all()
        assert np.array_equal(n[n["end"] <= 4.0], before)
    n = np.concatenate([f.piece.notes for f in free])
    inside = n[(n["start"] >= 4.0) & (n["start"] < 12.0)]
    assert ((inside["end"] - inside["start"]) > 0.4 + 1e-9).any()


def test_infill_holds_no_note_past_max_hold(composer):
    """A span of solo piano redone with `max_hold` 0.3 s: from the span's start (where notes may already sound) to
    its end, no note is held more than 0.3 s with no onset after it; without the cap the random model does it."""
    from test_generate import onset_gaps_over

    source = random_piece(5, n=60, programs=(0,))
    kw = dict(start=4.0, end=12.0, candidates=3, seed=1)
    capped = composer.regenerate(source, composer.infill_config(max_hold=0.3, **kw))
    held = composer.regenerate(source, composer.infill_config(max_hold=None, **kw))
    assert all(not onset_gaps_over(c.piece, 0.3, 4.0, 12.0) for c in capped)
    assert sum(len(onset_gaps_over(c.piece, 0.3, 4.0, 12.0)) for c in held) > 0
