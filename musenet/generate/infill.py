"""Infilling: regenerate a span [start, end) of a piece, for some or all of its instruments, under the grammar.

The piece is encoded, split by `codec.infill` into context and middle (the same rearrangement the model was
trained on), the context trimmed around the span to what the model can see, and the middle sampled by the
continuation's loop (`engine.sample_streams`) with a `Grammar` that starts at the span's start with the redone
instruments' sounding notes, lets only those instruments play, closes every note by the span's end and ends
exactly there with `fill_end`. The result is the input's notes, verbatim, with the redone instruments' notes
that start in the span replaced by the sampled ones, and the notes sounding into the span ended where the model
ended them (their onsets untouched).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..codec.decode import decode
from ..codec.encode import encode, prefix_ids
from ..codec.events import Piece, end_long_notes, sort_notes
from ..codec.grammar import Grammar
from ..codec.infill import note_keys, sample_positions, split
from ..codec.positions import countdown_of, part_of
from ..codec.rules import to_units
from ..codec.vocab import Vocab
from ..errors import UserError
from .config import InfillConfig, units
from .engine import Generated, sample_streams

MIN_CONTEXT = 32  # context tokens the middle always leaves room for


@dataclass
class Prompt:
    """What the sampler starts from, and what assembling the result needs."""

    ids: np.ndarray  # prefix, header, trimmed context, fill
    pos: np.ndarray  # (N, 4)
    n_keep: int  # prefix + header: kept when the window slides
    t0: int
    t1: int
    duration: int  # the piece's, in units
    redo: list[int]  # instrument indices
    sounding: np.ndarray  # keys sounding at t0


def prompt(piece: Piece, vocab: Vocab, cfg: InfillConfig, context: int) -> Prompt:
    """The model's input for an infill of `piece`; a UserError when the span does not fit the piece or the
    model's `context`."""
    cfg.check(vocab)
    unit_ms = vocab.config.time_unit_ms
    known = piece.style if piece.style in vocab.config.styles else None
    style = cfg.style or known
    enc = encode(piece, vocab, style=style)
    if len(piece) == 0 or enc.duration == 0:
        raise UserError("the piece has no notes to infill around")
    names = [i.name for i in vocab.config.instruments]
    at = int(np.flatnonzero(enc.ids == vocab.start)[0]) + 1
    body, time, D = enc.ids[at:], enc.positions.time[at:], enc.duration
    present = sorted(
        int(t) - vocab.instrument_offset for t in enc.ids[: at - 1] if vocab.kind(int(t)) == "instrument"
    )
    redo = present if cfg.instruments is None else sorted(names.index(n) for n in cfg.instruments)
    t0, t1 = int(to_units(cfg.start, unit_ms)), int(to_units(cfg.end, unit_ms))
    seconds = max(D, int(to_units(piece.duration, unit_ms))) * unit_ms / 1000
    if t1 <= max(D, int(to_units(piece.duration, unit_ms))):
        t1 = min(t1, D)  # past the last event only note tails sound (drum hits have no length in tokens)
    if t0 >= D or t1 > D:
        raise UserError(
            f"the span {cfg.start:g}-{cfg.end:g} s is outside the piece (it lasts {seconds:.2f} s): "
            "choose a span inside it"
        )
    if t1 <= t0:
        raise UserError(
            f"the span {cfg.start:g}-{cfg.end:g} s is shorter than one time unit ({unit_ms:g} ms)"
        )
    fim = split(body, time, vocab, t0, t1, redo)
    prefix = prefix_ids(vocab, style, sorted(set(present) | set(redo)))
    # how many tokens the new middle will take: the old one's, or the piece's density if it was thinner
    density = len(body) / max(1, D) * max(1, len(redo)) / max(1, len(present))
    expect = max(len(fim.middle), int(density * (t1 - t0)))
    a = int(np.flatnonzero(fim.context == vocab.special("span_start"))[0])
    b = int(np.flatnonzero(fim.context == vocab.special("span_end"))[0])
    fixed = len(prefix) + len(fim.header) + 1 + (b - a + 1)
    room = context - fixed - int(1.25 * expect) - 1
    if room < MIN_CONTEXT:
        can = (
            (context - len(prefix) - len(fim.header) - MIN_CONTEXT)
            / max(1e-9, 1.25 * expect + b - a)
            * (t1 - t0)
        )
        raise UserError(
            f"the span {cfg.start:g}-{cfg.end:g} s (~{expect + b - a} tokens here) is longer than the model can see "
            f"({context} tokens): choose a span of at most ~{max(0.0, can * unit_ms / 1000):.1f} s"
        )
    # keep the span's own context whole, then as much before and after it as fits, half each (or all one side)
    n_before, n_after = a, len(fim.context) - b - 1
    take_b = min(n_before, max(room // 2, room - n_after))
    take_a = min(n_after, room - take_b)
    lo, hi = a - take_b, b + 1 + take_a
    ids, t, chord = sample_positions(fim, vocab, t0, t1)
    h = len(fim.header)
    # the sample is header, context, fill, middle, fill_end: keep header, the context's window, and fill
    sel = np.r_[np.arange(h), np.arange(h + lo, h + hi), [h + len(fim.context)]]
    ids, t, chord = ids[sel], t[sel], chord[sel]
    ids = np.concatenate([prefix, ids])
    t = np.concatenate([np.zeros(len(prefix), np.int64), t])
    chord = np.concatenate([np.zeros(len(prefix), np.int64), chord])
    part = np.asarray(part_of(vocab, t, D), dtype=np.int64)
    countdown = np.asarray(countdown_of(vocab, t, D), dtype=np.int64)
    n_keep = len(prefix) + h
    part[:n_keep] = 0
    countdown[:n_keep] = countdown_of(vocab, 0, D)
    pos = np.stack([t, chord, part, countdown], axis=1)
    return Prompt(ids, pos, n_keep, t0, t1, D, redo, fim.sounding)


def reachable(vocab: Vocab, redo: list[int]) -> np.ndarray:
    """The ids a middle can hold: the redone instruments' notes, waits, fill_end and pad."""
    notes = np.flatnonzero(np.isin(vocab.note_table[:, 0], redo))
    waits = np.arange(vocab.wait_offset, vocab.style_offset)
    return np.concatenate([notes, waits, [vocab.special("fill_end"), vocab.pad]]).astype(np.int64)


@torch.inference_mode()
def infill_ids(
    model,
    vocab: Vocab,
    cfg: InfillConfig,
    piece: Piece,
    progress: Callable[[float], None] | None = None,
) -> tuple[Prompt, list[Generated]]:
    """Samples `cfg.candidates` middles for the span; each `Generated` holds the prompt and its middle."""
    p = prompt(piece, vocab, cfg, model.config.block_size)
    B = cfg.candidates
    rows = reachable(vocab, p.redo)
    grammar = Grammar(
        vocab,
        B,
        p.redo,
        p.t1,
        min_end=p.t1,
        tokens=rows,
        closer=vocab.special("fill_end"),
        piece_duration=p.duration,
        drums_at_limit=False,
        min_restrike=units(cfg.min_restrike, vocab.config.time_unit_ms),
        max_hold=units(cfg.max_hold, vocab.config.time_unit_ms),
        max_note=units(cfg.max_note, vocab.config.time_unit_ms),
        land_waits=True,
    )
    grammar.begin(p.t0, p.sounding)

    def report(g: Grammar) -> None:
        if progress is not None:
            progress(float(np.minimum(g.time, p.t1).min() - p.t0) / (p.t1 - p.t0))

    ids = np.repeat(p.ids[None, :], B, axis=0)
    pos = np.repeat(p.pos[None, :, :], B, axis=0)
    seconds = (p.t1 - p.t0) * vocab.config.time_unit_ms / 1000
    ids, pos = sample_streams(model, grammar, rows, ids, pos, p.n_keep, cfg.seed, cfg.sample, seconds, report)
    return p, [Generated(ids[b], pos[b], p.t0, len(p.ids)) for b in range(B)]


def middle_of(g: Generated, vocab: Vocab) -> np.ndarray:
    """The sampled middle's notes and waits (without fill_end and pad)."""
    new = g.ids[g.n_given :]
    end = np.flatnonzero(new == vocab.special("fill_end"))
    return new[: int(end[0])] if len(end) else new


def assemble(
    piece: Piece, p: Prompt, middle: np.ndarray, vocab: Vocab, release_after: float | None = None
) -> tuple[Piece, Counter]:
    """The piece with the span replaced: its own notes verbatim, the redone instruments' notes starting in the span
    swapped for the middle's (those of them sounding longer than `release_after` seconds ended there), notes
    sounding into the span ended where the middle ended them. Also the decoder's repairs of the middle (none, by
    the grammar's construction)."""
    cfg = vocab.config
    unit = cfg.time_unit_ms / 1000
    keys = note_keys(vocab)
    # decode the middle after the notes it inherits (struck at time 0 so that they can be told apart)
    held = [int(np.flatnonzero((keys == k) & (vocab.note_table[:, 1] == 1))[0]) for k in p.sounding]
    stream = np.concatenate([[vocab.start], held, vocab.waits(p.t0), middle, [vocab.end]]).astype(np.int64)
    new, repairs = decode(stream, vocab)
    notes = piece.notes
    inst = vocab.program_to_instrument[notes["program"].astype(np.int64)]
    start, end = to_units(notes["start"], cfg.time_unit_ms), to_units(notes["end"], cfg.time_unit_ms)
    mine = np.isin(inst, p.redo)
    replaced = mine & (start >= p.t0) & (start < p.t1)
    crossing = mine & ~vocab.is_drums[np.maximum(inst, 0)] & (start < p.t0) & (end > p.t0)
    out = notes.copy()
    # the held notes' new ends, by (instrument, pitch in range)
    new_inst = vocab.program_to_instrument[new.notes["program"].astype(np.int64)]
    inherited = (new.notes["start"] == 0) & (p.t0 > 0) if len(p.sounding) else np.zeros(len(new), bool)
    ends = {
        (int(k), int(q)): float(e)
        for k, q, e in zip(
            new_inst[inherited], new.notes["pitch"][inherited], new.notes["end"][inherited], strict=True
        )
    }
    for i in np.flatnonzero(crossing):
        k = int(inst[i])
        q = _fold(int(notes["pitch"][i]), int(vocab.low[k]), int(vocab.high[k]))
        out["end"][i] = ends.get((k, q), p.t0 * unit)
    fresh = new.notes[~inherited].copy()
    if release_after is not None:
        fresh = end_long_notes(fresh, release_after)
    # the new notes play on the program the piece used for that instrument (its most common), else the default
    f_inst = vocab.program_to_instrument[fresh["program"].astype(np.int64)]
    for k in np.unique(f_inst):
        own = notes["program"][inst == k]
        if len(own):
            vals, counts = np.unique(own, return_counts=True)
            fresh["program"][f_inst == k] = vals[np.argmax(counts)]
    result = Piece(sort_notes(np.concatenate([out[~replaced], fresh])), piece.style, piece.title)
    return result, repairs


def _fold(pitch: int, low: int, high: int) -> int:
    """A pitch moved by whole octaves into [low, high], as the codec's rules fold it."""
    while pitch < low:
        pitch += 12
    while pitch > high:
        pitch -= 12
    return pitch
