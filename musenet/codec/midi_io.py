"""MIDI files <-> Piece. The only module that imports the MIDI library (symusic, a C++ parser).

Reading applies the file's tempo map (times become seconds), pairs note-ons with note-offs the way symusic does
(each note-off closes the earliest open note of its pitch on its channel; note-offs with nothing open are skipped),
and, by default, applies the sustain pedal: a piano note released while the pedal is down sounds until the pedal
comes up (as Music Transformer does), because the vocabulary has no pedal token.

Writing produces a type-1 file at 120 bpm with 500 ticks per quarter, so one tick is exactly 1 ms: one track per
program, drums on channel 10.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import symusic

from ..files import write_bytes
from .events import DRUMS, NOTE_DTYPE, Piece, empty_notes, sort_notes

TICKS_PER_QUARTER = 500  # at 120 bpm: 1 tick = 1 ms
TEMPO_QPM = 120.0


@dataclass(frozen=True)
class ReadConfig:
    sustain_pedal: bool = True
    """Extend notes held by the sustain pedal (CC64) on pitched tracks."""


def score_from_bytes(data: bytes) -> symusic.Score:
    return symusic.Score.from_midi(data)


# (track name, GM program, pitches of its notes) -> the program to record for the track (see `data.parts`)
ProgramChoice = Callable[[str, int, np.ndarray], int]


def piece_from_score(
    score: symusic.Score,
    cfg: ReadConfig = ReadConfig(),
    title: str = "",
    program_of: ProgramChoice | None = None,
) -> Piece:
    """The notes of every track (symusic gives one per track, channel and program); `program_of` may choose a
    pitched track's program from its name and notes instead of the file's program."""
    sec = score.to("second")
    chunks = []
    for track in sec.tracks:
        if len(track.notes) == 0:
            continue
        arr = track.notes.numpy()
        start = arr["time"].astype(np.float64)
        end = start + arr["duration"].astype(np.float64)
        if cfg.sustain_pedal and not track.is_drum and len(track.pedals):
            end = _apply_pedal(end, track.pedals.numpy())
        notes = empty_notes(len(start))
        notes["start"], notes["end"] = start, end
        notes["pitch"] = arr["pitch"]
        notes["velocity"] = arr["velocity"]
        if track.is_drum:
            notes["program"] = DRUMS
        else:
            notes["program"] = (
                track.program if program_of is None else program_of(track.name, track.program, arr["pitch"])
            )
        chunks.append(notes)
    notes = sort_notes(np.concatenate(chunks)) if chunks else empty_notes()
    return Piece(notes, title=title)


def _apply_pedal(end: np.ndarray, pedals: dict) -> np.ndarray:
    """A note whose release falls inside a pedal-down interval ends when the pedal goes up."""
    p_start = pedals["time"].astype(np.float64)
    p_end = p_start + pedals["duration"].astype(np.float64)
    order = np.argsort(p_start)
    p_start, p_end = p_start[order], p_end[order]
    i = np.searchsorted(p_start, end, side="right") - 1
    inside = (i >= 0) & (end < p_end[np.maximum(i, 0)])
    return np.where(inside, np.maximum(end, p_end[np.maximum(i, 0)]), end)


def read_midi(path: str | Path, cfg: ReadConfig = ReadConfig()) -> Piece:
    """Reads a trusted MIDI file in this process. For files from users, use `codec.safe.load_midi`."""
    path = Path(path)
    return piece_from_score(score_from_bytes(path.read_bytes()), cfg, title=path.stem)


def piece_to_score(piece: Piece) -> symusic.Score:
    score = symusic.Score(TICKS_PER_QUARTER)
    score.tempos.append(symusic.Tempo(0, TEMPO_QPM))
    notes = piece.notes
    ticks_per_second = TICKS_PER_QUARTER * TEMPO_QPM / 60.0
    for program in piece.programs:
        sel = notes[notes["program"] == program]
        start = np.rint(sel["start"] * ticks_per_second).astype(np.int32)
        dur = np.maximum(np.rint(sel["end"] * ticks_per_second).astype(np.int32) - start, 1)
        drum = program == DRUMS
        track = symusic.Track("drums" if drum else f"program {program}", 0 if drum else int(program), drum)
        track.notes = symusic.Note.from_numpy(
            start, dur, sel["pitch"].astype(np.int8), np.clip(sel["velocity"], 1, 127).astype(np.int8)
        )
        score.tracks.append(track)
    return score


def midi_bytes(piece: Piece) -> bytes:
    return piece_to_score(piece).dumps_midi()


def write_midi(piece: Piece, path: str | Path) -> None:
    """Writes atomically: a crash never leaves a half-written file at `path`."""
    write_bytes(path, midi_bytes(piece))


__all__ = ["NOTE_DTYPE", "ReadConfig", "midi_bytes", "piece_from_score", "read_midi", "write_midi"]
