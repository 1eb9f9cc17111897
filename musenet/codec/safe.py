"""Safe loading of untrusted MIDI: limits checked before tokenising, parsing isolated in a worker process.

A MIDI file from a user is read in a separate process with a memory cap (RLIMIT_AS) and a wall-clock limit, so a
hostile or broken file (some make parsers allocate gigabytes from a few bytes, or spin for minutes) costs at most a
killed worker. The parent checks the size and the header first, never parses itself, and only receives a plain
note array back. Every failure is a `MidiError` with a one-line reason.

    with SafeLoader() as loader:          # one worker, reused across files
        piece = loader.load("song.mid")

    piece = load_midi("song.mid")         # one file, one worker
"""

from __future__ import annotations

import os
import select
import struct
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import MidiError  # noqa: F401 -- raised here; importable from here as before
from .events import NOTE_DTYPE, Piece
from .midi_io import ReadConfig


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 16 * 1024 * 1024
    """Largest file accepted (the largest MAESTRO performance is under 1 MB)."""
    max_tracks: int = 512
    max_notes: int = 500_000
    max_seconds: float = 3 * 3600.0
    """Longest piece accepted, after the tempo map is applied."""
    timeout_s: float = 10.0
    """Wall-clock time allowed to parse one file."""
    memory_mb: int = 768
    """Address space the parser may add on top of the worker's own (~60 MB resident), so a hostile file costs
    under 1 GB in all."""


# ---- checks before parsing (parent process) --------------------------------------------------------------------


def check_header(data: bytes, limits: Limits) -> None:
    if len(data) > limits.max_bytes:
        raise MidiError(
            f"file is {len(data) / 2**20:.1f} MB, over the {limits.max_bytes / 2**20:.0f} MB limit"
        )
    if len(data) < 14 or data[:4] != b"MThd":
        if data[:4] == b"RIFF":
            raise MidiError("RIFF-wrapped MIDI (.rmi) is not supported; export it as a standard MIDI file")
        raise MidiError("not a MIDI file (it does not start with an 'MThd' header)")
    length, fmt, ntracks, division = struct.unpack(">IHHH", data[4:14])
    if length < 6:
        raise MidiError(f"corrupt MIDI header (length {length})")
    if fmt > 2:
        raise MidiError(f"unknown MIDI format {fmt} (expected 0, 1 or 2)")
    if ntracks > limits.max_tracks:
        raise MidiError(f"{ntracks} tracks, over the limit of {limits.max_tracks}")
    if division == 0:  # ticks per quarter note: 0 makes every time infinite
        raise MidiError("corrupt MIDI header (time division 0 ticks per quarter note)")
    if division & 0x8000:
        raise MidiError("SMPTE time division is not supported; save the file with ticks per quarter note")


def check_notes(notes: np.ndarray, limits: Limits) -> None:
    """What a loaded file must hold to be encoded, rendered and continued: finite times from 0 on, notes that end
    after they start, MIDI pitches and velocities, a bounded duration. Runs in the worker and again in the parent
    (a note array from a worker is checked like any input)."""
    if len(notes) > limits.max_notes:
        raise MidiError(f"{len(notes)} notes, over the limit of {limits.max_notes}")
    if not len(notes):
        return
    start, end = notes["start"], notes["end"]
    if not (np.isfinite(start).all() and np.isfinite(end).all()):
        raise MidiError("note times are not finite (a corrupt tempo or time division)")
    if start.min() < 0 or (end < start).any():
        raise MidiError("notes with negative times or lengths (a corrupt file)")
    if not ((notes["pitch"] >= 0).all() and (notes["pitch"] <= 127).all()):
        raise MidiError("pitches outside MIDI's 0..127 (a corrupt file)")
    if not ((notes["velocity"] >= 0).all() and (notes["velocity"] <= 127).all()):
        raise MidiError("velocities outside MIDI's 0..127 (a corrupt file)")
    if float(end.max()) > limits.max_seconds:
        raise MidiError(
            f"lasts {float(end.max()) / 60:.0f} minutes, over the limit of {limits.max_seconds / 60:.0f}"
        )


# ---- the worker (child process) --------------------------------------------------------------------------------


def _cap_memory(extra_mb: int) -> None:
    import resource

    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    cap = vm + extra_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def parse(data: bytes, limits: Limits, read: ReadConfig, program_of=None) -> np.ndarray:
    """Parses MIDI bytes into a note array, enforcing the limits. Runs inside the worker.

    `program_of`: see `midi_io.piece_from_score` (the data build chooses a track's instrument by its register)."""
    from .midi_io import piece_from_score, score_from_bytes

    try:
        score = score_from_bytes(data)
    except MemoryError:
        raise MidiError(f"parsing needs more than the {limits.memory_mb} MB memory limit") from None
    except Exception as e:  # symusic raises RuntimeError/ValueError with a parser message
        reason = " ".join(str(e).split()) or type(e).__name__
        raise MidiError(f"not a valid MIDI file ({reason[:160]})") from None
    if len(score.tracks) > limits.max_tracks:
        raise MidiError(f"{len(score.tracks)} tracks, over the limit of {limits.max_tracks}")
    n = score.note_num()
    if n > limits.max_notes:
        raise MidiError(f"{n} notes, over the limit of {limits.max_notes}")
    if score.ticks_per_quarter <= 0:
        raise MidiError(f"corrupt MIDI header (time division {score.ticks_per_quarter})")
    notes = piece_from_score(score, read, program_of=program_of).notes
    check_notes(notes, limits)
    return notes


