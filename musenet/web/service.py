"""The co-composer: what the web page can ask for, checked, queued, generated, rendered and stored in a tree.

Everything the HTTP layer calls lives here, so the routes only translate: `Ask` (the settings of one Generate or
Continue) and `InfillAsk` (one Regenerate span) are checked at once against the model and the server's limits (a
bad request fails fast, before it takes a place in the queue); the job then generates with the Composer, renders
each candidate's WAV and adds the candidates to the session's tree, all or nothing. A regenerated span's candidates
are children of the node they redo, like its continuations, and carry their `span` for the page to highlight.
"""

from __future__ import annotations

import math
import os
import secrets
import threading
import unicodedata
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ..audio import find_soundfont, render, save_wav
from ..codec.events import Piece
from ..codec.safe import Limits, SafeLoader
from ..errors import UserError
from ..generate.composer import Composer
from ..generate.engine import GenerateConfig
from ..generate.infill import InfillConfig, prompt
from ..generate.sampling import SampleConfig
from .config import ServeConfig
from .jobs import Job, JobQueue, QueueFull
from .limits import too_large_message
from .store import Node, NotFound, Store

GENERATE_SHARE = 0.85  # of a job's progress bar; rendering the WAVs is the rest


class TooLarge(UserError):
    """An upload over the server's limit (413)."""


@dataclass(frozen=True)
class Ask:
    """The settings of one Generate or Continue."""

    style: str | None = None
    instruments: tuple[str, ...] = ("piano",)
    seconds: float = 20.0
    """Length of the new music."""
    candidates: int = 4
    temperature: float | None = None
    """Sampling settings; None: the model's own defaults (`Composer.sampling`)."""
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None
    """None: a random seed, reported with each candidate so it can be reproduced."""


@dataclass(frozen=True)
class InfillAsk:
    """The settings of one Regenerate span: which span of a node to redo, and how to sample it."""

    start: float
    """Start of the span, in seconds from the node's beginning."""
    end: float
    """End of the span, in seconds; the music after it is kept, and the span leads into it."""
    instruments: tuple[str, ...] | None = None
    """The instruments to redo in the span (the others' notes there are kept); None: every instrument."""
    candidates: int = 4
    temperature: float | None = None
    """Sampling settings; None: the model's own defaults (`Composer.sampling`)."""
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None
    """None: a random seed, reported with each candidate so it can be reproduced."""


def web_home() -> Path:
    return Path(os.environ.get("MUSENET_HOME", Path.home() / ".musenet")) / "web"


def clean_name(name: str | None) -> str:
    """A file name fit for a label: its last path part, printable characters only, at most 80 of them."""
    base = (name or "upload.mid").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] not in "CZ" or ch == " ").strip()
    return base[:80] or "upload.mid"


