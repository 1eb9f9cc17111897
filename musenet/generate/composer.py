"""The Python API: `musenet.load()` gives a `Composer`; `.generate(...)` gives `Candidate` pieces.

import musenet
composer = musenet.load()                          # the shipped default model
for c in composer.generate(style="bach", instruments=["piano", "violin"], seconds=30, candidates=4, seed=1):
    c.save_midi(f"bach-{c.index}.mid"); c.save_wav(f"bach-{c.index}.wav")
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..codec.decode import decode
from ..codec.encode import encode
from ..codec.events import Piece, end_long_notes, sort_notes
from ..codec.midi_io import write_midi
from ..codec.safe import load_midi
from ..codec.vocab import Vocab, VocabConfig
from ..errors import UserError
from ..files import home
from .config import MAX_CANDIDATES, SAMPLE_FIELDS, GenerateConfig, InfillConfig, SampleConfig
from .engine import Primer, generate_ids
from .scorer import Scorer, ScorerStore, generate_ranked

PACKAGE_MODELS = Path(__file__).resolve().parents[1] / "weights"
DEFAULT_MODEL = "default"


@dataclass
class Candidate:
    """One generated piece: its notes (primer included, verbatim) and the tokens it came from."""

    index: int  # 1-based, as in candidate-1.mid
    piece: Piece
    ids: np.ndarray
    primer_seconds: float
    repairs: Counter
    instruments: list[str]  # the instruments that play in it
    critic: float | None = None  # the critic's P(real), or P(asked style) for a style critic, when reranked
    span: tuple[float, float] | None = None  # infill: the regenerated span (seconds); None for a continuation

    @property
    def seconds(self) -> float:
        return self.piece.duration

    def save_midi(self, path: str | Path) -> Path:
        write_midi(self.piece, path)
        return Path(path)

    def save_wav(self, path: str | Path, soundfont: str | Path | None = None) -> Path:
        from ..audio import SAMPLE_RATE, render, save_wav

        save_wav(render(self.piece, sample_rate=SAMPLE_RATE, soundfont=soundfont), path, SAMPLE_RATE)
        return Path(path)

    def summary(self) -> dict:
        return {
            "candidate": self.index,
            "seconds": round(self.seconds, 2),
            "notes": len(self.piece),
            "instruments": self.instruments,
            "tokens": int(len(self.ids)),
            **({} if self.critic is None else {"critic": round(self.critic, 4)}),
            **({} if self.span is None else {"span": [round(x, 3) for x in self.span]}),
        }


def models_home() -> Path:
    return home() / "models"


def resolve_model(name_or_path: str | Path | None) -> Path:
    """A folder holding config.json + model.safetensors: a path, or a name under $MUSENET_HOME/models or shipped."""
    name = str(name_or_path or DEFAULT_MODEL)
    for cand in (Path(name), models_home() / name, PACKAGE_MODELS / name):
        if (cand / "config.json").is_file():
            return cand
    if name_or_path is None or name == DEFAULT_MODEL:
        raise UserError(
            "no default model is installed yet; train one (`musenet train`) and pass its folder with --model"
        )
    raise UserError(
        f"model {name!r} not found: give a folder with config.json and model.safetensors, or a name in {models_home()}"
    )


class Composer:
    """A trained model with its vocabulary, ready to generate."""

    def __init__(
        self,
        model,
        vocab: Vocab,
        meta: dict | None = None,
        path: Path | None = None,
        scorers: ScorerStore | None = None,
    ):
        self.model = model.eval()
        self.vocab = vocab
        self.meta = meta or {}
        self.path = path
        self.scorers = (
            scorers  # where the model's folder keeps its critic (`musenet.load` passes the critic's)
        )
        self._critic: Scorer | None = None  # loaded on first use by critic()

    @property
    def sampling(self) -> SampleConfig:
        """The model's own sampling defaults (`sampling` in its config.json, chosen by evaluation and written in its
        model card), else temperature 1 and nucleus 0.95."""
        d = self.meta.get("sampling") or {}
        try:
            return replace(SampleConfig(top_p=0.95), **{k: d[k] for k in SAMPLE_FIELDS if k in d})
        except (TypeError, ValueError):
            raise UserError(f"{self.path}: config.json has a bad `sampling` entry: {d}") from None

    def config(
        self,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        guidance: float | None = None,
        **settings,
    ) -> GenerateConfig:
        """A GenerateConfig from `settings` (its fields), with the sampling settings left None taken from the
        model's own defaults (`sampling`); checked against the model's vocabulary. Bad values: a UserError."""
        return self._checked(
            GenerateConfig, self.sample_config(temperature, top_k, top_p, guidance), settings
        )

    def infill_config(
        self,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        guidance: float | None = None,
        **settings,
    ) -> InfillConfig:
        """An InfillConfig from `settings` (its fields), as `config` makes a GenerateConfig."""
        return self._checked(InfillConfig, self.sample_config(temperature, top_k, top_p, guidance), settings)

    def _checked(self, cls: type, sample: SampleConfig, settings: dict):
        try:
            cfg = cls(**settings, sample=sample)
        except (TypeError, ValueError) as e:
            raise UserError(str(e)) from None
        cfg.check(self.vocab)
        if cfg.sample.guidance != 1 and not self.guided:
            raise UserError(
                f"guidance {cfg.sample.guidance:g}: this model never learned music of no style (it was trained "
                "without --style-dropout), so it cannot be guided; leave guidance at 1"
            )
        return cfg

    @property
    def guided(self) -> bool:
        """Whether style guidance means something for this model: it was trained with style dropout, so its
        `unknown` style is music of no style in particular."""
        return float((self.meta.get("train") or {}).get("style_dropout", 0.0) or 0.0) > 0

    @property
    def styles(self) -> list[str]:
        return list(self.vocab.config.styles)

    @property
    def instruments(self) -> list[str]:
        return list(self.vocab.config.instrument_names)

    def sample_config(
        self,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        guidance: float | None = None,
    ) -> SampleConfig:
        """The given sampling settings, the model's own defaults (`sampling`) for those left None."""
        given = {"temperature": temperature, "top_k": top_k, "top_p": top_p, "guidance": guidance}
        try:
            return replace(self.sampling, **{k: v for k, v in given.items() if v is not None})
        except (TypeError, ValueError) as e:
            raise UserError(str(e)) from None

    def generate(
        self,
        style: str | None = GenerateConfig.style,
        instruments: Sequence[str] = GenerateConfig.instruments,
        seconds: float = GenerateConfig.seconds,
        primer: str | Path | Piece | None = None,
        prompt_seconds: float | None = None,
        candidates: int = GenerateConfig.candidates,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int = GenerateConfig.seed,
        progress: Callable[[float], None] | None = None,
        rerank: int = GenerateConfig.rerank,
        guidance: float | None = None,
    ) -> list[Candidate]:
        """`rerank` N > 1: sample N * candidates and keep the candidates the model's critic rates best.
        Sampling settings left None are the model's own defaults (`Composer.sampling`)."""
        cfg = self.config(
            temperature, top_k, top_p, guidance,
            style=style, instruments=tuple(instruments), seconds=seconds, candidates=candidates, seed=seed,
            rerank=rerank,
        )  # fmt: skip
        return self.compose(cfg, primer, prompt_seconds, progress)

    def compose(
        self,
        cfg: GenerateConfig,
        primer: str | Path | Piece | None = None,
        prompt_seconds: float | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> list[Candidate]:
        """`generate` with its settings as one GenerateConfig (e.g. from `config`)."""
        cfg.check(self.vocab)
        primer_piece = self._primer(primer, prompt_seconds)
        tokens = None if primer_piece is None else primer_tokens(primer_piece, self.vocab, cfg.style)
        scores: list[float | None] = [None] * cfg.candidates
        if cfg.rerank > 1:
            ranked = generate_ranked(self.model, self.vocab, cfg, self.critic(), cfg.rerank, tokens, progress)
            out, scores = [g for g, _ in ranked], [p for _, p in ranked]
        else:
            out = generate_ids(self.model, self.vocab, cfg, primer=tokens, progress=progress)
        unit = self.vocab.config.time_unit_ms / 1000
        results = []
        for i, g in enumerate(out, 1):
            piece, repairs = decode(g.new_ids(self.vocab), self.vocab)
            notes = piece.notes
            if cfg.release_after is not None:  # the new notes only: the primer's stay as they were
                notes = end_long_notes(notes, cfg.release_after)
            if primer_piece is not None:
                # the primer's own notes, verbatim (not quantised), then the new ones
                notes = sort_notes(np.concatenate([primer_piece.notes, notes]))
            piece = Piece(notes, style=cfg.style or self.styles[0], title=f"candidate-{i}")
            playing, _ = self.vocab.instruments_playing(notes)
            results.append(Candidate(i, piece, g.ids, g.primer_units * unit, repairs, playing, scores[i - 1]))
        return results

    def infill(
        self,
        piece: str | Path | Piece,
        start: float,
        end: float,
        instruments: Sequence[str] | None = InfillConfig.instruments,
        candidates: int = InfillConfig.candidates,
        style: str | None = InfillConfig.style,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int = InfillConfig.seed,
        progress: Callable[[float], None] | None = None,
        rerank: int = InfillConfig.rerank,
        guidance: float | None = None,
    ) -> list[Candidate]:
        """Regenerates the span [start, end) seconds of `piece` (a MIDI path or a Piece) for `instruments` (None:
        all of the piece's): `candidates` versions, each the whole piece with every note outside the redone part
        identical to the input's (see `generate.infill`). Sampling and `rerank` work as for `generate`."""
        cfg = self.infill_config(
            temperature, top_k, top_p, guidance,
            start=start, end=end, instruments=instruments, style=style, candidates=candidates, seed=seed,
            rerank=rerank,
        )  # fmt: skip
        return self.regenerate(piece, cfg, progress)

    def regenerate(
        self,
        piece: str | Path | Piece,
        cfg: InfillConfig,
        progress: Callable[[float], None] | None = None,
    ) -> list[Candidate]:
        """`infill` with its settings as one InfillConfig (e.g. from `infill_config`)."""
        from .infill import assemble, infill_ids, middle_of

        cfg.check(self.vocab)
        source = piece if isinstance(piece, Piece) else load_midi(piece)
        label = cfg.style or source.style or self.styles[0]
        made = []
        total = cfg.candidates * cfg.rerank
        batches = [min(MAX_CANDIDATES, total - at) for at in range(0, total, MAX_CANDIDATES)]
        for b, size in enumerate(batches):
            step = None
            if progress is not None:
                step = lambda f, b=b: progress((b + f) / len(batches))  # noqa: E731 -- one-line rescale
            sub = replace(cfg, candidates=size, seed=(cfg.seed + b) % 2**63, rerank=1)
            p, out = infill_ids(self.model, self.vocab, sub, source, step)
            made += [
                (g, *assemble(source, p, middle_of(g, self.vocab), self.vocab, cfg.release_after))
                for g in out
            ]
        scores: list[float | None] = [None] * len(made)
        if cfg.rerank > 1:
            critic = self.critic()
            logits = critic.score(
                [encode(m[1], self.vocab, style=label).ids for m in made], self.vocab.start, self.vocab.pad
            )
            order = np.argsort(-logits, kind="stable")[: cfg.candidates]
            made = [made[int(k)] for k in order]
            scores = [float(1 / (1 + np.exp(-logits[int(k)]))) for k in order]
        results = []
        for i, (g, piece_i, repairs) in enumerate(made[: cfg.candidates], 1):
            notes = piece_i.notes
            playing, _ = self.vocab.instruments_playing(notes)
            piece_i = Piece(notes, style=label, title=f"candidate-{i}")
            span = (cfg.start, cfg.end)
            results.append(Candidate(i, piece_i, g.ids, 0.0, repairs, playing, scores[i - 1], span))
        return results

    @property
    def has_critic(self) -> bool:
        return self.path is not None and self.scorers is not None and self.scorers.exists(self.path)

    def critic(self) -> Scorer:
        """The critic saved in the model's folder (loaded once); a UserError if it has none."""
        if self._critic is None:
            if self.path is None:
                raise UserError("this model has no folder, so no critic: reranking needs one")
            if self.scorers is None:
                raise UserError(f"{self.path} has no critic (loaded without one: use `musenet.load`)")
            self._critic = self.scorers.load(self.path)
        return self._critic

    def _primer(self, primer: str | Path | Piece | None, prompt_seconds: float | None) -> Piece | None:
        if primer is None:
            if prompt_seconds is not None:
                raise UserError("--prompt-seconds needs a primer (--prompt IN.mid)")
            return None
        piece = primer if isinstance(primer, Piece) else load_midi(primer)
        if prompt_seconds is not None:
            if prompt_seconds <= 0:
                raise UserError(f"--prompt-seconds must be positive, got {prompt_seconds:g}")
            end = piece.duration
            piece = piece.window(max(0.0, end - prompt_seconds - 1e-6), end + 1e-6)  # 1 µs of float slack
        return piece


def primer_tokens(piece: Piece, vocab: Vocab, style: str | None = None) -> Primer:
    """A MIDI primer as the engine takes it: its encoded body tokens (no prefix, no `end`) and its length."""
    enc = encode(piece, vocab, style=style)
    start_at = int(np.flatnonzero(enc.ids == vocab.start)[0]) + 1
    return Primer(enc.ids[start_at:-1], enc.duration)


def load(
    name_or_path: str | Path | None = None, device: str = "cpu", scorers: ScorerStore | None = None
) -> Composer:
    """Loads a model folder (or the shipped default) for generation; `scorers`: where its critic is kept (see
    `musenet.load`, which passes the critic's store)."""
    path = resolve_model(name_or_path)
    from ..model.checkpoint import load_model  # torch-heavy: only once a model folder was found

    try:
        model, meta = load_model(path, device=device)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        reason = " ".join(str(e).split())[:200]
        raise UserError(f"cannot load the model in {path}: {reason}") from None
    vocab_cfg = meta.get("vocab")
    if vocab_cfg is None:
        raise UserError(f"{path} has no vocabulary config: it is not a musenet music model")
    return Composer(model, Vocab(VocabConfig.from_dict(vocab_cfg)), meta, path, scorers)
