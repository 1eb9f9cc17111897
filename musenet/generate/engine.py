"""Generation: a batch of candidates sampled with a KV cache, under the token grammar. Token ids in, ids out: the
composer encodes a MIDI primer into a `Primer` and decodes what comes back.

The model sees `style instrument… start` and, when given, the primer's tokens; every step masks the logits with
`codec.grammar.Grammar`, so:

- only the requested instruments can start notes (MuseNet's instruments were "strong suggestions"; ours are
  guaranteed), each of them plays by `GenerateConfig.entry`, and every stream decodes with no repairs;
- the structural positions are driven by the requested length: `part` and `countdown` count towards it, so the
  model can end by itself near it (`end` becomes legal from `min_fraction` of the new music on), and the clock can
  never pass it.

**Guidance** (`SampleConfig.guidance` g != 1, classifier-free guidance on the style): every candidate has a twin
stream whose style token is `unknown` (what a model trained with `--style-dropout` learned as music of no style in
particular), fed the same tokens; a step's logits are `u + g (s - u)` of the styled (s) and unstyled (u) ones, so
g > 1 plays up what the style adds. The twins double the rows of every step (one batch, not two passes).

A piece longer than the model's context slides the `Window`: the prefix stays, the oldest body tokens go, and the
cache is recomputed (MuseNet's themes were rarely recalled from more than ~2,000 tokens back either).

Only the tokens a request can ever produce (`reachable`: the notes of the asked and primer instruments, waits, end,
pad) get logits, masks and sampling: the other rows of the output layer are never read. The same distribution as
masking the whole vocabulary, at a fraction of the cost (see `model.decode`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..codec.encode import prefix_ids
from ..codec.grammar import Grammar
from ..codec.vocab import Vocab
from ..errors import UserError
from ..model.decode import Decoder
from ..model.gpt import Positions
from .config import GenerateConfig, SampleConfig, units
from .sampling import sample
from .threads import ThreadChooser, same_on_threads, thread_options, threads

# A hard cap on the tokens sampled per stream, from the asked length: the busiest 10 s of the 46 real files in
# ../shared/midi (pop bands, MAESTRO) encode to 103 tokens per second at most (note-ons, note-offs and waits), so
# 500 per second is never reached by music, only by a sampler that has stopped moving the clock. Past the cap
# generation stops with a UserError, never hangs.
CAP_TOKENS_PER_SECOND = 500
CAP_TOKENS_MIN = 256
# Window fills shorter than this (a piece's first, of the prefix alone) are not timed for the choice of threads:
# fixed costs dominate them, and their time per token says nothing about a full window's.
MIN_TIMED_FILL = 64

# (decoder layout, rows, tokens a row, threads) -> whether that work's products give the same numbers on that many
# threads as on one (`threads.same_on_threads`): it depends on the shapes alone, so it is checked once a process
_SAME_ON_THREADS: dict[tuple, bool] = {}


def max_new_tokens(seconds: float) -> int:
    """The most tokens one stream may sample for `seconds` of new music."""
    return CAP_TOKENS_MIN + math.ceil(CAP_TOKENS_PER_SECOND * seconds)


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


@dataclass(frozen=True)
class Primer:
    """A primer as the engine takes it: the body tokens of an encoded piece (between `start` and `end`) and its
    length in time units. The composer encodes a MIDI primer into one (`Composer.primer_tokens`)."""

    ids: np.ndarray
    units: int


def _positions(pos: np.ndarray) -> Positions:
    t = torch.from_numpy(np.ascontiguousarray(pos))
    return Positions(t[..., 0], t[..., 1], t[..., 2], t[..., 3])


class Window:
    """The token streams so far, and the part of them the model sees: the prefix always, then the newest body
    tokens. When the cache is full the window slides: it keeps the prefix and the newest `keep` body tokens (all
    but a quarter of the context), and the cache is refilled from them. Sampled columns wait in a list and are
    joined to the arrays only at a refill and at the end."""

    def __init__(self, ids: np.ndarray, pos: np.ndarray, n_prefix: int, context: int):
        if n_prefix + 8 > context:
            raise UserError(f"the model's context ({context} tokens) is too short for this prefix")
        self.ids, self.pos, self.n_prefix = ids, pos, n_prefix  # (B, N), (B, N, 4)
        self.keep = max(1, context - n_prefix - context // 4)  # body tokens kept when the window (re)fills
        self._ids: list[np.ndarray] = []  # (B,) each
        self._pos: list[np.ndarray] = []  # (B, 4) each

    def push(self, tok: np.ndarray, pos: np.ndarray) -> None:
        self._ids.append(tok)
        self._pos.append(pos)

    def __len__(self) -> int:
        """Tokens per stream so far."""
        return self.ids.shape[1] + len(self._ids)

    def streams(self) -> tuple[np.ndarray, np.ndarray]:
        """Every token and position so far: (B, N), (B, N, 4)."""
        if self._ids:
            self.ids = np.concatenate([self.ids, np.stack(self._ids, axis=1)], axis=1)
            self.pos = np.concatenate([self.pos, np.stack(self._pos, axis=1)], axis=1)
            self._ids.clear()
            self._pos.clear()
        return self.ids, self.pos

    def visible(self) -> tuple[np.ndarray, np.ndarray]:
        """What the model sees after a (re)fill: the prefix and the newest `keep` body tokens."""
        ids, pos = self.streams()
        n = ids.shape[1]
        cols = np.r_[np.arange(self.n_prefix), np.arange(max(self.n_prefix, n - self.keep), n)]
        return ids[:, cols], pos[:, cols]


@torch.inference_mode()
def generate_ids(
    model,
    vocab: Vocab,
    cfg: GenerateConfig,
    primer: Primer | None = None,
    progress: Callable[[float], None] | None = None,
) -> list[Generated]:
    """Samples `cfg.candidates` continuations of `primer` (none: from scratch); returns their token streams
    (decode with `codec.decode`).

    A decode step of a single stream runs on one CPU thread: it is a handful of matrix-vector products, and a
    second thread costs more in synchronisation than it gives. Steps of two or more rows (candidates, and
    guidance's twins) and the window's (re)fills (`Decoder.fill`: the trunk, and the output layer at the last
    position only) run on torch's threads or on one, whichever `generate.threads.ThreadChooser` measures faster:
    on 2 idle cores, torch's two threads take 25-35 % less time per token for a guided pop band
    (`benchmarks/RESULTS.md`); on cores another job is using, one thread is up to 18 times faster.
    `torch.set_num_threads(1)` (`musenet serve --threads 1`) keeps everything on one.
    """
    cfg.check(vocab)
    B = cfg.candidates
    unit_ms = vocab.config.time_unit_ms
    names = vocab.config.instrument_names
    allowed = sorted(names.index(n) for n in cfg.instruments)

    body, primer_units, present = np.zeros(0, np.int64), 0, set(allowed)
    if primer is not None and len(primer.ids):
        body, primer_units = np.asarray(primer.ids, np.int64), primer.units
        present |= {int(k) for k in np.unique(vocab.note_table[body[body < vocab.n_notes], 0])}
    new_units = max(1, round(cfg.seconds * 1000 / unit_ms))
    duration = primer_units + new_units
    # the tokens the grammar can ever allow from here: logits, masks and sampling are over these alone
    rows = reachable(vocab, sorted(present))
    grammar = Grammar(
        vocab,
        B,
        allowed,
        duration,
        min_end=primer_units + round(cfg.min_fraction * new_units),
        max_silence=units(cfg.max_silence, unit_ms),
        tokens=rows,
        min_restrike=units(cfg.min_restrike, unit_ms),
        max_hold=units(cfg.max_hold, unit_ms),
        max_note=units(cfg.max_note, unit_ms),
        must_play=allowed if cfg.entry is not None else (),
        entry=None
        if cfg.entry is None
        else primer_units + min(round(cfg.entry * 1000 / unit_ms), new_units // 2),
        land_waits=True,
    )

    prefix = prefix_ids(vocab, cfg.style, sorted(present))
    start = np.concatenate([prefix, body])
    ids = np.repeat(start[None, :], B, axis=0)
    pos = np.stack([grammar.push(np.full(B, t)) for t in start], axis=1)  # (B, N, 4)

    def report(g: Grammar) -> None:
        if progress is not None:
            progress(float(np.minimum(g.time, duration).min() - primer_units) / new_units)

    ids, pos = sample_streams(
        model, grammar, rows, ids, pos, len(prefix), cfg.seed, cfg.sample, cfg.seconds, report
    )
    return [Generated(ids[b], pos[b], primer_units, len(start)) for b in range(B)]


def sample_streams(
    model,
    grammar: Grammar,
    rows: np.ndarray,
    ids: np.ndarray,
    pos: np.ndarray,
    n_prefix: int,
    seed: int,
    sampling: SampleConfig,
    seconds: float,
    progress: Callable[[Grammar], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The sampling loop shared by continuation and infilling (`generate.infill`): `ids` (B, N) and `pos`
    (B, N, 4) given (the grammar already past them), tokens drawn from `rows` under `grammar.mask()` until every
    stream has ended, at most `max_new_tokens(seconds)` of them (`seconds`: the length of the new music); the
    first `n_prefix` tokens stay in the window when it slides; the first is the style, which guidance's twins
    replace. Returns every (B, M) id and (B, M, 4) position."""
    available = torch.get_num_threads()
    B = ids.shape[0]
    given = ids.shape[1]
    g = sampling.guidance
    if g != 1:  # the twins: the same streams told no style
        v = grammar.vocab
        if v.kind(int(ids[0, 0])) != "style":
            raise ValueError("guidance needs streams that open with their style token")
        twins = ids.copy()
        twins[:, 0] = v.style_id(None)
        ids, pos = np.concatenate([ids, twins]), np.concatenate([pos, pos])
    window = Window(ids, pos, n_prefix, model.config.block_size)
    step = Decoder(model, torch.from_numpy(rows))
    gen = torch.Generator().manual_seed(seed)
    cache = model.new_cache(ids.shape[0], model.config.block_size)

    def guided(logits: torch.Tensor) -> torch.Tensor:
        """(B or 2B, R) -> (B, R): the styled rows, pushed away from their twins' by the guidance."""
        if g == 1:
            return logits
        styled, plain = logits[:B], logits[B:]
        return torch.lerp(plain, styled, g)  # plain + g * (styled - plain)

    def choice(rows: int, tokens: int = 1) -> tuple[int, ...]:
        """The thread counts timing may choose among for this work: one where more would change the numbers."""
        options = thread_options(rows * tokens, available)
        if len(options) > 1:
            key = (step.layout, rows, tokens, available)
            if key not in _SAME_ON_THREADS:
                _SAME_ON_THREADS[key] = same_on_threads(step.probes(rows, tokens), available)
            if not _SAME_ON_THREADS[key]:
                return (1,)
        return options

    steps = ThreadChooser(choice(ids.shape[0]))
    fills = ThreadChooser(
        thread_options(ids.shape[0] * model.config.block_size, available), probe=1, warmup=0
    )
    refill, logits = True, None
    max_tokens = max_new_tokens(seconds)
    with threads(available):
        while True:
            if refill:
                cache.truncate(0)
                seen, seen_pos = window.visible()
                x, x_pos = torch.from_numpy(seen), _positions(seen_pos)
                if seen.shape[1] < MIN_TIMED_FILL:  # a prefix alone: too little work to time
                    logits = step.fill(x, x_pos, cache=cache)
                elif len(choice(*seen.shape)) > 1:
                    logits = fills.run(step.fill, x, x_pos, cache=cache, units=seen.size)
                else:  # the thread count would change the numbers
                    torch.set_num_threads(1)  # the next step's `run` sets its own
                    logits = step.fill(x, x_pos, cache=cache)
                refill = False
            mask = torch.from_numpy(grammar.mask())
            tok = grammar.land(rows[sample(guided(logits), sampling, gen, mask).numpy()])  # (B,) column -> id
            p = grammar.push(tok)
            if g != 1:
                tok, p = np.concatenate([tok, tok]), np.concatenate([p, p])
            window.push(tok, p)
            if progress is not None:
                progress(grammar)
            if len(window) - given >= max_tokens:
                raise UserError(
                    f"generation stopped after {max_tokens} tokens without reaching {seconds:g} s: the sampling "
                    "settings leave the model no way forward; raise top-p/top-k or the temperature"
                )
            if grammar.ended.all():
                break
            if cache.length + 1 > model.config.block_size:
                refill = True
                continue
            logits = steps.run(step, torch.from_numpy(tok), _positions(p), cache=cache)
    ids, pos = window.streams()
    return ids[:B], pos[:B]
