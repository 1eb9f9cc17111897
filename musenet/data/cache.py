"""The conversion cache: one `.npz` per task holding the raw pieces (notes in seconds) and drops it produced.

Parsing is the expensive step (music21 takes ~5 CPU-minutes over its corpus); encoding is cheap. So the cache holds
converter output, before any vocabulary choice: a re-run, or a build with another vocabulary or split, reads notes
back and only re-encodes. An entry's name is a hash of the task, the file's size and mtime, and `CONVERTER_VERSION`
(bump it when a converter's output changes). Entries are written atomically and read with `allow_pickle=False`.

The cache lives in `$MUSENET_HOME/cache/pieces` (`MUSENET_HOME` defaults to `~/.musenet`) unless a build names
another folder; deleting it is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..codec.events import NOTE_DTYPE
from .items import Converted, Drop, RawPiece, Task

CONVERTER_VERSION = 2


def default_dir() -> Path:
    home = Path(os.environ.get("MUSENET_HOME", "~/.musenet")).expanduser()
    return home / "cache" / "pieces"


def entry_name(task: Task) -> str:
    st = os.stat(task.path)
    key = [CONVERTER_VERSION, task.source, task.rel, task.tunes, task.merge, st.st_size, st.st_mtime_ns]
    return hashlib.sha1(json.dumps(key).encode()).hexdigest() + ".npz"


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
    return Converted(pieces, [Drop(**d) for d in meta["drops"]])


def save(folder: Path, task: Task, conv: Converted) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "ids": [p.id for p in conv.pieces],
        "titles": [p.title for p in conv.pieces],
        "lengths": [len(p.notes) for p in conv.pieces],
        "drops": [d.__dict__ for d in conv.drops],
    }
    notes = np.concatenate([p.notes for p in conv.pieces]) if conv.pieces else np.zeros(0, NOTE_DTYPE)
    path = folder / entry_name(task)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, notes=notes, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    tmp.replace(path)
