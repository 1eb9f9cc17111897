"""Pieces -> audio: General MIDI synthesis through a SoundFont, peak normalisation, 16-bit WAV files.

The synthesizer is TinySoundFont (the `tinysoundfont` wheel), driven note by note from a `Piece`, so what is heard
is exactly what the codec and the model see: notes, velocities and programs (pitch bends, controllers and pans
in a source file are not part of a Piece and are not played; the sustain pedal already is, in the note ends).
Each program plays on a channel of its own; drums play on channel 10 in the SoundFont's drum bank.

The SoundFont is the first found of: an explicit path (`--soundfont`), `$MUSENET_SOUNDFONT`, a system General
MIDI SoundFont (Debian's `fluid-soundfont-gm`, FluidR3, sounds far better), then TimGM6mb.sf2, the 6 MB GM
SoundFont that ships inside the `pretty_midi` wheel, so audio works after a plain pip install.

    audio = render(piece)                      # (samples, 2) float32, peak at -1 dBFS
    save_wav(audio, "out.wav", 44100)          # 16-bit PCM, written atomically
    info = render_file("in.mid", "out.wav")    # untrusted MIDI in, WAV out, with a summary
"""

from __future__ import annotations

import importlib.util
import os
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .codec.events import DRUMS, Piece
from .codec.midi_io import piece_from_score, score_from_bytes
from .codec.safe import load_midi
from .errors import UserError
from .files import atomic_path

SAMPLE_RATE = 44100
TAIL_S = 2.0  # silence rendered after the last note-off, so releases and reverb ring out
PEAK_DBFS = -1.0  # normalised peak: 1 dB of headroom keeps resampling and lossy encoders from clipping
SILENCE = 1e-6  # a raw peak below this (-120 dBFS) is silence: left at zero, never amplified
MIN_RATE, MAX_RATE = 8000, 192000
MAX_SECONDS = 3600.0  # longest audio rendered: the float buffer is held whole (1 hour at 44.1 kHz = 1.3 GB)
STOP_EVERY = 256  # notes synthesized between two calls of a render's `stop` check
CHUNK = 1 << 20  # frames converted to PCM at a time, so writing adds little memory to the buffer's

ENV_VAR = "MUSENET_SOUNDFONT"
# Where Linux distributions put a General MIDI SoundFont (Debian/Ubuntu `fluid-soundfont-gm`, Arch, Fedora).
SYSTEM_SOUNDFONTS = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/soundfonts/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
    Path("/usr/share/soundfonts/default.sf2"),
)
BUNDLED = ("pretty_midi", "TimGM6mb.sf2")  # (package, file inside it)


class SoundFontError(UserError):
    """No usable SoundFont: a missing or invalid file, or none installed."""


@dataclass(frozen=True)
class SoundFont:
    path: Path
    source: str
    """Why this one: '--soundfont', '$MUSENET_SOUNDFONT', 'system' or 'pretty_midi'."""

    def __str__(self) -> str:
        return f"{self.path.name} ({self.source})"


@dataclass(frozen=True)
class Rendered:
    """What `render_file` did, for a summary line."""

    notes: int
    seconds: float
    """Length of the audio, tail included."""
    sample_rate: int
    soundfont: SoundFont
    gain_db: float | None
    """Gain applied by normalisation; None for silence (left at zero)."""
    missing: tuple[int, ...] = ()
    """Programs the SoundFont lacks, played with its program 0 instead."""


# ---- finding a SoundFont ---------------------------------------------------------------------------------------


def bundled_soundfont() -> Path | None:
    """TimGM6mb.sf2 inside the installed pretty_midi package, found without importing it (it pulls in mido)."""
    spec = importlib.util.find_spec(BUNDLED[0])
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / BUNDLED[1]
        if path.is_file():
            return path
    return None


def find_soundfont(
    explicit: str | Path | None = None,
    env: dict[str, str] | None = None,
    system: tuple[Path, ...] = SYSTEM_SOUNDFONTS,
) -> SoundFont:
    """The SoundFont to use. A path the user named (flag or env var) must exist: no silent fallback from it."""
    env = os.environ if env is None else env
    named = [(explicit, "--soundfont"), (env.get(ENV_VAR) or None, f"${ENV_VAR}")]
    for path, source in named:
        if path is not None:
            path = Path(path).expanduser()
            if not path.is_file():
                what = "is a folder" if path.is_dir() else "does not exist"
                raise SoundFontError(f"SoundFont {path} ({source}) {what}")
            return SoundFont(path, source)
    for path in system:
        if path.is_file():
            return SoundFont(path, "system")
    path = bundled_soundfont()
    if path is None:
        raise SoundFontError(
            "no General MIDI SoundFont found: install pretty_midi (`pip install pretty_midi`), "
            f"Debian's fluid-soundfont-gm, or name one with --soundfont or ${ENV_VAR}"
        )
    return SoundFont(path, BUNDLED[0])


