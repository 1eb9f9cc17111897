"""GPT-2 weights (model.safetensors or pytorch_model.bin) into our GPT, with one copy of them in memory.

The model is built on the meta device, so nothing is allocated or randomly initialised (for GPT-2 XL that would
be 6 GB and minutes of work on a CPU); each checkpoint tensor is read, renamed and assigned to its parameter.
Names and layouts map through `musenet.model.hf` (Conv1D's (in, out) weights transposed), defined there once.
A pickle (pytorch_model.bin) is read with `weights_only=True`: tensors only, never code.
"""

from __future__ import annotations

import contextlib
import pickle
import re
import zipfile
from pathlib import Path

import torch
import torch.nn as nn
from safetensors import SafetensorError, safe_open

from ..errors import UserError
from ..model.config import GPTConfig
from ..model.gpt import GPT
from ..model.hf import our_name
from ..model.hf import our_tensor as _convert


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    state = {}
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            for name in f.keys():  # noqa: SIM118 - safe_open handles are not iterable
                ours = our_name(name)
                if ours is not None:  # the tensors we skip are never read
                    state[ours] = _convert(name, f.get_tensor(name))
    except (SafetensorError, OSError, RuntimeError, ValueError) as e:
        raise UserError(f"{path}: not a readable safetensors file ({_first_line(e)})") from None
    return state


def read_pickle(path: Path) -> dict[str, torch.Tensor]:
    # mmap keeps the file's pages out of our heap; only the zip format (torch >= 1.6) can be mapped
    mmap = zipfile.is_zipfile(path)
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as e:
        # torch's message is a page long and suggests weights_only=False; keep only what it found
        found = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", str(e))
        why = (found.group(1) if found else _first_line(e)).split(". ")[0].strip()
        raise UserError(
            f"{path}: refused by torch.load(weights_only=True), not a file of plain tensors ({why})"
        ) from None
    except (RuntimeError, OSError, EOFError, ValueError, zipfile.BadZipFile) as e:
        raise UserError(f"{path}: not a readable PyTorch weights file ({_first_line(e)})") from None
    if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise UserError(f"{path}: expected a dictionary of tensors")
    return {ours: _convert(k, v) for k, v in loaded.items() if (ours := our_name(k)) is not None}


def load_gpt(config: GPTConfig, weights: Path) -> GPT:
    """Our GPT with the weights of a Hugging Face GPT-2 file, in eval mode and without gradients."""
    state = read_safetensors(weights) if weights.suffix == ".safetensors" else read_pickle(weights)
    with torch.device("meta"), _no_init():
        model = GPT(config)
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as e:
        # e.g. "Missing key(s) in state_dict: ..." or "size mismatch for ...": say the gist on one line
        detail = " ".join(str(e).split())
        detail = detail if len(detail) <= 300 else detail[:300] + "…"
        raise UserError(f"{weights}: the weights do not fit config.json ({detail})") from None
    model.requires_grad_(False)
    return model.eval()


# The in-place initialisers a module constructor may call (nn.Linear, nn.Embedding, nn.LayerNorm, GPT._init_weights).
_INITS = (
    "normal_",
    "uniform_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "xavier_uniform_",
    "xavier_normal_",
    "trunc_normal_",
    "ones_",
    "zeros_",
    "constant_",
)


@contextlib.contextmanager
def _no_init():
    """Skip weight initialisation (every value is overwritten by the checkpoint). On the meta device it would
    cost nothing but the first call imports torch._dynamo, 2-3 s on a small CPU; transformers does the same."""
    saved = {name: getattr(nn.init, name) for name in _INITS}
    for name in _INITS:
        setattr(nn.init, name, lambda tensor, *args, **kwargs: tensor)
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(nn.init, name, fn)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
