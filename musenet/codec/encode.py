"""Piece -> MuseNet tokens (pure numpy, no torch).

The stream is `style:S instrument:... start`, then the notes moment by moment, then `end`:

- at each moment (time unit) the note-offs come first, then the note-ons, each group ordered by instrument, then
  pitch (as in MuseNet's example `piano:v72:G1 piano:v72:G2 … violin:v80:G4`);
- between moments, `wait:N` tokens move the clock; a gap longer than `max_wait` becomes several waits;
- the `end` token comes at the last note-off.

Quantisation and the mess rules are in `codec.rules`; the structural positions in `codec.positions`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .events import Piece
from .positions import Positions, positions
from .rules import Notes, clean
from .vocab import Vocab


@dataclass
class Encoding:
    ids: np.ndarray  # (N,) int64 token ids
    positions: Positions  # structural positions, one per token
    duration: int  # time units from the start to the end token
    counts: Counter = field(default_factory=Counter)  # how often each mess rule fired

    def __len__(self) -> int:
        return len(self.ids)


def prefix_ids(vocab: Vocab, style: str | None, instruments: list[int]) -> np.ndarray:
    """`style:S instrument:A instrument:B … start` for instrument indices in vocabulary order."""
    ids = (
        [vocab.style_id(style)]
        + [vocab.instrument_offset + k for k in sorted(set(instruments))]
        + [vocab.start]
    )
    return np.array(ids, dtype=np.int64)


def encode(piece: Piece, vocab: Vocab, style: str | None = None) -> Encoding:
    """Encodes a piece; `style` overrides `piece.style` (None and no label: the config's first style)."""
    notes, counts = clean(piece, vocab)
    body, duration = body_ids(notes, vocab)
    prefix = prefix_ids(vocab, style or piece.style, np.unique(notes.inst).tolist())
    ids = np.concatenate([prefix, body, [vocab.end]])
    return Encoding(ids, positions(ids, vocab, duration), duration, +counts)


def body_ids(n: Notes, vocab: Vocab) -> tuple[np.ndarray, int]:
    """Note and wait tokens for cleaned notes, and the duration in units (the time of the last event)."""
    pitched = ~vocab.is_drums[n.inst]
    # events: every onset, and an offset for every pitched note
    time = np.concatenate([n.start, n.end[pitched]])
    kind = np.concatenate(
        [np.ones(len(n), np.int64), np.zeros(int(pitched.sum()), np.int64)]
    )  # 0 = off first
    inst = np.concatenate([n.inst, n.inst[pitched]])
    pitch = np.concatenate([n.pitch, n.pitch[pitched]])
    level = np.concatenate([n.level, np.zeros(int(pitched.sum()), np.int64)])
    order = np.lexsort((pitch, inst, kind, time))
    time, inst, pitch, level = time[order], inst[order], pitch[order], level[order]
    event_ids = vocab.note_id(inst, level, pitch)
    if len(time) == 0:
        return np.zeros(0, dtype=np.int64), 0

    # waits: before each event, as many as its gap from the previous event needs
    max_wait = vocab.config.max_wait
    prev = np.concatenate([[0], time[:-1]])
    gap = time - prev
    n_waits = -(-gap // max_wait)  # ceil
    per_event = n_waits + 1
    total = int(per_event.sum())
    ids = np.empty(total, dtype=np.int64)
    event_pos = np.cumsum(per_event) - 1
    ids[event_pos] = event_ids
    owner = np.repeat(np.arange(len(time)), n_waits)
    within = np.arange(len(owner)) - np.repeat(np.cumsum(n_waits) - n_waits, n_waits)
    last = within == n_waits[owner] - 1
    wait_len = np.where(last, gap[owner] - (n_waits[owner] - 1) * max_wait, max_wait)
    is_wait = np.ones(total, dtype=bool)
    is_wait[event_pos] = False
    ids[is_wait] = vocab.wait_id(wait_len)
    return ids, int(time[-1])
