"""The token language as a state machine: which tokens may come next, for a batch of streams (pure numpy).

Generation masks the model's logits with `Grammar.mask()` so that every sampled stream is one the encoder could
have written, and so decodes with no repairs:

- after `start`: no prefix tokens (style, instrument, start) and no pad;
- within a moment, the encoder's order: note-offs first, then note-ons, each by instrument then pitch (so a key
  is struck at most once per moment);
- a note-on only for the requested instruments and a pitch not sounding on that instrument, at most `max_chord`
  onsets per moment and (pitched) `max_polyphony` notes sounding;
- a note-off only for a sounding note;
- a wait only while it keeps the clock at or before the requested duration; once the clock reaches it, only the
  note-offs of sounding notes, then drum hits (which need no note-off) and `end` remain; with `land_waits`, a
  wait past it is allowed too and lands the clock on it (`land()` rewrites the sampled token to the wait that
  does): the model's choice to let its last notes ring to the end. Without it, a model that wants to wait the
  final beat out has only note-ons and short waits left, and squeezes onsets 10-40 ms apart into the last second
  (generation sets it; the encoder never writes a wait past a piece's end);
- a wait right after a wait only after `wait:max_wait`: the encoder writes a gap as one wait, or as full waits
  and then the rest, never as `wait:1 wait:1 …` (a model that samples such a chain is off its training data, and
  can spiral into seconds of 10 ms waits);
- `end` only when nothing sounds and the clock has reached `min_end`; after `end`, only pad;
- with `max_silence`, a wait only while it keeps the current silence (nothing sounding, no onset) within that
  many time units, so a stream cannot drift into minutes of nothing: generation sets it, the encoder's
  acceptance of real files does not need it;
- with `max_hold`, a wait only while it keeps the time since the last onset within that many time units when
  something sounds, so a stream cannot hold a chord and wait out the piece in 10 ms steps (past it, the next token
  strikes or releases a note); generation sets it, the encoder does not;
- with `max_note`, no pitched note sounds longer than that many time units: a wait only while it keeps every
  sounding note within it, and once a note has sounded that long, only the note-offs of such notes come next (a
  small model can strike a note and never release it: the default model held 2-7 % of its band notes to the
  piece's end, over 8 s; real music 0.1 %); generation can set it (`--max-note`, off by default: a release the
  model did not choose can throw it off its data), the encoder does not;
- with `min_restrike`, a pitched note-on only if that key was last struck at least that many time units ago:
  real music re-strikes a key sooner for 0.2 % of its onsets (doubled notes in renders, mostly), but a small model
  can fall into striking one key every 10-30 ms (a machine-gun stutter); generation sets it, the encoder does not;
- with `must_play` and `entry`, every listed instrument plays by the time `entry`: while one has not played, no
  wait takes the clock past `entry` and `end` is not allowed; at `entry` itself only its note-ons (and note-offs)
  remain, so the model chooses its first note but not whether it plays. (A stream that could go no further that
  way, e.g. a moment already full of onsets, falls back to the masks without it: there is never a dead end.)

`push(tokens)` advances every stream by one token and returns that token's structural positions (the same
definitions as `codec.positions`, which the tests check against the encoder on real files).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .positions import countdown_of, part_of
from .vocab import Vocab

NEVER = -(2**40)  # the strike time of a key not struck yet


class _Columns(NamedTuple):
    """The per-token constants `mask()` reads, for its columns only."""

    key: np.ndarray
    is_off: np.ndarray
    on_ok: np.ndarray
    is_drum: np.ndarray
    is_wait: np.ndarray
    wait_len: np.ndarray
    end: np.ndarray  # the column of `end` (an index array: empty when it is not a column)
    pad: np.ndarray
    prefix: np.ndarray  # the columns of style, instrument and start tokens
    inst: np.ndarray  # the instrument of each note column, -1 for the others


class Grammar:
    def __init__(
        self,
        vocab: Vocab,
        batch: int,
        instruments: Sequence[int],
        duration: int,
        min_end: int | None = None,
        max_silence: int | None = None,
        tokens: np.ndarray | None = None,
        closer: int | None = None,
        piece_duration: int | None = None,
        drums_at_limit: bool = True,
        must_play: Sequence[int] = (),
        entry: int | None = None,
        min_restrike: int | None = None,
        max_hold: int | None = None,
        max_note: int | None = None,
        land_waits: bool = False,
    ):
        """`instruments`: indices of the instruments whose notes may start; `duration`, `min_end`,
        `max_silence`, `min_restrike`, `max_hold`, `max_note`: time units (`max_silence` None: silences of any
        length; `min_restrike` None: a key may be struck again at the next moment; `max_hold` None: notes may be
        held with no new onset for any length of time; `max_note` None: a note may sound for any length of time).
        `tokens`: the ids `mask()` decides on, its columns in that order (None: the whole vocabulary); a generator
        that can draw only some tokens asks for those alone, at a fraction of the cost (the others' logits are
        never computed).

        For a span (`codec.infill`'s middle): `closer` is the token that ends a stream in place of `end`
        (`fill_end`), `duration` the span's end (the clock limit) while `piece_duration` drives `part` and
        `countdown`, `drums_at_limit=False` keeps every onset inside the span, and `begin()` sets the clock and
        the notes sounding at its start. `land_waits`: a wait past `duration` is allowed and lands on it (see the
        module's docstring; `land()`)."""
        self.vocab = vocab
        self.land_waits = land_waits
        self.batch = batch
        self.duration = int(duration)
        self.piece_duration = self.duration if piece_duration is None else int(piece_duration)
        self.closer = vocab.end if closer is None else int(closer)
        self.drums_at_limit = drums_at_limit
        self.min_end = self.duration if min_end is None else min(int(min_end), self.duration)
        if max_silence is not None and max_silence < 1:
            raise ValueError(f"max_silence must be >= 1 time unit, got {max_silence}")
        self.max_silence = max_silence
        if min_restrike is not None and min_restrike < 1:
            raise ValueError(f"min_restrike must be >= 1 time unit, got {min_restrike}")
        self.min_restrike = min_restrike
        if max_hold is not None and max_hold < 1:
            raise ValueError(f"max_hold must be >= 1 time unit, got {max_hold}")
        self.max_hold = max_hold
        if max_note is not None and max_note < 1:
            raise ValueError(f"max_note must be >= 1 time unit, got {max_note}")
        self.max_note = max_note
        cfg = vocab.config
        V, n = vocab.size, vocab.n_notes
        table = vocab.note_table
        # per-token constants (V,)
        self.is_note = np.zeros(V, bool)
        self.is_note[:n] = True
        inst = np.full(V, -1)
        inst[:n] = table[:, 0]
        level = np.zeros(V, np.int64)
        level[:n] = table[:, 1]
        self.is_on = self.is_note & (level > 0)
        self.is_off = self.is_note & (level == 0)
        key_offsets = np.concatenate([[0], np.cumsum(vocab.high - vocab.low + 1)])
        self.key = np.zeros(V, np.int64)
        self.key[:n] = key_offsets[table[:, 0]] + table[:, 2] - vocab.low[table[:, 0]]
        self.is_drum_tok = np.zeros(V, bool)
        self.is_drum_tok[:n] = vocab.is_drums[table[:, 0]]
        self.wait_len = np.zeros(V, np.int64)
        self.wait_len[vocab.wait_offset : vocab.style_offset] = np.arange(1, cfg.max_wait + 1)
        self.is_wait = self.wait_len > 0
        self.on_ok = self.is_on & np.isin(inst, np.asarray(list(instruments), dtype=np.int64))
        self.inst = inst
        self.must = np.asarray(sorted(must_play), dtype=np.int64)
        self.entry = None if entry is None or not len(self.must) else int(entry)
        cols = np.arange(V) if tokens is None else np.asarray(tokens, dtype=np.int64)
        if cols.ndim != 1 or (cols.size and not (cols.min() >= 0 and cols.max() < V)):
            raise ValueError(f"tokens must be a 1-D array of ids in 0..{V - 1}")
        self.columns = _Columns(
            *(
                a[cols]
                for a in (self.key, self.is_off, self.on_ok, self.is_drum_tok, self.is_wait, self.wait_len)
            ),
            *(np.flatnonzero(cols == t) for t in (self.closer, vocab.pad)),
            np.flatnonzero((cols >= vocab.style_offset) & (cols <= vocab.start)),
            inst[cols],
        )
        # the entry rule's per-column constants: the must-play instruments' notes, and each column's instrument
        self._must_cols = np.isin(self.columns.inst, self.must)[None, :]
        self._col_inst = np.maximum(self.columns.inst, 0)
        # per-stream state
        K = int(key_offsets[-1])
        self.started = np.zeros(batch, bool)
        self.sounding = np.zeros((batch, K), bool)
        self.last_off = np.full(batch, -1, np.int64)  # highest key released at the current moment
        self.last_on = np.full(batch, -1, np.int64)  # highest key struck at the current moment
        self.n_sounding = np.zeros(batch, np.int64)
        self.struck = np.full((batch, K), NEVER, np.int64)  # the time each key was last struck
        self.onsets = np.zeros(batch, np.int64)  # note-ons at the current moment
        self.time = np.zeros(batch, np.int64)
        self.quiet_from = np.zeros(batch, np.int64)  # the last time something sounded or started
        self.onset_at = np.zeros(batch, np.int64)  # the last time a note started (or the stream began)
        self.after_wait = np.zeros(batch, bool)  # the last token was a wait shorter than max_wait
        self.ended = np.zeros(batch, bool)
        self.played = np.zeros((batch, len(cfg.instruments)), bool)  # instruments with a note-on so far

    def begin(self, clock: int, sounding: np.ndarray) -> None:
        """Every stream is past its prefix, at time `clock`, with these keys (see `codec.infill.note_keys`)
        sounding: the state a span's middle starts from."""
        keys = np.asarray(sounding, dtype=np.int64)
        self.started[:] = True
        self.time[:] = int(clock)
        self.quiet_from[:] = int(clock)
        self.onset_at[:] = int(clock)
        self.after_wait[:] = False
        self.sounding[:] = False
        self.sounding[:, keys] = True
        self.n_sounding[:] = len(np.unique(keys))
        self.struck[:] = NEVER
        self.struck[:, keys] = int(clock)  # `max_note` counts the notes sounding at the start from there

    def mask(self) -> np.ndarray:
        """(B, R) bool: True where a token may come next; column j is the j-th of `tokens` (R = V by default)."""
        cfg, c = self.vocab.config, self.columns
        keys = c.key[None, :]
        sounding = np.take(self.sounding, c.key, axis=1)  # (B, R)
        before_limit = (self.time < self.duration)[:, None]
        silent = (self.n_sounding == 0)[:, None]
        # at the limit every sounding note must still be closable, whatever order the offs came in
        in_order = (keys > self.last_off[:, None]) | ~before_limit
        offs = c.is_off & sounding & (self.onsets == 0)[:, None] & in_order
        room = (self.n_sounding < cfg.max_polyphony)[:, None] | c.is_drum
        ons = c.on_ok & ~sounding & (keys > self.last_on[:, None]) & (self.onsets < cfg.max_chord)[:, None]
        ons &= room & (before_limit | (c.is_drum & silent & self.drums_at_limit))
        # when each column's key was last struck (B, R): read by the restrike and long-note rules alone
        struck = (
            None if self.min_restrike is None and self.max_note is None else np.take(self.struck, c.key, 1)
        )
        if self.min_restrike is not None:
            recent = struck > (self.time - self.min_restrike)[:, None]
            ons &= ~recent | c.is_drum
        if self.land_waits:  # where each wait takes the clock: a wait past the duration lands on it
            after = np.minimum(self.time[:, None] + c.wait_len, self.duration)
            waits = c.is_wait & before_limit & ~self.after_wait[:, None]
        else:
            after = self.time[:, None] + c.wait_len
            waits = c.is_wait & (after <= self.duration) & ~self.after_wait[:, None]
        if self.max_silence is not None:
            too_long = after - self.quiet_from[:, None] > self.max_silence
            waits &= ~(silent & too_long)
        if self.max_hold is not None:
            held_too_long = after - self.onset_at[:, None] > self.max_hold
            waits &= ~(~silent & held_too_long)
        free_waits = waits
        if self.max_note is not None:
            # the oldest sounding note's strike (a huge number when nothing sounds)
            oldest = np.where(self.sounding, self.struck, np.iinfo(np.int64).max).min(axis=1)
            waits = waits & (after - oldest[:, None] <= self.max_note)
        allowed = offs | ons | waits
        end_ok = (self.n_sounding == 0) & (self.time >= self.min_end)
        allowed[:, c.end] = end_ok[:, None]
        if self.entry is not None:
            allowed = self._entry(allowed, offs, ons, waits, after)
        if self.max_note is not None:
            # a note that has sounded `max_note` units is released before anything else happens, the lowest
            # first (the order of offs within a moment); a stream that cannot release it at this moment keeps the
            # masks above, and one left with no token at all its waits: never a dead end
            due = offs & (struck <= (self.time - self.max_note)[:, None])
            lowest = np.where(due, c.key[None, :], np.iinfo(np.int64).max).min(axis=1)
            due &= c.key[None, :] == lowest[:, None]
            force = (self.time - oldest >= self.max_note) & due.any(axis=1) & self.started & ~self.ended
            allowed[force] = due[force]
            stuck = ~allowed.any(axis=1)
            allowed[stuck] |= free_waits[stuck]
        if not self.started.all():  # before `start` (a stream given without its prefix): only prefix tokens
            allowed[~self.started] = False
            allowed[np.ix_(~self.started, c.prefix)] = True
        if self.ended.any():
            allowed[self.ended] = False
            allowed[np.ix_(self.ended, c.pad)] = True
        return allowed

    def _entry(
        self, allowed: np.ndarray, offs: np.ndarray, ons: np.ndarray, waits: np.ndarray, after: np.ndarray
    ) -> np.ndarray:
        """The masks with every `must_play` instrument playing by `entry` (see the module's docstring); `after`:
        (B, R) where each wait would take the clock."""
        c = self.columns
        owing = ~self.played[:, self.must].all(axis=1) & self.started & ~self.ended  # (B,)
        if not owing.any():
            return allowed
        owed_cols = self._must_cols & ~self.played[:, self._col_inst]  # (B, R) note-ons of instruments owed
        at_entry = (self.time >= self.entry)[:, None]
        late_waits = waits & (after > self.entry)
        strict = offs | np.where(at_entry, ons & owed_cols, ons) | (waits & ~late_waits)
        strict[:, c.end] = False
        keep = owing & strict.any(axis=1)  # a stream with no way on under the rule keeps the plain masks
        allowed[keep] = strict[keep]
        return allowed

    def land(self, tokens: np.ndarray) -> np.ndarray:
        """(B,) sampled tokens with every wait past the duration replaced by the wait that lands on it (with
        `land_waits`; the tokens unchanged otherwise). Push what this returns: it is what the stream holds."""
        tokens = np.asarray(tokens, dtype=np.int64).reshape(self.batch)
        if not self.land_waits:
            return tokens
        left = self.duration - self.time
        over = self.is_wait[tokens] & (self.wait_len[tokens] > left) & (left > 0) & ~self.ended
        return np.where(over, self.vocab.wait_id(np.maximum(left, 1)), tokens)

    def push(self, tokens: np.ndarray) -> np.ndarray:
        """Advances each stream by its token; returns (B, 4) positions: time, chord, part, countdown."""
        v, cfg = self.vocab, self.vocab.config
        tokens = np.asarray(tokens, dtype=np.int64).reshape(self.batch)
        rows = np.arange(self.batch)
        key = self.key[tokens]
        on = self.is_on[tokens] & ~self.ended
        off = self.is_off[tokens] & ~self.ended
        pitched_on = on & ~self.is_drum_tok[tokens]
        was = self.sounding[rows, key]
        self.n_sounding += (pitched_on & ~was).astype(np.int64) - (off & was).astype(np.int64)
        self.sounding[rows[pitched_on], key[pitched_on]] = True
        self.struck[rows[pitched_on], key[pitched_on]] = self.time[pitched_on]
        self.sounding[rows[off], key[off]] = False
        self.last_on = np.where(on, key, self.last_on)
        self.last_off = np.where(off, key, self.last_off)
        self.onsets += on
        self.played[rows[on], self.inst[tokens[on]]] = True
        wait = self.wait_len[tokens] * ~self.ended
        moved = wait > 0
        self.time += wait
        self.after_wait = moved & (wait < cfg.max_wait)
        self.onsets[moved] = 0
        self.last_on[moved] = -1
        self.last_off[moved] = -1
        self.quiet_from = np.where((self.n_sounding > 0) | on, self.time, self.quiet_from)
        self.onset_at = np.where(on, self.time, self.onset_at)
        self.started |= tokens == v.start
        self.ended |= tokens == self.closer
        chord = np.where(on, np.minimum(self.onsets, cfg.max_chord), 0)
        part = part_of(v, self.time, self.piece_duration)
        countdown = countdown_of(v, self.time, self.piece_duration)
        return np.stack([self.time.copy(), chord, part, countdown], axis=1)
