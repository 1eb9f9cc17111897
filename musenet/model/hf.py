"""Load a Hugging Face GPT-2 checkpoint (config.json + model.safetensors) into our GPT, MuseNet embeddings off.

Names map one to one; HF's Conv1D stores weights as (in, out), so those are transposed. Only the GPT-2 variants
our model computes are accepted: a config that changes the math (another activation, layer-scaled attention)
is refused rather than loaded approximately.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from musenet.model.config import GPTConfig
from musenet.model.gpt import GPT

_CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def our_name(name: str) -> str | None:
    """Our parameter name for a Hugging Face GPT-2 tensor name; None for tensors we do not need."""
    if name.endswith((".attn.bias", ".attn.masked_bias")) or name == "lm_head.weight":
        return None  # causal-mask buffers of old checkpoints; the output layer, tied to wte
    return name if name.startswith("transformer.") else f"transformer.{name}"


def our_tensor(name: str, w: torch.Tensor) -> torch.Tensor:
    """A Hugging Face GPT-2 tensor as our parameter: Conv1D's (in, out) weights transposed, fp32."""
    w = w.t().contiguous() if name.endswith(_CONV1D) else w
    return w if w.dtype == torch.float32 else w.float()


def config_from_hf(hf: dict) -> GPTConfig:
    if hf.get("activation_function", "gelu_new") not in ("gelu_new", "gelu_pytorch_tanh"):
        raise ValueError(f"unsupported activation {hf['activation_function']!r}: we compute GELU's tanh form")
    if hf.get("scale_attn_by_inverse_layer_idx") or not hf.get("scale_attn_weights", True):
        raise ValueError(
            "unsupported attention scaling (scale_attn_by_inverse_layer_idx / scale_attn_weights)"
        )
    if not hf.get("tie_word_embeddings", True):
        raise ValueError("unsupported untied output layer (tie_word_embeddings false)")
    if hf.get("n_inner") not in (None, 4 * hf["n_embd"]):
        raise ValueError("unsupported MLP width n_inner != 4 * n_embd")
    return GPTConfig(
        vocab_size=hf["vocab_size"],
        block_size=hf["n_positions"],
        n_layer=hf["n_layer"],
        n_head=hf["n_head"],
        n_embd=hf["n_embd"],
        layer_norm_eps=hf.get("layer_norm_epsilon", 1e-5),
        dropout=0.0,
        musenet_embeddings=False,
    )


def load_hf_gpt2(path: str | Path) -> GPT:
    """A GPT from a Hugging Face GPT-2 folder, in eval mode."""
    path = Path(path)
    config = config_from_hf(json.loads((path / "config.json").read_text()))
    state = load_file(str(path / "model.safetensors"))
    ours = {key: our_tensor(name, w) for name, w in state.items() if (key := our_name(name)) is not None}
    model = GPT(config)
    model.load_state_dict(ours)
    return model.eval()
