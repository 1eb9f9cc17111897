"""Per-piece music statistics on the codec's events (numpy only).

Our pieces are in seconds, with no beat grid, so "bar" and "beat" are fixed windows (`Grid`): a beat is 0.5 s and
a bar 2 s (4/4 at 120 bpm), split into 16 steps of 0.125 s for onset patterns. This is a convention, not an
analysis: for music far from 120 bpm the per-bar and groove numbers measure regularity against that grid. Real and
generated pieces are measured on the same grid, which is what the comparison needs.

A piece's span is [0, its last note's end). Pitch statistics use pitched notes only; drums (program 128) count for
onsets, inter-onset intervals, empty beats and groove. The scalar features (`SCALARS`):

- `pitch_class_entropy`: Shannon entropy (bits) of the pitch-class histogram of note-ons (0 with no notes).
- `pitch_classes_per_bar`: distinct pitch classes starting in a bar, averaged over bars with a pitched onset.
- `scale_consistency`: the largest share of note-ons inside one of the 12 diatonic (major / natural-minor) scales.
- `polyphony`: time-weighted mean number of sounding pitched notes while at least one sounds.
- `polyphony_rate`: share of the sounding time with >= 2 pitched notes (muspy's default counts >= 3: not the same).
- `pitch_range`: highest minus lowest pitch, semitones.
- `pitch_mean`: mean pitch of the note-ons.
- `notes_per_second`: note-ons (drums included) per second of span.
- `ioi`: mean inter-onset interval between distinct onset moments, seconds (0 with < 2 moments).
- `note_length`: mean pitched note length, seconds.
- `empty_beat_rate`: share of beats in the span where no note sounds; a note ending exactly on a beat's start does
  not fill it (muspy counts it: not the same).
- `groove_consistency`: 1 - mean Hamming distance / 16 between the onset patterns of adjacent bars (all notes);
  1.0 with fewer than 2 bars.
- `drum_pattern_consistency`: the same on drum onsets only; NaN (left out of its distribution) with no drums.

Vector features (`VECTORS`): `note_length_hist` (7 bins of seconds, edges 1/16, 1/8, 1/4, 1/2, 1, 2 s: a 32nd
note up to a whole note at 120 bpm), `pitch_class_hist` (12, counts normalised), `ioi_hist` (7 bins, same edges),
`interval_hist` (13 bins: |interval| 0..12+ between successive top notes of the onset moments).
An empty piece gives zeros (empty-beat rate 1, groove 1), never NaN except the drum feature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..codec.events import DRUMS, Piece

# note lengths and inter-onset intervals, seconds: a 32nd, 16th, 8th, quarter, half and whole note at 120 bpm
LENGTH_EDGES = np.array([0.0, 0.0625, 0.125, 0.25, 0.5, 1.0, 2.0, np.inf])
MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
SCALARS = (
    "pitch_class_entropy",
    "pitch_classes_per_bar",
    "scale_consistency",
    "polyphony",
    "polyphony_rate",
    "pitch_range",
    "pitch_mean",
    "notes_per_second",
    "ioi",
    "note_length",
    "empty_beat_rate",
    "groove_consistency",
    "drum_pattern_consistency",
)
VECTORS = ("note_length_hist", "pitch_class_hist", "ioi_hist", "interval_hist")


@dataclass(frozen=True)
class Grid:
    """The fixed time grid standing in for bars and beats (our events are in seconds)."""

    beat_seconds: float = 0.5
    """One "beat": 0.5 s (a quarter note at 120 bpm)."""
    bar_seconds: float = 2.0
    """One "bar": 2 s (four beats)."""
    steps_per_bar: int = 16
    """Onset-pattern resolution for groove: 16 steps of 0.125 s."""

    def __post_init__(self) -> None:
        if not (0 < self.beat_seconds <= self.bar_seconds and self.steps_per_bar >= 1):
            raise ValueError("need 0 < beat_seconds <= bar_seconds and steps_per_bar >= 1")


def _split(piece: Piece) -> tuple[np.ndarray, np.ndarray]:
    n = piece.notes
    drum = n["program"] == DRUMS
    return n[~drum], n[drum]


def _hist(values: np.ndarray, bins: int) -> np.ndarray:
    h = np.bincount(values, minlength=bins)[:bins].astype(np.float64)
    return h / h.sum() if h.sum() else h


def pitch_class_hist(pitched: np.ndarray) -> np.ndarray:
    return _hist(pitched["pitch"].astype(np.int64) % 12, 12)


def entropy_bits(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum()) if len(p) else 0.0


def scale_fit(pitched: np.ndarray) -> tuple[float, int]:
    """(largest share of note-ons in one diatonic scale, that scale's major tonic 0..11)."""
    if not len(pitched):
        return 0.0, 0
    h = np.bincount(pitched["pitch"].astype(np.int64) % 12, minlength=12)
    inside = np.array([h[(MAJOR + t) % 12].sum() for t in range(12)])
    t = int(np.argmax(inside))
    return float(inside[t] / h.sum()), t


def pitch_classes_per_bar(pitched: np.ndarray, grid: Grid) -> float:
    if not len(pitched):
        return 0.0
    bar = np.floor(pitched["start"] / grid.bar_seconds).astype(np.int64)
    pairs = np.unique(bar * 12 + pitched["pitch"].astype(np.int64) % 12)
    return float(len(pairs) / len(np.unique(bar)))


def polyphony(pitched: np.ndarray) -> tuple[float, float]:
    """(time-weighted mean sounding notes while any sounds, share of that time with >= 2 sounding)."""
    if not len(pitched):
        return 0.0, 0.0
    t = np.concatenate([pitched["start"], pitched["end"]])
    d = np.concatenate([np.ones(len(pitched)), -np.ones(len(pitched))])
    order = np.lexsort((d, t))  # at one instant, ends (-1) before starts
    t, d = t[order], d[order]
    count = np.cumsum(d)[:-1]  # sounding notes on [t_i, t_i+1)
    dt = np.diff(t)
    on = count > 0
    total = float(dt[on].sum())
    if total <= 0:
        return 0.0, 0.0
    return float((count[on] * dt[on]).sum() / total), float(dt[count >= 2].sum() / total)


def onset_moments(notes: np.ndarray) -> np.ndarray:
    return np.unique(np.round(notes["start"], 6))


def empty_beat_rate(notes: np.ndarray, span: float, grid: Grid) -> float:
    n_beats = int(np.ceil(span / grid.beat_seconds - 1e-9))
    if n_beats <= 0:
        return 1.0
    filled = np.zeros(n_beats + 1, dtype=np.int64)
    first = np.floor(notes["start"] / grid.beat_seconds + 1e-9).astype(np.int64)
    # exclusive: a note ending exactly on a boundary does not fill the next beat
    last = np.ceil(notes["end"] / grid.beat_seconds - 1e-9).astype(np.int64)
    last = np.maximum(last, first + 1)
    np.add.at(filled, np.clip(first, 0, n_beats), 1)
    np.add.at(filled, np.clip(last, 0, n_beats), -1)
    return float(np.mean(np.cumsum(filled)[:n_beats] == 0))


def pattern_consistency(starts: np.ndarray, span: float, grid: Grid) -> float:
    """1 - mean Hamming distance / steps between adjacent bars' binary onset patterns; 1.0 with < 2 bars."""
    n_bars = int(np.ceil(span / grid.bar_seconds - 1e-9))
    if n_bars < 2:
        return 1.0
    step = grid.bar_seconds / grid.steps_per_bar
    cell = np.floor(starts / step + 1e-9).astype(np.int64)
    cell = cell[cell < n_bars * grid.steps_per_bar]
    pattern = np.zeros(n_bars * grid.steps_per_bar, dtype=bool)
    pattern[cell] = True
    pattern = pattern.reshape(n_bars, grid.steps_per_bar)
    return float(1.0 - np.mean(pattern[1:] != pattern[:-1]))


def interval_hist(pitched: np.ndarray) -> np.ndarray:
    """|interval| (0..12, larger clipped) between the top notes of successive onset moments."""
    if len(pitched) < 2:
        return np.zeros(13)
    t = np.round(pitched["start"], 6)
    order = np.lexsort((pitched["pitch"], t))
    t, p = t[order], pitched["pitch"][order].astype(np.int64)
    last_of_moment = np.r_[t[1:] != t[:-1], True]
    top = p[last_of_moment]
    return _hist(np.minimum(np.abs(np.diff(top)), 12), 13)


def features(piece: Piece, grid: Grid = Grid()) -> dict[str, float | np.ndarray]:
    """All scalar and vector features of one piece (see the module docstring)."""
    pitched, drums = _split(piece)
    notes = piece.notes
    span = piece.duration
    pch = pitch_class_hist(pitched)
    poly, poly_rate = polyphony(pitched)
    moments = onset_moments(notes)
    lengths = pitched["end"] - pitched["start"]
    out: dict[str, float | np.ndarray] = {
        "pitch_class_entropy": entropy_bits(pch),
        "pitch_classes_per_bar": pitch_classes_per_bar(pitched, grid),
        "scale_consistency": scale_fit(pitched)[0],
        "polyphony": poly,
        "polyphony_rate": poly_rate,
        "pitch_range": float(np.ptp(pitched["pitch"])) if len(pitched) else 0.0,
        "pitch_mean": float(pitched["pitch"].mean()) if len(pitched) else 0.0,
        "notes_per_second": float(len(notes) / span) if span > 0 else 0.0,
        "ioi": float(np.diff(moments).mean()) if len(moments) > 1 else 0.0,
        "note_length": float(lengths.mean()) if len(lengths) else 0.0,
        "empty_beat_rate": empty_beat_rate(notes, span, grid),
        "groove_consistency": pattern_consistency(notes["start"], span, grid),
        "drum_pattern_consistency": pattern_consistency(drums["start"], span, grid) if len(drums) else np.nan,
        "note_length_hist": _hist(np.digitize(lengths, LENGTH_EDGES[1:-1]), 7),
        "pitch_class_hist": pch,
        "ioi_hist": _hist(np.digitize(np.diff(moments), LENGTH_EDGES[1:-1]), 7),
        "interval_hist": interval_hist(pitched),
    }
    return out


def classifier_vector(f: dict[str, float | np.ndarray], piece: Piece) -> np.ndarray:
    """The style classifier's input: statistics of the events only (no instruments, no tokens, no model).

    The pitch-class histogram is rotated to the best-fitting scale's tonic, so a transposed piece (the generator
    trains with transposition) looks the same; the drum feature becomes 0 without drums plus a has-drums flag.
    """
    pitched, drums = _split(piece)
    tonic = scale_fit(pitched)[1]
    pch = np.roll(np.asarray(f["pitch_class_hist"]), -tonic)
    scalars = [float(f[k]) for k in SCALARS if k != "drum_pattern_consistency"]
    has_drums = float(len(drums) > 0)
    drum = float(f["drum_pattern_consistency"]) if has_drums else 0.0
    std = float(pitched["pitch"].std()) if len(pitched) else 0.0
    rest = [f["note_length_hist"], f["ioi_hist"], f["interval_hist"]]
    return np.concatenate([pch, *rest, scalars, [has_drums, drum, std]]).astype(np.float64)