def _read_frame(stream) -> bytes | None:
    head = stream.read(4)
    if len(head) < 4:
        return None
    (n,) = struct.unpack(">I", head)
    return stream.read(n)


def _write_frame(stream, status: bytes, payload: bytes) -> None:
    stream.write(status + struct.pack(">I", len(payload)) + payload)
    stream.flush()


def worker_main(argv: list[str]) -> None:
    """The worker: reads length-prefixed MIDI files on stdin, answers with note arrays on stdout."""
    import json

    import symusic  # noqa: F401  (imported before the cap, so the cap only bounds parsing)

    cfg = json.loads(argv[0])
    limits, read = Limits(**cfg["limits"]), ReadConfig(**cfg["read"])
    _cap_memory(limits.memory_mb)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    _write_frame(stdout, b"R", b"")
    while (data := _read_frame(stdin)) is not None:
        try:
            _write_frame(stdout, b"K", parse(data, limits, read).tobytes())
        except MidiError as e:
            _write_frame(stdout, b"E", str(e).encode())
        except MemoryError:
            _write_frame(
                stdout, b"E", f"parsing needs more than the {limits.memory_mb} MB memory limit".encode()
            )


# ---- the parent's handle ---------------------------------------------------------------------------------------


class SafeLoader:
    """Loads untrusted MIDI through one isolated worker process, restarted after a crash or a timeout."""

    def __init__(self, limits: Limits = Limits(), read: ReadConfig = ReadConfig()):
        self.limits = limits
        self.read = read
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> SafeLoader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            for s in (self._proc.stdin, self._proc.stdout):
                s.close()
        self._proc = None

    def _start(self) -> None:
        import json

        cfg = json.dumps({"limits": asdict(self.limits), "read": asdict(self.read)})
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from musenet.codec.safe import worker_main; worker_main(sys.argv[1:])",
                cfg,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        if self._answer(60.0) != (b"R", b""):
            self.close()
            raise RuntimeError("the MIDI worker process did not start")

    def _answer(self, timeout: float) -> tuple[bytes, bytes] | None:
        """The worker's next reply, or None if it died or did not answer in time."""
        assert self._proc is not None and self._proc.stdout is not None
        out = self._proc.stdout
        ready, _, _ = select.select([out], [], [], timeout)
        if not ready:
            return None
        head = out.read(5)
        if len(head) < 5:
            return None
        (n,) = struct.unpack(">I", head[1:])
        payload = out.read(n)
        return (head[:1], payload) if len(payload) == n else None

    def load_bytes(self, data: bytes, name: str = "MIDI", style: str | None = None) -> Piece:
        try:
            check_header(data, self.limits)
        except MidiError as e:
            raise MidiError(f"{name}: {e}") from None
        if self._proc is None or self._proc.poll() is not None:
            self._start()
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(struct.pack(">I", len(data)) + data)
            self._proc.stdin.flush()
        except BrokenPipeError:
            pass  # the worker died; reported below
        answer = self._answer(self.limits.timeout_s)
        if answer is None:
            timed_out = self._proc.poll() is None
            self.close()
            if timed_out:
                raise MidiError(
                    f"{name}: parsing took longer than {self.limits.timeout_s:g} s; the file is rejected"
                )
            raise MidiError(
                f"{name}: the parser crashed (out of its {self.limits.memory_mb} MB memory limit or a corrupt file)"
            )
        status, payload = answer
        if status != b"K":
            raise MidiError(f"{name}: {payload.decode(errors='replace')}")
        if len(payload) % NOTE_DTYPE.itemsize:
            raise MidiError(f"{name}: the parser's answer is corrupt; the file is rejected")
        notes = np.frombuffer(payload, dtype=NOTE_DTYPE).copy()
        try:
            check_notes(notes, self.limits)
        except MidiError as e:
            raise MidiError(f"{name}: {e}") from None
        return Piece(notes, style=style, title=Path(name).stem)

    def load(self, path: str | Path, style: str | None = None) -> Piece:
        path = Path(path)
        if path.is_dir():
            raise MidiError(f"{path}: is a folder, not a MIDI file")
        try:
            size = path.stat().st_size
        except OSError as e:
            raise MidiError(f"{path}: cannot read it ({e.strerror or e})") from None
        if size > self.limits.max_bytes:
            mb = self.limits.max_bytes / 2**20
            raise MidiError(f"{path.name}: file is {size / 2**20:.1f} MB, over the {mb:.0f} MB limit")
        return self.load_bytes(path.read_bytes(), name=path.name, style=style)


def load_midi(path: str | Path, limits: Limits = Limits(), read: ReadConfig = ReadConfig()) -> Piece:
    """Loads one untrusted MIDI file through a one-off isolated worker."""
    with SafeLoader(limits, read) as loader:
        return loader.load(path)
