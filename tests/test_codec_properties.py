"""The codec's invariants over generated pieces and streams (Hypothesis), beyond the real files of test_roundtrip:

- any piece the loader can return (finite times from 0, notes that end after they start, MIDI ranges) encodes,
  and the encoder's stream decodes with no repairs, is in the grammar's language, and is a fixed point through
  decode and through a MIDI file;
- the decoder takes any token stream (a model's, or garbage) without raising, and returns a piece the loader's own
  checks accept.
"""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from musenet.codec.decode import decode
from musenet.codec.encode import encode
from musenet.codec.events import DRUMS, Piece, make_notes
from musenet.codec.grammar import Grammar
from musenet.codec.midi_io import midi_bytes, piece_from_score, score_from_bytes
from musenet.codec.safe import Limits, check_notes
from musenet.codec.vocab import Vocab

VOCAB = Vocab()
PROGRAMS = sorted({p for inst in VOCAB.config.instruments for p in inst.programs} | {DRUMS, 5, 120})

note = st.tuples(
    st.floats(0, 30, allow_nan=False),  # start, s
    st.floats(0, 8, allow_nan=False),  # length, s (0: a zero-length note, which the rules stretch)
    st.integers(0, 127),  # pitch
    st.integers(0, 127),  # velocity
    st.sampled_from(PROGRAMS),
)


@st.composite
def pieces(draw, max_notes=60) -> Piece:
    rows = draw(st.lists(note, max_size=max_notes))
    if not rows:
        return Piece()
    start, length, pitch, velocity, program = (np.array(c) for c in zip(*rows, strict=True))
    return Piece(make_notes(start, start + length, pitch, velocity, program))


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(pieces())
def test_every_loadable_piece_encodes_and_decodes_without_repairs(piece):
    check_notes(piece.notes, Limits())  # what the loader may return
    enc = encode(piece, VOCAB)
    assert enc.ids[-1] == VOCAB.end and len(enc.positions.time) == len(enc.ids)
    back, repairs = decode(enc.ids, VOCAB)
    assert not repairs, repairs
    assert np.array_equal(encode(back, VOCAB).ids, enc.ids)  # a fixed point
    reread = piece_from_score(score_from_bytes(midi_bytes(back)))
    assert np.array_equal(encode(reread, VOCAB).ids, enc.ids)  # also through a MIDI file


@SETTINGS
@given(pieces(max_notes=25))
def test_the_grammar_accepts_every_encoded_stream(piece):
    enc = encode(piece, VOCAB)
    insts = np.unique(VOCAB.note_table[enc.ids[enc.ids < VOCAB.n_notes], 0])
    g = Grammar(VOCAB, 1, insts.tolist(), enc.duration)
    start = int(np.flatnonzero(enc.ids == VOCAB.start)[0])
    for t in enc.ids[: start + 1]:
        g.push(np.array([t]))
    for i, t in enumerate(enc.ids[start + 1 :]):
        assert g.mask()[0][t], f"token {i} {VOCAB.name(int(t))} was not allowed"
        g.push(np.array([t]))


@SETTINGS
@given(st.lists(st.integers(0, VOCAB.size - 1), max_size=400))
def test_any_token_stream_decodes_to_a_loadable_piece(ids):
    piece, _ = decode(np.array(ids, dtype=np.int64), VOCAB)
    check_notes(piece.notes, Limits())
    midi_bytes(piece)  # and it can be written
