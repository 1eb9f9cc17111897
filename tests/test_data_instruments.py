"""A part's instrument by name, family and register (`data.parts`), and drum kits mapped onto GM, on real music.

Orchestral and chamber scores of music21's corpus are written as MIDI the way a sequencer writes them (one named
track per part, every string and voice on the string-ensemble program 48); the build must keep >= 98 % of their
pitched notes at their own pitch. ../shared's MIDI files, OpenScore quartets and Groove are extra coverage.
"""

from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED  # ../shared, or $MUSENET_SHARED

from musenet.codec.events import DRUMS, Piece
from musenet.codec.midi_io import ReadConfig
from musenet.codec.rules import clean
from musenet.codec.safe import Limits, parse
from musenet.codec.vocab import Vocab
from musenet.data.build import BuildConfig, build
from musenet.data.parts import choose_program, fit_program, midi_program

VIOLA_LINE = np.array([48, 50, 53, 55, 57, 60, 62, 65, 67, 52])  # from C3: below the violin's G3
BASS_LINE = np.array([28, 31, 33, 36, 38, 40, 43, 45, 40, 35])  # down to E1
VIOLIN_LINE = np.array([67, 69, 71, 72, 74, 76, 79, 84])


def test_name_family_and_register():
    assert midi_program("Viola", 48, VIOLA_LINE) == 42  # the violin cannot hold it: the cello
    assert midi_program("Violins I", 48, VIOLIN_LINE) == 40
    assert midi_program("Cellos", 48, VIOLA_LINE) == 42
    assert midi_program("Basses", 48, BASS_LINE) == 43  # the double basses, not a violin 3 octaves up
    assert midi_program("", 48, BASS_LINE) == 43  # no name: the string family by register
    assert midi_program("Strings", 48, VIOLIN_LINE) == 48  # a line the violin holds keeps its program
    assert midi_program("Bass", 87, BASS_LINE + 12) == 33  # a "Bass" on a synth-lead program is the bass
    assert midi_program("C Sharp Minor", 0, VIOLIN_LINE) == 0  # no harp in "sharp"
    assert midi_program("Tuba", 0, BASS_LINE) == 58
    assert fit_program(56, BASS_LINE + 12) in (57, 58)  # low brass: trombone (cello) or tuba (bass)
    assert fit_program(61, BASS_LINE) == 58
    assert fit_program(73, np.array([52, 55, 57, 60, 62, 65])) == 71  # a flute line below the flute: clarinet
    assert fit_program(73, VIOLA_LINE) == 70  # down to C3: the bassoon (cello)
    assert fit_program(0, BASS_LINE) == 0  # the piano holds everything
    # score parts: instruments by name, voices by register
    assert choose_program(["Viola"], 41, VIOLA_LINE) == 42
    assert choose_program(["Bass"], 52, BASS_LINE + 12) == 42  # a sung bass: the cello
    assert choose_program(["Violino I"], None, VIOLIN_LINE) == 40


def folded_share(files: list[Path], program_of) -> float:
    vocab = Vocab()
    pitched = folded = 0
    for f in files:
        notes = parse(f.read_bytes(), Limits(), ReadConfig(), program_of=program_of)
        pitched += int((notes["program"] != DRUMS).sum())
        folded += clean(Piece(notes), vocab)[1]["pitch_folded"]
    return folded / pitched


def write_as_sequenced(src: Path, dst: Path) -> None:
    """A score as a sequencer writes it: a named track per part; strings and voices on program 48."""
    import symusic

    from musenet.data.m21notes import TempoMap
    from musenet.data.musicxml import read_musicxml, xml_bytes

    _, tempos, parts = read_musicxml(xml_bytes(str(src)))
    tempo = TempoMap(tempos)
    score = symusic.Score(480)
    score.tempos.append(symusic.Tempo(0, 120.0))  # 960 ticks a second
    for part in parts:
        start, end, pitch, velocity = part.arrays()
        if not len(start):
            continue
        program = part.program if part.program is not None else 0
        if 40 <= program <= 43 or 52 <= program <= 54 or (program == 0 and "piano" not in part.name.lower()):
            program = 48
        track = symusic.Track(part.name.replace("\n", " "), program, False)
        a = np.rint(tempo(start) * 960).astype(np.int32)
        b = np.maximum(np.rint(tempo(end) * 960).astype(np.int32) - a, 1)
        track.notes = symusic.Note.from_numpy(a, b, pitch.astype(np.int8), velocity.astype(np.int8))
        score.tracks.append(track)
    score.dump_midi(str(dst))


ORCHESTRAL = [
    "bach/bwv190.7-inst.mxl",  # trumpets, timpani, oboes, strings, choir, continuo
    "bach/bwv248.42-4.mxl",  # horns, oboes, strings, choir, organ
    "beethoven/opus18no1/movement1.mxl",
    "haydn/opus74no1/movement1.mxl",
]


def test_orchestral_midi_keeps_its_pitches(tmp_path):
    pytest.importorskip("music21")
    from musenet.data.corpus import corpus_root

    root = tmp_path / "orchestra"
    root.mkdir()
    for rel in ORCHESTRAL:
        write_as_sequenced(corpus_root() / rel, root / (rel.replace("/", "_")[:-4] + ".mid"))
    files = sorted(root.iterdir())
    before, after = folded_share(files, None), folded_share(files, midi_program)
    assert before > 0.05  # by program alone, the cellos and basses are violins folded up by octaves
    assert after < 0.02
    meta = build(BuildConfig(source=str(root), out=tmp_path / "out", workers=2, progress=False))
    assert meta["folded"]["midi"]["share"] == pytest.approx(
        after, abs=2e-3
    )  # files in the root: source `midi`


@pytest.mark.skipif(not (SHARED / "midi").is_dir(), reason="../shared/midi is not beside the repo")
def test_real_midi_files_fold_less():
    from conftest import loadable_files

    files = loadable_files()
    before, after = folded_share(files, None), folded_share(files, midi_program)
    assert after < before and after < 0.01


QUARTETS = SHARED / "datasets" / "openscore-quartets"


@pytest.mark.skipif(not QUARTETS.is_dir(), reason="../shared/datasets is not beside the repo")
def test_openscore_quartets_as_sequenced_midi(tmp_path):
    files = []
    for src in sorted(QUARTETS.rglob("*.mxl"))[::20]:
        files.append(tmp_path / (src.stem + ".mid"))
        write_as_sequenced(src, files[-1])
    assert folded_share(files, None) > 0.05 and folded_share(files, midi_program) < 0.02


GROOVE = SHARED / "datasets" / "groove"


@pytest.mark.skipif(not GROOVE.is_dir(), reason="../shared/datasets is not beside the repo")
def test_groove_e_kit_keys_are_kept():
    vocab = Vocab()
    counts: dict[str, int] = {}
    for f in sorted(GROOVE.rglob("*.mid"))[::25]:
        for k, v in clean(Piece(parse(f.read_bytes(), Limits(), ReadConfig())), vocab)[1].items():
            counts[k] = counts.get(k, 0) + v
    assert counts.get("drum_mapped", 0) > 0 and counts.get("drum_out_of_range", 0) == 0
