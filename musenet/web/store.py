"""Sessions and their trees: each user's nodes (pieces) in memory, their MIDI and WAV files on disk, under a cap.

A session is a tree of nodes. A node is a piece: an uploaded primer or a generated candidate, whose parent is the
node it continued (None for a root). Ids are `secrets.token_urlsafe`, so a session is reachable only by whoever
holds its id; files live at `root/<session id>/<node id>.{mid,wav}` and are found only by looking the ids up in
memory, never from a path a user gave.

What a user can rely on, whatever other clients do: a session is removed only after `idle_s` without a request
(its id then answers "not found"); nobody else's requests can shorten that. The caps refuse instead of evicting:
past `max_sessions` sessions a new one is "server full" (503), past `per_client` sessions from one address it is
429, and a write (a job's MIDI and WAV files, an upload, a rendered WAV) that would take the files past
`max_bytes` in all, or past `max_session_bytes` for its session, is refused before anything is written
(`Full`), so the folder never grows past its cap.

The trees live as long as the server: at start the folder of a previous run is cleared.
"""

from __future__ import annotations

import secrets
import shutil
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..codec.events import Piece
from ..codec.midi_io import midi_bytes
from ..errors import UserError


class NotFound(UserError):
    """An unknown (or evicted) session, node or job. The message is fit to show a user."""


class Full(UserError):
    """No room for a session or a file: `status` 503 (the server is full; `retry_after` s) or 429/413 (yours is)."""

    def __init__(self, message: str, status: int = 503, retry_after: int = 60):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


@dataclass
class Node:
    id: str
    parent: str | None
    kind: str  # "primer" (an upload) or "candidate" (generated)
    label: str
    piece: Piece = field(repr=False)
    info: dict  # what the page shows: seconds, notes, instruments, primer_seconds, the request's settings
    created: float = field(default_factory=time.time)

    def to_dict(self) -> dict:
        return {"id": self.id, "parent": self.parent, "kind": self.kind, "label": self.label,
                "created": round(self.created, 3), **self.info}  # fmt: skip


@dataclass
class Session:
    id: str
    folder: Path
    nodes: dict[str, Node] = field(default_factory=dict)  # in creation order
    client: str = ""  # the address that created it (for the per-client limit)
    used: float = field(default_factory=time.monotonic)
    bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # one WAV render at a time


def new_id() -> str:
    return secrets.token_urlsafe(16)  # 128 random bits


