"""The grammar accepts exactly what the encoder writes (on real files), and steers random streams to valid ones."""

import numpy as np
import pytest
from conftest import loadable_files

from musenet.codec.decode import decode
from musenet.codec.encode import encode
from musenet.codec.events import Piece, make_notes
from musenet.codec.grammar import Grammar
from musenet.codec.midi_io import read_midi
from musenet.codec.vocab import Vocab

VOCAB = Vocab()


@pytest.mark.parametrize("path", loadable_files()[::5], ids=lambda p: p.name)
def test_encoded_files_are_in_the_language(path):
    enc = encode(read_midi(path), VOCAB)
    insts = np.unique(VOCAB.note_table[enc.ids[enc.ids < VOCAB.n_notes], 0])
    g = Grammar(VOCAB, 1, insts.tolist(), enc.duration)
    got = []
    n = min(len(enc.ids), 6000)  # the first 6,000 tokens of the long performances keep the test fast
    for i, t in enumerate(enc.ids[:n]):
        allowed = g.mask()[0]
        assert allowed[t], f"token {i} {VOCAB.name(int(t))} was not allowed"
        got.append(g.push(np.array([t]))[0])
    want = np.stack([enc.positions.time, enc.positions.chord, enc.positions.part, enc.positions.countdown], 1)
    assert np.array_equal(np.array(got), want[:n])
    if n == len(enc.ids):
        assert g.mask()[0].nonzero()[0].tolist() == [VOCAB.pad]


def test_random_streams_under_the_mask_decode_cleanly():
    rng = np.random.default_rng(0)
    insts = [1, 9]  # violin and drums
    duration = 500  # 5 s
    B = 8
    g = Grammar(VOCAB, B, insts, duration, min_end=400)
    # the same grammar deciding on some tokens only, in a shuffled order: the same decisions, column for column
    cols = rng.permutation(VOCAB.size)[:2000]
    cols = np.r_[cols[~np.isin(cols, [VOCAB.end, VOCAB.pad, VOCAB.start])], VOCAB.end, VOCAB.pad, VOCAB.start]
    some = Grammar(VOCAB, B, insts, duration, min_end=400, tokens=cols)
    streams = [[] for _ in range(B)]
    for t in [VOCAB.style_id("bach"), VOCAB.instrument_offset + 1, VOCAB.instrument_offset + 9, VOCAB.start]:
        assert np.array_equal(some.mask(), g.mask()[:, cols])
        g.push(np.full(B, t)), some.push(np.full(B, t))
        for s in streams:
            s.append(t)
    for _ in range(20000):
        allowed = g.mask()
        assert np.array_equal(some.mask(), allowed[:, cols])
        assert allowed.any(axis=1).all(), "a stream with no legal next token"
        # uniform over the legal tokens, but favour note-ons so the streams are busy
        weights = allowed * (1.0 + 30.0 * g.is_on[None, :])
        probs = weights / weights.sum(1, keepdims=True)
        toks = np.array([rng.choice(VOCAB.size, p=p) for p in probs])
        g.push(toks), some.push(toks)
        for s, t in zip(streams, toks, strict=True):
            s.append(int(t))
        if g.ended.all():
            break
    assert g.ended.all()
    for s in streams:
        piece, repairs = decode(s, VOCAB)
        assert not repairs, repairs
        assert set(piece.notes["program"].tolist()) <= {40, 128}
        pitched = piece.notes[piece.notes["program"] != 128]
        last = max(pitched["end"].max(initial=0), piece.notes["start"].max(initial=0))
        assert 4.0 <= last <= 5.0 + 1e-9  # ended after min_end, never past the requested duration
        # its notes were within every rule: encoding them changes nothing, and the encoder writes the stream's
        # own tokens (its waits too: one per gap, never a chain of short ones) before the duration's moment
        # (where the grammar lets the last note-offs come in any order)
        enc = encode(piece, VOCAB, style="bach").ids
        again, _ = decode(enc, VOCAB)
        assert np.array_equal(again.notes, piece.notes)
        assert np.array_equal(body(np.array(s), duration), body(enc, duration))
        assert len(piece) > 20


