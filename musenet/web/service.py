"""The co-composer: what the web page can ask for, checked, queued, generated, rendered and stored in a tree.

Everything the HTTP layer calls lives here, so the routes only translate: `Ask` (the settings of one Generate or
Continue) and `InfillAsk` (one Regenerate span) are checked at once against the model and the server's limits (a
bad request fails fast, before it takes a place in the queue); the job then generates with the Composer, renders
each candidate's WAV and adds the candidates to the session's tree, all or nothing. A regenerated span's candidates
are children of the node they redo, like its continuations, and carry their `span` for the page to highlight.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..audio import find_soundfont, render, save_wav, wav_bytes
from ..codec.encode import encode
from ..codec.events import Piece
from ..codec.safe import Limits, SafeLoader
from ..errors import UserError
from ..files import home
from ..generate.composer import Composer
from ..generate.config import GenerateConfig, InfillConfig
from ..generate.infill import prompt
from .config import ServeConfig
from .jobs import Job, JobQueue, QueueFull
from .limits import too_large_message
from .store import Node, NotFound, Store

GENERATE_SHARE = 0.85  # of a job's progress bar; rendering the WAVs is the rest


class TooLarge(UserError):
    """An upload, or a piece, over one of the server's limits (413); the message names the limit."""


def quote(text: str, limit: int = 40) -> str:
    """User input for an error message: at most `limit` characters of it, marked when cut."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Ask:
    """The settings of one Generate or Continue: a GenerateConfig's, with its defaults (the seed apart)."""

    style: str | None = GenerateConfig.style
    instruments: tuple[str, ...] = GenerateConfig.instruments
    seconds: float = GenerateConfig.seconds
    """Length of the new music."""
    candidates: int = GenerateConfig.candidates
    temperature: float | None = None
    """Sampling settings; None: the model's own defaults (`Composer.sampling`)."""
    top_k: int | None = None
    top_p: float | None = None
    guidance: float | None = None
    seed: int | None = None
    """None: a random seed, reported with each candidate so it can be reproduced."""


@dataclass(frozen=True)
class InfillAsk:
    """The settings of one Regenerate span: which span of a node to redo, and how to sample it."""

    start: float
    """Start of the span, in seconds from the node's beginning."""
    end: float
    """End of the span, in seconds; the music after it is kept, and the span leads into it."""
    instruments: tuple[str, ...] | None = InfillConfig.instruments
    """The instruments to redo in the span (the others' notes there are kept); None: every instrument."""
    candidates: int = InfillConfig.candidates
    temperature: float | None = None
    """Sampling settings; None: the model's own defaults (`Composer.sampling`)."""
    top_k: int | None = None
    top_p: float | None = None
    guidance: float | None = None
    seed: int | None = None
    """None: a random seed, reported with each candidate so it can be reproduced."""


