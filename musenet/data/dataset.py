"""Training windows over a built dataset: memory-mapped, with MuseNet's augmentations, deterministic for a seed.

**Windows.** A window is `context + 1` tokens: the piece's prefix (`style instrument... start`), then a slice of its
body (notes, waits, `end`). A piece whose body fits is one window, padded on the right with `pad_id`. A longer
body of B tokens is cut into ceil(B / L) windows of L = context + 1 - prefix body tokens each, starting at 0, L,
2L, ... with the last one aligned to the body's end, so every token is seen. A window that starts mid-piece
starts at a `wait` (the first at or after its nominal start, if one comes within 64 tokens), so that it opens on a
moment, as a generation would.

**Positions.** The prefix has the positions it has at the start of the piece (time 0, part 0, full countdown).
Body tokens keep the positions they have in the whole piece: `time` is the clock since the piece's start (not
re-based to the window), `part` and `countdown` follow from it and the piece's duration, and `chord` counts from
the window's opening wait, which is where the chord count restarts anyway. So a window starting mid-piece looks
exactly like that stretch of the full sequence. Padding has all positions 0.

**Packing** (`pack=True`, off by default): consecutive short pieces (in index order) that fit together share a
window, each whole with its own prefix and positions, then padding; long pieces are windowed as above. Most of
the music21 corpus is folk tunes of a few hundred tokens, so at context 2048 unpacked windows are ~80 % padding.

**Augmentation** (`augment=True`, see `data.augment`): drawn from `np.random.default_rng(seed)`: the window's
start moves by up to half a window (long pieces), then transposition within every instrument's range, a velocity
shift of +-1 level, a tempo stretch in [0.95, 1.05] (time, duration, part and countdown follow). The same
(index, seed) always gives the same sample.

**Infilling** (`infill_share`, 0 by default): that share of the one-piece windows becomes a fill-in-the-middle
sample (`data.infill`, `codec.infill`), drawn from its own generator so the other windows do not change.

**Style alias** (`piano_alias`, 0 by default): that share of the windows of solo-piano pieces in a concert style
(`data.sources.styles.CONCERT_STYLES`: a Chopin nocturne, a Beethoven sonata) carries the style `piano` instead of
its composer's, so `piano` means piano music at large, not only the few performances labelled so (11 MAESTRO
recordings in the default data, which the model learnt to blur into their fastest runs). Drawn from its own
generator; style dropout, drawn after it, still replaces either style by `unknown`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..codec.positions import countdown_of, part_of, positions
from ..codec.vocab import Vocab, VocabConfig
from ..errors import UserError
from . import augment as aug
from . import infill
from .shards import open_split, read_meta

SNAP_TOKENS = 64  # how far past its nominal start a window looks for a wait to open on
STRETCH_SLACK = 32  # extra body tokens read before a stretch, which may shorten the slice by merging waits


class WindowDataset:
    def __init__(
        self,
        data_dir: str | Path,
        split: str,
        context: int,
        augment: bool,
        augment_config: aug.AugmentConfig | None = None,
        pack: bool = False,
        infill_share: float = 0.0,
        style_dropout: float = 0.0,
        piano_alias: float = 0.0,
    ):
        meta = read_meta(data_dir)
        self.vocab_config: dict = meta["vocab"]
        self.vocab = Vocab(VocabConfig.from_dict(self.vocab_config))
        self.vocab_size: int = self.vocab.size
        self.pad_id: int = self.vocab.pad
        self.chord_positions: int = self.vocab.config.max_chord + 1
        self.styles: list[str] = list(self.vocab.config.styles)
        self.context = context
        self.augment = augment
        self.augment_config = augment_config or aug.AugmentConfig()
        self.tokens, self.time, self.index = open_split(data_dir, split)
        if len(self.index) and int(self.index["prefix"].max()) >= context + 1:
            raise ValueError(
                f"context {context} is too short for a prefix of {int(self.index['prefix'].max())} tokens"
            )
        if not 0.0 <= infill_share <= 1.0:
            raise ValueError(f"infill_share must be in [0, 1], got {infill_share}")
        if infill_share > 0 and not self.vocab.config.infill:
            raise UserError(
                f"{data_dir} was built with a vocabulary without the infill tokens: rebuild it to train infilling"
            )
        self.infill_share = infill_share
        if not 0.0 <= style_dropout < 1.0:
            raise ValueError(f"style_dropout must be in [0, 1), got {style_dropout}")
        self.style_dropout = style_dropout
        if not 0.0 <= piano_alias <= 1.0:
            raise ValueError(f"piano_alias must be in [0, 1], got {piano_alias}")
        self.piano_alias = piano_alias
        self.aliasable = self._aliasable() if piano_alias > 0 else None
        self.pack = pack
        if pack:
            self._windows_packed()
        else:
            self._windows()

    def _aliasable(self) -> np.ndarray:
        """(pieces,) bool: the piece is solo piano in a concert style, and the vocabulary has a `piano` style."""
        from .sources.styles import CONCERT_STYLES

        v, idx = self.vocab, self.index
        if "piano" not in self.styles or "piano" not in v.config.instrument_names:
            return np.zeros(len(idx), bool)
        concert = np.isin(idx["style"], [self.styles.index(s) for s in CONCERT_STYLES if s in self.styles])
        # a solo prefix is `style piano start`: 3 tokens, the second the piano's
        second = np.asarray(self.tokens[idx["offset"].astype(np.int64) + 1])  # every prefix has >= 3 tokens
        return concert & (idx["prefix"] == 3) & (second == v.instrument_id("piano"))

    def _windows(self) -> None:
        """One piece per window; a long piece gives several."""
        context = self.context
        body = (self.index["length"] - self.index["prefix"]).astype(np.int64)
        room = context + 1 - self.index["prefix"].astype(np.int64)  # body tokens a window holds
        n = np.maximum(1, -(-body // room))
        self.win_piece = np.repeat(np.arange(len(self.index)), n)
        first = np.repeat(np.cumsum(n) - n, n)
        k = np.arange(len(self.win_piece)) - first  # window number within its piece
        room_w = room[self.win_piece]
        self.win_start = np.minimum(k * room_w, np.maximum(body[self.win_piece] - room_w, 0))
        self.win_count = np.ones(len(self.win_piece), dtype=np.int64)
        self._label_windows()

    def _label_windows(self) -> None:
        """Each window's style (its first piece's) and the tokens it holds (padding excluded; a window that starts
        mid-piece may hold up to SNAP_TOKENS fewer after its snap to a wait): what the trainer weighs windows by
        (`train.data.StyleBalance`)."""
        lengths = self.index["length"].astype(np.int64)
        ends = self.win_piece + self.win_count
        csum = np.concatenate([[0], np.cumsum(lengths)])
        self.win_tokens = np.minimum(csum[ends] - csum[self.win_piece], self.context + 1)
        self.win_style = self.index["style"].astype(np.int64)[self.win_piece]

    def _windows_packed(self) -> None:
        """Runs of consecutive whole pieces that fit together in one window share it; long pieces as before."""
        self._windows()
        n = self.context + 1
        lengths = self.index["length"].astype(np.int64)
        piece, start, count = [], [], []
        w = 0
        while w < len(self.win_piece):
            p = int(self.win_piece[w])
            if lengths[p] > n:  # a long piece's windows stay as they are
                piece.append(p)
                start.append(int(self.win_start[w]))
                count.append(1)
                w += 1
                continue
            used, c = int(lengths[p]), 1
            while p + c < len(lengths) and used + lengths[p + c] <= n:
                used += int(lengths[p + c])
                c += 1
            piece.append(p)
            start.append(0)
            count.append(c)
            w += c  # short pieces have one window each
        self.win_piece = np.array(piece, dtype=np.int64)
        self.win_start = np.array(start, dtype=np.int64)
        self.win_count = np.array(count, dtype=np.int64)
        self._label_windows()

    def __len__(self) -> int:
        return len(self.win_piece)

    def _snap(self, at: int, start: int, stop: int) -> int:
        """The first wait at or after `start` (body offsets; `at` = the body's first token), if one is near."""
        v = self.vocab
        seg = np.asarray(self.tokens[at + start : at + min(stop, start + SNAP_TOKENS)])
        waits = np.flatnonzero((seg >= v.wait_offset) & (seg < v.style_offset))
        return start + int(waits[0]) if len(waits) else start

    def sample(self, index: int, seed: int) -> dict[str, np.ndarray]:
        """Window `index` as int64 arrays of length context + 1: ids, time, chord, part, countdown."""
        n = self.context + 1
        rng = np.random.default_rng(seed) if self.augment else None
        first, count = int(self.win_piece[index]), int(self.win_count[index])
        fim = None  # the fill-in-the-middle transform (`data.infill`), on a share of the one-piece windows
        if self.infill_share > 0 and count == 1:
            fim = np.random.default_rng([seed, index, 0x1F1])
            fim = fim if fim.random() < self.infill_share else None
        parts = [self._piece(first, int(self.win_start[index]), rng, fim)]
        for p in range(first + 1, first + count):  # packed: whole short pieces after the first
            parts.append(self._piece(p, 0, rng))
        if (
            self.aliasable is not None
            and self.aliasable[first : first + count].any()  # most windows: no draw at all
            and np.random.default_rng([seed, index, 0xA11]).random() < self.piano_alias
        ):
            piano = self.vocab.style_id("piano")
            for p, q in zip(range(first, first + count), parts, strict=True):
                if self.aliasable[p]:
                    q["ids"][0] = piano
        if (
            self.style_dropout > 0
            and np.random.default_rng([seed, index, 0x57D]).random() < self.style_dropout
        ):
            null = self.vocab.style_id(None)
            for q in parts:  # every piece's prefix opens with its style
                q["ids"][0] = null
        out = {k: np.concatenate([q[k] for q in parts])[:n] for k in parts[0]}
        if len(out["ids"]) < n:
            pad = n - len(out["ids"])
            out = {k: np.concatenate([a, np.zeros(pad, np.int64)]) for k, a in out.items()}
            out["ids"][-pad:] = self.pad_id
        return out

    def _onsets_before(self, at: int, start: int) -> int:
        """Note-ons between the last wait before body offset `start` and `start` (what its chord count starts at)."""
        v = self.vocab
        seg = np.asarray(
            self.tokens[at + max(0, start - 4 * v.config.max_polyphony) : at + start], dtype=np.int64
        )
        waits = np.flatnonzero((seg >= v.wait_offset) & (seg < v.style_offset))
        seg = seg[waits[-1] + 1 :] if len(waits) else seg
        notes = seg[seg < v.n_notes]
        return int(np.count_nonzero(v.note_table[notes, 1] > 0))

    def _piece(
        self, p: int, start: int, rng: np.random.Generator | None, fim: np.random.Generator | None = None
    ) -> dict[str, np.ndarray]:
        """Piece p's prefix and as much of its body from `start` as a window holds, with positions (unpadded)."""
        v, n = self.vocab, self.context + 1
        row = self.index[p]
        off, plen = int(row["offset"]), int(row["prefix"])
        body, duration, room = int(row["length"]) - plen, int(row["duration"]), n - plen
        if rng is not None and body > room:
            start = int(np.clip(start + rng.integers(-(room // 2), room // 2 + 1), 0, body - room))
        if start > 0:
            start = self._snap(off + plen, start, body)
        at = off + plen
        take = room + (STRETCH_SLACK if self.augment else 0)
        prefix = np.asarray(self.tokens[off:at], dtype=np.int64)
        ids = np.asarray(self.tokens[at + start : at + min(body, start + take)], dtype=np.int64)
        base = int(self.time[at + start - 1]) if start > 0 else 0  # the clock just before the slice
        if rng is not None:
            a = aug.draw(ids[:room], v, rng, self.augment_config)
            ids = aug.apply(ids, v, a, base)
            base, duration = int(np.rint(base * a.f)), int(np.rint(duration * a.f))
        ids = np.concatenate([prefix, ids[:room]])
        pos = positions(ids, v, duration)
        if start > 0 and not v.wait_offset <= ids[plen] < v.style_offset:
            # no wait to open on (a very dense stretch): continue the chord count from before the window
            body_ids = ids[plen:]
            waits = np.flatnonzero((body_ids >= v.wait_offset) & (body_ids < v.style_offset))
            head = pos.chord[plen : plen + (int(waits[0]) if len(waits) else len(body_ids))]  # a view
            head[head > 0] = np.minimum(head[head > 0] + self._onsets_before(at, start), v.config.max_chord)
        time, chord = pos.time, pos.chord
        time[plen:] += base
        if fim is not None:
            cut = infill.transform(prefix, ids[plen:], time[plen:], base, n, fim, v)
            if cut is not None:
                ids, time, chord = (
                    np.concatenate([a[:plen], b]) for a, b in zip((ids, time, chord), cut, strict=True)
                )
        duration = max(duration, int(time[-1]))  # a stretch rounds gaps up; keep the end inside the piece
        out = {
            "ids": ids,
            "time": time,
            "chord": chord,
            "part": np.asarray(part_of(v, time, duration), dtype=np.int64),
            "countdown": np.asarray(countdown_of(v, time, duration), dtype=np.int64),
        }
        out["part"][:plen] = 0
        out["countdown"][:plen] = countdown_of(v, 0, duration)
        return out


class PackedWindowDataset(WindowDataset):
    """`WindowDataset` with `pack=True`, under the trainer's four-argument constructor:
    `musenet train --dataset musenet.data.dataset:PackedWindowDataset ...`."""

    def __init__(self, data_dir: str | Path, split: str, context: int, augment: bool):
        super().__init__(data_dir, split, context, augment, pack=True)
