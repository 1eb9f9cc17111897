"""Fill-in-the-middle: a token stream rearranged so a left-to-right model can regenerate a span of it.

The span is a time interval [t0, t1) (time units) and a set of instruments to redo. The *middle* is what those
instruments play in the span; everything else (the music before and after, and the other instruments' notes in the
span) is the *context*. The sequence a model reads and writes is

    style:S instrument:... start  infill instrument:R...  <context, with span_start at t0 and span_end at t1>
    fill  <middle>  fill_end

- the context is the original stream with the middle's tokens taken out: its waits stay (a wait that crosses t0
  or t1 is split there), so every context token keeps its clock; `span_start`/`span_end` mark where the gap is;
- `fill` rewinds the clock to t0; the middle is the redone instruments' note-offs and note-ons in the encoder's
  order, with its own waits from t0, and reaches t1 exactly before `fill_end`;
- a note of a redone instrument sounding at t0 (struck before it) stays in the context with its onset: its
  note-off belongs to the middle, which must close it by t1; a note of a redone instrument still sounding at t1
  is closed at t1 (its later note-off leaves the context); drum hits have no note-off.

Every token keeps its absolute structural positions (the clock since the piece's start), so the model knows where
each token sits: the middle's tokens have the times they will have in the piece. The same function builds the
training samples (`data.dataset`, on a share of windows) and the prompt of `Composer.infill`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .vocab import Vocab


@dataclass
class Fim:
    """A stream split for infilling. Times are the clock after each token (time units)."""

    header: np.ndarray  # infill instrument:R ...
    context: np.ndarray  # context ids with span_start / span_end
    context_time: np.ndarray
    middle: np.ndarray  # the middle's notes and waits (without fill / fill_end)
    middle_time: np.ndarray
    sounding: np.ndarray  # grammar keys (codec.grammar) of the redone notes sounding at t0

    def ids(self, vocab: Vocab) -> np.ndarray:
        return np.concatenate(
            [self.header, self.context, [vocab.special("fill")], self.middle, [vocab.special("fill_end")]]
        ).astype(np.int64)


def note_keys(vocab: Vocab) -> np.ndarray:
    """(n_notes,) the key (instrument, pitch) of each note id, numbered as `codec.grammar.Grammar` numbers them."""
    table = vocab.note_table
    offsets = np.concatenate([[0], np.cumsum(vocab.high - vocab.low + 1)])
    return offsets[table[:, 0]] + table[:, 2] - vocab.low[table[:, 0]]


def off_ids(vocab: Vocab) -> np.ndarray:
    """(keys,) the note-off id of each pitched key; -1 for drum keys (no note-off)."""
    keys = note_keys(vocab)
    offs = np.flatnonzero(vocab.note_table[:, 1] == 0)
    out = np.full(int(keys.max()) + 1, -1, np.int64)
    out[keys[offs]] = offs
    return out


def _waits(vocab: Vocab, units: int) -> list[int]:
    return vocab.waits(units) if units > 0 else []


def split(
    body: np.ndarray, time: np.ndarray, vocab: Vocab, t0: int, t1: int, redo: Sequence[int], base: int = 0
) -> Fim:
    """Splits a body stream (notes, waits, maybe `end`; `time[i]` = the clock after token i, `base` = before the
    first) into context and middle for the span [t0, t1) of the instruments `redo` (indices)."""
    if not vocab.config.infill:
        raise ValueError("this vocabulary has no infill tokens")
    if not t0 < t1:
        raise ValueError(f"need t0 < t1, got {t0}, {t1}")
    body = np.asarray(body, dtype=np.int64)
    time = np.asarray(time, dtype=np.int64)
    redo_set = sorted({int(k) for k in redo})
    n = vocab.n_notes
    is_note = body < n
    is_wait = (body >= vocab.wait_offset) & (body < vocab.style_offset)
    nt = vocab.note_table[np.where(is_note, body, 0)]
    inst, level = nt[:, 0], nt[:, 1]
    mine = is_note & np.isin(inst, redo_set)
    on, off = level > 0, level == 0
    keys = note_keys(vocab)[np.where(is_note, body, 0)]
    middle = mine & ((on & (time >= t0) & (time < t1)) | (off & (time > t0) & (time <= t1)))
    # the redone notes sounding at t0 and at t1, replaying the redone instruments' ons and offs in stream order
    s0: set[int] = set()
    s1: set[int] = set()
    seen: set[int] = set()
    pitched = np.flatnonzero(mine & ~vocab.is_drums[inst])
    for i in pitched:
        k, t = int(keys[i]), int(time[i])
        if k not in seen and off[i]:  # closes a note struck before the stream began
            s0.update([k] if t > t0 else [])
            s1.update([k] if t > t1 else [])
        seen.add(k)
        if (on[i] and t < t0) or (off[i] and t <= t0):
            (s0.add if on[i] else s0.discard)(k)
        if (on[i] and t < t1) or (off[i] and t <= t1):
            (s1.add if on[i] else s1.discard)(k)
    moved = np.zeros(len(body), bool)  # the first note-off after t1 of a note sounding at t1: it moves to t1
    pending = set(s1)
    for i in pitched:
        if off[i] and time[i] > t1 and int(keys[i]) in pending:
            moved[i] = True
            pending.discard(int(keys[i]))
    keep = ~(middle | moved)

    # the middle: its notes, plus an off at t1 for every note still sounding there, in the encoder's order
    key_off = off_ids(vocab)
    m_tok = np.concatenate([body[middle], key_off[sorted(s1)]]).astype(np.int64)
    m_t = np.concatenate([time[middle], np.full(len(s1), t1)]).astype(np.int64)
    if len(m_tok):
        tab = vocab.note_table[m_tok]
        order = np.lexsort((tab[:, 2], tab[:, 0], tab[:, 1] > 0, m_t))
        m_tok, m_t = m_tok[order], m_t[order]
    mids: list[int] = []
    mtimes: list[int] = []
    now = t0
    for tok, t in zip([*m_tok.tolist(), None], [*m_t.tolist(), t1], strict=True):
        for w in _waits(vocab, t - now):
            now += int(w) - vocab.wait_offset + 1
            mids.append(int(w))
            mtimes.append(now)
        if tok is not None:
            mids.append(tok)
            mtimes.append(now)

    # the context: kept tokens, a wait crossing t0 or t1 split there, the markers at the start of their moment
    ctx: list[int] = []
    ctimes: list[int] = []
    marks = [(t0, vocab.special("span_start")), (t1, vocab.special("span_end"))]
    before = base
    for i in range(len(body)):
        tok, after = int(body[i]), int(time[i])
        while marks and ((is_wait[i] and after > marks[0][0]) or (not is_wait[i] and after >= marks[0][0])):
            at, mark = marks.pop(0)
            if is_wait[i] and before < at:  # split the wait at the mark
                ctx.append(int(vocab.wait_id(at - before)))
                ctimes.append(at)
                before = at
            ctx.append(mark)
            ctimes.append(max(at, before))
        if keep[i]:
            if is_wait[i] and before > int(time[i]) - (
                tok - vocab.wait_offset + 1
            ):  # the rest of a split wait
                ctx.append(int(vocab.wait_id(after - before)))
            else:
                ctx.append(tok)
            ctimes.append(after)
        before = after if is_wait[i] else before
    for at, mark in marks:  # marks past the stream's last token: wait up to them
        for w in _waits(vocab, at - before):
            before += int(w) - vocab.wait_offset + 1
            ctx.append(int(w))
            ctimes.append(before)
        ctx.append(mark)
        ctimes.append(at)
    header = np.array(
        [vocab.special("infill")] + [vocab.instrument_offset + k for k in redo_set], dtype=np.int64
    )
    return Fim(
        header,
        np.asarray(ctx, dtype=np.int64),
        np.asarray(ctimes, dtype=np.int64),
        np.asarray(mids, dtype=np.int64),
        np.asarray(mtimes, dtype=np.int64),
        np.array(sorted(s0), dtype=np.int64),
    )


def chords(ids: np.ndarray, vocab: Vocab) -> np.ndarray:
    """The `chord` position of each token (1 + index among the note-ons since the last wait, capped; 0 else)."""
    ids = np.asarray(ids, dtype=np.int64)
    is_wait = (ids >= vocab.wait_offset) & (ids < vocab.style_offset)
    is_note = ids < vocab.n_notes
    on = is_note & (vocab.note_table[np.where(is_note, ids, 0), 1] > 0)
    cum = np.cumsum(on)
    idx = np.arange(len(ids))
    last_wait = np.maximum.accumulate(np.where(is_wait, idx, -1))
    base = np.where(last_wait >= 0, cum[np.maximum(last_wait, 0)], 0)
    return np.where(on, np.minimum(cum - base, vocab.config.max_chord), 0)


def sample_positions(fim: Fim, vocab: Vocab, t0: int, t1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ids, time and chord of `header context fill middle fill_end` (the header at time 0, `fill` at t0)."""
    ids = fim.ids(vocab)
    time = np.concatenate(
        [np.zeros(len(fim.header), np.int64), fim.context_time, [t0], fim.middle_time, [t1]]
    ).astype(np.int64)
    ctx_end = len(fim.header) + len(fim.context)
    chord = np.concatenate(
        [np.zeros(len(fim.header), np.int64), chords(ids[len(fim.header) : ctx_end], vocab)]
    )
    chord = np.concatenate([chord, [0], chords(fim.middle, vocab), [0]]).astype(np.int64)
    return ids, time, chord
