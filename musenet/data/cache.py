"""The conversion cache: per task, one `.npz` of the raw pieces (notes in seconds) and drops it produced, and one
`.tokens.npz` of their encoding.

Parsing is the expensive step; encoding is cheaper but still ~1 ms a piece. The notes entry is converter output,
before any vocabulary choice: a build with another vocabulary or `--min-notes` reads notes back and re-encodes.
The tokens entry is keyed by a hash of the vocabulary config, style and minimum length as well, so a re-run with
nothing changed only reads arrays back (the split is decided afterwards, so it never invalidates anything). An entry's name is a hash of the task, the file's size and mtime, and `CONVERTER_VERSION`
(bump it when a converter's output changes). Entries are written atomically and read with `allow_pickle=False`.

The cache lives in `$MUSENET_HOME/cache/pieces` (`MUSENET_HOME` defaults to `~/.musenet`) unless a build names
another folder; deleting it is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np

from .. import files
from ..codec.events import NOTE_DTYPE
from ..files import atomic_path
from .items import Converted, Drop, RawPiece, Task

CONVERTER_VERSION = 5


def default_dir() -> Path:
    home = files.home()
    return home / "cache" / "pieces"


def entry_name(task: Task, encoding: str = "") -> str:
    """The entry of a task's converted notes; with `encoding` (a hash of how they were encoded), of its tokens."""
    st = os.stat(task.path)
    key = [
        CONVERTER_VERSION,
        task.source,
        task.rel,
        task.tunes,
        task.merge,
        st.st_size,
        st.st_mtime_ns,
        encoding,
    ]
    return hashlib.sha1(json.dumps(key).encode()).hexdigest() + (".tokens.npz" if encoding else ".npz")


def load_arrays(folder: Path, task: Task, encoding: str) -> tuple[dict, dict[str, np.ndarray]] | None:
    """A task's encoded tokens saved by `save_arrays`: (json meta, arrays), or None."""
    try:
        with np.load(folder / entry_name(task, encoding), allow_pickle=False) as z:
            return json.loads(bytes(z["meta"]).decode()), {k: z[k] for k in z.files if k != "meta"}
    except (OSError, ValueError, KeyError):
        return None


def save_arrays(folder: Path, task: Task, encoding: str, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    _write(folder / entry_name(task, encoding), meta, arrays)


def _write(path: Path, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        atomic_path(path, durable=False) as tmp,
        open(tmp, "wb") as f,
    ):  # a cache: a lost entry is converted again
        np.savez(f, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)


def load(folder: Path, task: Task) -> Converted | None:
    path = folder / entry_name(task)
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            notes = z["notes"]
    except (OSError, ValueError, KeyError):
        return None  # missing or damaged: convert again
    bounds = np.concatenate([[0], np.cumsum(meta["lengths"])]).astype(np.int64)
    pieces = [
        RawPiece(pid, title, notes[a:b].copy())
        for pid, title, a, b in zip(meta["ids"], meta["titles"], bounds[:-1], bounds[1:], strict=True)
    ]
    return Converted(pieces, [Drop(**d) for d in meta["drops"]], Counter(meta.get("readers", {})))


def save(folder: Path, task: Task, conv: Converted) -> None:
    meta = {
        "ids": [p.id for p in conv.pieces],
        "titles": [p.title for p in conv.pieces],
        "lengths": [len(p.notes) for p in conv.pieces],
        "drops": [d.__dict__ for d in conv.drops],
        "readers": dict(conv.readers),
    }
    notes = np.concatenate([p.notes for p in conv.pieces]) if conv.pieces else np.zeros(0, NOTE_DTYPE)
    _write(folder / entry_name(task), meta, {"notes": notes})
