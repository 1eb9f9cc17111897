"""A parsed music21 score -> a codec note array, directly (music21's own MIDI writer is slow and fails on ~5 %).

What the conversion decides, and why:

- **Time.** Offsets are quarter lengths; the score's `MetronomeMark`s (any part; the first part wins on a tie)
  turn them into seconds. A score with none plays at `DEFAULT_QPM` = 100 quarter notes per minute: most of the
  corpus (chorales, folk tunes, masses) states no tempo, and 100 sits between a chorale's and a reel's pace.
- **Ties.** A note tied into the next one is one note: a tie `stop`/`continue` extends the open note of that
  pitch when it ends exactly where the tied note starts (cheaper than `stripTies`, same result).
- **Skipped.** Grace notes (no duration), chord symbols (a lead sheet's harmony, not notes), unpitched percussion.
  Repeats are not expanded: a tune's repeated strain is played once.
- **Velocity.** The last `Dynamic` before a note, at its MIDI value (`DYNAMIC_VELOCITY`), else mf = 80.
- **Instrument** (a GM program per part; the codec maps programs onto MuseNet's ten). A part's music21 instrument
  wins when it is a real one with a program (Piano 0, Violin 40, ...); then its name (`NAME_PROGRAMS`: "Violoncello",
  "Flauto", ...). Everything else, voices above all (most of the corpus is vocal: chorales, masses, motets, folk
  songs) and parts with no instrument, becomes the bowed string of its register: violin if the part lies in the
  violin's range, else cello, else contrabass. Strings are what a MuseNet user hears as a choir's stand-in, and
  picking by register keeps each line whole: a tenor line on "violin" would be folded up an octave note by note.
  "Bass" is a voice before it is a double bass: a part named "Bass" goes by register (cello for a sung bass).
  A named or declared instrument that cannot hold its part moves within its family (a viola line too low for the
  violin becomes the cello): `data.parts`, which holds the name tables and does the same for MIDI tracks.
"""

from __future__ import annotations

import numpy as np

from ..codec.events import NOTE_DTYPE, empty_notes, sort_notes
from .parts import CELLO, CONTRABASS, VIOLIN, choose_program, register_program  # noqa: F401 (re-exported)

DEFAULT_QPM = 100.0
DEFAULT_VELOCITY = 80  # mf
DYNAMIC_VELOCITY = {
    "pppp": 16, "ppp": 24, "pp": 36, "p": 52, "mp": 64, "mf": 80, "f": 96, "ff": 112, "fff": 120, "ffff": 127,
    "sf": 104, "sfz": 108, "fz": 104, "fp": 96, "rfz": 104,
}  # fmt: skip


class TempoMap:
    """Quarter-length offsets -> seconds, piecewise linear between tempo changes."""

    def __init__(self, marks: list[tuple[float, float]]):
        marks = sorted(
            {o: q for o, q in reversed(marks)}.items()
        )  # one mark per offset: the first given wins
        if not marks or marks[0][0] > 0:
            marks.insert(0, (0.0, marks[0][1] if marks else DEFAULT_QPM))
        self.offsets = np.array([o for o, _ in marks], dtype=np.float64)
        self.spq = np.array([60.0 / q for _, q in marks], dtype=np.float64)  # seconds per quarter
        self.seconds = np.concatenate([[0.0], np.cumsum(np.diff(self.offsets) * self.spq[:-1])])

    def __call__(self, ql: np.ndarray) -> np.ndarray:
        k = np.maximum(np.searchsorted(self.offsets, ql, side="right") - 1, 0)
        return self.seconds[k] + (ql - self.offsets[k]) * self.spq[k]


def tempo_marks(flat) -> list[tuple[float, float]]:
    from music21 import tempo

    out = []
    for mm in flat.getElementsByClass(tempo.MetronomeMark):
        try:
            qpm = mm.getQuarterBPM()
        except Exception:  # a text-only mark music21 cannot put a number on
            qpm = None
        if qpm and 10 <= qpm <= 600:
            out.append((float(mm.offset), float(qpm)))
    return out