def body(ids: np.ndarray, duration: int) -> np.ndarray:
    """The tokens after `start` up to the wait that takes the clock to `duration`."""
    ids = ids[int(np.flatnonzero(ids == VOCAB.start)[0]) + 1 :]
    wait = np.where((ids >= VOCAB.wait_offset) & (ids < VOCAB.style_offset), ids - VOCAB.wait_offset + 1, 0)
    return ids[np.cumsum(wait) < duration]


def drive(g: Grammar, prefix: list[int], choose) -> tuple:
    """One stream pushed through `prefix`, then through `choose(allowed)`'s token at every step until it ends
    (never at a dead end); its decoded piece and repairs."""
    ids = list(prefix)
    for t in ids:
        g.push(np.array([t]))
    while not g.ended[0]:
        allowed = g.mask()[0]
        assert allowed.any(), "a dead end"
        t = int(choose(allowed))
        ids.append(t)
        g.push(np.array([t]))
    return decode(np.array(ids), VOCAB)


@pytest.mark.parametrize("cap", [None, 150])
def test_silence_is_capped_when_asked(cap):
    # a stream that waits whenever it may (the longest wait), else ends, else plays the lowest allowed note
    names = [i.name for i in VOCAB.config.instruments]
    g = Grammar(VOCAB, 1, [names.index("flute")], duration=3000, min_end=2400, max_silence=cap)
    ids = [VOCAB.style_id("irish_folk"), VOCAB.instrument_offset + names.index("flute"), VOCAB.start]
    for t in ids:
        g.push(np.array([t]))
    while not g.ended[0]:
        allowed = g.mask()[0].nonzero()[0]
        waits = allowed[(allowed >= VOCAB.wait_offset) & (allowed < VOCAB.style_offset)]
        t = waits.max() if len(waits) else VOCAB.end if VOCAB.end in allowed else allowed.min()
        ids.append(int(t))
        g.push(np.array([t]))
    piece, repairs = decode(np.array(ids), VOCAB)
    assert not repairs and g.time[0] == 3000
    if cap is None:
        assert len(piece) == 0  # nothing forces a note: the stream waits out the whole piece
        return
    # every silence, from the start to each onset and from each note's end to the next onset, is within the cap
    assert len(piece) > 0
    unit = VOCAB.config.time_unit_ms / 1000
    starts = np.sort(piece.notes["start"])
    gaps = np.diff(np.concatenate([[0.0], starts]))
    assert gaps.max() <= cap * unit + 1e-9
    assert 3000 * unit - piece.notes["end"].max() <= cap * unit + 1e-9


@pytest.mark.parametrize("entry", [None, 700])
def test_every_asked_instrument_enters_by_the_entry_time(entry):
    """A stream that never chooses the trumpet (it plays the piano whenever it may, else waits as long as it may):
    without `entry` the trumpet stays silent; with it, the clock stops at `entry` until the trumpet has played,
    and the stream still ends cleanly, no later than asked."""
    names = [i.name for i in VOCAB.config.instruments]
    asked = [names.index("piano"), names.index("trumpet")]
    must = dict(must_play=asked, entry=entry) if entry else {}
    g = Grammar(VOCAB, 1, asked, duration=2000, min_end=1600, max_silence=150, **must)
    piano = g.is_on & (g.inst == asked[0])

    def choose(allowed):
        waits = np.flatnonzero(allowed & g.is_wait)
        offs = np.flatnonzero(allowed & g.is_off)
        ons = np.flatnonzero(allowed & piano)
        others = np.flatnonzero(allowed)
        return (offs[0] if len(offs) else ons[0] if len(ons) and g.onsets[0] == 0 else waits.max() if len(waits)
                else VOCAB.end if allowed[VOCAB.end] else others[0])  # fmt: skip

    prefix = [VOCAB.style_id("jazz"), *(VOCAB.instrument_offset + k for k in asked), VOCAB.start]
    piece, repairs = drive(g, prefix, choose)
    assert not repairs and g.time[0] == 2000
    trumpet = piece.notes[piece.notes["program"] == VOCAB.config.instruments[asked[1]].programs[0]]
    if entry is None:
        assert len(trumpet) == 0
    else:
        unit = VOCAB.config.time_unit_ms / 1000
        assert len(trumpet) >= 1 and trumpet["start"].min() <= entry * unit + 1e-9