# ---- synthesis -------------------------------------------------------------------------------------------------


def _synth(soundfont: SoundFont, sample_rate: int):
    try:
        import tinysoundfont
    except ImportError:
        # its wheel declares pyaudio (used only for live playback), which does not build without portaudio
        raise UserError(
            "audio needs tinysoundfont: `pip install --no-deps tinysoundfont==0.3.7` (see the Makefile)"
        ) from None
    synth = tinysoundfont.Synth(samplerate=sample_rate)
    try:
        sfid = synth.sfload(str(soundfont.path))
    except RuntimeError:
        raise SoundFontError(f"{soundfont.path} is not a SoundFont that can be loaded (sf2/sf3)") from None
    return synth, sfid


def _events(piece: Piece, sample_rate: int, channels: dict[int, int]) -> np.ndarray:
    """Note-ons and note-offs as rows (frame, is_on, channel, pitch, velocity), in playing order.

    At one frame, note-offs come first, so a repeated note is released before it is struck again; a note is at
    least one frame long, so its own note-off never precedes its note-on.
    """
    n = piece.notes
    on = np.rint(n["start"] * sample_rate).astype(np.int64)
    off = np.maximum(np.rint(n["end"] * sample_rate).astype(np.int64), on + 1)
    chan = np.array([channels[int(p)] for p in n["program"]], dtype=np.int64)
    rows = np.empty((2 * len(n), 5), dtype=np.int64)
    rows[: len(n)] = np.stack([on, np.ones_like(on), chan, n["pitch"], n["velocity"]], axis=1)
    rows[len(n) :] = np.stack([off, np.zeros_like(off), chan, n["pitch"], np.zeros_like(off)], axis=1)
    return rows[np.lexsort((rows[:, 1], rows[:, 0]))]


