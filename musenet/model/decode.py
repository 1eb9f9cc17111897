"""One token at a time, fast: a GPT's weights laid out for decoding, and a decode step as a flat run of aten calls.

At batch 1-4 a decode step of a small model is a string of matrix-vector products over weights that do not stay
in cache, plus per-op overhead. Measured on this project's 2-core VM (the 4 x 256 default model's shape, one
thread, the 17 products of a step):

- fp32, batch 1: `x @ Wt` with `Wt` stored (in, out) and contiguous reads the weights ~30 % faster than
  `F.linear(x, W)` with PyTorch's (out, in) layout (1.5-2.0 ms against 2.7-3.3 ms);
- fp32, batch 2-16: MKL's sgemm with a handful of rows runs far below the machine's speed; oneDNN's kernel over a
  weight packed for that many rows is ~25 % faster (3.7-4.3 ms against 5.0-6.0 at batch 4);
- bf16: `F.linear` in PyTorch's layout (1.9 ms); a transposed bf16 weight falls off the fast kernels (10 ms);
- `scaled_dot_product_attention` called directly is 2-4x faster than the two `matmul`s of a hand-written
  attention over a slice of the cache;
- module attribute lookups, views and masks were half of a step before this was flat.

`Decoder` keeps the weights in the layout its products want (fp32 ones transposed or packed: copies), and of the
output layer only the rows asked for: a generator that can only ever draw some tokens (the grammar masks the rest)
computes the logits of those alone.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from musenet.model.gpt import GPT, KVCache, Positions

Product = Callable[[torch.Tensor], torch.Tensor]  # (B, in) -> (B, out): x @ W.T + b


class Decoder:
    """`decoder(idx, pos, cache)`: (B,) ids (and (B,) positions) -> (B, R) logits of `rows`; appends to `cache`.

    The same function as `model(idx[:, None], pos, cache=cache)[0][:, -1, rows]`: tested equal to it. Dense
    attention in eval mode, with a cache of the weights' dtype and no autocast, takes the fast path; anything else
    (a sparse pattern, training, autocast) takes the model's own forward. Build it once the weights are final: it
    copies some of them.
    """

    def __init__(self, model: GPT, rows: torch.Tensor | None = None):
        """`rows`: (R,) ids of the tokens whose logits are wanted, in that order (None: the whole vocabulary)."""
        self.model = model
        self.rows = None if rows is None else torch.as_tensor(rows, dtype=torch.long)
        t = model.transformer
        w = t.wte.weight.detach()
        # fp32 on a CPU: (in, out) weights (copies); anything else: PyTorch's own (out, in) ones
        self.transposed = w.dtype == torch.float32 and w.device.type == "cpu"

        def weight(m: torch.nn.Linear) -> tuple[torch.Tensor, torch.Tensor | None]:
            wm = m.weight.detach()
            return wm.t().contiguous() if self.transposed else wm, None if m.bias is None else m.bias.detach()

        def norm(m: torch.nn.LayerNorm) -> tuple:
            return m.weight, m.bias, m.eps

        with torch.no_grad():
            self.norms = [(norm(b.ln_1), norm(b.ln_2)) for b in t.h]
            self.ln_f = norm(t.ln_f)
            # per layer: qkv, attention output, MLP in, MLP out
            self.weights = [
                [weight(b.attn.c_attn), weight(b.attn.c_proj), weight(b.mlp.c_fc), weight(b.mlp.c_proj)]
                for b in t.h
            ]
            head = w if self.rows is None else w[self.rows.to(w.device)]  # (R, C)
            self.head = (head.t().contiguous() if self.transposed else head, None)
        self.rope = model.rotary(w.device)  # (block_size, D) cos and sin tables, or None
        if self.rope is not None:  # rotate-half as a signed permutation: x @ swap = cat(-x2, x1)
            D = model.config.head_dim
            half = torch.arange(D // 2, device=w.device)
            self.swap = torch.zeros(D, D, device=w.device, dtype=w.dtype)
            self.swap[half + D // 2, half] = -1.0
            self.swap[half, half + D // 2] = 1.0
            self.eye = torch.eye(D, device=w.device, dtype=w.dtype)
        self._products: dict[tuple[str, int], tuple[list[list[Product]], Product]] = {}

    def rotation(self, n: int) -> torch.Tensor:
        """(D, D) matrix R with `x @ R == rotate(x, cos[n], sin[n])`: one product per layer instead of five ops."""
        cos, sin = (t[n].to(self.eye.dtype) for t in self.rope)
        return torch.addcmul(self.eye * cos, self.swap, sin)

    @property
    def size(self) -> int:
        """R: the number of logits a step returns."""
        return self.head[0].size(1 if self.transposed else 0)

    def products(self, batch: int) -> tuple[list[list[Product]], Product]:
        """The matrix products of a step at this batch size: per layer, and the head (built once each)."""
        kind = "linear"
        if self.transposed:
            kind = "packed" if batch > 1 and _packing_works() else "transposed"
        n = batch if kind == "packed" else 0  # oneDNN packs a weight for a number of rows
        if (kind, n) not in self._products:
            self._products[kind, n] = (
                [[_product(w, b, kind, n) for w, b in layer] for layer in self.weights],
                _product(*self.head, kind, n),
            )
        return self._products[kind, n]

    def fill(
        self, idx: torch.Tensor, pos: Positions | None = None, cache: KVCache | None = None
    ) -> torch.Tensor:
        """(B, T) ids (and positions) -> (B, R) logits of `rows` at the last position; appends the T tokens to
        `cache`. The same as `model(idx, pos, cache=cache)[0][:, -1, rows]` without the output layer over every
        position: for a window refill of a few hundred tokens that (B, T, V) product was a quarter of the work."""
        m = self.model
        h = m.body(m.embed(idx, pos, 0 if cache is None else cache.length), cache)[:, -1]
        return self.products(h.size(0))[1](h)

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
            x = x + m.structural(pos)
        layers, head = self.products(B)
        caches = zip(
            self.norms, layers, cache.k.unbind(0), cache.v.unbind(0), strict=True
        )  # (B, H, max_len, D)
        turn = None if self.rope is None else self.rotation(n)
        for (ln1, ln2), (attn, proj, fc, out), ks, vs in caches:
            qkv = attn(F.layer_norm(x, (C,), *ln1)).view(B, 3, H, 1, D)
            if turn is None:
                q, k, v = qkv.unbind(1)  # (B, H, 1, D) each
            else:  # queries and keys rotated to position n: one product
                (q, k), v = torch.matmul(qkv[:, :2], turn).unbind(1), qkv[:, 2]
            ks.narrow(2, n, 1).copy_(k)
            vs.narrow(2, n, 1).copy_(v)
            # (B, H, 1, D) over the keys and values so far, (B, H, n + 1, D); SDPA's scale is GPT-2's 1/sqrt(D)
            y = F.scaled_dot_product_attention(q, ks.narrow(2, 0, n + 1), vs.narrow(2, 0, n + 1))
            x = x + proj(y.reshape(B, C))
            x = x + out(F.gelu(fc(F.layer_norm(x, (C,), *ln2)), approximate="tanh"))
        cache.length = n + 1
        return head(F.layer_norm(x, (C,), *self.ln_f))


def _product(w: torch.Tensor, b: torch.Tensor | None, kind: str, rows: int) -> Product:
    """`x -> x @ W.T + b`. `kind`: 'linear' (w is (out, in)), 'transposed' (w is (in, out)) or 'packed' (w is
    (in, out), packed here by oneDNN for `rows` rows)."""
    if kind == "linear":
        return lambda x: F.linear(x, w, b)
    if kind == "packed":
        packed = torch.ops.mkldnn._reorder_linear_weight(w.t().contiguous(), rows)
        return lambda x: torch.ops.mkldnn._linear_pointwise(x, packed, b, "none", [], "")
    if b is None:
        return lambda x: torch.mm(x, w)
    return lambda x: torch.mm(x, w).add_(
        b
    )  # not addmm: it copies the bias into its output first (~3 µs more)


_PACKING: bool | None = None


def _packing_works() -> bool:
    """oneDNN's packed linear runs in this build of PyTorch: checked once, against `torch.mm`."""
    global _PACKING
    if _PACKING is None:
        try:
            g = torch.Generator().manual_seed(0)
            x, w = torch.randn(3, 8, generator=g), torch.randn(8, 5, generator=g)
            _PACKING = torch.allclose(_product(w, None, "packed", 3)(x), x @ w, atol=1e-5)
        except (AttributeError, RuntimeError):  # no such op in this build
            _PACKING = False
    return _PACKING