class CoComposer:
    def __init__(self, composer: Composer, cfg: ServeConfig | None = None, root: Path | None = None):
        self.composer = composer
        self.cfg = cfg = cfg or ServeConfig()
        self.soundfont = find_soundfont(cfg.soundfont)  # a missing SoundFont fails now, not in a job
        self.store = Store(root or web_home(), cfg.max_store_bytes, cfg.max_sessions)
        self.jobs = JobQueue(cfg.queue_size, cfg.job_timeout_s)
        self.loader = SafeLoader(Limits(max_bytes=cfg.max_upload_bytes, timeout_s=cfg.upload_timeout_s))
        self._loader_lock = threading.Lock()
        self._inst_of_program = composer.vocab.program_to_instrument

    def close(self) -> None:
        self.jobs.close()
        self.loader.close()

    # ---- what the page needs to draw its form -------------------------------------------------------------

    def info(self) -> dict:
        c = self.cfg
        return {
            "model": Path(self.composer.path).name if self.composer.path else "model",
            "styles": self.composer.styles,
            "instruments": self.composer.instruments,
            "defaults": {k: v for k, v in asdict(self._resolved(Ask())).items() if k != "seed"},
            "limits": {
                "max_candidates": c.max_candidates,
                "max_seconds": c.max_seconds,
                "max_piece_seconds": c.max_piece_seconds,
                "max_primer_seconds": c.max_primer_seconds,
                "max_upload_bytes": c.max_upload_bytes,
                "job_timeout_s": c.job_timeout_s,
            },
            "queue": self.jobs.stats(),
            "infill": self._infill_info(),
        }

    def _infill_info(self) -> dict:
        """Whether Regenerate span works with this model, why not if not, and the longest span it takes."""
        reason = self.infill_unavailable()
        return {"available": reason is None, "reason": reason, "max_seconds": self.cfg.max_seconds}

    # ---- sessions and nodes -------------------------------------------------------------------------------

    def new_session(self) -> dict:
        return {"session": self.store.create().id, "nodes": []}

    def tree(self, sid: str) -> dict:
        return {"session": sid, "nodes": self.store.tree(sid)}

    def notes(self, sid: str, nid: str) -> dict:
        """A node's notes for the piano roll: [start, end, pitch, velocity, instrument index (-1: other)]."""
        node = self.store.node(sid, nid)
        n = node.piece.notes
        inst = self._inst_of_program[n["program"].astype(np.int64)]
        rows = zip(
            np.round(n["start"], 3).tolist(),
            np.round(n["end"], 3).tolist(),
            n["pitch"].tolist(),
            n["velocity"].tolist(),
            inst.tolist(),
            strict=True,
        )
        return {**node.to_dict(), "notes": [list(r) for r in rows]}

    def midi_file(self, sid: str, nid: str) -> Path:
        s, node = self.store.session(sid), self.store.node(sid, nid)
        return self.store.midi_path(s, node)

    def wav_file(self, sid: str, nid: str) -> Path:
        """The node's WAV, rendered on first use (candidates are rendered by their job already)."""
        s, node = self.store.session(sid), self.store.node(sid, nid)
        path = self.store.wav_path(s, node)
        with s.lock:
            if not path.exists():
                self._render(s, node)
        return path

    # ---- uploads ------------------------------------------------------------------------------------------

    def upload(self, sid: str, data: bytes, name: str | None, seconds: float | None = None) -> dict:
        """An uploaded MIDI primer, parsed by the isolated loader, becomes a root node (its opening, cut)."""
        self.store.session(sid)
        if len(data) > self.cfg.max_upload_bytes:
            raise TooLarge(too_large_message(self.cfg.max_upload_bytes))
        name = clean_name(name)
        keep = self.cfg.max_primer_seconds if seconds is None else float(seconds)
        if not 0 < keep <= self.cfg.max_primer_seconds:
            raise UserError(f"keep between 0 and {self.cfg.max_primer_seconds:g} seconds of the primer")
        if not self._loader_lock.acquire(timeout=2 * self.cfg.upload_timeout_s):
            raise QueueFull("the MIDI reader is busy; try again shortly", retry_after=5)
        try:
            piece = self.loader.load_bytes(data, name=name)
        finally:
            self._loader_lock.release()
        if not len(piece):
            raise UserError(f"{name}: the file has no notes")
        full = piece.duration
        label = f"{name}"
        if full > keep:
            piece = piece.window(0.0, keep)
            label += f" (first {keep:g} s of {full:.0f} s)"
        if not len(piece):
            raise UserError(f"{name}: no notes in its first {keep:g} s")
        piece = Piece(piece.notes, style=None, title=name)
        info = self._describe(piece, primer_seconds=0.0) | {"source": name, "batch": secrets.token_hex(4)}
        return self.store.add(sid, None, "primer", label, piece, info).to_dict()

    # ---- generation ---------------------------------------------------------------------------------------

    def generate(self, sid: str, ask: Ask, parent: str | None = None) -> Job:
        """Queues N candidates: from scratch (parent None) or continuing a node. Checks everything first."""
        self.store.session(sid)
        node = self.store.node(sid, parent) if parent is not None else None
        self.check(ask, node)
        seed = ask.seed if ask.seed is not None else secrets.randbelow(2**31)
        return self.jobs.submit(
            lambda report: self._compose(sid, node, ask, seed, report),
            owner=sid,
            per_owner=self.cfg.jobs_per_session,
        )

    def job(self, jid: str) -> dict:
        job = self.jobs.get(jid)
        if job is None:
            raise NotFound("unknown or expired job")
        return {
            "job": job.id,
            "status": job.status,
            "progress": round(job.progress, 3),
            "ahead": self.jobs.position(job),
            "error": job.error,
            "nodes": job.result if job.status == "done" else None,
        }

    def cancel(self, jid: str) -> dict:
        job = self.jobs.get(jid)
        if job is None:
            raise NotFound("unknown or expired job")
        self.jobs.cancel(job)
        return self.job(jid)

    def check(self, ask: Ask, node: Node | None) -> None:
        c = self.cfg
        if not (isinstance(ask.seconds, (int, float)) and math.isfinite(ask.seconds)):
            raise UserError("seconds must be a number")
        if not 0 < ask.seconds <= c.max_seconds:
            raise UserError(f"length must be between 0 and {c.max_seconds:g} seconds, got {ask.seconds:g}")
        if not 1 <= ask.candidates <= c.max_candidates:
            raise UserError(f"candidates must be 1..{c.max_candidates}, got {ask.candidates}")
        if node is not None and node.piece.duration + ask.seconds > c.max_piece_seconds:
            raise UserError(
                f"this piece would last {node.piece.duration + ask.seconds:.0f} s, over the server's limit "
                f"of {c.max_piece_seconds:g} s; continue an earlier node or ask for less"
            )
        ask = self._resolved(ask)
        self._check_sampling(ask)
        GenerateConfig(ask.style, tuple(ask.instruments), ask.seconds, ask.candidates).check(
            self.composer.vocab
        )

    def _check_sampling(self, ask: Ask | InfillAsk) -> None:
        """The sampling settings of a resolved request (`_resolved`)."""
        if not 0.05 <= ask.temperature <= 5:
            raise UserError(f"temperature must be between 0.05 and 5, got {ask.temperature:g}")
        try:
            SampleConfig(ask.temperature, ask.top_k, ask.top_p)
        except ValueError as e:
            raise UserError(str(e)) from None

    def _resolved(self, ask: Ask | InfillAsk) -> Ask | InfillAsk:
        """`ask` with its unset sampling settings filled from the model's defaults."""
        d = self.composer.sampling
        return replace(
            ask,
            temperature=d.temperature if ask.temperature is None else ask.temperature,
            top_k=d.top_k if ask.top_k is None else ask.top_k,
            top_p=d.top_p if ask.top_p is None else ask.top_p,
        )

    def _compose(self, sid: str, parent: Node | None, ask: Ask, seed: int, report) -> list[dict]:
        ask = self._resolved(ask)
        cands = self.composer.generate(
            style=ask.style,
            instruments=ask.instruments,
            seconds=ask.seconds,
            primer=parent.piece if parent is not None else None,
            candidates=ask.candidates,
            temperature=ask.temperature,
            top_k=ask.top_k,
            top_p=ask.top_p,
            seed=seed,
            rerank=self.cfg.rerank if self.composer.has_critic else 1,
            progress=lambda f: report(GENERATE_SHARE * f),
        )
        settings = {
            "style": ask.style or self.composer.styles[0],
            "asked_instruments": list(ask.instruments),
            "asked_seconds": ask.seconds,
            "temperature": ask.temperature,
            "seed": seed,
        }
        return self._add_candidates(sid, parent, "candidate", cands, settings, report)

    def _add_candidates(
        self, sid: str, parent: Node | None, kind: str, cands, settings: dict, report
    ) -> list[dict]:
        """Stores a job's candidates as children of `parent` with their WAVs: all of them or none."""
        settings = settings | {"batch": secrets.token_hex(4)}  # the candidates of one request, shown together
        s = self.store.session(sid)
        added: list[Node] = []
        try:
            for i, c in enumerate(cands):
                info = (
                    self._describe(c.piece, c.primer_seconds)  # 0 for an infill: nothing is a primer there
                    | settings
                    | {"candidate": c.index, "critic": c.critic}
                )
                node = self.store.add(
                    sid, parent.id if parent else None, kind, f"{kind} {c.index}", c.piece, info
                )
                added.append(node)
                self._render(s, node)
                report(GENERATE_SHARE + (1 - GENERATE_SHARE) * (i + 1) / len(cands))
        except BaseException:
            self.store.remove(sid, [n.id for n in added])  # all candidates or none
            raise
        self.store.enforce_cap(keep=sid)
        return [n.to_dict() for n in added]

    def _render(self, s, node: Node) -> None:
        path = self.store.wav_path(s, node)
        rate = self.cfg.sample_rate
        save_wav(render(node.piece, sample_rate=rate, soundfont=self.soundfont), path, rate)
        self.store.add_file(s, path)

    def _describe(self, piece: Piece, primer_seconds: float) -> dict:
        names = self.composer.instruments
        used = np.unique(self._inst_of_program[piece.notes["program"].astype(np.int64)])
        return {
            "seconds": round(piece.duration, 2),
            "notes": len(piece),
            "instruments": [names[k] for k in used if k >= 0],
            "other_programs": bool((used < 0).any()),
            "primer_seconds": round(primer_seconds, 3),
        }

    # ---- infilling: Regenerate span -----------------------------------------------------------------------

    def infill(self, sid: str, nid: str, ask: InfillAsk) -> Job:
        """Queues N candidates of a node with the span [start, end] redone. Checks everything first."""
        self.store.session(sid)
        node = self.store.node(sid, nid)
        self.check_infill(ask, node)
        seed = ask.seed if ask.seed is not None else secrets.randbelow(2**31)
        return self.jobs.submit(
            lambda report: self._regenerate(sid, node, ask, seed, report),
            owner=sid,
            per_owner=self.cfg.jobs_per_session,
        )

    def infill_unavailable(self) -> str | None:
        """Why this model cannot regenerate a span (the core's own one-line reason), or None when it can."""
        try:  # a span that is always fine: only the model can fail it
            InfillConfig(0.0, 1.0).check(self.composer.vocab)
        except UserError as e:
            return str(e)
        return None

    def check_infill(self, ask: InfillAsk, node: Node) -> None:
        """The server's limits, then the core's checks of the span against the model and the node's piece (inside
        it, end after start, known instruments, short enough for the model's context), before any queueing."""
        reason = self.infill_unavailable()
        if reason is not None:
            raise UserError(reason)
        if not all(isinstance(t, (int, float)) and math.isfinite(t) for t in (ask.start, ask.end)):
            raise UserError("start and end must be numbers of seconds")
        if ask.end - ask.start > self.cfg.max_seconds:
            raise UserError(
                f"a span may last at most {self.cfg.max_seconds:g} s, got {ask.end - ask.start:g}"
            )
        if not 1 <= ask.candidates <= self.cfg.max_candidates:
            raise UserError(f"candidates must be 1..{self.cfg.max_candidates}, got {ask.candidates}")
        ask = self._resolved(ask)
        self._check_sampling(ask)
        sampling = SampleConfig(ask.temperature, ask.top_k, ask.top_p)
        cfg = InfillConfig(ask.start, ask.end, ask.instruments, candidates=ask.candidates, sample=sampling)
        prompt(node.piece, self.composer.vocab, cfg, self.composer.model.config.block_size)

    def _regenerate(self, sid: str, node: Node, ask: InfillAsk, seed: int, report) -> list[dict]:
        ask = self._resolved(ask)
        cands = self.composer.infill(
            node.piece,
            start=ask.start,
            end=ask.end,
            instruments=ask.instruments,
            candidates=ask.candidates,
            temperature=ask.temperature,
            top_k=ask.top_k,
            top_p=ask.top_p,
            seed=seed,
            rerank=self.cfg.rerank if self.composer.has_critic else 1,
            progress=lambda f: report(GENERATE_SHARE * f),
        )
        settings = {
            "style": cands[0].piece.style if cands else None,
            "span": [round(ask.start, 3), round(ask.end, 3)],
            "span_instruments": list(ask.instruments) if ask.instruments is not None else None,
            "temperature": ask.temperature,
            "seed": seed,
        }
        return self._add_candidates(sid, node, "infill", cands, settings, report)


__all__ = ["Ask", "CoComposer", "NotFound", "QueueFull", "clean_name"]
