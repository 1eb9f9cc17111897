"""A part's instrument: the GM program a build writes for a MIDI track or a score part, by name, family, register.

The codec maps each GM program onto one of MuseNet's ten instruments and folds notes outside that instrument's
range by octaves (`codec.rules`). A part on the wrong instrument therefore loses its register: in a sequenced
Beethoven symphony the tracks "Cellos" and "Basses" use the string-ensemble program 48, which maps to the violin,
and the bass line comes out two octaves up. So a part's program is chosen the way `m21notes` chooses a voice's:

1. **Name**, where it says one (`NAME_PROGRAMS`: "Violoncello", "Flauto", "Basses"). MIDI track names are
   matched on word starts ("C Sharp" is no harp) and a plain "Bass" is the bass instrument (in a MIDI file it is
   a bass guitar or the double basses); score part names as `m21notes` always did, voices by register.
2. Else the declared program (a MIDI track's program, a score's `<midi-program>`).
3. **Register**: if the instrument the program maps to cannot hold `REGISTER_FIT` of the part's notes, the part
   moves within its family (`FAMILY`) to the first member that can (else the best fit): a viola line the violin
   cannot hold becomes the cello, a low string line the cello or the bass, low brass the trombone (cello) or the
   tuba (bass), a low flute the clarinet. Piano and harp hold nearly everything and stay.

Ranges are those of the default instrument set (`codec.instruments.MUSENET_INSTRUMENTS`): the choice is made when a
file is converted, before any vocabulary (the conversion cache holds GM programs). Drums are not touched here; their
keys are the codec's (`DRUM_KEY_MAP`).
"""

from __future__ import annotations

import re

import numpy as np

from ..codec.events import DRUMS
from ..codec.instruments import MUSENET_INSTRUMENTS

REGISTER_FIT = 0.95  # share of a part's notes that must lie in an instrument's range for it to be chosen

# GM programs of the strings chosen by register, with their ranges (MIDI pitch, inclusive)
VIOLIN, CELLO, CONTRABASS = (40, 55, 103), (42, 36, 84), (43, 28, 67)

# substrings of a part's lower-cased name that make it a voice (sung lines get a string of their register)
VOICE_NAMES = (
    "soprano", "alto", "tenor", "bass", "canto", "cantus", "altus", "quint", "sext", "superius", "discantus",
    "triplum", "motetus", "voice", "vox", "choir", "chorus", "sopran", "tenore", "basso",
)  # fmt: skip
# substrings of a part's lower-cased name -> GM program; checked in order (viola before violin, ...), and
# before VOICE_NAMES (so that "contrabass" is not a sung bass)
NAME_PROGRAMS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("viola", "vla"), 41),
    (("violoncell", "cello", "vc.", "vlc"), 42),
    (("contrabass", "double bass", "kontrabass", "violone", "contrabbass"), 43),
    (("violin", "violino", "vln", "vl."), 40),
    (("flute", "flauto", "flöte", "piccolo", "recorder", "fl."), 73),
    (("oboe", "hautbois", "ob."), 68),
    (("clarinet", "clarinetto", "cl."), 71),
    (("bassoon", "fagott", "fagotto"), 70),
    (("tuba", "sousaphone"), 58),
    (("trombone",), 57),
    (("horn", "corno"), 60),
    (("trumpet", "tromba", "clarino"), 56),
    (("piano", "klavier", "cembalo", "harpsichord", "keyboard", "clavier"), 0),
    (("harp", "arpa"), 46),
    (("guitar", "lute", "liuto", "chitarra", "theorbo"), 24),  # "flute" is matched above
    (("organ", "organo", "orgel"), 19),
)
MIDI_BASS = 33  # a MIDI track named "Bass" (electric bass, fingered)
VOICE_PROGRAMS = (52, 53, 54)  # choir aahs, voice oohs, synth voice

# the instrument (index in MUSENET_INSTRUMENTS) each GM program maps onto, and its range
_INSTRUMENT = {p: k for k, inst in enumerate(MUSENET_INSTRUMENTS) for p in inst.programs if p != DRUMS}
_RANGE = {p: (MUSENET_INSTRUMENTS[k].low, MUSENET_INSTRUMENTS[k].high) for p, k in _INSTRUMENT.items()}

