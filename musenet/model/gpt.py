"""A decoder-only GPT-2 with MuseNet's structural embeddings, and a key/value cache for generation.

GPT-2 as published: pre-LayerNorm blocks, GELU (tanh form) MLP, learned positions, an output layer tied to the
token embedding. Module names follow GPT-2's, so Hugging Face checkpoints map onto it one to one (see `hf.py`).
MuseNet adds four learned embeddings to token + position (see `Positions`). `GPTConfig.rotary` adds rotary
position embeddings to queries and keys (`rotary_tables`, `rotate`): a token's rotary position is its index in the
sequence or cache, the same index its learned position is looked up at.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from musenet.model import sparse
from musenet.model.config import GPTConfig


class Positions(NamedTuple):
    """MuseNet's structural positions: four (B, T) int64 tensors, one entry per token."""

    time: torch.Tensor
    """Absolute time (10 ms units) since the piece started; tokens sounding together share it."""
    chord: torch.Tensor
    """0 if not a note-on, else 1 + index of the note among the note-ons at the same moment."""
    part: torch.Tensor
    """0..127: where in the whole piece the token sits."""
    countdown: torch.Tensor
    """127..0: counts down to the piece's end token."""


class KVCache:
    """Preallocated keys and values for all layers; `forward(..., cache=c)` appends and advances `length`.

    Every sequence of the batch has the same length. `truncate(n)` rewinds, e.g. to branch from a shared prompt.
    """

    def __init__(self, config: GPTConfig, batch: int, max_len: int, device: torch.device, dtype: torch.dtype):
        if max_len > config.block_size:
            raise ValueError(f"max_len {max_len} exceeds the model's block_size {config.block_size}")
        shape = (config.n_layer, batch, config.n_head, max_len, config.head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.length = 0

    @property
    def max_len(self) -> int:
        return self.k.size(3)

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write k, v (B, H, T, D) after the cached ones; return all keys and values so far."""
        end = self.length + k.size(2)
        self.k[layer, :, :, self.length : end] = k
        self.v[layer, :, :, self.length : end] = v
        return self.k[layer, :, :, :end].to(k.dtype), self.v[layer, :, :, :end].to(v.dtype)

    def truncate(self, length: int) -> None:
        if not 0 <= length <= self.length:
            raise ValueError(f"cannot truncate a cache of length {self.length} to {length}")
        self.length = length


ROTARY_BASE = 10000.0


def rotary_tables(
    length: int, dim: int, device: torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(length, dim) fp32 cos and sin of position p times the frequencies base^(-2i/dim), each frequency twice
    (once per half of the head: the rotate-half layout of GPT-NeoX and LLaMA)."""
    inv_freq = ROTARY_BASE ** -(torch.arange(0, dim, 2, dtype=torch.float64, device=device) / dim)
    angles = torch.outer(torch.arange(length, dtype=torch.float64, device=device), inv_freq)
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos().float(), angles.sin().float()


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """(..., D) queries or keys rotated by cos and sin tables that broadcast to them: pairs (x_i, x_{i+D/2}) turn
    by their angle."""
    half = x.size(-1) // 2
    turned = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return (x * cos + turned * sin).to(x.dtype)


ATTEND_ALL = "all"  # a mask value: the queries see every key (one new token, dense attention)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head = config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask, layer: int, cache: KVCache | None, rope=None) -> torch.Tensor:
        """`rope`: None, or the (T, D) cos and sin tables of these tokens' positions (rotary models)."""
        B, T, C = x.shape
        if rope is None:
            q, k, v = self.c_attn(x).split(C, dim=2)
            q, k, v = (
                t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v)
            )  # (B, H, T, D)
        else:  # queries and keys rotated in one pass, before the cache: it keeps each key at its own position
            qkv = self.c_attn(x).view(B, T, 3, self.n_head, C // self.n_head)
            cos, sin = (t[:, None, None] for t in rope)  # (T, 1, 1, D)
            q, k = rotate(qkv[:, :, :2], cos, sin).transpose(1, 3).unbind(2)  # (B, H, T, D) each
            v = qkv[:, :, 2].transpose(1, 2)
        if cache is not None:
            k, v = cache.update(layer, k, v)  # (B, H, S, D), S = cached + T
        dropout = self.dropout if self.training else 0.0
        if mask is None:  # plain causal over a fresh sequence
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True)
        elif mask is ATTEND_ALL:  # one new token under a dense pattern: every key so far, no mask to build
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
        elif isinstance(mask, torch.Tensor):  # bool, True = attend
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        else:  # a flex_attention BlockMask (block-sparse kernels, GPUs)
            y = _flex_attention(q.device.type)(q, k, v, block_mask=mask)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


def _flex_attention(device_type: str):
    """flex_attention, compiled where it has fused kernels (GPUs); eager elsewhere (a reference implementation)."""
    from torch.nn.attention.flex_attention import flex_attention

    global _FLEX_COMPILED
    if device_type != "cuda":
        return flex_attention
    if _FLEX_COMPILED is None:
        _FLEX_COMPILED = torch.compile(flex_attention)
    return _FLEX_COMPILED