class Store:
    def __init__(
        self,
        root: Path,
        max_bytes: int,
        max_sessions: int,
        idle_s: float = 24 * 3600.0,
        per_client: int | None = None,
        max_session_bytes: int | None = None,
    ):
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.max_sessions = max_sessions
        self.idle_s = idle_s
        self.per_client = per_client
        self.max_session_bytes = max_bytes if max_session_bytes is None else max_session_bytes
        self._sessions: dict[str, Session] = {}
        self._lock = threading.RLock()
        if self.root.exists():
            shutil.rmtree(self.root)  # a previous run's files: no session can reach them any more
        self.root.mkdir(parents=True)

    # ---- sessions -----------------------------------------------------------------------------------------

    def create(self, client: str = "") -> Session:
        """A new session; `Full` (503) when `max_sessions` are in use, (429) when `client` has `per_client`."""
        with self._lock:
            self._expire()
            if self.per_client is not None and client:
                mine = sum(1 for s in self._sessions.values() if s.client == client)
                if mine >= self.per_client:
                    raise Full(
                        f"{mine} sessions from your address are in use, the server's limit; keep using one "
                        "(the page remembers it) or wait until one has been idle for "
                        f"{self.idle_s / 3600:g} h",
                        status=429,
                        retry_after=self._retry_after(),
                    )
            if len(self._sessions) >= self.max_sessions:
                raise Full(
                    f"the server is full ({len(self._sessions)} sessions in use); try again later",
                    retry_after=self._retry_after(),
                )
            s = Session(new_id(), self.root / new_id(), client=client)  # the folder's name is not the id
            s.folder.mkdir()
            self._sessions[s.id] = s
            return s

    def session(self, sid: str) -> Session:
        with self._lock:
            s = self._sessions.get(sid)
            if s is None:
                raise NotFound("unknown or expired session; reload the page to start a new one")
            s.used = time.monotonic()
            return s

    def node(self, sid: str, nid: str) -> Node:
        s = self.session(sid)
        with self._lock:
            n = s.nodes.get(nid)
        if n is None:
            raise NotFound("unknown node in this session")
        return n

    def tree(self, sid: str) -> list[dict]:
        s = self.session(sid)
        with self._lock:
            return [n.to_dict() for n in s.nodes.values()]

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return sum(s.bytes for s in self._sessions.values())

    def __len__(self) -> int:
        return len(self._sessions)

    # ---- nodes and their files ----------------------------------------------------------------------------

    def add(self, sid: str, parent: str | None, kind: str, label: str, piece: Piece, info: dict) -> Node:
        """Adds a node and writes its MIDI file (`Full` when there is no room for it)."""
        s = self.session(sid)
        if parent is not None:
            self.node(sid, parent)
        node = Node(new_id(), parent, kind, label, piece, info)
        path = self.midi_path(s, node)
        data = midi_bytes(piece)
        with self.claimed(s, len(data)):
            write_bytes(path, data)
            with self._lock:
                if sid not in self._sessions:  # expired while the file was written
                    path.unlink(missing_ok=True)
                    raise NotFound("this session expired while the music was being made; reload the page")
                s.nodes[node.id] = node
        return node

    def remove(self, sid: str, nids: list[str]) -> None:
        """Removes nodes (leaves: the candidates of a job that failed) and their files."""
        with self._lock:
            s = self._sessions.get(sid)
            if s is None:
                return
            for nid in nids:
                node = s.nodes.pop(nid, None)
                if node is None:
                    continue
                for path in (self.midi_path(s, node), self.wav_path(s, node)):
                    if path.exists():
                        s.bytes -= path.stat().st_size
                        path.unlink()

    def midi_path(self, s: Session, node: Node) -> Path:
        return s.folder / f"{node.id}.mid"

    def wav_path(self, s: Session, node: Node) -> Path:
        return s.folder / f"{node.id}.wav"

    @contextmanager
    def claimed(self, s: Session, nbytes: int):
        """Room for `nbytes` more in session `s`, counted before the block writes them and given back if it fails:
        `Full` when the session or the whole store would pass its cap."""
        with self._lock:
            if s.id not in self._sessions:
                raise NotFound("unknown or expired session; reload the page to start a new one")
            if s.bytes + nbytes > self.max_session_bytes:
                raise Full(
                    f"this session holds {s.bytes / 2**20:.0f} MB of files, the server's limit is "
                    f"{self.max_session_bytes / 2**20:.0f} MB per session; start a new session",
                    status=413,
                )
            if self.total_bytes + nbytes > self.max_bytes:
                self._expire()
            if self.total_bytes + nbytes > self.max_bytes:
                raise Full("the server's storage is full; try again later", retry_after=self._retry_after())
            s.bytes += nbytes
        try:
            yield
        except BaseException:
            with self._lock:
                s.bytes -= nbytes
            raise

    # ---- expiry --------------------------------------------------------------------------------------------

    def _expire(self) -> None:
        """Removes the sessions idle for longer than `idle_s` (the only way a session goes)."""
        now = time.monotonic()
        for s in [s for s in self._sessions.values() if now - s.used > self.idle_s]:
            del self._sessions[s.id]
            shutil.rmtree(s.folder, ignore_errors=True)

    def _retry_after(self) -> int:
        """Seconds until the longest idle session expires (at least 1, at most an hour)."""
        now = time.monotonic()
        oldest = min((s.used for s in self._sessions.values()), default=now)
        return int(min(3600, max(1, self.idle_s - (now - oldest))))


def write_bytes(path: Path, data: bytes) -> None:
    """Writes atomically: a crash never leaves a half-written file at `path`."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
