"""One token at a time, fast: a GPT's weights laid out for decoding, and a decode step as a flat run of aten calls.

At batch 1-4 a decode step of a small model is a string of matrix-vector products over weights that do not stay
in cache, plus per-op overhead. Measured on this project's 2-core VM (fp32, the 4 x 256 default model's shape):

- `x @ Wt` with `Wt` stored (in, out) and contiguous reads the weights ~30 % faster than `F.linear(x, W)` with
  PyTorch's (out, in) layout (1.7-2.3 ms against 2.7-3.3 ms for the 17 products of a step);
- `scaled_dot_product_attention` called directly is 3-4x faster than the two `matmul`s of a hand-written
  attention over a slice of the cache (31-77 µs against 100-300 µs per layer at 64-512 keys);
- module attribute lookups, views and masks were half of a step before this was flat.

`Decoder` keeps a transposed copy of each linear weight (a snapshot: build a new one after the weights change),
and of the output layer only the rows asked for: a generator that can only ever draw some tokens (the grammar
masks the rest) computes the logits of those alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from musenet.model.gpt import GPT, KVCache, Positions


class Decoder:
    """`decoder(idx, pos, cache)`: (B,) ids (and (B,) positions) -> (B, R) logits of `rows`; appends to `cache`.

    The same function as `model(idx[:, None], pos, cache=cache)[0][:, -1, rows]`: tested equal to it. Dense
    attention in eval mode, with a cache of the weights' dtype and no autocast, takes the fast path; anything else
    (a sparse pattern, training, autocast) takes the model's own forward.
    """

    def __init__(self, model: GPT, rows: torch.Tensor | None = None):
        """`rows`: (R,) ids of the tokens whose logits are wanted, in that order (None: the whole vocabulary)."""
        self.model = model
        self.rows = None if rows is None else torch.as_tensor(rows, dtype=torch.long)
        t = model.transformer

        def linear(m: torch.nn.Linear) -> tuple[torch.Tensor, torch.Tensor | None]:
            b = None if m.bias is None else m.bias.detach()
            return m.weight.detach().t().contiguous(), b  # (in, out)

        def norm(m: torch.nn.LayerNorm) -> tuple:
            w = None if m.weight is None else m.weight.detach()
            return w, None if m.bias is None else m.bias.detach(), m.eps

        with torch.no_grad():
            self.layers = [
                (
                    norm(b.ln_1),
                    linear(b.attn.c_attn),
                    linear(b.attn.c_proj),
                    norm(b.ln_2),
                    linear(b.mlp.c_fc),
                    linear(b.mlp.c_proj),
                )
                for b in t.h
            ]
            self.ln_f = norm(t.ln_f)
            w = t.wte.weight.detach()
            self.head = (w if self.rows is None else w[self.rows.to(w.device)]).t().contiguous()  # (C, R)

    @property
    def size(self) -> int:
        """R: the number of logits a step returns."""
        return self.head.size(1)

    def __call__(
        self, idx: torch.Tensor, pos: Positions | None = None, cache: KVCache | None = None
    ) -> torch.Tensor:
        m, c = self.model, self.model.config
        t = m.transformer
        w = t.wte.weight
        if (
            cache is None
            or c.attention != "dense"
            or m.training
            or cache.k.dtype != w.dtype
            or torch.is_autocast_enabled(w.device.type)
        ):
            p1 = None if pos is None else Positions(*(f[:, None] for f in pos))
            logits = m(idx[:, None], p1, cache=cache)[0][:, -1]
            return logits if self.rows is None else logits[:, self.rows.to(logits.device)]
        n = cache.length
        if n + 1 > cache.max_len:
            raise ValueError(f"cache holds {cache.max_len} positions; {n} used, 1 more asked")
        B, C, H = idx.size(0), c.n_embd, c.n_head
        D = C // H
        x = F.embedding(idx, w) + t.wpe.weight[n]
        if c.musenet_embeddings:
            if pos is None:
                raise ValueError(
                    "this model has MuseNet embeddings: pass pos=Positions(time, chord, part, countdown)"
                )
            x = x + F.embedding(pos.time % c.time_positions, t.wtime.weight)
            x = x + F.embedding(pos.chord.clamp(0, c.chord_positions - 1), t.wchord.weight)
            x = x + F.embedding(pos.part.clamp(0, c.part_positions - 1), t.wpart.weight)
            x = x + F.embedding(pos.countdown.clamp(0, c.countdown_positions - 1), t.wcount.weight)
        for i, (ln1, attn, proj, ln2, fc, out) in enumerate(self.layers):
            h = F.layer_norm(x, (C,), *ln1)
            q, k, v = _linear(h, *attn).view(B, 3, H, D).unbind(1)  # (B, H, D) each
            cache.k[i, :, :, n] = k
            cache.v[i, :, :, n] = v
            keys, values = cache.k[i, :, :, : n + 1], cache.v[i, :, :, : n + 1]  # (B, H, S, D)
            y = F.scaled_dot_product_attention(q.unsqueeze(2), keys, values)  # (B, H, 1, D); scale 1/sqrt(D)
            x = x + _linear(y.reshape(B, C), *proj)
            h = F.gelu(_linear(F.layer_norm(x, (C,), *ln2), *fc), approximate="tanh")
            x = x + _linear(h, *out)
        cache.length = n + 1
        return torch.mm(F.layer_norm(x, (C,), *self.ln_f), self.head)


def _linear(x: torch.Tensor, wt: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """(B, in) @ (in, out) (+ bias): `F.linear` with the weight stored transposed."""
    return torch.mm(x, wt) if b is None else torch.addmm(b, x, wt)
