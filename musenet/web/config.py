"""Every limit the web server enforces, in one frozen dataclass (the `musenet serve` flags map onto it)."""

from __future__ import annotations

from dataclasses import dataclass

from ..audio import SAMPLE_RATE


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    """Interface to listen on; loopback by default, so nothing outside this machine can reach it."""
    port: int = 8000
    """Port to listen on."""
    max_upload_bytes: int = 2 * 1024 * 1024
    """Largest request body (a MIDI primer upload); a larger one is answered 413."""
    queue_size: int = 8
    """Jobs waiting for the model; when full, a new request is answered 503 with Retry-After."""
    jobs_per_session: int = 2
    """Jobs one session may have queued or running at once (more: 429), so one user cannot fill the queue."""
    job_timeout_s: float = 180.0
    """Time one job may run (generation + audio) before it is stopped with an error."""
    max_candidates: int = 8
    """Most candidates one request may ask for."""
    max_seconds: float = 120.0
    """Longest new music one request may ask for."""
    max_piece_seconds: float = 600.0
    """Longest piece a node may grow to by continuing."""
    max_primer_seconds: float = 120.0
    """Longest part of an uploaded primer that is kept (its opening)."""
    max_store_bytes: int = 1024 * 1024 * 1024
    """Hard size cap on the folder of generated files, checked before every write (a job's files, an upload, a
    WAV); a write past it is refused (503), never made room for by removing a session in use."""
    max_session_bytes: int = 256 * 1024 * 1024
    """Files one session may hold; past it, a write is refused (413), so one session cannot fill the store."""
    max_sessions: int = 1000
    """Sessions kept at once; past it a new session is refused with 503 "server full" (none is evicted)."""
    sessions_per_client: int = 16
    """Sessions one client address may hold at once (more: 429). Behind a reverse proxy every user shares the
    proxy's address: raise it there."""
    session_idle_s: float = 24 * 3600.0
    """A session is removed after this long without a request, and only then."""
    max_primer_notes: int = 10_000
    """Most notes an uploaded primer may keep (after its cut): they are all rendered and fed to the model."""
    max_primer_notes_per_second: float = 50.0
    """Densest primer accepted, in notes per second over its length (at least 1 s)."""
    renders: int = 1
    """WAV renders at once outside the job queue (an uploaded primer's audio); more: 503 with Retry-After."""
    render_timeout_s: float = 30.0
    """Time one such render may take before it is stopped (413: the piece costs too much to render)."""
    header_timeout_s: float = 10.0
    """Time a client has to send its request's headers (and then each piece of its body) before the connection
    is closed, so slow clients cannot hold every connection."""
    sample_rate: int = SAMPLE_RATE
    """Sample rate of the rendered WAVs."""
    upload_timeout_s: float = 10.0
    """Time the isolated MIDI parser may spend on one upload."""
    soundfont: str | None = None
    """General MIDI SoundFont for the audio (None: the usual search, see `musenet.audio.find_soundfont`)."""
    rerank: int = 4
    """When the model's folder holds a critic: each candidate is the best of this many samples (the most
    real-sounding, or with a style critic the most recognisably the style asked for; 1 = off). Without a critic,
    candidates are plain samples."""

    def __post_init__(self) -> None:
        for name in (
            "max_upload_bytes",
            "queue_size",
            "jobs_per_session",
            "max_candidates",
            "max_sessions",
            "sessions_per_client",
            "max_primer_notes",
            "renders",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in (
            "job_timeout_s",
            "max_seconds",
            "max_piece_seconds",
            "max_primer_seconds",
            "upload_timeout_s",
            "session_idle_s",
            "max_primer_notes_per_second",
            "render_timeout_s",
            "header_timeout_s",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 1 <= self.rerank <= 16:
            raise ValueError(f"rerank must be 1..16, got {self.rerank}")
        if self.max_store_bytes < 0 or self.max_session_bytes < 0:
            raise ValueError("max_store_bytes and max_session_bytes must be >= 0")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {self.port}")
