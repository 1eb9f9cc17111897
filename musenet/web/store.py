"""Sessions and their trees: each user's nodes (pieces) in memory, their MIDI and WAV files on disk, under a cap.

A session is a tree of nodes. A node is a piece: an uploaded primer or a generated candidate, whose parent is the
node it continued (None for a root). Ids are `secrets.token_urlsafe`, so a session is reachable only by whoever
holds its id; files live at `root/<session id>/<node id>.{mid,wav}` and are found only by looking the ids up in
memory, never from a path a user gave. Past `max_bytes` of files or `max_sessions` sessions, the least recently
used sessions are evicted whole (their ids then answer "not found").

The trees live as long as the server: at start the folder of a previous run is cleared.
"""

from __future__ import annotations

import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..codec.events import Piece
from ..codec.midi_io import write_midi
from ..errors import UserError


class NotFound(UserError):
    """An unknown (or evicted) session, node or job. The message is fit to show a user."""


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
    used: float = field(default_factory=time.monotonic)
    bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # one WAV render at a time


def new_id() -> str:
    return secrets.token_urlsafe(16)  # 128 random bits


class Store:
    def __init__(self, root: Path, max_bytes: int, max_sessions: int):
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.max_sessions = max_sessions
        self._sessions: dict[str, Session] = {}
        self._lock = threading.RLock()
        if self.root.exists():
            shutil.rmtree(self.root)  # a previous run's files: no session can reach them any more
        self.root.mkdir(parents=True)

    # ---- sessions -----------------------------------------------------------------------------------------

    def create(self) -> Session:
        with self._lock:
            s = Session(new_id(), self.root / new_id())  # the folder's name is not the session's id
            s.folder.mkdir()
            self._sessions[s.id] = s
            self._evict(keep=s.id)
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
        """Adds a node and writes its MIDI file."""
        s = self.session(sid)
        if parent is not None:
            self.node(sid, parent)
        node = Node(new_id(), parent, kind, label, piece, info)
        path = self.midi_path(s, node)
        write_midi(piece, path)
        with self._lock:
            if sid not in self._sessions:  # evicted while the file was written
                path.unlink(missing_ok=True)
                raise NotFound("this session expired while the music was being made; reload the page")
            s.nodes[node.id] = node
            s.bytes += path.stat().st_size
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

    def add_file(self, s: Session, path: Path) -> None:
        """Counts a file written into a session's folder (a WAV) towards the cap."""
        with self._lock:
            if s.id in self._sessions:
                s.bytes += path.stat().st_size

    def enforce_cap(self, keep: str | None = None) -> None:
        with self._lock:
            self._evict(keep)

    # ---- eviction ------------------------------------------------------------------------------------------

    def _evict(self, keep: str | None) -> None:
        by_age = sorted(self._sessions.values(), key=lambda s: s.used)
        total = sum(s.bytes for s in by_age)
        for s in by_age:
            if total <= self.max_bytes and len(self._sessions) <= self.max_sessions:
                break
            if s.id == keep:
                continue
            del self._sessions[s.id]
            total -= s.bytes
            shutil.rmtree(s.folder, ignore_errors=True)