@pytest.mark.parametrize("limit", [None, 5])
def test_a_key_is_struck_again_no_sooner_than_min_restrike(limit):
    """A stream that re-strikes one key whenever it may (its note-off, then its note-on, else the shortest wait):
    without `min_restrike` it strikes it at every moment, 10 ms apart; with it, no sooner than `limit` units after
    the last strike, and the stream still ends cleanly."""
    names = [i.name for i in VOCAB.config.instruments]
    piano = names.index("piano")
    g = Grammar(VOCAB, 1, [piano], duration=300, min_end=300, min_restrike=limit)
    key_on, key_off = int(VOCAB.note_id(piano, 5, 60)), int(VOCAB.note_id(piano, 0, 60))

    def choose(allowed):
        waits = np.flatnonzero(allowed & g.is_wait)
        return (key_off if allowed[key_off] else key_on if allowed[key_on] else waits.min() if len(waits)
                else np.flatnonzero(allowed)[0])  # fmt: skip

    piece, repairs = drive(g, [VOCAB.style_id("piano"), VOCAB.instrument_offset + piano, VOCAB.start], choose)
    assert not repairs and g.time[0] == 300
    starts = piece.notes["start"][piece.notes["pitch"] == 60]
    gaps = np.diff(np.sort(starts)) / (VOCAB.config.time_unit_ms / 1000)
    assert len(starts) > 10
    assert np.round(gaps).min() == (1 if limit is None else limit)


def test_min_restrike_leaves_drums_alone_and_is_checked():
    names = [i.name for i in VOCAB.config.instruments]
    drums = names.index("drums")
    g = Grammar(VOCAB, 1, [drums], duration=100, min_restrike=50)
    for t in (VOCAB.style_id("rock"), VOCAB.instrument_offset + drums, VOCAB.start):
        g.push(np.array([t]))
    hit = int(np.flatnonzero(g.is_on & (g.inst == drums))[0])
    g.push(np.array([hit]))
    g.push(np.array([VOCAB.wait_offset]))  # 1 unit later the same drum may hit again
    assert g.mask()[0, hit]
    with pytest.raises(ValueError, match="min_restrike"):
        Grammar(VOCAB, 1, [drums], duration=100, min_restrike=0)


@pytest.mark.parametrize("cap", [None, 200])
def test_a_held_chord_gets_a_new_onset_within_max_hold(cap):
    """A stream that strikes a chord and then waits whenever it may (the longest wait), else strikes the lowest
    allowed key, else takes the first allowed token: without `max_hold` it holds the chord to the end with no other
    onset (the drone a small model can fall into); with it, no more than `cap` units pass between onsets while
    notes sound, and the stream still ends cleanly."""
    names = [i.name for i in VOCAB.config.instruments]
    piano = names.index("piano")
    g = Grammar(VOCAB, 1, [piano], duration=1500, min_end=1500, max_hold=cap)
    chord = [int(VOCAB.note_id(piano, 5, p)) for p in (48, 55, 64)]

    def choose(allowed):
        waits = np.flatnonzero(allowed & g.is_wait)
        ons = np.flatnonzero(allowed & g.is_on)
        return waits.max() if len(waits) else ons[0] if len(ons) else np.flatnonzero(allowed)[0]

    prefix = [VOCAB.style_id("romantic"), VOCAB.instrument_offset + piano, VOCAB.start, *chord]
    piece, repairs = drive(g, prefix, choose)
    assert not repairs and g.time[0] == 1500
    starts = np.unique(piece.notes["start"]) / (VOCAB.config.time_unit_ms / 1000)
    if cap is None:
        assert len(starts) == 1 and len(piece) == 3  # the chord, held 15 s
        return
    assert len(starts) >= 1500 // cap and np.diff(np.round(starts)).max() <= cap
    # its notes were within every rule: encoding them changes nothing
    again, _ = decode(encode(piece, VOCAB, style="romantic").ids, VOCAB)
    assert np.array_equal(again.notes, piece.notes)