_FLEX_COMPILED = None


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # GPT-2's "gelu_new" is the tanh approximation; the exact erf form would break parity with its weights.
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, mask, layer: int, cache: KVCache | None, rope=None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), mask, layer, cache, rope)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        c = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(c.vocab_size, c.n_embd),
                wpe=nn.Embedding(c.block_size, c.n_embd),
                drop=nn.Dropout(c.dropout),
                h=nn.ModuleList(Block(c) for _ in range(c.n_layer)),
                ln_f=nn.LayerNorm(c.n_embd, eps=c.layer_norm_eps, bias=c.bias),
            )
        )
        if c.musenet_embeddings:
            self.transformer.update(
                dict(
                    wtime=nn.Embedding(c.time_positions, c.n_embd),
                    wchord=nn.Embedding(c.chord_positions, c.n_embd),
                    wpart=nn.Embedding(c.part_positions, c.n_embd),
                    wcount=nn.Embedding(c.countdown_positions, c.n_embd),
                )
            )
        self.pattern = sparse.predicate(c.attention, c.sparse_stride, c.sparse_summary)
        # Block-sparse kernels (flex_attention) where they pay: GPUs. CPU uses SDPA with a dense mask, which has a
        # backward and is faster there (see sparse.py). A kernel choice, not part of the model: settable.
        self.use_flex = False
        self._block_masks: dict = {}
        self._rotary: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}  # per device; not weights: no state
        self.apply(self._init_weights)
        # GPT-2: scale the residual projections by 1/sqrt(2 * n_layer) so the residual stream's variance stays put.
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self, non_embedding: bool = True) -> int:
        """Parameter count; by default without the embedding tables (the usual convention for FLOP counts)."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= sum(m.weight.numel() for m in self.modules() if isinstance(m, nn.Embedding))
        return n

    def flops_per_token(self, seq_len: int) -> int:
        """Training FLOPs per token (forward + backward): 6 per weight, including the output layer, plus attention."""
        c = self.config
        return 6 * (self.num_params() + c.vocab_size * c.n_embd) + 12 * c.n_layer * c.n_embd * seq_len

    def new_cache(self, batch: int, max_len: int | None = None, dtype: torch.dtype | None = None) -> KVCache:
        """An empty cache for `batch` sequences of up to max_len (default block_size) tokens. Under autocast, pass
        the autocast dtype: keys and values of another dtype are converted on every read."""
        p = self.transformer.wte.weight
        return KVCache(self.config, batch, max_len or self.config.block_size, p.device, dtype or p.dtype)

    def embed(self, idx: torch.Tensor, pos: Positions | None = None, start: int = 0) -> torch.Tensor:
        """(B, T) ids (and positions) -> (B, T, C) input embeddings; `start` = index of the first token."""
        c, t = self.config, self.transformer
        T = idx.size(1)
        if start + T > c.block_size:
            raise ValueError(f"sequence of {start + T} tokens exceeds block_size {c.block_size}")
        x = t.wte(idx) + t.wpe(torch.arange(start, start + T, device=idx.device))
        if c.musenet_embeddings:
            x = x + self.structural(pos)
        return t.drop(x)

    def structural(self, pos: Positions | None) -> torch.Tensor:
        """The sum of MuseNet's four structural embeddings (time, chord, part, countdown) at `pos`, for a model
        that has them: `embed` and the one-token decode step both add exactly this."""
        c, t = self.config, self.transformer
        if pos is None:
            raise ValueError(
                "this model has MuseNet embeddings: pass pos=Positions(time, chord, part, countdown)"
            )
        return (
            F.embedding(pos.time % c.time_positions, t.wtime.weight)
            + F.embedding(pos.chord.clamp(0, c.chord_positions - 1), t.wchord.weight)
            + F.embedding(pos.part.clamp(0, c.part_positions - 1), t.wpart.weight)
            + F.embedding(pos.countdown.clamp(0, c.countdown_positions - 1), t.wcount.weight)
        )

    def _mask(self, start: int, T: int, device: torch.device):
        """The attention mask for queries start..start+T-1 over keys 0..start+T-1 (None = plain causal)."""
        dense = self.config.attention == "dense"
        if dense and start == 0:
            return None
        if dense and T == 1:
            return ATTEND_ALL
        if self.use_flex and start == 0:
            key = (T, str(device))  # building a BlockMask costs a pass over the blocks: once per shape
            if key not in self._block_masks:
                self._block_masks[key] = sparse.block_mask(self.pattern, T, device)
            return self._block_masks[key]
        return sparse.dense_mask(self.pattern, start, T, start + T, device)

    def rotary(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The (block_size, head_dim) fp32 cos and sin tables on `device`, for a rotary model (else None)."""
        if not self.config.rotary:
            return None
        key = str(device)
        if key not in self._rotary:
            self._rotary[key] = rotary_tables(self.config.block_size, self.config.head_dim, device)
        return self._rotary[key]

    def body(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """(B, T, C) input embeddings -> (B, T, C) final hidden states; appends to `cache` if given."""
        start = cache.length if cache is not None else 0
        T = x.size(1)
        if cache is not None and start + T > cache.max_len:
            raise ValueError(f"cache holds {cache.max_len} positions; {start} used, {T} more asked")
        mask = self._mask(start, T, x.device)
        tables = self.rotary(x.device)
        rope = None if tables is None else tuple(t[start : start + T] for t in tables)
        for i, block in enumerate(self.transformer.h):
            x = block(x, mask, i, cache, rope)
        if cache is not None:
            cache.length += x.size(1)
        return self.transformer.ln_f(x)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return F.linear(h, self.transformer.wte.weight)  # tied output layer, (B, T, V)

    def forward(
        self,
        idx: torch.Tensor,
        pos: Positions | None = None,
        targets: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, T) ids -> ((B, T, V) logits, mean cross-entropy over targets != -100, or None without targets)."""
        start = cache.length if cache is not None else 0
        logits = self.logits(self.body(self.embed(idx, pos, start), cache))
        loss = None if targets is None else cross_entropy(logits, targets)
        return logits, loss


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean next-token loss in fp32 (bf16 logits lose too much for a log-softmax); -100 targets are ignored."""
    return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), ignore_index=-100)