def web_home() -> Path:
    return home() / "web"


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
        self.store = Store(
            root or web_home(),
            cfg.max_store_bytes,
            cfg.max_sessions,
            idle_s=cfg.session_idle_s,
            per_client=cfg.sessions_per_client,
            max_session_bytes=cfg.max_session_bytes,
        )
        self.jobs = JobQueue(cfg.queue_size, cfg.job_timeout_s)
        self.loader = SafeLoader(Limits(max_bytes=cfg.max_upload_bytes, timeout_s=cfg.upload_timeout_s))
        self._loader_lock = threading.Lock()
        self._renders = threading.BoundedSemaphore(cfg.renders)  # on-demand WAVs, outside the job queue
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
            "defaults": self.defaults(),
            "limits": {
                "max_candidates": c.max_candidates,
                "max_seconds": c.max_seconds,
                "max_piece_seconds": c.max_piece_seconds,
                "max_primer_seconds": c.max_primer_seconds,
                "max_upload_bytes": c.max_upload_bytes,
                "max_primer_notes": c.max_primer_notes,
                "max_primer_notes_per_second": c.max_primer_notes_per_second,
                "job_timeout_s": c.job_timeout_s,
                "session_idle_s": c.session_idle_s,
            },
            "queue": self.jobs.stats(),
            "infill": self._infill_info(),
            "guidance": {"available": self.composer.guided},
        }

    def defaults(self) -> dict:
        """The form's defaults: an Ask's, with the model's sampling settings."""
        out = asdict(Ask()) | asdict(self._config(Ask()).sample)
        out.pop("seed")
        return out

    def _infill_info(self) -> dict:
        """Whether Regenerate span works with this model, why not if not, and the longest span it takes."""
        reason = self.infill_unavailable()
        return {"available": reason is None, "reason": reason, "max_seconds": self.cfg.max_seconds}

    # ---- sessions and nodes -------------------------------------------------------------------------------

    def new_session(self, client: str = "") -> dict:
        return {"session": self.store.create(client).id, "nodes": []}

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
        """The node's WAV, rendered on first use (candidates are rendered by their job already; this is an uploaded
        primer's): `renders` at a time, each within `render_timeout_s`, else 503 with Retry-After."""
        s, node = self.store.session(sid), self.store.node(sid, nid)
        path = self.store.wav_path(s, node)
        if path.exists():
            return path
        busy = QueueFull("the server is busy rendering audio; try again shortly", retry_after=5)
        if not s.lock.acquire(blocking=False):  # this session's render of it, in progress: no thread waits
            raise busy
        try:
            if path.exists():
                return path
            if not self._renders.acquire(blocking=False):
                raise busy
            try:
                limit = self.cfg.render_timeout_s
                deadline = time.monotonic() + limit

                def stop() -> None:
                    if time.monotonic() > deadline:
                        raise TooLarge(f"this piece takes more than the server's {limit:g} s to render")

                self._render(s, node, stop)
            finally:
                self._renders.release()
        finally:
            s.lock.release()
        return path

    # ---- uploads ------------------------------------------------------------------------------------------

    def upload(self, sid: str, data: bytes, name: str | None, seconds: float | None = None) -> dict:
        """An uploaded MIDI primer, parsed by the isolated loader, becomes a root node (its opening, cut)."""
        self.store.session(sid)
        if len(data) > self.cfg.max_upload_bytes:
            raise TooLarge(too_large_message(self.cfg.max_upload_bytes))
        name = clean_name(name)
        short = quote(name)
        keep = self.cfg.max_primer_seconds if seconds is None else float(seconds)
        if not 0 < keep <= self.cfg.max_primer_seconds:
            raise UserError(f"keep between 0 and {self.cfg.max_primer_seconds:g} seconds of the primer")
        if not self._loader_lock.acquire(timeout=2.0):  # a parse takes ms; no request thread waits long
            raise QueueFull("the MIDI reader is busy; try again shortly", retry_after=5)
        try:
            piece = self.loader.load_bytes(data, name=short)
        finally:
            self._loader_lock.release()
        if not len(piece):
            raise UserError(f"{short}: the file has no notes")
        full = piece.duration
        label = f"{name}"
        if full > keep:
            piece = piece.window(0.0, keep)
            label += f" (first {keep:g} s of {full:.0f} s)"
        if not len(piece):
            raise UserError(f"{short}: no notes in its first {keep:g} s")
        self._check_cost(piece, short, keep if full > keep else None)
        piece = Piece(piece.notes, style=None, title=name)
        info = self._describe(piece, primer_seconds=0.0) | {"source": name, "batch": secrets.token_hex(4)}
        return self.store.add(sid, None, "primer", label, piece, info).to_dict()

    def _check_cost(self, piece: Piece, name: str, cut: float | None) -> None:
        """A primer is rendered and fed to the model whole: refuse one that costs more than the limits allow, and
        one the codec cannot encode, now rather than in a job."""
        c = self.cfg
        part = f"its first {cut:g} s" if cut is not None else "it"
        if len(piece) > c.max_primer_notes:
            raise TooLarge(
                f"{name}: {part} holds {len(piece)} notes, over the server's limit of {c.max_primer_notes} "
                "notes per primer; upload a shorter part (or set fewer seconds to keep)"
            )
        density = len(piece) / max(1.0, piece.duration)
        if density > c.max_primer_notes_per_second:
            raise TooLarge(
                f"{name}: {part} plays {density:.0f} notes per second, over the server's limit of "
                f"{c.max_primer_notes_per_second:g}; upload a sparser part"
            )
        try:
            encode(piece, self.composer.vocab)
        except (ValueError, IndexError, MemoryError) as e:
            raise UserError(
                f"{name}: its notes cannot be encoded ({quote(' '.join(str(e).split()), 80)})"
            ) from None

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

    def job(self, jid: str, sid: str | None = None) -> dict:
        """A job's state; with `sid`, only a job of that session (another session's job is "unknown")."""
        job = self._job(jid, sid)
        return {
            "job": job.id,
            "session": job.owner,
            "status": job.status,
            "progress": round(job.progress, 3),
            "ahead": self.jobs.position(job),
            "error": job.error,
            "nodes": job.result if job.status == "done" else None,
        }

    def cancel(self, jid: str, sid: str | None = None) -> dict:
        job = self._job(jid, sid)
        self.jobs.cancel(job)
        return self.job(jid)

    def _job(self, jid: str, sid: str | None) -> Job:
        if sid is not None:
            self.store.session(sid)
        job = self.jobs.get(jid)
        if job is None or (sid is not None and job.owner != sid):
            raise NotFound("unknown or expired job")
        return job

    def check(self, ask: Ask, node: Node | None) -> None:
        c = self.cfg
        if not (isinstance(ask.seconds, (int, float)) and math.isfinite(ask.seconds)):
            raise UserError("seconds must be a number")
        if not 0 < ask.seconds <= c.max_seconds:
            raise UserError(f"length must be between 0 and {c.max_seconds:g} seconds, got {ask.seconds:g}")
        if not 1 <= ask.candidates <= c.max_candidates:
            raise UserError(f"candidates must be 1..{c.max_candidates}, got {quote(ask.candidates, 12)}")
        names = self.composer.instruments
        for name in ask.instruments:
            if name not in names:
                raise UserError(f"unknown instrument {quote(name)!r}; choose from: {', '.join(names)}")
        if len(ask.instruments) > len(names):
            raise UserError(f"at most {len(names)} instruments, got {len(ask.instruments)}")
        if ask.style is not None and ask.style not in self.composer.styles:
            raise UserError(f"unknown style {quote(ask.style)!r}; see GET /api/styles")
        if node is not None and node.piece.duration + ask.seconds > c.max_piece_seconds:
            raise UserError(
                f"this piece would last {node.piece.duration + ask.seconds:.0f} s, over the server's limit "
                f"of {c.max_piece_seconds:g} s; continue an earlier node or ask for less"
            )
        self._config(ask)

    def _config(self, ask: Ask, seed: int = 0) -> GenerateConfig:
        """The checked GenerateConfig of `ask`; its unset sampling settings are the model's defaults."""
        return self.composer.config(
            ask.temperature, ask.top_k, ask.top_p, ask.guidance,
            style=ask.style, instruments=tuple(ask.instruments), seconds=ask.seconds, candidates=ask.candidates,
            seed=seed, rerank=self.cfg.rerank if self.composer.has_critic else 1,
        )  # fmt: skip

    def _compose(self, sid: str, parent: Node | None, ask: Ask, seed: int, report) -> list[dict]:
        cfg = self._config(ask, seed)
        cands = self.composer.compose(
            cfg,
            primer=parent.piece if parent is not None else None,
            progress=lambda f: report(GENERATE_SHARE * f),
        )
        settings = {
            "style": cfg.style or self.composer.styles[0],
            "asked_instruments": list(cfg.instruments),
            "asked_seconds": cfg.seconds,
            "temperature": cfg.sample.temperature,
            "guidance": cfg.sample.guidance,
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
        done = GENERATE_SHARE
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
                self._render(s, node, lambda at=done: report(at))  # the job's time limit and cancel apply too
                done = GENERATE_SHARE + (1 - GENERATE_SHARE) * (i + 1) / len(cands)
                report(done)
        except BaseException:
            self.store.remove(sid, [n.id for n in added])  # all candidates or none
            raise
        return [n.to_dict() for n in added]

    def _render(self, s, node: Node, stop=None) -> None:
        """Renders a node's WAV; its size is claimed in the store first (`Full` when there is no room). `stop`: called
        as it goes, raises to end it (a job's report, a time limit)."""
        path = self.store.wav_path(s, node)
        rate = self.cfg.sample_rate
        with self.store.claimed(s, wav_bytes(node.piece.duration, rate)):
            save_wav(render(node.piece, sample_rate=rate, soundfont=self.soundfont, stop=stop), path, rate)

    def _describe(self, piece: Piece, primer_seconds: float) -> dict:
        playing, other = self.composer.vocab.instruments_playing(piece.notes)
        return {
            "seconds": round(piece.duration, 2),
            "notes": len(piece),
            "instruments": playing,
            "other_programs": other,
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
        """The core's checks of the values (numbers, end after start, known instruments: `InfillConfig`), the
        server's limits, then the span against the node's piece (inside it, short enough for the model's context),
        before any queueing."""
        reason = self.infill_unavailable()
        if reason is not None:
            raise UserError(reason)
        cfg = self._infill_config(ask)
        if ask.end - ask.start > self.cfg.max_seconds:
            raise UserError(
                f"a span may last at most {self.cfg.max_seconds:g} s, got {ask.end - ask.start:g}"
            )
        if not 1 <= ask.candidates <= self.cfg.max_candidates:
            raise UserError(
                f"candidates must be 1..{self.cfg.max_candidates}, got {quote(ask.candidates, 12)}"
            )
        names = self.composer.instruments
        if len(ask.instruments or ()) > len(names):
            raise UserError(f"at most {len(names)} instruments, got {len(ask.instruments)}")
        prompt(node.piece, self.composer.vocab, cfg, self.composer.model.config.block_size)

    def _infill_config(self, ask: InfillAsk, seed: int = 0, rerank: int = 1) -> InfillConfig:
        """The InfillConfig of `ask` (a UserError if a value is bad); unset sampling settings: the model's."""
        return self.composer.infill_config(
            ask.temperature, ask.top_k, ask.top_p, ask.guidance,
            start=ask.start, end=ask.end, instruments=ask.instruments, candidates=ask.candidates, seed=seed,
            rerank=rerank,
        )  # fmt: skip

    def _regenerate(self, sid: str, node: Node, ask: InfillAsk, seed: int, report) -> list[dict]:
        cfg = self._infill_config(ask, seed, self.cfg.rerank if self.composer.has_critic else 1)
        cands = self.composer.regenerate(node.piece, cfg, progress=lambda f: report(GENERATE_SHARE * f))
        settings = {
            "style": cands[0].piece.style if cands else None,
            "span": [round(cfg.start, 3), round(cfg.end, 3)],
            "span_instruments": list(cfg.instruments) if cfg.instruments is not None else None,
            "temperature": cfg.sample.temperature,
            "guidance": cfg.sample.guidance,
            "seed": seed,
        }
        return self._add_candidates(sid, node, "infill", cands, settings, report)


__all__ = ["Ask", "CoComposer", "InfillAsk", "NotFound", "QueueFull", "TooLarge", "clean_name", "quote"]
