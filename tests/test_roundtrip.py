"""decode(encode(x)) equals x after the codec's documented quantisation, over every real file at hand: the MIDI
files shipped inside music21 (every clone), and those in ../shared/midi where present.

The expected notes are computed here from the rules as written in `codec.rules` (program -> instrument, times
rounded to 10 ms, pitches folded by octaves, equal velocity bins), independently of the codec's own code.
"""

from collections import Counter

import numpy as np
import pytest
from conftest import CORRUPT, corrupt_copy, loadable_files, packaged_midi_files, shared_midi_files

from musenet.codec.decode import decode
from musenet.codec.encode import encode
from musenet.codec.midi_io import midi_bytes, piece_from_score, score_from_bytes
from musenet.codec.safe import MidiError, SafeLoader
from musenet.codec.vocab import Vocab

VOCAB = Vocab()
CFG = VOCAB.config
UNIT = CFG.time_unit_ms / 1000
PROGRAM_TO_INST = {p: k for k, inst in enumerate(CFG.instruments) for p in inst.programs}


@pytest.fixture(scope="module")
def pieces():
    with SafeLoader() as loader:
        return {p: loader.load(p) for p in loadable_files()}


def expected_notes(piece):
    """(instrument, pitch, velocity bin, onset unit, offset unit, original start, original end) per kept note."""
    rows = []
    for start, end, pitch, vel, program in piece.notes.tolist():
        if program not in PROGRAM_TO_INST:
            continue
        k = PROGRAM_TO_INST[program]
        inst = CFG.instruments[k]
        if inst.drums and not inst.low <= pitch <= inst.high:
            continue
        while pitch < inst.low:
            pitch += 12
        while pitch > inst.high:
            pitch -= 12
        vbin = min(CFG.velocity_bins - 1, (max(vel, 1) - 1) * CFG.velocity_bins // 127)
        rows.append((k, pitch, vbin, round(start / UNIT), round(end / UNIT), start, end))
    return rows


def decoded_notes(piece):
    rows = []
    for start, end, pitch, vel, program in piece.notes.tolist():
        k = PROGRAM_TO_INST[program]
        vbin = (vel - 1) * CFG.velocity_bins // 127
        rows.append((k, pitch, vbin, round(start / UNIT), round(end / UNIT), start, end))
    return rows


def test_the_fixture_files_are_there():
    assert len(packaged_midi_files()) >= 20, "music21 ships 23 MIDI files"
    files = shared_midi_files()
    assert not files or len(files) > 100, "../shared/midi, where present, holds ~111 MIDI files"
    assert len(loadable_files()) == len(packaged_midi_files()) + len(files) - len(CORRUPT) * bool(files)


@pytest.mark.parametrize("path", loadable_files(), ids=lambda p: p.name)
def test_roundtrip_within_quantisation(path, pieces):
    piece = pieces[path]
    enc = encode(piece, VOCAB)
    back, repairs = decode(enc.ids, VOCAB)
    assert not repairs, f"the decoder had to repair the encoder's own stream: {repairs}"
    counts = enc.counts
    want, got = expected_notes(piece), decoded_notes(back)

    # every decoded note is one of the input's notes: same instrument, pitch, velocity bin and onset unit
    want_keys = Counter(r[:4] for r in want)
    got_keys = Counter(r[:4] for r in got)
    assert not got_keys - want_keys, "decoded notes that were not in the input"
    missing = sum((want_keys - got_keys).values())
    assert missing == counts["duplicate"] + counts["chord_dropped"]

    # onsets within half a unit, offsets within half a unit unless a written rule moved them
    by_key = {}
    for r in want:
        by_key.setdefault(r[:4], []).append(r)
    moved = 0
    for r in got:
        cands = by_key[r[:4]]
        assert all(abs(c[5] - r[5]) <= UNIT / 2 + 1e-9 for c in cands)
        if CFG.instruments[r[0]].drums or len(cands) != 1:
            continue
        orig_end = cands[0][6]
        if abs(orig_end - r[6]) > UNIT / 2 + 1e-9:
            moved += 1
            cut_short = r[6] < orig_end
            stretched_to_one_unit = r[4] == r[3] + 1
            assert cut_short or stretched_to_one_unit
    assert moved <= counts["overlap_cut"] + counts["polyphony_cut"] + counts["zero_length"]


@pytest.mark.parametrize("path", loadable_files()[::4], ids=lambda p: p.name)
def test_encoding_is_a_fixed_point_through_midi(path, pieces):
    """Encoding the decoded piece, also after writing and re-reading it as MIDI, gives the same tokens."""
    enc = encode(pieces[path], VOCAB)
    back, _ = decode(enc.ids, VOCAB)
    assert np.array_equal(encode(back, VOCAB).ids, enc.ids)
    reread = piece_from_score(score_from_bytes(midi_bytes(back)))
    assert np.array_equal(encode(reread, VOCAB).ids, enc.ids)
    np.testing.assert_allclose(np.sort(reread.notes["start"]), np.sort(back.notes["start"]), atol=1e-3)


def test_corrupt_files_raise_midierror(tmp_path):
    corrupt = [corrupt_copy(p, tmp_path / f"cut-{p.name}") for p in packaged_midi_files()[:5]]
    shared = [p for p in shared_midi_files() if p.name in CORRUPT]
    assert not shared_midi_files() or len(shared) == len(CORRUPT)
    corrupt += shared
    with SafeLoader() as loader:
        for path in corrupt:
            with pytest.raises(MidiError) as err:
                loader.load(path)
            msg = str(err.value)
            assert path.name in msg and "\n" not in msg
