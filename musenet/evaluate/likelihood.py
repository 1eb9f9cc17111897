"""Held-out likelihood: a model's (and the n-gram baseline's) negative log-likelihood on the test pieces.

What is scored: every body token of a piece (notes, waits and `end`), each exactly once; the prefix (style,
instruments, `start`) is the condition, never a target. The model reads a piece in windows as the training data
does (`data.dataset`): the prefix, then a slice of `context + 1 - prefix` body tokens, slices back to back (stride
= the slice), so a slice's first token sees only the prefix. Positions are the full piece's (time since the
start, chord index, part and countdown from the piece's duration). The n-gram sees the two tokens before each
target within the piece (prefix included).

Reported, in nats: NLL per token = total / scored tokens; NLL per note = total / note-ons (drums included);
bits per second = total / ln 2 / seconds of music (AMT's measure); NLL per token of each kind (pitched note-on,
note-off, drum hit, wait, end), which shows where a model (or the ablation's structural embeddings) gains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..codec.positions import positions
from ..codec.vocab import Vocab
from .corpus import SplitPiece, note_count
from .ngram import NGram


@dataclass
class Score:
    """Summed NLL over a set of pieces."""

    nll: float = 0.0  # nats
    tokens: int = 0
    notes: int = 0
    seconds: float = 0.0
    by_style: dict[str, list[float]] = field(default_factory=dict)  # style -> [nll, tokens, seconds]
    by_source: dict[str, list[float]] = field(
        default_factory=dict
    )  # source collection -> [nll, tokens, seconds]
    pieces: list[tuple[float, int]] = field(default_factory=list)  # (nll, tokens) per piece, in order
    by_kind: dict[str, list[float]] = field(default_factory=dict)  # token kind -> [nll, tokens]

    def add(self, style: str, nll: float, tokens: int, notes: int, seconds: float, source: str = "") -> None:
        self.pieces.append((nll, tokens))
        self.nll += nll
        self.tokens += tokens
        self.notes += notes
        self.seconds += seconds
        for key, table in ((style, self.by_style), (source or "unrecorded", self.by_source)):
            s = table.setdefault(key, [0.0, 0, 0.0])
            s[0] += nll
            s[1] += tokens
            s[2] += seconds

    def summary(self) -> dict:
        def div(a: float, b: float) -> float | None:
            return a / b if b else None

        return {
            "nll_per_token": div(self.nll, self.tokens),
            "nll_per_note": div(self.nll, self.notes),
            "bits_per_second": div(self.nll / math.log(2), self.seconds),
            "tokens": self.tokens,
            "notes": self.notes,
            "seconds": round(self.seconds, 1),
            "nll_per_token_by_style": {s: v[0] / v[1] for s, v in sorted(self.by_style.items()) if v[1]},
            "bits_per_second_by_style": {
                s: v[0] / math.log(2) / v[2] for s, v in sorted(self.by_style.items()) if v[2]
            },
            "by_source": {
                s: {
                    "nll_per_token": v[0] / v[1],
                    "bits_per_second": div(v[0] / math.log(2), v[2]),
                    "tokens": v[1],
                }
                for s, v in sorted(self.by_source.items())
                if v[1]
            },
            "nll_per_token_by_kind": {k: v[0] / v[1] for k, v in self.by_kind.items() if v[1]},
            "tokens_by_kind": {k: int(v[1]) for k, v in self.by_kind.items()},
        }

    def add_kinds(self, body: np.ndarray, nll: np.ndarray, vocab: Vocab) -> None:
        """Splits a piece's body NLL by token kind (see `token_kinds`)."""
        kinds = token_kinds(body, vocab)
        for k, name in enumerate(KINDS):
            sel = kinds == k
            v = self.by_kind.setdefault(name, [0.0, 0])
            v[0] += float(nll[sel].sum())
            v[1] += int(sel.sum())


KINDS = ("note_on", "note_off", "drum", "wait", "end")


def token_kinds(body: np.ndarray, vocab: Vocab) -> np.ndarray:
    """(N,) index into KINDS for each body token: pitched note-on, note-off, drum hit, wait, end (or other)."""
    body = np.asarray(body, dtype=np.int64)
    out = np.full(len(body), KINDS.index("end"), dtype=np.int64)
    note = body < vocab.n_notes
    inst, level = vocab.note_table[body[note], 0], vocab.note_table[body[note], 1]
    drum = vocab.is_drums[inst]
    out[note] = np.where(
        drum, KINDS.index("drum"), np.where(level > 0, KINDS.index("note_on"), KINDS.index("note_off"))
    )
    out[(body >= vocab.wait_offset) & (body < vocab.style_offset)] = KINDS.index("wait")
    return out


