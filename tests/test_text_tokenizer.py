"""The text tokenizer: GPT-2's byte-level BPE read by `tokenizers`, and decoding that never splits a character."""

from __future__ import annotations

import json
import random

import pytest
from test_text_helpers import CORPUS, train_tokenizer

from musenet.errors import UserError
from musenet.text.tokenizer import END_OF_TEXT, byte_alphabet, load_tokenizer

TEXT = "Héllo wörld 日本語の音楽 🎵🎹 — “quotes” русский <|endoftext|> again"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bpe")
    ref = train_tokenizer(folder)
    from_json = load_tokenizer(folder / "tokenizer.json", None)
    from_pair = load_tokenizer(None, (folder / "vocab.json", folder / "merges.txt"))
    return folder, ref, from_json, from_pair


def test_byte_alphabet_is_gpt2s():
    pytest.importorskip("transformers")
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    assert byte_alphabet() == {c: b for b, c in bytes_to_unicode().items()}


def test_both_file_forms_encode_as_the_references(trained):
    folder, ref, from_json, from_pair = trained
    want = ref.encode(TEXT).ids
    assert ref.token_to_id(END_OF_TEXT) in want  # the special token is one id, not spelled out
    assert from_json.encode(TEXT) == want
    assert from_pair.encode(TEXT) == want
    assert from_json.vocab_size == from_pair.vocab_size == ref.get_vocab_size()
    transformers = pytest.importorskip("transformers")
    # transformers' GPT-2 tokenizer from a folder with only the two files: the reference for how they are set up
    pair = folder / "pair-only"
    pair.mkdir(exist_ok=True)
    for name in ("vocab.json", "merges.txt"):
        (pair / name).write_bytes((folder / name).read_bytes())
    hf = transformers.GPT2Tokenizer.from_pretrained(pair)
    for line in [TEXT, *CORPUS[:3], "  leading spaces\n\nand\ttabs  "]:
        assert from_pair.encode(line) == hf(line).input_ids


def test_decode_matches_the_library(trained):
    _, ref, from_json, from_pair = trained
    ids = ref.encode(TEXT).ids
    assert (
        from_json.decode(ids) == from_pair.decode(ids) == ref.decode(ids, skip_special_tokens=False) == TEXT
    )


def test_some_tokens_hold_part_of_a_character(trained):
    """Without such tokens the streaming tests below would prove nothing."""
    _, _, tok, _ = trained
    partial = [b for b in tok.token_bytes if b and not _is_utf8(b)]
    assert len(partial) >= 5
    ids = tok.encode(TEXT)
    assert any(not _is_utf8(tok.token_bytes[i]) for i in ids)


def test_stream_gives_whole_characters_and_the_same_text(trained):
    _, _, tok, _ = trained
    for line in [TEXT, *CORPUS[:3]]:
        stream = tok.stream()
        pieces = [stream.push(i) for i in tok.encode(line)] + [stream.flush()]
        assert "".join(pieces) == line
        assert not any("\ufffd" in p for p in pieces)


def test_stream_of_random_ids_equals_decoding_at_once(trained):
    """Random ids make invalid UTF-8 too: the stream shows it as U+FFFD exactly where a whole decode does."""
    _, ref, tok, _ = trained
    rng = random.Random(0)
    special = ref.token_to_id(END_OF_TEXT)
    for _ in range(50):
        ids = [rng.randrange(tok.vocab_size) for _ in range(rng.randrange(1, 30))]
        stream = tok.stream()
        text = "".join(stream.push(i) for i in ids) + stream.flush()
        assert text == tok.decode(ids)
        plain = [i for i in ids if i != special]  # the library's decode drops special tokens
        assert tok.decode(plain) == ref.decode(plain)


def test_a_tokenizer_that_is_not_byte_level_is_refused(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=200, special_tokens=["[UNK]"]))
    tok.save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(UserError, match="not byte-level BPE"):
        load_tokenizer(tmp_path / "tokenizer.json", None)


def test_unreadable_files_are_user_errors(tmp_path):
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(UserError, match="not a readable tokenizer"):
        load_tokenizer(tmp_path / "tokenizer.json", None)
    (tmp_path / "vocab.json").write_text(json.dumps({"a": 0}))
    (tmp_path / "merges.txt").write_text("#version: 0.2\nx y\n")  # merges a pair of unknown tokens
    with pytest.raises(UserError, match="unreadable vocab.json"):
        load_tokenizer(None, (tmp_path / "vocab.json", tmp_path / "merges.txt"))


def _is_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False
