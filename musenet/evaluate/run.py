"""`evaluate(config)`: every measurement of one model on one built dataset, into metrics.json, report.md and PNGs.

Stages (each timed): likelihood (model, n-gram baseline, optionally a second model) on the test split; samples per
style; music statistics of samples vs real held-out excerpts (test, optionally val); the style classifier;
memorisation; plots; the report.

metrics.json (NaN and missing values are null):

    command, config (EvalConfig), run {date, musenet, torch_threads}, timings_s {stage: seconds, total}
    likelihood  test_pieces, test_pieces_total, tokens_cap,
                model / compare / ngram: nll_per_token, nll_per_note, bits_per_second, tokens, notes, seconds,
                nll_per_token_by_style, nll_per_token_by_kind, tokens_by_kind (note_on, note_off, drum, wait, end); models also path, musenet_embeddings, step, params, layers, width,
                context; ngram also order, trained_tokens, train_tokens_total; compare also model_minus_compare
                {nll_per_token, ci95 [lo, hi], pieces} (a bootstrap over pieces)
    samples     count, generated, validity, nonempty, repaired, instrument_precision, instrument_recall,
                instrument_exact, seconds_asked, seconds_got, length_abs_error_s, length_ratio, per_style {style:
                the same}, errors, midi (file names under samples/)
    music       {style: n_real, n_generated, mean_oa, features {name: real_mean, real_std, real_n, gen_mean,
                gen_std, gen_n, oa, kl}, vectors {name: oa, kl}}
    style       train_excerpts, classes, left_out, chance, majority, train_counts, real_accuracy,
                real_balanced_accuracy, real_recall {style: recall}, real_n,
                generated {style: n, accuracy, real_accuracy, predicted {style: count}}
    memorisation k, transpose_invariant, train_pieces, index_windows,
                generated {n, max, mean, share_at_least_k, per_sample [{style, longest, source}]}, real {n, max,
                mean, share_at_least_k}
    plots       the PNG file names
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..codec.events import Piece
from ..codec.vocab import Vocab
from ..errors import UserError
from ..generate.config import MAX_RERANK
from . import corpus, likelihood, plots, report
from .corpus import Split, SplitPiece, excerpt, instruments_of
from .features import Grid
from .memorise import MemoConfig, MemoIndex, note_codes
from .music import compare_sets
from .samples import Sample, adherence, generate_all, save_midi
from .style import StyleConfig, recognisability


@dataclass(frozen=True)
class EvalConfig:
    model: Path
    """The model folder (or name) to evaluate."""
    data: Path
    """A built dataset (`musenet data build`): train for the baselines, test for the measurements."""
    out: Path
    """Report folder: report.md, metrics.json, *.png, samples/*.mid."""
    compare: Path | None = None
    """A second model whose test NLL goes beside the first (e.g. the ablation without structural embeddings)."""
    samples: int = 4
    """Generated samples per style (0: likelihood and real-data statistics only)."""
    styles: tuple[str, ...] | None = None
    """Styles to sample (default: the test split's, most pieces first, at most `max_styles`)."""
    max_styles: int = 6
    """At most this many test styles."""
    seconds: float = 20.0
    """Length of each sample and of each real excerpt, seconds."""
    real_splits: tuple[str, ...] = ("test",)
    """The held-out real pieces samples are compared with (statistics, classifier, memorisation); NLL is on test."""
    seed: int = 0
    """Seeds sampling and every random draw."""
    temperature: float | None = None
    """Sampling temperature (default: the model's own, `Composer.sampling`)."""
    top_k: int | None = None
    """Sample from the k most likely tokens (0 = all; default: the model's)."""
    top_p: float | None = None
    """Nucleus sampling mass (default: the model's)."""
    guidance: float | None = None
    """Classifier-free guidance on the style (1: off; default: the model's)."""
    rerank: int = 1
    """Sample this many per kept sample and keep those the model's critic rates best (1: off)."""
    max_test_tokens: int | None = 200_000
    """Score whole test pieces (round-robin over styles) up to this many body tokens (0 or None: all)."""
    ngram_order: int = 3
    """The n-gram baseline's order, 1..4 (3: a trigram)."""
    ngram_max_tokens: int | None = 20_000_000
    """Train the n-gram on whole training pieces up to this many tokens (0 or None: all)."""
    classifier_pieces: int = 300
    """Training pieces per style for the style classifier."""
    classifier_excerpts: int = 4
    """Consecutive excerpts of `seconds` per training piece for the classifier."""
    classifier_min_pieces: int = 5
    """Styles with fewer training pieces are not classes of the style classifier."""
    min_real: int = 16
    """Music statistics: a style with fewer held-out pieces takes consecutive excerpts of each (up to this many
    in all), so a style held out as 2 long songs is not compared on 2 points."""
    memo: MemoConfig = MemoConfig()
    """Memorisation search."""
    grid: Grid = Grid()
    """The grid of the music statistics."""
    bf16: bool = False
    """bf16 autocast for the likelihood (faster on recent CPUs; fp32 logits either way)."""
    rolls: int = 4
    """Styles whose first sample (with a real excerpt) gets a piano roll."""

    def __post_init__(self) -> None:
        for name in ("max_test_tokens", "ngram_max_tokens"):
            if getattr(self, name) == 0:
                object.__setattr__(self, name, None)  # 0: all, as None
        if self.samples < 0 or self.seconds <= 0 or self.max_styles < 1:
            raise ValueError("need samples >= 0, seconds > 0 and max_styles >= 1")
        if not 1 <= self.rerank <= MAX_RERANK:
            raise ValueError(f"rerank must be 1..{MAX_RERANK}")
        if not 1 <= self.ngram_order <= 4:
            raise ValueError(f"ngram_order must be 1..4, got {self.ngram_order}")
        if not self.real_splits or not set(self.real_splits) <= {"val", "test"}:
            raise ValueError("the real comparison set is made of held-out splits: val and/or test")


@dataclass
class Loaded:
    """A model and, when its vocabulary differs from the dataset's in styles or infill tokens (an older model on a
    newer corpus), the id translations both ways (`Vocab.translation`); None where the vocabularies are one."""

    composer: Any
    to_model: np.ndarray | None = None  # dataset id -> model id, -1 where the model has no such token
    to_data: np.ndarray | None = None  # model id -> dataset id

    def speaks(self, piece: SplitPiece) -> bool:
        """Every token of the piece exists in the model's vocabulary (its style, above all)."""
        return self.to_model is None or bool((self.to_model[np.asarray(piece.ids)] >= 0).all())


def _load(path: Path, data_vocab: Vocab) -> Loaded:
    from .. import load

    composer = load(path)
    if composer.vocab.config.to_dict() == data_vocab.config.to_dict():
        return Loaded(composer)
    try:
        return Loaded(
            composer, data_vocab.translation(composer.vocab), composer.vocab.translation(data_vocab)
        )
    except ValueError as e:
        raise UserError(
            f"model {path} and the dataset use different vocabularies ({e}); build the dataset with the model's"
        ) from None


class Stages:
    """Times named stages into a dict and reports each one's start and end through `log`."""

    def __init__(self, log: Callable[[str], None] | None = None):
        self.seconds: dict[str, float] = {}
        self.log = log or (lambda _msg: None)
        self.t0 = time.monotonic()

    @contextmanager
    def __call__(self, name: str, what: str) -> Iterator[None]:
        self.log(f"{what}...")
        t = time.monotonic()
        yield
        self.seconds[name] = time.monotonic() - t
        self.log(f"{what}: {self.seconds[name]:.1f} s")

    def finish(self) -> None:
        self.seconds["total"] = time.monotonic() - self.t0


def _likelihood(
    cfg: EvalConfig, model: Loaded, other: Loaded | None, train: Split, test: Split, stage: Stages
) -> dict:
    """The model's, the n-gram's and (if given) the other model's NLL on the same test tokens: the test pieces
    every scored model can read (a model that predates a style leaves that style's pieces out, for all)."""
    vocab = test.vocab
    scorers = [model] + ([other] if other is not None else [])
    readable = [p for p in test.pieces if all(m.speaks(p) for m in scorers)]
    pieces = likelihood.capped(readable, cfg.max_test_tokens)
    unread = sorted({p.style for p in test.pieces} - {p.style for p in readable})
    out: dict = {
        "test_pieces": len(pieces),
        "test_pieces_total": len(test.pieces),
        "tokens_cap": cfg.max_test_tokens,
        "unreadable_pieces": len(test.pieces) - len(readable),
        "unreadable_styles": unread,
    }
    n = sum(len(p.body) for p in pieces)
    composer = model.composer
    with stage("likelihood_model", f"NLL of the model on {n:,} test tokens"):
        score = likelihood.score_model(composer.model, pieces, vocab, cfg.bf16, model.to_model)
    out["model"] = {**score.summary(), "path": str(cfg.model), **_describe(composer)}
    with stage("likelihood_ngram", f"{cfg.ngram_order}-gram baseline"):
        lm = likelihood.train_ngram(train.pieces, vocab, cfg.ngram_order, cfg.ngram_max_tokens)
        out["ngram"] = likelihood.score_ngram(lm, pieces, vocab).summary()
    out["ngram"].update(
        order=cfg.ngram_order, trained_tokens=lm.trained_tokens, train_tokens_total=train.tokens
    )
    if other is not None:
        with stage("likelihood_compare", "NLL of the compared model"):
            score_b = likelihood.score_model(other.composer.model, pieces, vocab, cfg.bf16, other.to_model)
        out["compare"] = {**score_b.summary(), "path": str(cfg.compare), **_describe(other.composer)}
        out["compare"]["model_minus_compare"] = likelihood.paired_difference(score, score_b, seed=cfg.seed)
    return out


def _describe(composer) -> dict:
    c = composer.model.config
    return {
        "musenet_embeddings": bool(c.musenet_embeddings),
        "step": composer.meta.get("step"),
        "params": composer.model.num_params(),
        "layers": c.n_layer,
        "width": c.n_embd,
        "context": c.block_size,
    }


def _styles(cfg: EvalConfig, composer, held: Split) -> list[str]:
    """The styles to sample: asked for, or the held-out split's commonest; known to the model and the dataset."""
    known = [s for s in composer.styles if s in held.vocab.config.styles]
    if cfg.styles:
        unknown = [s for s in cfg.styles if s not in known]
        if unknown:
            raise UserError(
                f"unknown style(s) {', '.join(unknown)}; see `musenet styles --model {cfg.model}`"
                + ("" if set(unknown) <= set(held.vocab.config.styles) else " and the dataset's meta.json")
            )
        return list(cfg.styles)
    return [s for s in held.styles() if s in known][: cfg.max_styles]


def _head_ids(p: SplitPiece, vocab: Vocab, seconds: float) -> np.ndarray:
    limit = seconds * 1000 / vocab.config.time_unit_ms
    k = int(np.searchsorted(np.asarray(p.time[p.prefix :]), limit, side="right"))
    return np.asarray(p.ids[: p.prefix + k], dtype=np.int64)


def _memorisation(
    cfg: EvalConfig, train: Split, held: Split, samples: list[Sample], styles: list[str]
) -> dict:
    vocab = train.vocab
    index = MemoIndex([note_codes(p.ids, vocab, cfg.memo) for p in train.pieces], cfg.memo)

    def run(ids: np.ndarray) -> dict:
        m = index.longest(note_codes(ids, vocab, cfg.memo))
        source = train.pieces[m.piece].title if m.piece >= 0 else None
        return {"longest": m.length, "source": source}

    gen = [dict(style=s.style, **run(s.ids)) for s in samples if s.piece is not None]
    real = [
        dict(style=p.style, **run(_head_ids(p, vocab, cfg.seconds))) for p in held.pieces if p.style in styles
    ]

    def summary(rows: list[dict]) -> dict:
        lengths = [r["longest"] for r in rows]
        return {
            "n": len(rows),
            "max": max(lengths) if lengths else None,
            "mean": float(np.mean(lengths)) if lengths else None,
            "share_at_least_k": float(np.mean([x >= cfg.memo.k for x in lengths])) if lengths else None,
        }

    return {
        "k": cfg.memo.k,
        "transpose_invariant": cfg.memo.transpose_invariant,
        "train_pieces": len(train.pieces),
        "index_windows": index.windows,
        "generated": {**summary(gen), "per_sample": gen},
        "real": summary(real),
    }


def evaluate(cfg: EvalConfig, command: str = "", log: Callable[[str], None] | None = None) -> dict:
    """Runs every stage (progress lines through `log`), writes the report folder, returns the metrics."""
    stage = Stages(log)
    train, test = corpus.read_split(cfg.data, "train"), corpus.read_split(cfg.data, "test")
    if not test.pieces:
        raise UserError(f"{cfg.data} has no test pieces; rebuild it with a larger --test share")
    if not train.pieces:
        raise UserError(f"{cfg.data} has no training pieces")
    held = test if cfg.real_splits == ("test",) else corpus.read_splits(cfg.data, cfg.real_splits)
    model = _load(cfg.model, test.vocab)
    composer = model.composer
    if cfg.rerank > 1:
        composer.critic()  # no critic: a UserError now, not a failed batch per style
    other = _load(cfg.compare, test.vocab) if cfg.compare is not None else None
    styles = _styles(cfg, composer, held)
    cfg.out.mkdir(parents=True, exist_ok=True)
    metrics: dict = {"command": command, "config": _jsonable(asdict(cfg)), "timings_s": stage.seconds}
    metrics["run"] = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "musenet": __version__,
        "torch_threads": _torch_threads(),
    }
    metrics["likelihood"] = _likelihood(cfg, model, other, train, test, stage)

    vocab = test.vocab
    plan = {s: [instruments_of(p, vocab) for p in (held.of_style(s) or train.of_style(s))] for s in styles}
    gen = composer.config(
        cfg.temperature, cfg.top_k, cfg.top_p, cfg.guidance, rerank=cfg.rerank
    )  # the model's defaults filled
    sampling = {**asdict(gen.sample), "rerank": gen.rerank}
    metrics["sampling"] = sampling
    samples: list[Sample] = []
    if cfg.samples:
        what = f"generating {cfg.samples} x {cfg.seconds:g} s for {len(styles)} styles ({', '.join(styles)})"
        with stage("generation", what):
            samples = generate_all(composer, plan, cfg.samples, cfg.seconds, cfg.seed, sampling)
        if model.to_data is not None:  # the samples' tokens in the dataset's ids, as memorisation reads them
            for x in samples:
                x.ids = model.to_data[x.ids]
    metrics["samples"] = adherence(samples)
    metrics["samples"]["per_style"] = {s: adherence([x for x in samples if x.style == s]) for s in styles}
    metrics["samples"]["errors"] = sorted({s.error for s in samples if s.error})
    metrics["samples"]["midi"] = save_midi(samples, cfg.out / "samples")

    music, real_of, scalars = {}, {}, {}
    with stage("music", "music statistics"):
        for s in styles:
            real_of[s] = real_excerpts(held.of_style(s), vocab, cfg.seconds, cfg.min_real)
            gen = [x.piece for x in samples if x.style == s and x.piece is not None]
            music[s] = compare_sets(real_of[s], gen, cfg.grid)
            scalars[s] = music[s].pop("_scalars")
    metrics["music"] = music
    style_cfg = StyleConfig(cfg.seconds, cfg.classifier_excerpts, cfg.classifier_pieces,
                            cfg.classifier_min_pieces, cfg.seed, cfg.grid)  # fmt: skip
    with stage("classifier", "style classifier"):
        metrics["style"] = recognisability(train, held, samples, style_cfg)
    with stage("memorisation", "memorisation"):
        metrics["memorisation"] = _memorisation(cfg, train, held, samples, styles)
    with stage("plots", "plots"):
        metrics["plots"] = _plots(cfg, vocab, metrics, samples, real_of, scalars)
    stage.finish()
    metrics = _jsonable(metrics)
    (cfg.out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
    (cfg.out / "report.md").write_text(report.render(metrics), encoding="utf-8")
    return metrics


def real_excerpts(pieces: list[SplitPiece], vocab: Vocab, seconds: float, min_real: int) -> list[Piece]:
    """The first `seconds` of each piece; for fewer than `min_real` pieces, also the next consecutive excerpts of
    each (those with at least 8 notes) until there are about `min_real` excerpts."""
    per = max(1, -(-min_real // max(1, len(pieces))))  # ceil
    unit_s = vocab.config.time_unit_ms / 1000
    out = []
    for p in pieces:
        for k in range(per):
            start = k * seconds
            if k and start >= p.duration * unit_s:
                break
            e = excerpt(p, vocab, seconds, start)
            if k == 0 or len(e) >= 8:
                out.append(e)
    return out


def _plots(
    cfg: EvalConfig, cfg_vocab: Vocab, metrics: dict, samples: list[Sample], real_of: dict, scalars: dict
) -> list[str]:
    out = []
    lk = metrics["likelihood"]
    bars = {
        "model": lk["model"]["nll_per_token"],
        f"{lk['ngram']['order']}-gram": lk["ngram"]["nll_per_token"],
    }
    if "compare" in lk:
        bars["compared model"] = lk["compare"]["nll_per_token"]
    bars = {k: v for k, v in bars.items() if v is not None}
    if bars:
        out.append(plots.likelihood_bars(cfg.out / "likelihood.png", bars).name)
    for style, (real, gen) in scalars.items():
        if len(real_of[style]) and any(x.style == style and x.piece is not None for x in samples):
            out.append(plots.feature_distributions(cfg.out / f"features-{style}.png", style, real, gen).name)
    for style in list(real_of)[: cfg.rolls]:
        rolls = [(f"{style}: generated sample {k + 1} ({', '.join(x.instruments)})", x.piece)
                 for k, x in enumerate([x for x in samples if x.style == style and x.piece is not None][:2])]  # fmt: skip
        if real_of[style]:
            rolls.append((f"{style}: real held-out excerpt ({real_of[style][0].title})", real_of[style][0]))
        if rolls:
            names = {i.program: i.name for i in cfg_vocab.config.instruments}
            out.append(plots.piano_rolls(cfg.out / f"pianoroll-{style}.png", rolls, names).name)
    return out


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def _jsonable(x):
    """Plain JSON: paths as strings, numpy scalars as numbers, NaN/inf as null."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x