def test_max_hold_leaves_silence_alone_and_is_checked():
    """`max_hold` counts only while something sounds: a silent stream may wait (`max_silence` caps that)."""
    names = [i.name for i in VOCAB.config.instruments]
    piano = names.index("piano")
    g = Grammar(VOCAB, 1, [piano], duration=1000, max_hold=50)
    for t in (VOCAB.style_id("piano"), VOCAB.instrument_offset + piano, VOCAB.start):
        g.push(np.array([t]))
    longest = VOCAB.wait_offset + VOCAB.config.max_wait - 1
    assert g.mask()[0, longest]  # 1.28 s of silence: allowed
    g.push(np.array([int(VOCAB.note_id(piano, 5, 60))]))
    assert not g.mask()[0, longest]  # a note sounds: at most 50 units to the next onset
    assert g.mask()[0, VOCAB.wait_offset + 49] and not g.mask()[0, VOCAB.wait_offset + 50]
    with pytest.raises(ValueError, match="max_hold"):
        Grammar(VOCAB, 1, [piano], duration=100, max_hold=0)


@pytest.mark.parametrize("cap", [None, 300])
def test_no_note_sounds_longer_than_max_note(cap):
    """A stream that strikes the lowest key it may, waits 1 s, strikes again, and never releases a note unless
    nothing else is allowed (the forgotten note of a small model): without `max_note` its first note sounds to the
    end; with it, none sounds longer than `cap`, the stream still ends cleanly, and its notes re-encode as
    they are."""
    names = [i.name for i in VOCAB.config.instruments]
    piano = names.index("piano")
    g = Grammar(VOCAB, 1, [piano], duration=1500, min_end=1500, max_note=cap)
    second = VOCAB.wait_offset + 99

    def choose(allowed):
        ons = np.flatnonzero(allowed & g.is_on)
        return second if allowed[second] else ons[0] if len(ons) else np.flatnonzero(allowed)[0]

    piece, repairs = drive(
        g, [VOCAB.style_id("romantic"), VOCAB.instrument_offset + piano, VOCAB.start], choose
    )
    assert not repairs and g.time[0] == 1500 and len(piece) >= 5
    longest = (piece.notes["end"] - piece.notes["start"]).max()
    if cap is None:
        assert longest == pytest.approx(14.0)  # struck at 1 s, held to the end
        return
    assert longest <= cap * VOCAB.config.time_unit_ms / 1000 + 1e-9
    again, _ = decode(encode(piece, VOCAB, style="romantic").ids, VOCAB)
    assert np.array_equal(again.notes, piece.notes)


def test_max_note_counts_from_a_span_start_and_is_checked():
    """Notes sounding when a span begins (`begin`) count from the span's start, not as struck long ago: they may
    sound `max_note` from there; a cap under one unit is refused."""
    names = [i.name for i in VOCAB.config.instruments]
    piano = names.index("piano")
    g = Grammar(VOCAB, 1, [piano], duration=2000, max_note=100)
    key = int(g.key[int(VOCAB.note_id(piano, 5, 60))])
    g.begin(1000, np.array([key]))
    off = int(VOCAB.note_id(piano, 0, 60))
    allowed = g.mask()[0]
    assert allowed[VOCAB.wait_offset + 99] and not allowed[VOCAB.wait_offset + 100]  # 1 s to go, no more
    g.push(np.array([VOCAB.wait_offset + 99]))
    allowed = g.mask()[0]
    assert allowed[off] and allowed.sum() == 1  # its time is up: the release comes first
    with pytest.raises(ValueError, match="max_note"):
        Grammar(VOCAB, 1, [piano], duration=100, max_note=0)


