"""GPT-2's byte-level BPE, read by the `tokenizers` library: text -> ids, and ids -> bytes -> text.

Encoding is the library's. Decoding goes through bytes: every GPT-2 token stands for a byte string (written in
GPT-2's printable alphabet, one character per byte), and a token may end in the middle of a UTF-8 character. So
a stream keeps the bytes of an unfinished character until the next token completes it (`StreamDecoder`); joined,
the pieces equal the decoding of all the ids at once.
"""

from __future__ import annotations

import codecs
import functools
import json
from pathlib import Path

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

from ..errors import UserError

END_OF_TEXT = "<|endoftext|>"


@functools.cache
def byte_alphabet() -> dict[str, int]:
    """GPT-2's printable stand-in for each byte (`bytes_to_unicode` in its encoder.py), inverted: char -> byte."""
    printable = {
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    }
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[chr(b)] = b
        else:  # space, control bytes and a few others are moved past 255 to printable code points
            chars[chr(256 + extra)] = b
            extra += 1
    return chars


class TextTokenizer:
    """A byte-level BPE tokenizer with a table from ids to the bytes they stand for."""

    def __init__(self, tokenizer: Tokenizer, source: str = "tokenizer"):
        self.tokenizer = tokenizer
        self.vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
        added = tokenizer.get_added_tokens_decoder()  # id -> AddedToken: plain text, not byte-level
        alphabet = byte_alphabet()
        table: list[bytes] = []
        for i in range(self.vocab_size):
            if i in added:
                table.append(added[i].content.encode("utf-8"))
                continue
            token = tokenizer.id_to_token(i)
            if token is None:
                table.append(b"")
            elif all(c in alphabet for c in token):
                table.append(bytes(alphabet[c] for c in token))
            else:
                raise UserError(
                    f"{source}: token {i} ({token!r}) is not byte-level BPE: not a GPT-2 tokenizer"
                )
        self.token_bytes = table

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text).ids

    def decode(self, ids: list[int]) -> str:
        return b"".join(self.token_bytes[i] for i in ids).decode("utf-8", errors="replace")

    def token_id(self, token: str) -> int | None:
        return self.tokenizer.token_to_id(token)

    def stream(self) -> StreamDecoder:
        return StreamDecoder(self.token_bytes)


class StreamDecoder:
    """Token ids in, one at a time; out, the text completed so far (never half a character)."""

    def __init__(self, token_bytes: list[bytes]):
        self._bytes = token_bytes
        # invalid bytes become U+FFFD, exactly as when decoding the whole text at once
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def push(self, token_id: int) -> str:
        return self._utf8.decode(self._bytes[token_id])

    def flush(self) -> str:
        """The end of the stream: bytes of an unfinished character, if any, as U+FFFD."""
        return self._utf8.decode(b"", final=True)


def load_tokenizer(tokenizer_json: Path | None, vocab_merges: tuple[Path, Path] | None) -> TextTokenizer:
    """From tokenizer.json when given, else from vocab.json + merges.txt (set up as GPT-2's tokenizer is)."""
    if tokenizer_json is not None:
        try:
            tok = Tokenizer.from_file(str(tokenizer_json))
        except Exception as e:  # the library raises a bare Exception for unreadable files
            raise UserError(f"{tokenizer_json}: not a readable tokenizer ({e})") from None
        return TextTokenizer(tok, str(tokenizer_json))
    if vocab_merges is None:
        raise UserError("no tokenizer: want tokenizer.json, or vocab.json and merges.txt")
    vocab, merges = vocab_merges
    try:
        tok = Tokenizer(models.BPE.from_file(str(vocab), str(merges)))
        has_eot = END_OF_TEXT in json.loads(vocab.read_text(encoding="utf-8"))
    except Exception as e:
        raise UserError(f"{vocab.parent}: unreadable vocab.json / merges.txt ({e})") from None
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    if has_eot:  # GPT-2's one special token: never split, keeps its id from vocab.json
        tok.add_special_tokens([AddedToken(END_OF_TEXT, special=True)])
    return TextTokenizer(tok, str(vocab))
