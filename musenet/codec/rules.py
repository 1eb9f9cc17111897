"""The codec's quantisation and its written rules for real-world mess, each counted when it happens.

`clean(piece, vocab)` turns a `Piece` into the integer notes the encoder writes. It is exactly the quantisation
a round trip applies, so `decode(encode(x))` equals `clean(x)` note for note. In order:

1. **Instrument.** Each note's GM program maps onto the vocabulary's instrument set. Programs with no instrument
   (sound effects) are dropped: `dropped_program`.
2. **Time.** Onsets and offsets are rounded to the nearest time unit (10 ms by default).
3. **Pitch range.** A pitched note outside its instrument's range is moved by whole octaves into it, keeping its
   pitch class: `pitch_folded`. A drum key outside the drum key map that another kit uses for a GM drum (a
   Roland e-kit's hi-hat edge 22, an XG kit's keys below 27: `instruments.DRUM_KEY_MAP`) becomes that GM key:
   `drum_mapped`; any other is dropped: `drum_out_of_range`.
4. **Velocity.** MIDI velocity 1-127 is cut into equal bins (velocity 0 counts as 1).
5. **Zero-length notes.** A pitched note that is shorter than one unit after rounding (including a note-on and
   note-off on the same tick) lasts one unit: `zero_length`.
6. **Same pitch, same instrument.** Two notes of one pitch on one instrument starting in the same unit are one note:
   the longer is kept (`duplicate`). A note still sounding when the same pitch starts again on the same instrument
   ends there, at the retrigger (`overlap_cut`). (MIDI pairing itself is symusic's: each note-off closes the
   earliest open note of that pitch and channel; a note-off with no open note is ignored by the parser, and by our
   decoder, which counts it as `orphan_note_off`.)
7. **Too many notes at one moment.** At most `max_chord` notes start in one unit; the rest (highest instrument
   index, then highest pitch, first) are dropped: `chord_dropped`.
8. **Too many notes sounding.** When a pitched note starts while `max_polyphony` pitched notes sound, the one that
   started earliest ends there: `polyphony_cut`.

Drum notes have no duration in the vocabulary (onset only); their ends are not kept.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from .events import Piece
from .instruments import DRUM_KEY_MAP
from .vocab import Vocab

_KEY_MAP = np.arange(128, dtype=np.int64)
for _key, _gm in DRUM_KEY_MAP.items():
    _KEY_MAP[_key] = _gm


@dataclass
class Notes:
    """Cleaned integer notes, sorted by (start, instrument, pitch). Times in units; level 1..V."""

    inst: np.ndarray
    pitch: np.ndarray
    level: np.ndarray
    start: np.ndarray
    end: np.ndarray  # for drums: == start

    def __len__(self) -> int:
        return len(self.inst)

    def take(self, keep: np.ndarray) -> Notes:
        return Notes(self.inst[keep], self.pitch[keep], self.level[keep], self.start[keep], self.end[keep])


def to_units(seconds: np.ndarray, unit_ms: float) -> np.ndarray:
    return np.maximum(np.rint(np.asarray(seconds, dtype=np.float64) * (1000.0 / unit_ms)), 0).astype(np.int64)


def clean(piece: Piece, vocab: Vocab) -> tuple[Notes, Counter]:
    cfg = vocab.config
    counts: Counter = Counter()
    raw = piece.notes

    # 1. instrument
    inst = vocab.program_to_instrument[raw["program"].astype(np.int64)]
    keep = inst >= 0
    counts["dropped_program"] += int((~keep).sum())
    raw, inst = raw[keep], inst[keep]

    # 2. time
    start = to_units(raw["start"], cfg.time_unit_ms)
    end = to_units(raw["end"], cfg.time_unit_ms)
    drums = vocab.is_drums[inst]

    # 3. pitch range
    pitch = raw["pitch"].astype(np.int64)
    lo, hi = vocab.low[inst], vocab.high[inst]
    out = (pitch < lo) | (pitch > hi)
    kit = _KEY_MAP[np.clip(pitch, 0, 127)]
    mapped = out & drums & (kit >= lo) & (kit <= hi)
    counts["drum_mapped"] += int(mapped.sum())
    pitch = np.where(mapped, kit, pitch)
    out &= ~mapped
    drop = out & drums
    counts["drum_out_of_range"] += int(drop.sum())
    fold = out & ~drums
    counts["pitch_folded"] += int(fold.sum())
    up = -((pitch - lo) // 12)  # octaves to raise a note below the range (ceil of the distance / 12)
    down = -((hi - pitch) // 12)  # octaves to lower a note above it
    pitch = np.where(fold & (pitch < lo), pitch + 12 * up, pitch)
    pitch = np.where(fold & (pitch > hi), pitch - 12 * down, pitch)

    # 4. velocity
    level = vocab.velocity_bin(raw["velocity"]) + 1

    # 5. zero length
    short = ~drums & (end <= start)
    counts["zero_length"] += int(short.sum())
    end = np.where(drums, start, np.where(short, start + 1, end))

    notes = Notes(inst, pitch, level, start, end).take(~drop)
    notes = _same_pitch(notes, counts)
    notes = _chord_cap(notes, cfg.max_chord, counts)
    notes = _polyphony_cap(notes, vocab, cfg.max_polyphony, counts)
    return notes, counts


def _same_pitch(n: Notes, counts: Counter) -> Notes:
    """Rule 6: one note per (instrument, pitch, onset); a retrigger ends the sounding note."""
    order = np.lexsort((n.end, n.start, n.pitch, n.inst))
    n = n.take(order)
    same_key = (n.inst[1:] == n.inst[:-1]) & (n.pitch[1:] == n.pitch[:-1])
    # duplicates: the same key and onset as the next note; sorted by end, so the later one is the longer
    dup = np.zeros(len(n), dtype=bool)
    dup[:-1] = same_key & (n.start[1:] == n.start[:-1])
    counts["duplicate"] += int(dup.sum())
    n = n.take(~dup)
    same_key = (n.inst[1:] == n.inst[:-1]) & (n.pitch[1:] == n.pitch[:-1])
    cut = np.zeros(len(n), dtype=bool)
    cut[:-1] = same_key & (n.start[1:] < n.end[:-1])
    counts["overlap_cut"] += int(cut.sum())
    end = n.end.copy()
    end[:-1] = np.where(cut[:-1], n.start[1:], end[:-1])
    n.end = end
    return n.take(np.lexsort((n.pitch, n.inst, n.start)))


def _chord_cap(n: Notes, max_chord: int, counts: Counter) -> Notes:
    """Rule 7: at most `max_chord` onsets per unit (notes are sorted by start, instrument, pitch)."""
    if len(n) <= max_chord:
        return n
    first = np.r_[True, n.start[1:] != n.start[:-1]]
    idx = np.arange(len(n))
    rank = idx - np.maximum.accumulate(np.where(first, idx, 0))
    keep = rank < max_chord
    counts["chord_dropped"] += int((~keep).sum())
    return n.take(keep)


def _polyphony_cap(n: Notes, vocab: Vocab, cap: int, counts: Counter) -> Notes:
    """Rule 8: a pitched onset beyond `cap` sounding notes ends the earliest-started sounding note."""
    pitched = np.flatnonzero(~vocab.is_drums[n.inst])
    if len(pitched) <= cap:
        return n
    s, e = n.start[pitched], n.end[pitched]
    # sounding count just after each onset: +1 at starts, -1 at ends (ends first at equal times)
    times = np.concatenate([e, s])
    delta = np.concatenate([-np.ones(len(e), np.int64), np.ones(len(s), np.int64)])
    order = np.lexsort((delta, times))
    if np.cumsum(delta[order]).max() <= cap:
        return n
    end = n.end.copy()
    active: list[int] = []  # indices into n, in onset order
    for i in pitched:  # n is sorted by start, so this is onset order
        t = n.start[i]
        active = [j for j in active if end[j] > t]
        if len(active) >= cap:
            oldest = active.pop(0)
            end[oldest] = t
            counts["polyphony_cut"] += 1
        active.append(i)
    n.end = end
    return n
