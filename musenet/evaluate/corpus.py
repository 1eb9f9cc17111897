"""The pieces of one split of a built dataset (`musenet data build`), read from its on-disk format (`data.shards`).

Each piece comes back as its token ids (prefix, body, `end`) with its style, instruments and title; `excerpt`
decodes its opening seconds into a `Piece`, which is what the music statistics compare with generated samples (a
generation from scratch starts at a piece's beginning too, and statistics depend on length).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..codec.decode import decode
from ..codec.events import Piece
from ..codec.vocab import Vocab, VocabConfig
from ..data.shards import open_split, read_meta


@dataclass
class SplitPiece:
    style: str
    ids: np.ndarray  # (N,) prefix + body + end (a view of the memory-mapped shard)
    time: np.ndarray  # (N,) the clock after each token, time units since the piece's start
    prefix: int  # prefix length: style, instruments, start
    duration: int  # time units from the start to the end token
    title: str
    source: str = (
        ""  # the collection it came from (`pieces.jsonl`'s "source", e.g. music21); "" if not recorded
    )

    @property
    def body(self) -> np.ndarray:
        return self.ids[self.prefix :]


@dataclass
class Split:
    vocab: Vocab
    pieces: list[SplitPiece]

    def styles(self) -> list[str]:
        """Styles present, most pieces first (ties by name)."""
        counts: dict[str, int] = {}
        for p in self.pieces:
            counts[p.style] = counts.get(p.style, 0) + 1
        return sorted(counts, key=lambda s: (-counts[s], s))

    def of_style(self, style: str) -> list[SplitPiece]:
        return [p for p in self.pieces if p.style == style]

    @property
    def tokens(self) -> int:
        return int(sum(len(p.ids) for p in self.pieces))


def read_vocab(data_dir: str | Path) -> Vocab:
    return Vocab(VocabConfig.from_dict(read_meta(data_dir)["vocab"]))


def read_split(data_dir: str | Path, split: str) -> Split:
    """All pieces of `split`, in shard order."""
    vocab = read_vocab(data_dir)
    tokens, time, index = open_split(data_dir, split)
    titles, sources = _catalogue(Path(data_dir))
    styles = vocab.config.styles
    pieces = []
    for row in index:
        a, n = int(row["offset"]), int(row["length"])
        k = int(row["piece"])
        title, source = (titles[k], sources[k]) if k < len(titles) else (f"piece {k}", "")
        style = styles[int(row["style"])]
        prefix, duration = int(row["prefix"]), int(row["duration"])
        pieces.append(SplitPiece(style, tokens[a : a + n], time[a : a + n], prefix, duration, title, source))
    return Split(vocab, pieces)


def read_splits(data_dir: str | Path, splits: tuple[str, ...]) -> Split:
    """The pieces of several splits together (e.g. test and val as the held-out real set)."""
    parts = [read_split(data_dir, s) for s in splits]
    return Split(parts[0].vocab, [p for part in parts for p in part.pieces])


def _catalogue(data_dir: Path) -> tuple[list[str], list[str]]:
    """Each piece's title and source collection, by piece number (`pieces.jsonl`); empty lists without it."""
    path = data_dir / "pieces.jsonl"
    if not path.is_file():
        return [], []
    titles, sources = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        titles.append(str(row.get("title") or row.get("id") or ""))
        sources.append(str(row.get("source") or ""))
    return titles, sources


def instruments_of(piece: SplitPiece, vocab: Vocab) -> tuple[str, ...]:
    """The instrument names the piece's prefix lists."""
    return vocab.prefix_instruments(piece.ids[: piece.prefix])


def excerpt(piece: SplitPiece, vocab: Vocab, seconds: float, start: float = 0.0) -> Piece:
    """The notes starting in [start, start + seconds), decoded from only the tokens needed, moved to time 0."""
    unit_s = vocab.config.time_unit_ms / 1000
    limit = int(np.ceil((start + seconds) / unit_s))
    body_time = np.asarray(piece.time[piece.prefix :])
    # one token past the limit, so notes still sounding there are closed at (or after) it, then cut by `window`
    k = int(np.searchsorted(body_time, limit, side="right")) + 1
    ids = np.asarray(piece.ids[: piece.prefix + k], dtype=np.int64)
    decoded, _ = decode(ids, vocab)
    out = decoded.window(start, start + seconds)
    out.style = piece.style
    out.title = piece.title
    return out


def note_count(piece: SplitPiece, vocab: Vocab) -> int:
    """Note-ons in the piece (drums included): the denominator of NLL per note."""
    body = np.asarray(piece.body, dtype=np.int64)
    notes = body[body < vocab.n_notes]
    return int(np.count_nonzero(vocab.note_table[notes, 1] > 0))