def paired_difference(a: Score, b: Score, draws: int = 2000, seed: int = 0) -> dict:
    """NLL per token of a minus b on the same pieces, with a 95% interval from a bootstrap over pieces (tokens
    within a piece are not independent, pieces are): the ablation's "is the gap real?"."""
    x = np.array(a.pieces, dtype=np.float64).reshape(-1, 2)
    y = np.array(b.pieces, dtype=np.float64).reshape(-1, 2)
    if len(x) != len(y) or not np.array_equal(x[:, 1], y[:, 1]) or not len(x):
        raise ValueError("a paired difference needs the same pieces and tokens on both sides")
    diff, tokens = x[:, 0] - y[:, 0], x[:, 1]
    idx = np.random.default_rng(seed).integers(0, len(x), (draws, len(x)))
    boot = diff[idx].sum(axis=1) / tokens[idx].sum(axis=1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return {
        "nll_per_token": float(diff.sum() / tokens.sum()),
        "ci95": [float(lo), float(hi)],
        "pieces": len(x),
    }


def capped(pieces: list[SplitPiece], max_tokens: int | None) -> list[SplitPiece]:
    """Whole pieces up to `max_tokens` body tokens (at least one), taken round-robin over the styles (in order of
    first appearance) so that a cap does not keep only the split's first collection; None keeps them all."""
    if max_tokens is None:
        return pieces
    by_style: dict[str, list[SplitPiece]] = {}
    for p in pieces:
        by_style.setdefault(p.style, []).append(p)
    queues = list(by_style.values())
    order = [q[i] for i in range(max(map(len, queues), default=0)) for q in queues if i < len(q)]
    out, total = [], 0
    for p in order:
        if out and total + len(p.body) > max_tokens:
            break
        out.append(p)
        total += len(p.body)
    return out


def windows(piece: SplitPiece, vocab: Vocab, context: int) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """(ids, positions (n, 4), first scored index) per window; a window holds at most context + 1 tokens."""
    ids = np.asarray(piece.ids, dtype=np.int64)
    pos = positions(ids, vocab, piece.duration)
    pos = np.stack([pos.time, pos.chord, pos.part, pos.countdown], axis=1)
    plen = piece.prefix
    room = context + 1 - plen
    if room < 1:
        raise ValueError(f"context {context} is too short for a prefix of {plen} tokens")
    out = []
    for a in range(plen, len(ids), room):
        take = np.r_[np.arange(plen), np.arange(a, min(a + room, len(ids)))]
        out.append((ids[take], pos[take], plen))
    return out


def model_token_nll(
    model,
    piece: SplitPiece,
    vocab: Vocab,
    batch: int = 8,
    bf16: bool = False,
    to_model: np.ndarray | None = None,
) -> np.ndarray:
    """(body tokens,) the model's NLL of each body token of the piece, nats. `to_model` maps the dataset's ids to
    the model's (`Vocab.translation`) when their vocabularies differ in styles; every id of the piece must map."""
    import torch
    import torch.nn.functional as F

    from ..model.gpt import Positions

    ctx = model.config.block_size
    wins = windows(piece, vocab, ctx)
    out = []
    with torch.inference_mode():
        for i in range(0, len(wins), batch):
            group = wins[i : i + batch]
            T = max(len(w[0]) for w in group) - 1
            x = np.full((len(group), T), vocab.pad, np.int64)
            y = np.full((len(group), T), -100, np.int64)
            p = np.zeros((len(group), T, 4), np.int64)
            for b, (ids, pos, first) in enumerate(group):
                n = len(ids) - 1
                x[b, :n], p[b, :n] = ids[:-1], pos[:-1]
                y[b, first - 1 : n] = ids[first:]
            if to_model is not None:
                x, y = to_model[x], np.where(y == -100, -100, to_model[np.maximum(y, 0)])
            pt = torch.from_numpy(p)
            positions_ = Positions(pt[..., 0], pt[..., 1], pt[..., 2], pt[..., 3])
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits, _ = model(torch.from_numpy(x), positions_)
            logp = F.log_softmax(logits.float(), dim=-1)
            yt = torch.from_numpy(y)
            nll = -logp.gather(-1, yt.clamp(min=0)[..., None])[..., 0]
            for b in range(len(group)):
                keep = y[b] != -100
                out.append(nll[b].numpy()[keep])
    return np.concatenate(out) if out else np.zeros(0)


def score_model(
    model, pieces: list[SplitPiece], vocab: Vocab, bf16: bool = False, to_model: np.ndarray | None = None
) -> Score:
    unit_s = vocab.config.time_unit_ms / 1000
    s = Score()
    for p in pieces:
        nll = model_token_nll(model, p, vocab, bf16=bf16, to_model=to_model)
        s.add(p.style, float(nll.sum()), len(nll), note_count(p, vocab), p.duration * unit_s, p.source)
        s.add_kinds(np.asarray(p.body), nll, vocab)
    return s


def score_ngram(lm: NGram, pieces: list[SplitPiece], vocab: Vocab) -> Score:
    unit_s = vocab.config.time_unit_ms / 1000
    s = Score()
    for p in pieces:
        nll = lm.token_nll(np.asarray(p.ids, np.int64))[p.prefix :]
        s.add(p.style, float(nll.sum()), len(nll), note_count(p, vocab), p.duration * unit_s, p.source)
        s.add_kinds(np.asarray(p.body), nll, vocab)
    return s


def train_ngram(
    pieces: list[SplitPiece], vocab: Vocab, order: int = 3, max_tokens: int | None = None
) -> NGram:
    """An n-gram on the training pieces: whole pieces, round-robin over styles, up to about `max_tokens` tokens."""
    seqs = [np.asarray(p.ids, np.int64) for p in capped(pieces, max_tokens)]
    return NGram(vocab.size, order).fit(seqs)
