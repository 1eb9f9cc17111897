"""A Hugging Face GPT-2 folder: which files it holds, and a check that it is one, with one-line errors.

Accepted: config.json with model_type "gpt2"; weights in model.safetensors or pytorch_model.bin; a tokenizer as
tokenizer.json or vocab.json + merges.txt. Anything else is a `UserError` that says what is missing or wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..model.config import GPTConfig
from ..model.hf import config_from_hf

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
"""In order of preference: safetensors loads without running code and without a second copy in memory."""


@dataclass(frozen=True)
class CheckpointFiles:
    """The files of one GPT-2 folder that we read."""

    root: Path
    config: dict[str, Any]
    """config.json as written by Hugging Face."""
    weights: Path
    """model.safetensors or pytorch_model.bin."""
    tokenizer_json: Path | None
    """tokenizer.json, preferred when present (it carries the special tokens)."""
    vocab_merges: tuple[Path, Path] | None
    """vocab.json and merges.txt, used when there is no tokenizer.json."""

    @property
    def model_config(self) -> GPTConfig:
        return model_config(self.config, self.root)

    @property
    def eos_id(self) -> int | None:
        """The end-of-text id from config.json (GPT-2: 50256), if it names one."""
        eos = self.config.get("eos_token_id")
        return eos if isinstance(eos, int) else None


def find(path: str | Path) -> CheckpointFiles:
    """Check that `path` is a GPT-2 folder and list its files; a `UserError` if it is not."""
    root = Path(path)
    if not root.is_dir():
        raise UserError(
            f"{root}: no such folder (want a Hugging Face GPT-2 folder, see musenet/text/README.md)"
        )
    cfg_path = root / "config.json"
    if not cfg_path.is_file():
        raise UserError(f"{root} is not a GPT-2 checkpoint: it has no config.json")
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{cfg_path}: not valid JSON ({e})") from None
    if not isinstance(config, dict):
        raise UserError(f"{cfg_path}: expected a JSON object")
    kind = config.get("model_type")
    if kind != "gpt2":
        raise UserError(f"{root} is not a GPT-2 checkpoint: config.json says model_type {kind!r}, not 'gpt2'")
    model_config(config, root)  # the architecture check, before reading gigabytes of weights
    weights = next((root / n for n in WEIGHT_FILES if (root / n).is_file()), None)
    if weights is None:
        sharded = any(root.glob("*.index.json"))
        why = " (sharded checkpoints are not supported)" if sharded else ""
        raise UserError(f"{root} has no weights: want model.safetensors or pytorch_model.bin{why}")
    tok_json = root / "tokenizer.json"
    vocab, merges = root / "vocab.json", root / "merges.txt"
    has_pair = vocab.is_file() and merges.is_file()
    if not tok_json.is_file() and not has_pair:
        raise UserError(f"{root} has no tokenizer: want tokenizer.json, or vocab.json and merges.txt")
    return CheckpointFiles(
        root=root,
        config=config,
        weights=weights,
        tokenizer_json=tok_json if tok_json.is_file() else None,
        vocab_merges=(vocab, merges) if has_pair else None,
    )


def model_config(config: dict[str, Any], root: Path) -> GPTConfig:
    """Our GPTConfig for a Hugging Face GPT-2 config; a `UserError` for a variant our model does not compute."""
    try:
        return config_from_hf(config)
    except KeyError as e:
        raise UserError(f"{root}/config.json lacks {e.args[0]!r}: not a GPT-2 config") from None
    except (ValueError, TypeError) as e:
        raise UserError(f"{root}/config.json: {e}") from None