def test_a_wait_follows_a_wait_only_after_the_longest():
    """The encoder writes a gap as one wait, or full waits then the rest: a stream may not chain `wait:1 wait:1 …`
    (the spiral a guided model fell into: 29 s of 10 ms waits), but a gap longer than `max_wait` still goes on."""
    names = [i.name for i in VOCAB.config.instruments]
    piano = names.index("piano")
    g = Grammar(VOCAB, 2, [piano], duration=1000)
    for t in (VOCAB.style_id("piano"), VOCAB.instrument_offset + piano, VOCAB.start):
        g.push(np.full(2, t))
    waits = np.flatnonzero(g.is_wait)
    assert g.mask()[:, waits].all()  # at the start: any wait
    g.push(np.array([VOCAB.wait_offset, VOCAB.wait_offset + VOCAB.config.max_wait - 1]))  # wait:1, wait:max
    mask = g.mask()
    assert not mask[0, waits].any() and mask[0, g.is_on].any()  # after wait:1 a note, not another wait
    assert mask[1, waits].all()  # after wait:max_wait, the rest of a long gap
    g.push(np.array([int(VOCAB.note_id(piano, 5, 60))] * 2))
    assert g.mask()[:, waits].any(axis=1).all()  # after a note, waits again
    enc = encode(Piece(make_notes([0.0, 3.0], [0.5, 3.5], [60, 62], [80, 80], [0, 0]), style="piano"), VOCAB)
    kinds = [VOCAB.kind(int(t)) for t in enc.ids]
    # 2.5 s: wait:128 and the rest
    assert sum(a == b == "wait" for a, b in zip(kinds[:-1], kinds[1:], strict=True)) == 1


def test_a_wait_past_the_end_lands_on_it_when_asked():
    piano = VOCAB.config.instrument_names.index("piano")
    prefix = [VOCAB.style_id("bach"), VOCAB.instrument_offset + piano, VOCAB.start]
    c4 = int(VOCAB.note_id(piano, 3, 60))
    strict = Grammar(VOCAB, 1, [piano], duration=300)
    landing = Grammar(VOCAB, 1, [piano], duration=300, land_waits=True)
    for g in (strict, landing):
        for t in [*prefix, c4, int(VOCAB.wait_id(128)), int(VOCAB.wait_id(128))]:
            g.push(np.array([t]))
    long_wait = int(VOCAB.wait_id(100))  # 44 units are left: it would take the clock to 356
    assert not strict.mask()[0, long_wait] and strict.mask()[0, VOCAB.wait_id(44)]
    assert landing.mask()[0, long_wait]
    assert np.array_equal(strict.land(np.array([long_wait])), [long_wait])  # off: tokens as sampled
    landed = landing.land(np.array([long_wait]))
    assert landed.tolist() == [int(VOCAB.wait_id(44))]
    assert landing.land(np.array([c4])).tolist() == [c4] and landing.land(
        np.array([VOCAB.wait_id(20)])
    ).tolist() == [int(VOCAB.wait_id(20))]
    pos = landing.push(landed)
    assert pos[0, 0] == 300 and pos[0, 3] == 0  # on the end, the countdown at zero
    allowed = landing.mask()[0]
    assert (
        not allowed[landing.is_wait].any() and not allowed[VOCAB.end]
    )  # C4 still sounds: its note-off first
    assert allowed[int(VOCAB.note_id(piano, 0, 60))]


def test_landing_waits_keep_random_streams_valid_and_never_past_the_end():
    rng = np.random.default_rng(1)
    insts, duration, B = [0, 9], 400, 8  # piano and drums, 4 s
    g = Grammar(VOCAB, B, insts, duration, min_end=300, max_silence=150, max_hold=200, land_waits=True)
    streams = [[VOCAB.style_id("pop"), VOCAB.instrument_offset, VOCAB.instrument_offset + 9, VOCAB.start]] * B
    streams = [list(s) for s in streams]
    for t in streams[0]:
        g.push(np.full(B, t))
    landed = 0
    while not g.ended.all():
        allowed = g.mask()
        assert allowed.any(axis=1).all(), "a stream with no legal next token"
        weights = allowed * (1.0 + 10.0 * g.is_wait[None, :])  # favour waits: long ones often pass the end
        toks = np.array([rng.choice(VOCAB.size, p=w / w.sum()) for w in weights])
        out = g.land(toks)
        landed += int((out != toks).sum())
        g.push(out)
        for s, t in zip(streams, out, strict=True):
            s.append(int(t))
    assert landed > 0
    for s in streams:
        piece, repairs = decode(s, VOCAB)
        assert not repairs, repairs
        pitched = piece.notes[piece.notes["program"] != 128]
        assert max(pitched["end"].max(initial=0), piece.notes["start"].max(initial=0)) <= 4.0 + 1e-9
        enc = encode(piece, VOCAB, style="pop").ids
        assert np.array_equal(decode(enc, VOCAB)[0].notes, piece.notes)
