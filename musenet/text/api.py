"""`load(folder)` -> a `TextModel` that continues a text prompt: the folder's tokenizer around the id engine."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import UserError
from ..model.gpt import GPT
from . import folder
from .engine import TextConfig, stream_ids
from .tokenizer import END_OF_TEXT, TextTokenizer, load_tokenizer
from .weights import load_gpt


@dataclass
class TextModel:
    model: GPT
    tokenizer: TextTokenizer
    eos_id: int | None
    """End of text: generation stops there; an empty prompt starts from it (as GPT-2's unconditional samples)."""
    path: Path
    load_seconds: float

    def prompt_ids(self, prompt: str) -> list[int]:
        if prompt:
            ids = self.tokenizer.encode(prompt)
            if not ids:  # a tokenizer without byte fallback drops characters it has no token for
                shown = prompt if len(prompt) <= 40 else prompt[:40] + "…"
                raise UserError(
                    f"the prompt {shown!r} holds no token this model's tokenizer knows; write it in other characters"
                )
            return ids
        if self.eos_id is None:
            raise UserError(
                "an empty prompt needs an end-of-text token to start from, and this model has none"
            )
        return [self.eos_id]

    def stream(self, prompt: str, cfg: TextConfig) -> Iterator[list[str]]:
        """Yield, step by step, the new text of each candidate ('' while a character is unfinished or it ended)."""
        decoders = [self.tokenizer.stream() for _ in range(cfg.candidates)]
        allowed = None
        if self.tokenizer.vocab_size < self.model.config.vocab_size:  # padded embedding rows: never drawn
            allowed = torch.arange(self.model.config.vocab_size) < self.tokenizer.vocab_size
        for ids in stream_ids(self.model, self.prompt_ids(prompt), cfg, self.eos_id, allowed):
            yield ["" if i is None else d.push(i) for d, i in zip(decoders, ids, strict=True)]
        tail = [d.flush() for d in decoders]
        if any(tail):
            yield tail

    def complete(self, prompt: str, cfg: TextConfig) -> list[str]:
        """The continuations of `prompt` (without it), one per candidate."""
        parts: list[list[str]] = [[] for _ in range(cfg.candidates)]
        for pieces in self.stream(prompt, cfg):
            for acc, piece in zip(parts, pieces, strict=True):
                acc.append(piece)
        return ["".join(acc) for acc in parts]

    def describe(self) -> str:
        c = self.model.config
        n = sum(p.numel() for p in self.model.parameters())
        size = f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.0f}M" if n >= 1e6 else f"{n / 1e3:.0f}K"
        return f"GPT-2 {size} parameters, {c.n_layer} layers, context {c.block_size}"


def load(path: str | Path) -> TextModel:
    """A GPT-2 folder (config.json, weights, tokenizer files) -> a TextModel; `UserError` if it is not one."""
    t0 = time.monotonic()
    files = folder.find(path)
    tokenizer = load_tokenizer(files.tokenizer_json, files.vocab_merges)
    config = files.model_config
    if tokenizer.vocab_size > config.vocab_size:
        raise UserError(
            f"{files.root}: the tokenizer has {tokenizer.vocab_size} tokens, the model only {config.vocab_size}"
        )
    eos = files.eos_id
    if eos is None or not 0 <= eos < tokenizer.vocab_size:
        eos = tokenizer.token_id(END_OF_TEXT)
    model = load_gpt(config, files.weights)
    return TextModel(model, tokenizer, eos, files.root, time.monotonic() - t0)
