"""The checkpoint format, and the only code that knows it.

A run folder holds:
  model.safetensors  the weights (fp32 while training; bf16/fp16 after `export`)
  config.json        {"format", "model": GPTConfig, "vocab", "train", "step", "seed", "git_commit", "torch_version"}
  optimizer.pt       {"optimizer": state_dict, "step"}: our own file, read back with weights_only=True

The three files change together or not at all: each is written to a temp file and fsynced, then a `.commit` marker
names them, then they are renamed into place. A kill before the marker exists leaves the previous checkpoint (the
temp files are swept away on the next open); a kill after it is rolled forward on the next open. So `kill -9` at any
moment leaves the last good checkpoint.

`split` writes a run's model as config.json + `model-0000k-of-0000n.safetensors` files of a capped size (fp32, or
bf16 when fp32 would not fit), for a transfer that limits file sizes; `join` turns them back into a run folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from musenet.files import fsync_dir, fsync_file
from musenet.model.config import GPTConfig
from musenet.model.gpt import GPT

FORMAT = 1
WEIGHTS, CONFIG, OPTIMIZER = "model.safetensors", "config.json", "optimizer.pt"
_MARKER = ".commit"
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def _tmp(run_dir: Path, name: str) -> Path:
    """A fixed temp name per file (not `files.temp_beside`'s): a later open must find them to finish a commit."""
    return run_dir / f".{name}.tmp"


def _recover(run_dir: Path) -> None:
    """Finish a commit that a kill interrupted, or sweep away the temp files of one that never committed."""
    marker = run_dir / _MARKER
    try:
        names = json.loads(marker.read_text())
    except FileNotFoundError:
        names = None
    if names is not None:
        for name in names:
            # a missing temp file was renamed already (by us before a kill, or by another reader just now)
            with contextlib.suppress(FileNotFoundError):
                os.replace(_tmp(run_dir, name), run_dir / name)
        fsync_dir(run_dir)
        marker.unlink(missing_ok=True)
        fsync_dir(run_dir)
    else:
        for name in (WEIGHTS, CONFIG, OPTIMIZER, _MARKER):
            _tmp(run_dir, name).unlink(missing_ok=True)


def _commit(run_dir: Path, writers: dict[str, Callable[[Path], None]]) -> None:
    """Write each named file through its writer, all or nothing (see the module docstring)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    _recover(run_dir)
    for name, write in writers.items():
        write(_tmp(run_dir, name))
        fsync_file(_tmp(run_dir, name))
    marker_tmp = _tmp(run_dir, _MARKER)
    marker_tmp.write_text(json.dumps(list(writers)))
    fsync_file(marker_tmp)
    os.replace(marker_tmp, run_dir / _MARKER)  # the commit point
    fsync_dir(run_dir)
    _recover(run_dir)


def git_commit() -> str | None:
    """The source tree's commit (with '-dirty' if it has uncommitted changes), or None outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10
        )
        if sha.returncode:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "-uno"], cwd=here, capture_output=True, text=True, timeout=10
        )
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def save(
    run_dir: str | Path,
    model: GPT,
    *,
    step: int,
    seed: int,
    vocab: dict[str, Any] | None = None,
    train: dict[str, Any] | None = None,
    optimizer: dict[str, Any] | None = None,
    dtype: str = "fp32",
    commit: str | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write a checkpoint of `model` (unwrapped: no DDP or compile wrapper) into run_dir, atomically.
    `extra` adds JSON-able facts about the run (world size, tokens seen) to config.json."""
    run_dir = Path(run_dir)
    weights = {k: v.detach().to("cpu", _DTYPES[dtype]).contiguous() for k, v in model.state_dict().items()}
    meta = dict(
        format=FORMAT,
        model=model.config.to_dict(),
        vocab=vocab,
        train=train,
        step=step,
        seed=seed,
        dtype=dtype,
        git_commit=commit if commit is not None else git_commit(),
        torch_version=torch.__version__,
        **(extra or {}),
    )
    writers: dict[str, Callable[[Path], None]] = {
        WEIGHTS: lambda p: save_file(weights, str(p), metadata={"step": str(step), "format": str(FORMAT)}),
        CONFIG: lambda p: p.write_text(json.dumps(meta, indent=2) + "\n"),
    }
    if optimizer is not None:
        writers[OPTIMIZER] = lambda p: torch.save({"optimizer": optimizer, "step": step}, p)
    _commit(run_dir, writers)


def read_meta(run_dir: str | Path) -> dict[str, Any]:
    run_dir = Path(run_dir)
    _recover(run_dir)
    meta = json.loads((run_dir / CONFIG).read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{run_dir}: checkpoint format {meta.get('format')}, this code reads {FORMAT}")
    return meta


def exists(run_dir: str | Path) -> bool:
    run_dir = Path(run_dir)
    if run_dir.is_dir():
        _recover(run_dir)
    return (run_dir / CONFIG).is_file() and (run_dir / WEIGHTS).is_file()


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[GPT, dict[str, Any]]:
    """Rebuild the model from a run or export folder, weights in fp32; returns (model in eval mode, meta)."""
    path = Path(path)
    meta = read_meta(path)
    model = GPT(GPTConfig.from_dict(meta["model"]))
    state = {k: v.float() for k, v in load_file(str(path / WEIGHTS), device=str(device)).items()}
    model.load_state_dict(state)
    return model.to(device).eval(), meta


def load_optimizer(run_dir: str | Path) -> dict[str, Any] | None:
    """The optimizer state saved with the checkpoint, or None if the folder has none."""
    path = Path(run_dir) / OPTIMIZER
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)


def export(
    run_dir: str | Path, out_dir: str | Path, dtype: str = "bf16", sampling: dict[str, Any] | None = None
) -> Path:
    """Copy a run's model (no optimizer) into out_dir with weights in `dtype`, for shipping; `sampling` (temperature,
    top_k, top_p) is the model's default sampling, kept in its config.json."""
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}")
    model, meta = load_model(run_dir)
    save(
        out_dir,
        model,
        step=meta["step"],
        seed=meta["seed"],
        vocab=meta.get("vocab"),
        train=meta.get("train"),
        dtype=dtype,
        commit=meta.get("git_commit"),
        extra={k: meta[k] for k in ("tokens", "elapsed_s", "world_size") if k in meta}
        | ({"sampling": sampling} if sampling else {}),
    )
    return Path(out_dir)


