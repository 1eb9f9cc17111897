"""The on-disk format of a built dataset, written by `build` and read by `dataset`.

    DIR/meta.json            format version, source, the VocabConfig, styles, counts, drops, build timings
    DIR/{split}.tokens.npy   every piece of the split, one after another: prefix, body, end (int16 when it fits)
    DIR/{split}.time.npy     (int32) the structural `time` of each token: the clock since the piece's start
    DIR/{split}.index.npy    one row per piece: offset, length, prefix length, duration, style, piece row
    DIR/pieces.jsonl         one line per kept piece: id, title, style, split, notes, tokens, source
    DIR/dropped.jsonl        one line per dropped file or piece: id, reason, detail

The split of a piece is a stable hash of its identity (`split_of`), never a per-run shuffle: adding files to a
folder never moves a piece from train to test. `time` is stored because it is a running sum over the whole piece
(a window starting mid-piece needs it); the other positions depend only on the window and the duration and are
recomputed on load (`codec.positions`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..files import atomic_path, write_text

FORMAT = "musenet-data"
VERSION = 1
SPLITS = ("train", "val", "test")

INDEX_DTYPE = np.dtype(
    [
        ("offset", "i8"),  # first token in {split}.tokens.npy
        ("length", "i4"),  # tokens, prefix and end included
        ("prefix", "i2"),  # prefix length: style, instruments, start
        ("duration", "i4"),  # time units from the start to the end token (positions' D)
        ("style", "i2"),  # index into the vocabulary config's styles
        ("piece", "i4"),  # line in pieces.jsonl
    ]
)


def split_of(identity: str, val: float, test: float) -> str:
    """ "train", "val" or "test", from the first 8 bytes of the SHA-1 of the piece's identity."""
    h = int.from_bytes(hashlib.sha1(identity.encode()).digest()[:8], "big") / 2.0**64
    return "test" if h < test else "val" if h < test + val else "train"


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.int16) if vocab_size <= np.iinfo(np.int16).max else np.dtype(np.int32)


def clock(ids: np.ndarray, offsets: np.ndarray, wait_offset: int, max_wait: int) -> np.ndarray:
    """(N,) int32: per token, the clock (time units) since its piece's first token, after the token."""
    ids = ids.astype(np.int64)
    is_wait = (ids >= wait_offset) & (ids < wait_offset + max_wait)
    c = np.cumsum(np.where(is_wait, ids - wait_offset + 1, 0))
    if len(ids) == 0:
        return c.astype(np.int32)
    lengths = np.diff(np.append(offsets, len(ids)))
    before = np.where(offsets > 0, c[np.maximum(offsets - 1, 0)], 0)
    return (c - np.repeat(before, lengths)).astype(np.int32)


def _atomic_save(path: Path, arr: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, arr)


_atomic_text = write_text


def write_split(out: Path, split: str, tokens: np.ndarray, time: np.ndarray, index: np.ndarray) -> None:
    _atomic_save(out / f"{split}.tokens.npy", tokens)
    _atomic_save(out / f"{split}.time.npy", time)
    _atomic_save(out / f"{split}.index.npy", index)


def write_lines(path: Path, rows: list[dict]) -> None:
    _atomic_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def write_meta(out: Path, meta: dict) -> None:
    """Written last: a folder with a meta.json is a complete build."""
    _atomic_text(
        out / "meta.json", json.dumps({"format": FORMAT, "version": VERSION, **meta}, indent=1) + "\n"
    )


def read_meta(folder: str | os.PathLike) -> dict:
    path = Path(folder) / "meta.json"
    if not path.is_file():
        from ..errors import UserError

        raise UserError(
            f"{folder} is not a built dataset (no meta.json); build one with `musenet data build`"
        )
    meta = json.loads(path.read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        from ..errors import UserError

        raise UserError(
            f"{folder}: dataset format {meta.get('format')} v{meta.get('version')}, expected v{VERSION}"
        )
    return meta


def open_split(folder: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tokens, time, index), the first two memory-mapped."""
    folder = Path(folder)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    tokens = np.load(folder / f"{split}.tokens.npy", mmap_mode="r")
    time = np.load(folder / f"{split}.time.npy", mmap_mode="r")
    index = np.load(folder / f"{split}.index.npy")
    return tokens, time, index
