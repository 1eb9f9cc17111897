"""The fill-in-the-middle training transform: a window of a piece -> `codec.infill`'s sequence, for a random span.

`WindowDataset(..., infill_share=s)` turns a share s of its windows into infilling samples (drawn per window from
its seed, independently of the augmentations, so a run with s = 0 sees exactly the windows it saw before). The
span: a length of 10-50 % of the window's time, placed uniformly, each edge moved to the nearest moment with
probability 1/2 (users select both round times and note onsets); the instruments to redo: all of the piece's with
probability 1/2, else a random non-empty subset. A sample that outgrows the window loses the end of the context
after the span first, then the tail of the middle (as any window loses what does not fit).
"""

from __future__ import annotations

import numpy as np

from ..codec.infill import sample_positions, split
from ..codec.vocab import Vocab

MIN_SPAN, MAX_SPAN = 0.1, 0.5  # span length as a share of the window's time


def draw_span(
    body: np.ndarray,
    time: np.ndarray,
    base: int,
    instruments: list[int],
    rng: np.random.Generator,
    vocab: Vocab,
) -> tuple[int, int, list[int]] | None:
    """(t0, t1, redo) for a window's body, or None when the window spans too little time to cut."""
    last = int(time[-1]) if len(time) else base
    length = last - base
    if length < 4 or not instruments:
        return None
    span = max(2, int(round(length * rng.uniform(MIN_SPAN, MAX_SPAN))))
    t0 = int(rng.integers(base, last - span + 1))
    t1 = t0 + span
    moments = np.unique(time[body < vocab.n_notes])
    if len(moments) and rng.random() < 0.5:
        t0 = int(moments[np.argmin(np.abs(moments - t0))])
    if len(moments) and rng.random() < 0.5:
        t1 = int(moments[np.argmin(np.abs(moments - t1))])
    if t1 <= t0:
        t1 = t0 + span
    if len(instruments) == 1 or rng.random() < 0.5:
        redo = list(instruments)
    else:
        k = int(rng.integers(1, len(instruments)))
        redo = sorted(int(i) for i in rng.choice(instruments, size=k, replace=False))
    return t0, t1, redo


def transform(
    prefix: np.ndarray,
    body: np.ndarray,
    time: np.ndarray,
    base: int,
    n: int,
    rng: np.random.Generator,
    vocab: Vocab,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """ids, time, chord (at most n tokens) of the infilling sample of a window, or None if it cannot be cut."""
    instruments = [int(t) - vocab.instrument_offset for t in prefix if vocab.kind(int(t)) == "instrument"]
    span = draw_span(body, time, base, instruments, rng, vocab)
    if span is None:
        return None
    t0, t1, redo = span
    fim = split(body, time, vocab, t0, t1, redo, base)
    over = len(prefix) + len(fim.header) + len(fim.context) + len(fim.middle) + 2 - n
    if over > 0:  # trim the context after the span first
        after = len(fim.context) - 1 - int(np.flatnonzero(fim.context == vocab.special("span_end"))[-1])
        cut = min(over, after)
        if cut:
            fim.context, fim.context_time = fim.context[:-cut], fim.context_time[:-cut]
    ids, t, chord = sample_positions(fim, vocab, t0, t1)
    room = n - len(prefix)
    return ids[:room], t[:room], chord[:room]
