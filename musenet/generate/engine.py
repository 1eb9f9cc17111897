"""Generation: a batch of candidates sampled with a KV cache, under the token grammar. Token ids in, ids out.

The model sees `style instrument… start` and, when given, the primer's tokens; every step masks the logits with
`codec.grammar.Grammar`, so:

- only the requested instruments can start notes (MuseNet's instruments were "strong suggestions"; ours are
  guaranteed), and every stream decodes with no repairs;
- the structural positions are driven by the requested length: `part` and `countdown` count towards it, so the
  model can end by itself near it (`end` becomes legal from `min_fraction` of the new music on), and the clock can
  never pass it.

A piece longer than the model's context slides the window: the prefix stays, the oldest body tokens go, and the
cache is recomputed (MuseNet's themes were rarely recalled from more than ~2,000 tokens back either).

Only the tokens a request can ever produce (`reachable`: the notes of the asked and primer instruments, waits, end,
pad) get logits, masks and sampling: the other rows of the output layer are never read. The same distribution as
masking the whole vocabulary, at a fraction of the cost (see `model.decode`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ..codec.encode import encode, prefix_ids
from ..codec.events import Piece
from ..codec.grammar import Grammar
from ..codec.vocab import Vocab
from ..errors import UserError
from ..model.decode import Decoder
from ..model.gpt import Positions
from .sampling import SampleConfig, sample

# A hard cap on the tokens sampled per stream, from the asked length: the busiest 10 s of the 46 real files in
# ../shared/midi (pop bands, MAESTRO) encode to 103 tokens per second at most (note-ons, note-offs and waits), so
# 500 per second is never reached by music, only by a sampler that has stopped moving the clock. Past the cap
# generation stops with a UserError, never hangs.
CAP_TOKENS_PER_SECOND = 500
CAP_TOKENS_MIN = 256


def max_new_tokens(seconds: float) -> int:
    """The most tokens one stream may sample for `seconds` of new music."""
    return CAP_TOKENS_MIN + math.ceil(CAP_TOKENS_PER_SECOND * seconds)


@dataclass(frozen=True)
class GenerateConfig:
    style: str | None = None
    """A style of the model's vocabulary (None: its first style, 'unknown')."""
    instruments: tuple[str, ...] = ("piano",)
    """The only instruments that may play in the new music."""
    seconds: float = 30.0
    """Length of the new music (after the primer), in seconds; generation never runs past it."""
    candidates: int = 4
    """How many continuations to sample, as one batch."""
    seed: int = 0
    sample: SampleConfig = field(default_factory=SampleConfig)
    min_fraction: float = 0.8
    """The model may end the piece from this share of the requested length on."""
    max_silence: float | None = 4.0
    """Seconds of silence (nothing sounding, nothing starting) the new music may hold at most; None: no cap. A small
    model asked for an instrument it rarely saw for a style can otherwise wait out the whole piece."""

    def check(self, vocab: Vocab) -> None:
        names = [i.name for i in vocab.config.instruments]
        for name in self.instruments:
            if name not in names:
                raise UserError(f"unknown instrument {name[:40]!r}; choose from: {', '.join(names)}")
        if not self.instruments:
            raise UserError("choose at least one instrument")
        if self.style is not None and self.style not in vocab.config.styles:
            raise UserError(f"unknown style {self.style[:40]!r}; see `musenet styles`")
        if not 0 < self.seconds <= 3600:
            raise UserError(f"--seconds must be in (0, 3600], got {self.seconds:g}")
        if not 1 <= self.candidates <= 64:
            raise UserError(f"--candidates must be 1..64, got {self.candidates}")
        if not 0 <= self.min_fraction <= 1:
            raise UserError("min_fraction must be in [0, 1]")
        if self.max_silence is not None and not self.max_silence > 0:
            raise UserError(f"max_silence must be > 0 seconds (or None), got {self.max_silence}")


@dataclass
class Generated:
    """One candidate: its full token stream and positions, and where the primer ended (time units)."""

    ids: np.ndarray  # (N,) prefix + primer + new tokens + end (+ pad)
    positions: np.ndarray  # (N, 4) time, chord, part, countdown
    primer_units: int
    n_given: int  # how many of the ids were given (prefix + primer), not sampled

    def new_ids(self, vocab: Vocab) -> np.ndarray:
        """A stream of the sampled notes alone, at their times: prefix, waits over the primer, new tokens."""
        prefix = self.ids[: int(np.flatnonzero(self.ids == vocab.start)[0]) + 1]
        return np.concatenate([prefix, vocab.waits(self.primer_units), self.ids[self.n_given :]]).astype(
            np.int64
        )


def reachable(vocab: Vocab, instruments: list[int]) -> np.ndarray:
    """The ids of every token that can follow `start` when only these instruments' notes exist: their note-ons
    and note-offs, waits, end and pad."""
    notes = np.flatnonzero(np.isin(vocab.note_table[:, 0], instruments))
    return np.concatenate([notes, np.arange(vocab.wait_offset, vocab.style_offset), [vocab.end, vocab.pad]])