SPLIT_FORMAT = "model-{k:05d}-of-{n:05d}.safetensors"
_EXTRA = ("tokens", "elapsed_s", "world_size", "style_shares")


def split(run_dir: str | Path, out_dir: str | Path, max_file_bytes: int, max_total_bytes: int) -> list[Path]:
    """A run's model as config.json + weight files of at most `max_file_bytes` each, in fp32 when all of them fit
    in `max_total_bytes`, else bf16: what passes a transfer that caps file sizes (a lent GPU's $OUT takes 16 MiB a
    file, 64 MiB in all). No optimizer. `join` makes a run folder of them again."""
    model, meta = load_model(run_dir)
    state = model.state_dict()
    n_params = sum(t.numel() for t in state.values())
    dtype = "fp32" if 4 * n_params <= max_total_bytes else "bf16"
    size = 4 if dtype == "fp32" else 2
    if size * n_params > max_total_bytes:
        raise ValueError(
            f"{n_params / 1e6:.1f} M parameters are over {max_total_bytes / 2**20:.0f} MiB even in bf16"
        )
    groups: list[list[str]] = [[]]
    used = 0
    for name, t in state.items():
        b = t.numel() * size
        if b > max_file_bytes:
            raise ValueError(
                f"{name} alone is {b / 2**20:.1f} MiB, over {max_file_bytes / 2**20:.1f} MiB a file"
            )
        if groups[-1] and used + b > max_file_bytes:
            groups.append([])
            used = 0
        groups[-1].append(name)
        used += b
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for k, names in enumerate(groups, 1):
        path = out / SPLIT_FORMAT.format(k=k, n=len(groups))
        save_file(
            {n: state[n].to(_DTYPES[dtype]).contiguous() for n in names}, str(path), metadata={"dtype": dtype}
        )
        files.append(path)
    (out / CONFIG).write_text(
        json.dumps({**meta, "dtype": dtype, "split": [f.name for f in files]}, indent=2) + "\n"
    )
    return [out / CONFIG, *files]


def join(src_dir: str | Path, run_dir: str | Path) -> Path:
    """The files `split` wrote -> a run folder (fp32 weights + config.json, no optimizer), e.g. for `init_from`."""
    src = Path(src_dir)
    meta = json.loads((src / CONFIG).read_text())
    if meta.get("format") != FORMAT or "split" not in meta:
        raise ValueError(f"{src}: no split checkpoint here (config.json lists no weight files)")
    state: dict[str, torch.Tensor] = {}
    for name in meta["split"]:
        state.update({k: v.float() for k, v in load_file(str(src / name)).items()})
    model = GPT(GPTConfig.from_dict(meta["model"]))
    model.load_state_dict(state)
    save(
        run_dir, model, step=meta["step"], seed=meta["seed"], vocab=meta.get("vocab"), train=meta.get("train"),
        commit=meta.get("git_commit"), extra={k: meta[k] for k in _EXTRA if k in meta} | {"joined_from": meta["dtype"]},
    )  # fmt: skip
    return Path(run_dir)
