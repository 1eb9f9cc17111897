"""Infilling measurements: what the suffix buys, and how generated spans sit in real pieces.

`python -m musenet.evaluate.infill --models RUN... --data DIR --out FOLDER` writes `infill.json` and `infill.md`:

- **Middle NLL.** On held-out windows (the test split, no augmentation, evenly spaced), a span of 10-50 % of the
  window's time is cut (seeded, `data.infill.draw_span`, every instrument redone) and the model scores the true
  middle three ways: in the fill-in-the-middle sequence with both sides (`both`), the same with the context after
  the span dropped (`left`), and left to right in the plain window (the span's own tokens: `l2r`; the same music,
  tokenised without the closing note-offs at the span's end).
- **Generated spans.** On held-out pieces of at least `min_seconds`, a span of `span_seconds` at a seeded place is
  regenerated (all instruments, `Composer.infill`, the model's sampling defaults) and compared with the original
  at the same edges: the jump in onset density (onsets per second, `seam_seconds` before vs after the edge) and
  the pitch interval between the highest notes of the last onset before the edge and the first one after it.
  The style judge (`evaluate.style`, trained on real training excerpts) reads the `judge_seconds` around the span,
  original and replaced.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ..codec.decode import decode
from ..codec.events import Piece
from ..codec.infill import sample_positions, split
from ..codec.positions import countdown_of, part_of
from ..data.dataset import WindowDataset
from ..data.infill import draw_span
from .corpus import read_split


@dataclass(frozen=True)
class InfillEvalConfig:
    windows: int = 200
    """Held-out windows for the middle NLL."""
    pieces: int = 40
    """Held-out pieces whose span is regenerated."""
    min_seconds: float = 16.0
    span_seconds: float = 4.0
    seam_seconds: float = 2.0
    judge_seconds: float = 20.0
    seed: int = 0
    temperature: float | None = None
    """Sampling temperature of the regenerated spans (None: each model's default)."""


def _nll(model, ids: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """(n - 1,) NLL of ids[1:] given what precedes, nats."""
    import torch
    import torch.nn.functional as F

    from ..model.gpt import Positions

    with torch.inference_mode():
        p = torch.from_numpy(pos[None, :-1])
        logits, _ = model(
            torch.from_numpy(ids[None, :-1]), Positions(p[..., 0], p[..., 1], p[..., 2], p[..., 3])
        )
        logp = F.log_softmax(logits.float()[0], dim=-1)
        return -logp.gather(-1, torch.from_numpy(ids[1:])[:, None])[:, 0].numpy()


def _stack(vocab, ids, time, chord, duration, plen) -> np.ndarray:
    part = np.asarray(part_of(vocab, time, duration), dtype=np.int64)
    countdown = np.asarray(countdown_of(vocab, time, duration), dtype=np.int64)
    part[:plen] = 0
    countdown[:plen] = countdown_of(vocab, 0, duration)
    return np.stack([time, chord, part, countdown], axis=1)


def middle_nll(models: dict, data: str, cfg: InfillEvalConfig) -> dict:
    """Mean NLL per middle token, both sides vs left only vs left to right, per model (see the module doc)."""
    context = min(m.config.block_size for m in models.values())
    ds = WindowDataset(data, "test", context, augment=False)
    v = ds.vocab
    rng = np.random.default_rng(cfg.seed)
    sums = {name: {"both": 0.0, "left": 0.0, "l2r": 0.0} for name in models}
    counts = {"middle": 0, "l2r": 0, "windows": 0}
    for i in np.linspace(0, len(ds) - 1, min(cfg.windows, len(ds))).round().astype(int):
        s = ds.sample(int(i), 0)
        ids = s["ids"][s["ids"] != v.pad]
        plen = int(np.flatnonzero(ids == v.start)[0]) + 1
        body, time = ids[plen:], s["time"][plen : len(ids)]
        insts = [int(t) - v.instrument_offset for t in ids[:plen] if v.kind(int(t)) == "instrument"]
        if len(body) < 16:
            continue
        first_wait = v.wait_offset <= body[0] < v.style_offset
        base = int(time[0]) - (
            int(body[0]) - v.wait_offset + 1 if first_wait else 0
        )  # the clock before the body
        span = draw_span(body, time, base, insts, rng, v)
        if span is None:
            continue
        t0, t1, _ = span
        fim = split(body, time, v, t0, t1, insts, base)
        if len(fim.middle) < 4:
            continue
        d = int(ds.index[ds.win_piece[i]]["duration"])
        variants = {}
        for name, drop_after in (("both", False), ("left", True)):
            fim_v = fim
            if drop_after:
                cut = int(np.flatnonzero(fim.context == v.special("span_end"))[0]) + 1
                fim_v = replace(fim, context=fim.context[:cut], context_time=fim.context_time[:cut])
            f_ids, f_t, f_c = sample_positions(fim_v, v, t0, t1)
            a = np.concatenate([ids[:plen], f_ids])
            zero = np.zeros(plen, np.int64)
            pos = _stack(v, a, np.concatenate([zero, f_t]), np.concatenate([zero, f_c]), d, plen)
            if len(a) > context + 1:
                continue
            first = len(a) - len(fim.middle) - 1  # the middle's first token (after fill)
            variants[name] = (a, pos, first, len(a) - 1)
        if len(variants) < 2:
            continue
        # the span's own tokens left to right: the same notes the middle holds, and the waits between t0 and t1
        is_note = body < v.n_notes
        on = is_note & (v.note_table[np.where(is_note, body, 0), 1] > 0)
        later = (time > t0) & (time <= t1)
        in_span = np.flatnonzero(np.where(on, (time >= t0) & (time < t1), later)) + plen
        l2r_pos = np.stack([s["time"], s["chord"], s["part"], s["countdown"]], axis=1)[: len(ids)]
        for name, model in models.items():
            for key, (a, pos, lo, hi) in variants.items():
                sums[name][key] += float(_nll(model, a, pos)[lo - 1 : hi - 1].sum())
            sums[name]["l2r"] += float(_nll(model, ids, l2r_pos)[in_span - 1].sum())
        counts["middle"] += len(fim.middle)
        counts["l2r"] += len(in_span)
        counts["windows"] += 1
    out = {"windows": counts["windows"], "middle_tokens": counts["middle"], "l2r_span_tokens": counts["l2r"]}
    for name in models:
        out[name] = {
            "both": sums[name]["both"] / max(1, counts["middle"]),
            "left": sums[name]["left"] / max(1, counts["middle"]),
            "l2r": sums[name]["l2r"] / max(1, counts["l2r"]),
        }
    return out


def seam(notes: np.ndarray, edge: float, width: float) -> tuple[float, float | None]:
    """(onset-density jump in onsets/s, pitch interval in semitones or None) at a time `edge` (seconds)."""
    s = notes["start"]
    before = np.count_nonzero((s >= edge - width) & (s < edge)) / width
    after = np.count_nonzero((s >= edge) & (s < edge + width)) / width
    pitched = notes[notes["program"] != 128]
    ps = pitched["start"]
    lo, hi = ps[ps < edge], ps[ps >= edge]
    if not len(lo) or not len(hi):
        return abs(after - before), None
    last = pitched["pitch"][ps == lo.max()].max()
    first = pitched["pitch"][ps == hi.min()].max()
    return abs(after - before), float(abs(int(first) - int(last)))


def generated_spans(composers: dict, data: str, cfg: InfillEvalConfig) -> dict:
    """Seam jumps and style-judge accuracy for regenerated spans vs the original music, per model."""
    from .classifier import StyleClassifier
    from .style import StyleConfig, _vectors, training_set

    train, test = read_split(data, "train"), read_split(data, "test")
    v = test.vocab
    unit = v.config.time_unit_ms / 1000
    scfg = StyleConfig(seconds=cfg.judge_seconds, excerpts=2, max_pieces=60, seed=cfg.seed)
    pieces, labels, _ = training_set(train, scfg)
    judge = StyleClassifier().fit(_vectors(pieces, scfg.grid), labels) if len(set(labels)) > 1 else None
    rng = np.random.default_rng(cfg.seed)
    long = [p for p in test.pieces if p.duration * unit >= cfg.min_seconds]
    chosen = [long[int(k)] for k in sorted(rng.choice(len(long), min(cfg.pieces, len(long)), replace=False))]
    rows: dict[str, list] = {"real": [], **{n: [] for n in composers}}
    judged: dict[str, list] = {"real": [], **{n: [] for n in composers}}
    truth: list[str] = []
    for k, sp in enumerate(chosen):
        piece, _ = decode(np.asarray(sp.ids, dtype=np.int64), v)
        piece = Piece(piece.notes, sp.style, sp.title)
        total = sp.duration * unit
        start = float(np.round(rng.uniform(2.0, total - cfg.span_seconds - 2.0), 2))
        end = start + cfg.span_seconds
        lo = max(0.0, min(start - (cfg.judge_seconds - cfg.span_seconds) / 2, total - cfg.judge_seconds))
        versions = {"real": piece}
        for name, c in composers.items():
            got = c.infill(piece, start=start, end=end, candidates=1, seed=k, temperature=cfg.temperature)
            versions[name] = got[0].piece
        for name, p in versions.items():
            rows[name].append(
                [*seam(p.notes, start, cfg.seam_seconds), *seam(p.notes, end, cfg.seam_seconds)]
            )
            judged[name].append(p.window(lo, lo + cfg.judge_seconds))
        truth.append(sp.style)
    out: dict = {"pieces": len(chosen), "span_seconds": cfg.span_seconds}
    keep = [i for i, s in enumerate(truth) if judge is not None and s in judge.classes]
    for name, r in rows.items():
        a = np.array([[np.nan if x is None else x for x in row] for row in r], dtype=float)
        density = np.r_[a[:, 0], a[:, 2]]
        interval = np.r_[a[:, 1], a[:, 3]]
        entry = {
            "density_jump": float(np.nanmean(density)),
            "pitch_interval": float(np.nanmean(interval)),
            "big_leaps": float(np.nanmean(interval[~np.isnan(interval)] > 12)),
        }
        if keep:
            pred = judge.predict(_vectors([judged[name][i] for i in keep], scfg.grid))
            entry["style_accuracy"] = float(np.mean([p == truth[i] for p, i in zip(pred, keep, strict=True)]))
        out[name] = entry
    out["judged_pieces"] = len(keep)
    return out


def main(argv: list[str] | None = None) -> int:
    import torch

    from ..codec.vocab import Vocab, VocabConfig
    from ..generate.composer import Composer
    from ..model.checkpoint import load_model

    ap = argparse.ArgumentParser(prog="python -m musenet.evaluate.infill", description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", required=True, help="run or model folders")
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--suffix", default="", help="written as infill{suffix}.json")
    ap.add_argument("--windows", type=int, default=InfillEvalConfig.windows)
    ap.add_argument("--pieces", type=int, default=InfillEvalConfig.pieces)
    ap.add_argument("--temperature", type=float, default=None, help="of the regenerated spans")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = InfillEvalConfig(windows=args.windows, pieces=args.pieces, temperature=args.temperature)
    models, composers = {}, {}
    for path in args.models:
        model, meta = load_model(path)
        name = Path(path).name
        models[name] = model
        composers[name] = Composer(model, Vocab(VocabConfig.from_dict(meta["vocab"])), meta, Path(path))
    report = {"config": asdict(cfg), "models": args.models, "data": args.data}
    if cfg.windows:
        report["middle_nll"] = middle_nll(models, args.data, cfg)
        print(json.dumps(report["middle_nll"]), flush=True)
    if cfg.pieces:
        report["generated"] = generated_spans(composers, args.data, cfg)
        print(json.dumps(report["generated"]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"infill{args.suffix}.json").write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
