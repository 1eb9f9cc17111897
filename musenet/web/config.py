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
    """Size cap on the folder of generated files; the least recently used sessions are evicted past it."""
    max_sessions: int = 1000
    """Sessions kept in memory; the least recently used are evicted past it."""
    sample_rate: int = SAMPLE_RATE
    """Sample rate of the rendered WAVs."""
    upload_timeout_s: float = 10.0
    """Time the isolated MIDI parser may spend on one upload."""
    soundfont: str | None = None
    """General MIDI SoundFont for the audio (None: the usual search, see `musenet.audio.find_soundfont`)."""
    rerank: int = 4
    """When the model's folder holds an inner critic: each candidate is the most real-sounding of this many samples
    (1 = off). Without a critic, candidates are plain samples."""

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "queue_size", "jobs_per_session", "max_candidates", "max_sessions"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in (
            "job_timeout_s",
            "max_seconds",
            "max_piece_seconds",
            "max_primer_seconds",
            "upload_timeout_s",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 1 <= self.rerank <= 16:
            raise ValueError(f"rerank must be 1..16, got {self.rerank}")
        if self.max_store_bytes < 0:
            raise ValueError("max_store_bytes must be >= 0")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {self.port}")