def _positions(pos: np.ndarray) -> Positions:
    t = torch.from_numpy(np.ascontiguousarray(pos))
    return Positions(t[..., 0], t[..., 1], t[..., 2], t[..., 3])


@torch.inference_mode()
def generate_ids(*args, **kwargs) -> list[Generated]:
    """Samples `cfg.candidates` continuations; returns their token streams (decode with `codec.decode`).

    Signature: `generate_ids(model, vocab, cfg, primer=None, progress=None)`. Decode steps run on one CPU thread:
    a step is a handful of small matrix products, and a second thread costs more in synchronisation than it gives
    (measured on 2 cores: 3 ms per step on one thread, 3-30 ms on two, worst when the machine is busy). A (re)fill
    of the window is one big forward, which the torch threads share (100 ms on one, 56 ms on two, for 400 tokens of
    the default model).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _generate_ids(*args, **kwargs, fill_threads=threads)
    finally:
        torch.set_num_threads(threads)


def _generate_ids(
    model,
    vocab: Vocab,
    cfg: GenerateConfig,
    primer: Piece | None = None,
    progress: Callable[[float], None] | None = None,
    fill_threads: int = 1,
) -> list[Generated]:
    cfg.check(vocab)
    B = cfg.candidates
    unit_ms = vocab.config.time_unit_ms
    names = [i.name for i in vocab.config.instruments]
    allowed = sorted(names.index(n) for n in cfg.instruments)

    body, primer_units, present = np.zeros(0, np.int64), 0, set(allowed)
    if primer is not None and len(primer):
        enc = encode(primer, vocab, style=cfg.style)
        start_at = int(np.flatnonzero(enc.ids == vocab.start)[0]) + 1
        body, primer_units = enc.ids[start_at:-1], enc.duration
        present |= {int(k) for k in np.unique(vocab.note_table[body[body < vocab.n_notes], 0])}
    new_units = max(1, round(cfg.seconds * 1000 / unit_ms))
    duration = primer_units + new_units
    silence = None if cfg.max_silence is None else max(1, round(cfg.max_silence * 1000 / unit_ms))
    # the tokens the grammar can ever allow from here: logits, masks and sampling are over these alone
    rows = reachable(vocab, sorted(present))
    grammar = Grammar(
        vocab,
        B,
        allowed,
        duration,
        min_end=primer_units + round(cfg.min_fraction * new_units),
        max_silence=silence,
        tokens=rows,
    )

    prefix = prefix_ids(vocab, cfg.style, sorted(present))
    start = np.concatenate([prefix, body])
    ids = np.repeat(start[None, :], B, axis=0)
    pos = np.stack([grammar.push(np.full(B, t)) for t in start], axis=1)  # (B, N, 4)
    step = Decoder(model, torch.from_numpy(rows))

    ctx = model.config.block_size
    n_prefix = len(prefix)
    if n_prefix + 8 > ctx:
        raise UserError(f"the model's context ({ctx} tokens) is too short for this prefix")
    keep = max(1, ctx - n_prefix - ctx // 4)  # body tokens kept when the window (re)fills
    gen = torch.Generator().manual_seed(cfg.seed)
    cache = model.new_cache(B, ctx)
    refill = True
    logits = None
    max_tokens = max_new_tokens(cfg.seconds)
    new_ids: list[
        np.ndarray
    ] = []  # sampled columns, (B,) each: joined to `ids` only at a refill and at the end
    new_pos: list[np.ndarray] = []  # (B, 4) each

    def flush() -> None:
        nonlocal ids, pos
        if new_ids:
            ids = np.concatenate([ids, np.stack(new_ids, axis=1)], axis=1)
            pos = np.concatenate([pos, np.stack(new_pos, axis=1)], axis=1)
            new_ids.clear()
            new_pos.clear()

    while True:
        if refill:
            flush()
            n = ids.shape[1]
            window = np.r_[np.arange(n_prefix), np.arange(max(n_prefix, n - keep), n)]
            cache.truncate(0)
            idx = torch.from_numpy(ids[:, window])
            torch.set_num_threads(fill_threads)
            try:
                logits = model(idx, _positions(pos[:, window]), cache=cache)[0][:, -1, step.rows]
            finally:
                torch.set_num_threads(1)
            refill = False
        mask = torch.from_numpy(grammar.mask())
        tok = rows[sample(logits, cfg.sample, gen, mask).numpy()]  # (B,) column -> token id
        p = grammar.push(tok)
        new_ids.append(tok)
        new_pos.append(p)
        if progress is not None:
            progress(float(np.minimum(grammar.time, duration).min() - primer_units) / new_units)
        if grammar.ended.all():
            break
        if len(new_ids) + ids.shape[1] - len(start) >= max_tokens:
            raise UserError(
                f"generation stopped after {max_tokens} tokens without reaching {cfg.seconds:g} s: the sampling "
                "settings leave the model no way forward; raise top-p/top-k or the temperature"
            )
        if cache.length + 1 > ctx:
            refill = True
            continue
        logits = step(torch.from_numpy(tok), _positions(p), cache=cache)
    flush()
    return [Generated(ids[b], pos[b], primer_units, len(start)) for b in range(B)]
