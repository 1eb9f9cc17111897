"""One token at a time, fast: a GPT's weights laid out for decoding, and a decode step as a flat run of aten calls.

At batch 1-4 a decode step of a small model is a string of matrix-vector products over weights that do not stay
in cache, plus per-op overhead. Measured on this project's 2-core VM (the 4 x 256 default model's shape, one
thread, the 17 products of a step):

- fp32, batch 1: `x @ Wt` with `Wt` stored (in, out) and contiguous reads the weights ~30 % faster than
  `F.linear(x, W)` with PyTorch's (out, in) layout (1.5-2.0 ms against 2.7-3.3 ms);
- fp32, batch 2-8: `F.linear(x, W)` over PyTorch's own layout. It is 1.5-2.5x faster than oneDNN's kernel over a
  weight packed for that many rows, which this used until `benchmarks/decode_products.py` measured it (2 threads:
  0.59 against 1.57 ms at batch 2, 0.78 against 1.44 at batch 4; one session's machine had measured the packed one
  ~25 % faster at batch 4), and its results do not depend on the number of threads, which `x @ Wt` at batch > 1
  does (MKL splits that sum differently): the decode threads are chosen by timing (`generate.threads`) and a seed
  must give the same piece whatever they are;
- bf16: `F.linear` in PyTorch's layout (1.9 ms); a transposed bf16 weight falls off the fast kernels (10 ms);
- `scaled_dot_product_attention` called directly is 2-4x faster than the two `matmul`s of a hand-written
  attention over a slice of the cache;
- module attribute lookups, views and masks were half of a step before this was flat.

`Decoder` keeps the weights in the layouts its products want (for one row, fp32 ones transposed: copies), and of the
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
        # fp32 on a CPU: a step of one row reads (in, out) copies of the weights; anything else PyTorch's own
        self.transposed = w.dtype == torch.float32 and w.device.type == "cpu"

        def weight(m: torch.nn.Linear) -> tuple[torch.Tensor, torch.Tensor | None]:
            return m.weight.detach(), None if m.bias is None else m.bias.detach()

        def norm(m: torch.nn.LayerNorm) -> tuple:
            return m.weight, m.bias, m.eps

        with torch.no_grad():
            self.norms = [(norm(b.ln_1), norm(b.ln_2)) for b in t.h]
            self.ln_f = norm(t.ln_f)
            # per layer: qkv, attention output, MLP in, MLP out; (out, in)
            self.weights = [
                [weight(b.attn.c_attn), weight(b.attn.c_proj), weight(b.mlp.c_fc), weight(b.mlp.c_proj)]
                for b in t.h
            ]
            self.head = (w if self.rows is None else w[self.rows.to(w.device)], None)  # (R, C)
            # the matrix products of a step: per layer and the head's, for one row and for several
            self.many_rows = _products(self.weights, self.head, "linear")
            self.one_row = _products(self.weights, self.head, "transposed" if self.transposed else "linear")
        self.rope = model.rotary(w.device)  # (block_size, D) cos and sin tables, or None
        if self.rope is not None:  # rotate-half as a signed permutation: x @ swap = cat(-x2, x1)
            D = model.config.head_dim
            half = torch.arange(D // 2, device=w.device)
            self.swap = torch.zeros(D, D, device=w.device, dtype=w.dtype)
            self.swap[half + D // 2, half] = -1.0
            self.swap[half, half + D // 2] = 1.0
            self.eye = torch.eye(D, device=w.device, dtype=w.dtype)

    def rotation(self, n: int) -> torch.Tensor:
        """(D, D) matrix R with `x @ R == rotate(x, cos[n], sin[n])`: one product per layer instead of five ops."""
        cos, sin = (t[n].to(self.eye.dtype) for t in self.rope)
        return torch.addcmul(self.eye * cos, self.swap, sin)

    @property
    def layout(self) -> tuple:
        """What the shapes and kinds of this decoder's products follow (width, biases, output rows, dtype, device):
        two decoders of one layout run the same products."""
        w = self.head[0]
        return w.size(1), self.weights[0][0][1] is not None, w.size(0), w.dtype, w.device.type

    @property
    def size(self) -> int:
        """R: the number of logits a step returns."""
        return self.head[0].size(0)

    def products(self, batch: int) -> tuple[list[list[Product]], Product]:
        """The matrix products of a step of `batch` rows: per layer, and the head."""
        return self.one_row if batch == 1 else self.many_rows

    def probes(self, rows: int, tokens: int = 1) -> list[tuple[Product, torch.Tensor]]:
        """The distinct matrix products of a step of `rows` rows (`tokens` > 1: of a fill of that many tokens a row,
        whose trunk and head run `F.linear`, over every token and over the last), each with a random
        input of its shape: what `generate.threads.same_on_threads` runs on one thread and on several to see
        whether the thread count changes the numbers (MKL's split of a product depends on its shape, not on the
        values)."""
        g = torch.Generator().manual_seed(rows * tokens)
        w0 = self.head[0]
        layers, head = self.products(rows) if tokens == 1 else self.many_rows
        works = [(f, rows * tokens, w.size(1)) for f, (w, _) in zip(layers[0], self.weights[0], strict=True)]
        works.append((head, rows, w0.size(1)))
        return [(f, torch.randn(n, k, generator=g, dtype=w0.dtype).to(w0.device)) for f, n, k in works]

    def fill(
        self, idx: torch.Tensor, pos: Positions | None = None, cache: KVCache | None = None
    ) -> torch.Tensor:
        """(B, T) ids (and positions) -> (B, R) logits of `rows` at the last position; appends the T tokens to
        `cache`. The same as `model(idx, pos, cache=cache)[0][:, -1, rows]` without the output layer over every
        position: for a window refill of a few hundred tokens that (B, T, V) product was a quarter of the work."""
        m = self.model
        h = m.body(m.embed(idx, pos, 0 if cache is None else cache.length), cache)[:, -1]
        return self.many_rows[1](h)  # `F.linear` at any batch, as `probes(rows, tokens)` checks it

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


def _products(
    weights: list[list[tuple[torch.Tensor, torch.Tensor | None]]], head: tuple, kind: str
) -> tuple[list[list[Product]], Product]:
    """A step's products over (out, in) weights (and biases), per layer and the head's, of one `_product` kind."""
    return [[_product(w, b, kind) for w, b in layer] for layer in weights], _product(*head, kind)


def _product(w: torch.Tensor, b: torch.Tensor | None, kind: str) -> Product:
    """`x -> x @ W.T + b` over an (out, in) `w`. `kind`: 'linear' (`F.linear` on `w` itself) or 'transposed'
    (`torch.mm` on an (in, out) copy of it)."""
    if kind == "linear":
        return lambda x: F.linear(x, w, b)
    w = w.t().contiguous()
    if b is None:
        return lambda x: torch.mm(x, w)
    return lambda x: torch.mm(x, w).add_(
        b
    )  # not addmm: it copies the bias into its output first (~3 µs more)
