"""The critic in the model's folder: critic.safetensors (fp32 weights) + critic.json (config, generator identity,
training settings and held-out figures).

Separate file names from the generator's checkpoint, so `checkpoint.load_model` and its commit protocol never see
them. Written atomically: both to temp files, fsynced, weights renamed into place first, then the JSON, which holds
the weights' SHA-256; a kill between the two renames leaves a pair whose hashes disagree, reported on load.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

from ..errors import UserError
from ..files import atomic_path
from ..generate.scorer import ScorerStore
from .config import CriticConfig
from .model import Critic

WEIGHTS, META = "critic.safetensors", "critic.json"
FORMATS = {"real": 1, "style": 2}  # a style critic is format 2, so a version that predates it says so on load


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def has_critic(model_dir: str | Path) -> bool:
    d = Path(model_dir)
    return (d / WEIGHTS).is_file() and (d / META).is_file()


def save_critic(model_dir: str | Path, critic: Critic, meta: dict[str, Any]) -> None:
    d = Path(model_dir)
    with atomic_path(d / META) as tm, atomic_path(d / WEIGHTS) as tw:  # weights land first, then the JSON
        save_file({k: v.detach().float().contiguous() for k, v in critic.state_dict().items()}, str(tw))
        full = {
            "format": FORMATS[critic.config.kind],
            "critic": critic.config.to_dict(),
            "weights_sha256": _sha256(tw),
            **meta,
        }
        tm.write_text(json.dumps(full, indent=2) + "\n")


def load_critic(model_dir: str | Path) -> tuple[Critic, dict[str, Any]]:
    """The critic saved beside a model, in eval mode; a UserError if there is none or it is broken."""
    d = Path(model_dir)
    if not has_critic(d):
        raise UserError(f"{d} has no critic: train one with `musenet train-critic --model {d} --data DIR`")
    meta = json.loads((d / META).read_text())
    if meta.get("format") not in FORMATS.values() or meta.get("weights_sha256") != _sha256(d / WEIGHTS):
        raise UserError(f"the critic in {d} is incomplete or from another version: train it again")
    critic = Critic(CriticConfig.from_dict(meta["critic"]))
    critic.load_state_dict(load_file(str(d / WEIGHTS)))
    return critic.eval(), meta


# the store `musenet.load` gives the composer: generation finds and loads the critic through it
CRITICS = ScorerStore(exists=has_critic, load=lambda d: load_critic(d)[0])