def synthesize(
    piece: Piece,
    sample_rate: int = SAMPLE_RATE,
    soundfont: SoundFont | None = None,
    tail_s: float = TAIL_S,
    stop: Callable[[], None] | None = None,
) -> tuple[np.ndarray, tuple[int, ...]]:
    """Raw synthesis, not normalised: ((samples, 2) float32, programs missing from the SoundFont).

    `stop`, when given, is called at least every `STOP_EVERY` notes and every 0.1 s of audio: it raises to end a
    render early (the web server's time limit), so no render outlives its caller's patience; the synthesizer then
    also hands the interpreter back to other threads (a web server's requests) that often."""
    if not MIN_RATE <= sample_rate <= MAX_RATE:
        raise UserError(f"sample rate {sample_rate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz")
    seconds = piece.duration + tail_s
    if seconds > MAX_SECONDS:
        raise UserError(
            f"the piece lasts {seconds / 60:.0f} minutes; audio is rendered up to {MAX_SECONDS / 60:.0f}"
        )
    soundfont = soundfont or find_soundfont()
    synth, sfid = _synth(soundfont, sample_rate)
    # melodic programs take channels 0, 1, ... skipping 9, the General MIDI drum channel (TinySoundFont has
    # no 16-channel limit, so every program keeps its own channel)
    melodic = [p for p in piece.programs if p != DRUMS]
    channels = {p: c + (c >= 9) for c, p in enumerate(melodic)}
    channels[DRUMS] = 9
    missing = []
    for program, chan in channels.items():
        drums = program == DRUMS
        try:
            synth.program_select(chan, sfid, 0, 0 if drums else program, is_drums=drums)
        except RuntimeError:
            try:
                synth.program_select(chan, sfid, 0, 0, is_drums=drums)
            except RuntimeError:
                raise SoundFontError(
                    f"{soundfont.path.name} has neither program {program} nor program 0: "
                    "it is not a General MIDI SoundFont"
                ) from None
            missing.append(program)

    end = int(round(seconds * sample_rate))
    out = np.zeros((end, 2), dtype=np.float32)
    # TinySoundFont renders interleaved stereo floats into a byte buffer: views into `out`, so no copies
    flat = memoryview(out.reshape(-1)).cast("B")
    frame_bytes = 2 * out.itemsize
    now = 0

    def fill(to: int) -> None:
        nonlocal now
        while now < to:
            step = to - now if stop is None else min(to - now, max(1, sample_rate // 10))
            if stop is not None:
                stop()
            synth.generate_simple(step, buffer=flat[now * frame_bytes : (now + step) * frame_bytes])
            now += step

    for i, (frame, is_on, chan, pitch, velocity) in enumerate(_events(piece, sample_rate, channels).tolist()):
        if stop is not None and i % STOP_EVERY == 0:
            stop()
        fill(frame)
        if is_on:
            synth.noteon(chan, pitch, velocity)
        else:
            synth.noteoff(chan, pitch)
    fill(end)
    return out, tuple(missing)


def normalise(audio: np.ndarray, peak_dbfs: float = PEAK_DBFS) -> tuple[np.ndarray, float | None]:
    """Scales the peak to `peak_dbfs`, in place: (audio, gain in dB), or (zeros, None) for silence."""
    peak = max(float(audio.max(initial=0.0)), -float(audio.min(initial=0.0)))  # no |audio| temporary
    if not np.isfinite(peak):
        raise RuntimeError("the synthesizer produced non-finite samples")
    if peak < SILENCE:
        audio[...] = 0
        return audio, None
    gain = 10 ** (peak_dbfs / 20) / peak
    audio *= np.float32(gain)
    return audio, float(20 * np.log10(gain))


def as_piece(music: Piece | bytes) -> Piece:
    """A Piece, or MIDI bytes from a trusted source (our own output); untrusted files go through `load_midi`."""
    if isinstance(music, Piece):
        return music
    return piece_from_score(score_from_bytes(music))


def render(
    music: Piece | bytes,
    sample_rate: int = SAMPLE_RATE,
    soundfont: str | Path | SoundFont | None = None,
    stop: Callable[[], None] | None = None,
) -> np.ndarray:
    """Synthesizes a piece (or trusted MIDI bytes): (samples, 2) float32 with its peak at -1 dBFS.

    The audio lasts the piece plus a `TAIL_S` tail; an empty piece gives that much silence. `stop`: see
    `synthesize`.
    """
    sf = soundfont if isinstance(soundfont, SoundFont) else find_soundfont(soundfont)
    raw, _ = synthesize(as_piece(music), sample_rate, sf, stop=stop)
    return normalise(raw)[0]


# ---- WAV files -------------------------------------------------------------------------------------------------


def wav_bytes(duration: float, sample_rate: int = SAMPLE_RATE) -> int:
    """The size of the WAV file `render` + `save_wav` make of a piece lasting `duration` seconds (before writing
    it, so a store can make room or refuse first)."""
    return 44 + 4 * int(round((duration + TAIL_S) * sample_rate))


def pcm16(audio: np.ndarray) -> bytes:
    """Float samples in [-1, 1] -> little-endian 16-bit PCM (clipped, though normalised audio never needs it)."""
    return (np.rint(np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")).tobytes()


def save_wav(audio: np.ndarray, path: str | Path, sample_rate: int) -> None:
    """Writes (samples, channels) float audio as 16-bit PCM; atomically, so a failure leaves no partial file."""
    audio = audio.reshape(len(audio), -1)
    with atomic_path(path) as tmp, wave.open(str(tmp), "wb") as w:
        w.setnchannels(audio.shape[1])
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        for i in range(0, len(audio), CHUNK):
            w.writeframes(pcm16(audio[i : i + CHUNK]))


def render_file(
    in_mid: str | Path,
    out_wav: str | Path,
    sample_rate: int = SAMPLE_RATE,
    soundfont: str | Path | None = None,
) -> Rendered:
    """Untrusted MIDI file -> normalised WAV file. Every problem the user can fix is a UserError or MidiError,
    raised before anything is written."""
    out_wav = Path(out_wav)
    if out_wav.is_dir():
        raise UserError(f"cannot write {out_wav}: it is a folder")
    if not out_wav.parent.is_dir():
        raise UserError(f"cannot write {out_wav}: folder {out_wav.parent} does not exist")
    sf = find_soundfont(soundfont)
    piece = load_midi(in_mid)
    raw, missing = synthesize(piece, sample_rate, sf)
    audio, gain = normalise(raw)
    try:
        save_wav(audio, out_wav, sample_rate)
    except OSError as e:
        raise UserError(f"cannot write {out_wav}: {e.strerror or e}") from None
    return Rendered(len(piece), len(audio) / sample_rate, sample_rate, sf, gain, missing)
