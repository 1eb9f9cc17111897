"""Memorisation finds a planted copy of known length, exactly or transposed, and nothing in unrelated music."""

import numpy as np

from musenet.codec.encode import encode
from musenet.codec.events import DRUMS, Piece, make_notes
from musenet.codec.vocab import Vocab
from musenet.evaluate.memorise import MemoConfig, MemoIndex, note_codes

VOCAB = Vocab()


def random_notes(rng, n: int, t0: float = 0.0) -> np.ndarray:
    starts = t0 + np.cumsum(rng.integers(5, 40, n)) * 0.01
    return make_notes(starts, starts + 0.05, rng.integers(48, 84, n), 80, 0)


def ids(notes: np.ndarray) -> np.ndarray:
    return encode(Piece(notes), VOCAB).ids


def planted(
    rng, train: list[np.ndarray], source: int, at: int, length: int, transpose: int = 0
) -> np.ndarray:
    """Random notes, then `length` notes copied from train[source][at:], then random notes again."""
    head = random_notes(rng, 40)
    copy = train[source][at : at + length].copy()
    shift = head["start"][-1] + 0.3 - copy["start"][0]
    copy["start"] += shift
    copy["end"] += shift
    copy["pitch"] += transpose
    tail = random_notes(rng, 40, t0=copy["start"][-1] + 0.3)
    return np.concatenate([head, copy, tail])


def test_finds_a_planted_copy_of_known_length():
    rng = np.random.default_rng(0)
    train = [random_notes(rng, 300) for _ in range(30)]
    index = MemoIndex([note_codes(ids(t), VOCAB, MemoConfig()) for t in train])
    query = planted(rng, train, source=7, at=100, length=25)
    m = index.longest(note_codes(ids(query), VOCAB, MemoConfig()))
    assert (m.length, m.piece, m.at) == (25, 7, 40)
    # unrelated music shares nothing of 8 notes or more
    assert index.longest(note_codes(ids(random_notes(rng, 200)), VOCAB, MemoConfig())).length == 0


def test_transposed_copy_needs_the_invariant_mode():
    rng = np.random.default_rng(1)
    train = [random_notes(rng, 200) for _ in range(10)]
    query = ids(planted(rng, train, source=3, at=50, length=20, transpose=-3))
    exact = MemoIndex([note_codes(ids(t), VOCAB, MemoConfig()) for t in train])
    assert exact.longest(note_codes(query, VOCAB, MemoConfig())).length == 0
    cfg = MemoConfig(transpose_invariant=True)
    inv = MemoIndex([note_codes(ids(t), VOCAB, cfg) for t in train], cfg)
    m = inv.longest(note_codes(query, VOCAB, cfg))
    assert (m.length, m.piece) == (20, 3)


def test_drums_are_left_out():
    starts = np.arange(40) * 0.25
    loop = make_notes(starts, starts + 0.1, 36, 100, DRUMS)
    index = MemoIndex([note_codes(ids(loop), VOCAB, MemoConfig())])
    assert index.windows == 0
    assert len(note_codes(ids(loop), VOCAB, MemoConfig())) == 0
