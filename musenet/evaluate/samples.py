"""The pieces to judge: samples from scratch per style, with instrument sets taken from real pieces of that style.

For each style, each of the N samples takes the instrument set of a real piece of the style drawn at random
(seeded); samples that drew the same set are generated as one batch (`Composer.generate(candidates=...)`), which is
what makes a CPU evaluation affordable. Seeds: `seed + 1000 * style number + batch number`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..codec.events import Piece


@dataclass
class Sample:
    style: str
    instruments: tuple[str, ...]  # asked for
    seconds: float  # asked for
    seed: int
    piece: Piece | None = None  # None: generation failed
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    repairs: Counter = field(default_factory=Counter)
    playing: list[str] = field(default_factory=list)  # instruments that play at least one note
    error: str | None = None

    @property
    def valid(self) -> bool:
        """Decoded with no repairs, and holds at least one note."""
        return self.piece is not None and not self.repairs and len(self.piece) > 0


def draw_instruments(sets: list[tuple[str, ...]], n: int, rng: np.random.Generator) -> list[tuple[str, ...]]:
    """n instrument sets drawn (with replacement) from the real pieces' sets; piano if there are none."""
    sets = [s for s in sets if s] or [("piano",)]
    return [sets[int(i)] for i in rng.integers(0, len(sets), n)]


def generate_style(
    composer,
    style: str,
    sets: list[tuple[str, ...]],
    n: int,
    seconds: float,
    seed: int,
    sampling: dict,
) -> list[Sample]:
    """n samples of `style`; `sampling` holds temperature, top_k, top_p, guidance."""
    drawn = draw_instruments(sets, n, np.random.default_rng(seed))
    groups = Counter(drawn)
    out: list[Sample] = []
    for b, (inst, count) in enumerate(sorted(groups.items())):
        s = seed + b
        try:
            cands = composer.generate(
                style=style, instruments=inst, seconds=seconds, candidates=count, seed=s, **sampling
            )
        except Exception as e:  # noqa: BLE001 -- a failed batch is counted and reported as invalid samples
            reason = f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"
            out += [Sample(style, inst, seconds, s, error=reason) for _ in range(count)]
            continue
        for c in cands:
            out.append(
                Sample(style, inst, seconds, s, c.piece, np.asarray(c.ids), c.repairs, list(c.instruments))
            )
    return out


def generate_all(
    composer, plan: dict[str, list[tuple[str, ...]]], n: int, seconds: float, seed: int, sampling: dict
) -> list[Sample]:
    """n samples for every style of `plan` (style -> the real pieces' instrument sets)."""
    out: list[Sample] = []
    for k, (style, sets) in enumerate(plan.items()):
        out += generate_style(composer, style, sets, n, seconds, seed + 1000 * k, sampling)
    return out


def save_midi(samples: list[Sample], folder: Path) -> list[str]:
    """Writes each generated sample as `{style}-{k}.mid` (k from 1 per style); returns the file names."""
    from ..codec.midi_io import write_midi

    folder.mkdir(parents=True, exist_ok=True)
    names, seen = [], Counter()
    for s in samples:
        if s.piece is None:
            continue
        seen[s.style] += 1
        name = f"{s.style}-{seen[s.style]}.mid"
        write_midi(s.piece, folder / name)
        names.append(name)
    return names


def adherence(samples: list[Sample]) -> dict:
    """Validity, instruments and length over the samples (see the report for definitions)."""
    n = len(samples)
    ok = [s for s in samples if s.piece is not None]
    if not n:
        return {"count": 0}
    prec, rec, got, err = [], [], [], []
    for s in ok:
        asked, playing = set(s.instruments), set(s.playing)
        prec.append(len(asked & playing) / len(playing) if playing else 1.0)
        rec.append(len(asked & playing) / len(asked))
        got.append(s.piece.duration)
        err.append(abs(s.piece.duration - s.seconds))
    asked_s = [s.seconds for s in ok]

    def mean(x: list[float]) -> float | None:
        return float(np.mean(x)) if x else None

    return {
        "count": n,
        "generated": len(ok),
        "validity": sum(s.valid for s in samples) / n,
        "nonempty": sum(s.piece is not None and len(s.piece) > 0 for s in samples) / n,
        "repaired": sum(bool(s.repairs) for s in ok) / n,
        "instrument_precision": mean(prec),
        "instrument_recall": mean(rec),
        "instrument_exact": mean([float(set(s.instruments) == set(s.playing)) for s in ok]),
        "seconds_asked": mean(asked_s),
        "seconds_got": mean(got),
        "length_abs_error_s": mean(err),
        "length_ratio": mean([g / a for g, a in zip(got, asked_s, strict=True)]),
    }
