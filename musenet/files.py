"""Where musenet keeps its files ($MUSENET_HOME), and writing a file so that no reader ever sees half of it.

A leaf module (standard library only), so every layer, the codec included, can use it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def home() -> Path:
    """$MUSENET_HOME (default ~/.musenet), `~` expanded: models/, cache/, web/ live under it."""
    return Path(os.environ.get("MUSENET_HOME") or "~/.musenet").expanduser()


def temp_beside(path: Path) -> Path:
    """A hidden temp name beside `path`, of its own per process and thread: concurrent writers never share one."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def fsync_dir(path: Path) -> None:
    """Makes a rename in the folder durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path, durable: bool = True) -> Iterator[Path]:
    """Yields a temp path beside `path` to write; when the block ends without an error the temp file is fsynced
    (with `durable`) and renamed onto `path`, else removed: `path` holds the old file or the whole new one."""
    path = Path(path)
    tmp = temp_beside(path)
    try:
        yield tmp
        if durable:
            fsync_file(tmp)
        os.replace(tmp, path)
        if durable:
            fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes, durable: bool = True) -> None:
    with atomic_path(path, durable) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | Path, text: str, durable: bool = True) -> None:
    with atomic_path(path, durable) as tmp:
        tmp.write_text(text, encoding="utf-8")