def part_program(part, pitches: np.ndarray, vocal: bool = False) -> int:
    """The GM program for one music21 part (see the module docstring); `vocal`: ignore declared instruments."""
    from music21 import instrument

    inst = None if vocal else part.getInstrument(returnDefault=False)
    generic = inst is None or type(inst) is instrument.Instrument or isinstance(inst, instrument.Vocalist)
    declared = None if generic else inst.midiProgram
    names = [part.partName] if vocal else [part.partName, inst.instrumentName if inst else None]
    return choose_program(names, declared, pitches)


def part_events(flat) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start_ql, end_ql, pitch) of one flattened part's notes, ties merged."""
    from music21 import chord, harmony, note

    starts: list[float] = []
    ends: list[float] = []
    pitches: list[int] = []
    open_: dict[int, int] = {}  # pitch -> index of the last note of that pitch (a tie may extend it)
    for el in flat.notes:
        if isinstance(el, harmony.Harmony) or not isinstance(el, (note.Note, chord.Chord)):
            continue  # chord symbols, unpitched percussion
        ql = float(el.quarterLength)
        if ql <= 0:
            continue  # grace notes
        off = float(el.offset)
        members = (el,) if isinstance(el, note.Note) else el.notes
        for n in members:
            midi = n.pitch.midi
            if not 0 <= midi <= 127:
                continue
            tie = n.tie or el.tie
            if tie is not None and tie.type in ("stop", "continue"):
                j = open_.get(midi)
                if j is not None and abs(ends[j] - off) < 1e-6:
                    ends[j] = off + ql
                    continue
            open_[midi] = len(starts)
            starts.append(off)
            ends.append(off + ql)
            pitches.append(midi)
    return np.array(starts, np.float64), np.array(ends, np.float64), np.array(pitches, np.int64)


def part_velocities(flat, starts: np.ndarray) -> np.ndarray:
    from music21 import dynamics

    offs, vels = [], []
    for d in flat.getElementsByClass(dynamics.Dynamic):
        v = DYNAMIC_VELOCITY.get(str(d.value))
        if v is None and d.volumeScalar is not None:
            v = int(round(d.volumeScalar * 127))
        if v is not None:
            offs.append(float(d.offset))
            vels.append(v)
    if not offs:
        return np.full(len(starts), DEFAULT_VELOCITY, np.int64)
    order = np.argsort(offs, kind="stable")
    offs_a, vels_a = np.array(offs)[order], np.array(vels)[order]
    k = np.searchsorted(offs_a, starts + 1e-9, side="right") - 1
    return np.where(k >= 0, vels_a[np.maximum(k, 0)], DEFAULT_VELOCITY)


def score_notes(score, vocal: bool = False) -> np.ndarray:
    """All notes of a music21 Score (or a single Part) as a sorted NOTE_DTYPE array in seconds.

    `vocal`: the collection is sung (masses, madrigals, folk songs): declared instruments are notation software's
    defaults (a Finale "Grand Piano" on every voice of a Monteverdi madrigal), so parts go by name and register.
    """
    from music21 import stream

    parts = list(score.parts) if isinstance(score, stream.Score) else [score]
    if any(getattr(p.getInstrument(returnDefault=False), "transposition", None) for p in parts):
        score = score.toSoundingPitch()  # written pitch of a transposing instrument is not what sounds
        parts = list(score.parts) if isinstance(score, stream.Score) else [score]
    flats = [p.flatten() for p in parts]
    marks = [m for f in flats for m in tempo_marks(f)]
    tempo = TempoMap(marks)
    chunks = []
    for part, flat in zip(parts, flats, strict=True):
        s, e, pitch = part_events(flat)
        if len(s) == 0:
            continue
        notes = empty_notes(len(s))
        notes["start"], notes["end"] = tempo(s), tempo(e)
        notes["pitch"] = pitch
        notes["velocity"] = part_velocities(flat, s)
        notes["program"] = part_program(part, pitch, vocal)
        chunks.append(notes)
    if not chunks:
        return empty_notes()
    return sort_notes(np.concatenate(chunks))


def trim_start(notes: np.ndarray) -> np.ndarray:
    """Moves the notes so that the first starts at time 0 (leading silence carries no music)."""
    if len(notes) == 0:
        return notes
    notes = notes.copy()
    t0 = notes["start"].min()
    notes["start"] -= t0
    notes["end"] -= t0
    return notes


__all__ = ["DEFAULT_QPM", "NOTE_DTYPE", "TempoMap", "score_notes", "trim_start"]