# the programs a part may move to when its own instrument cannot hold it, by the family of its program
_BOWED = (40, 42, 43)  # violin, cello, contrabass
FAMILY: dict[int, tuple[int, ...]] = {
    **{
        p: _BOWED for p, k in _INSTRUMENT.items() if MUSENET_INSTRUMENTS[k].name == "violin"
    },  # strings, voices, pads
    42: (42, 40, 43),
    43: (43, 42),
    **{p: (p, 42) for p in range(32, 40)},  # a bass line too high for the bass: the cello
    47: (47, 42),  # timpani
    **{p: (p, 57, 58) for p in (56, 59, 60, 61, 62, 63)},  # trumpets, horns, brass sections: trombone, tuba
    57: (57, 56, 58),
    58: (58, 57),
    **{p: (p, 70, 43) for p in (64, 65, 66, 67, 68, 69, 71)},  # reeds: bassoon (cello), then the bass
    70: (70, 71, 43),
    **{p: (p, 71, 70) for p in range(72, 80)},  # pipes: clarinet, bassoon
    **{p: (p, MIDI_BASS) for p in (*range(24, 32), *range(80, 88), 104, 105, 106, 107)},  # guitars, leads
}


def fits(program: int, pitches: np.ndarray) -> float:
    """Share of the notes inside the range of the instrument `program` maps to (1.0 for unmapped programs)."""
    if program not in _RANGE or len(pitches) == 0:
        return 1.0
    lo, hi = _RANGE[program]
    return float(((pitches >= lo) & (pitches <= hi)).mean())


def fit_program(program: int, pitches: np.ndarray) -> int:
    """`program`, or the member of its family whose instrument holds the part (see the module docstring)."""
    family = FAMILY.get(program)
    if family is None or fits(program, pitches) >= REGISTER_FIT:
        return program
    shares = [(fits(p, pitches), p) for p in family]
    for share, p in shares:
        if share >= REGISTER_FIT:
            return p
    best = max(shares, key=lambda sp: sp[0])  # the first of the best on a tie: the program itself
    return best[1] if best[0] > fits(program, pitches) else program


def register_program(pitches: np.ndarray) -> int:
    """Violin, cello or contrabass: the first whose range holds REGISTER_FIT of the notes, else the best fit."""
    if len(pitches) == 0:
        return VIOLIN[0]
    fits_ = [
        (float(((pitches >= lo) & (pitches <= hi)).mean()), prog)
        for prog, lo, hi in (VIOLIN, CELLO, CONTRABASS)
    ]
    for share, prog in fits_:
        if share >= REGISTER_FIT:
            return prog
    return max(fits_, key=lambda f: f[0])[1]


def choose_program(names: list[str | None], declared: int | None, pitches: np.ndarray) -> int:
    """A score part's program: by name (instruments first, then voices), else declared, else by register."""
    for name in names:
        name = (name or "").lower()
        for keys, program in NAME_PROGRAMS:
            if any(k in name for k in keys):
                return fit_program(program, pitches)
        if any(k in name for k in VOICE_NAMES):
            return register_program(pitches)
    if declared is not None:
        return fit_program(int(declared), pitches)
    return register_program(pitches)


# MIDI track names: a section's plural ("Basses": the double basses, in a score's choir the sung basses)
MIDI_NAME_PROGRAMS = ((("basses", "cb."), 43), *NAME_PROGRAMS)
_WORD_KEYS = [
    (re.compile(r"(?<![a-zà-ÿ])(?:" + "|".join(re.escape(k) for k in keys) + ")"), program)
    for keys, program in MIDI_NAME_PROGRAMS
]
_BASS = re.compile(r"(?<![a-zà-ÿ])bass(?![a-z])")


def midi_program(name: str, program: int, pitches: np.ndarray) -> int:
    """A pitched MIDI track's program (symusic gives one track per track, channel and program): name, program,
    register (see the module docstring)."""
    name = (name or "").lower()
    for pattern, named in _WORD_KEYS:
        if pattern.search(name):
            return fit_program(named, pitches)
    if _BASS.search(name) and program not in VOICE_PROGRAMS:
        keep = program if program in range(32, 40) or program == 43 else MIDI_BASS
        return fit_program(keep, pitches)
    return fit_program(program, pitches)
