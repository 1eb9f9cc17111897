"""MuseNet tokens -> Piece (pure Python/numpy, no torch).

Decoding accepts any token stream, including a model's mistakes, and counts what it had to repair:

- `orphan_note_off`: a note-off for a pitch that is not sounding on that instrument; ignored.
- `retrigger`: a note-on for a pitch already sounding on that instrument; the sounding note ends there.
- `zero_length`: a note ended at the moment it started; it lasts one unit.
- `unterminated`: notes still sounding at `end` (or at the end of the stream); they end there.
- `misplaced`: a prefix token (style, instrument, start) or pad after `start`; ignored.

The prefix (everything before `start`) sets the style; a stream with no `start` is all body. Tokens after `end`
are ignored.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from .events import Piece, make_notes
from .vocab import Vocab


def decode(ids, vocab: Vocab) -> tuple[Piece, Counter]:
    ids = [int(t) for t in np.asarray(ids).ravel()]
    cfg = vocab.config
    counts: Counter = Counter()
    style = None
    body = ids
    if vocab.start in ids:
        cut = ids.index(vocab.start)
        for t in ids[:cut]:
            if vocab.kind(t) == "style":
                style = cfg.styles[t - vocab.style_offset]
        body = ids[cut + 1 :]

    table = vocab.note_table
    drum_units = max(1, round(cfg.drum_length_ms / cfg.time_unit_ms))
    rows: list[tuple[int, int, int, int, int]] = []  # start, end, inst, level, pitch
    sounding: dict[tuple[int, int], tuple[int, int]] = {}  # (inst, pitch) -> (start, level)
    now = 0

    def close(key: tuple[int, int]) -> None:
        start, level = sounding.pop(key)
        if now == start:
            counts["zero_length"] += 1
        rows.append((start, max(now, start + 1), key[0], level, key[1]))

    for t in body:
        if t < vocab.n_notes:
            k, level, pitch = (int(x) for x in table[t])
            key = (k, pitch)
            if vocab.is_drums[k]:
                rows.append((now, now + drum_units, k, level, pitch))
            elif level == 0:
                if key in sounding:
                    close(key)
                else:
                    counts["orphan_note_off"] += 1
            else:
                if key in sounding:
                    counts["retrigger"] += 1
                    close(key)
                sounding[key] = (now, level)
        elif t < vocab.style_offset:
            now += t - vocab.wait_offset + 1
        elif t == vocab.end:
            break
        else:
            counts["misplaced"] += 1
    counts["unterminated"] += len(sounding)
    for key in list(sounding):
        close(key)

    unit = cfg.time_unit_ms / 1000.0
    arr = np.array(rows, dtype=np.int64).reshape(-1, 5)
    inst = arr[:, 2]
    programs = np.array([i.program for i in cfg.instruments], dtype=np.int64)
    notes = make_notes(
        start=arr[:, 0] * unit,
        end=arr[:, 1] * unit,
        pitch=arr[:, 4],
        velocity=vocab.velocity_values[arr[:, 3] - 1] if len(arr) else [],
        program=programs[inst],
    )
    return Piece(notes, style=style), +counts
