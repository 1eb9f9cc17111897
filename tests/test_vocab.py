import json

import numpy as np
import pytest

from musenet.codec.events import DRUMS
from musenet.codec.instruments import MUSENET_INSTRUMENTS, Instrument
from musenet.codec.vocab import Vocab, VocabConfig


def test_default_vocab_invariants():
    vocab = Vocab()
    vocab.check()
    # near MuseNet's ~4,800 tokens
    assert 4000 <= vocab.size <= 6000
    assert [i.name for i in vocab.config.instruments] == [
        "piano", "violin", "cello", "bass", "guitar", "flute", "clarinet", "trumpet", "harp", "drums",
    ]  # fmt: skip
    # blocks are contiguous and ordered: notes, waits, styles, instruments, start, end, pad
    kinds = [vocab.kind(t) for t in range(vocab.size)]
    order = ["note", "wait", "style", "instrument", "start", "end", "pad"]
    firsts = [kinds.index(k) for k in order]
    assert firsts == sorted(firsts) and firsts[0] == 0
    assert kinds.count("wait") == vocab.config.max_wait
    assert kinds.count("style") == len(vocab.config.styles)


def test_every_gm_program_maps_somewhere():
    vocab = Vocab()
    table = vocab.program_to_instrument
    assert table.shape == (DRUMS + 1,)
    names = [i.name for i in vocab.config.instruments]
    assert names[table[0]] == "piano" and names[table[40]] == "violin" and names[table[42]] == "cello"
    assert names[table[33]] == "bass" and names[table[25]] == "guitar" and names[table[73]] == "flute"
    assert names[table[71]] == "clarinet" and names[table[56]] == "trumpet" and names[table[46]] == "harp"
    assert names[table[DRUMS]] == "drums"
    assert all(table[p] == -1 for p in vocab.config.dropped_programs)
    assert (table >= 0).sum() + len(vocab.config.dropped_programs) == DRUMS + 1


def test_note_names_and_ids_agree():
    vocab = Vocab()
    piano = 0
    tid = int(vocab.note_id(piano, 5, 60))
    assert vocab.name(tid) == f"piano:v{vocab.velocity_values[4]}:C4"
    assert vocab.name(int(vocab.note_id(piano, 0, 60))) == "piano:v0:C4"
    drums = 9
    assert vocab.name(int(vocab.note_id(drums, 1, 36))).startswith("drums:v")
    assert vocab.ids_by_name["start"] == vocab.start
    assert vocab.name(int(vocab.wait_id(12))) == "wait:12"


def test_config_json_roundtrip_and_validation():
    cfg = VocabConfig()
    again = VocabConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and Vocab(again).size == Vocab(cfg).size
    with pytest.raises(ValueError):
        VocabConfig(instruments=MUSENET_INSTRUMENTS[:-1])  # the drum channel would map nowhere
    with pytest.raises(ValueError):
        Instrument("tiny", 60, 65, 0, (0,))  # a range under an octave cannot fold pitches


def test_another_instrument_set_builds():
    # a two-instrument vocabulary: everything pitched is piano, drums stay drums
    piano = Instrument("piano", 21, 108, 0, tuple(range(120)))
    drums = Instrument("drums", 35, 81, DRUMS, (DRUMS,), drums=True)
    vocab = Vocab(VocabConfig(instruments=(piano, drums), styles=("unknown", "x"), velocity_bins=4))
    vocab.check()
    assert vocab.n_notes == 88 * 5 + 47 * 4
    assert np.all(vocab.program_to_instrument[:120] == 0)
