"""The Python API: `musenet.load()` gives a `Composer`; `.generate(...)` gives `Candidate` pieces.

import musenet
composer = musenet.load()                          # the shipped default model
for c in composer.generate(style="bach", instruments=["piano", "violin"], seconds=30, candidates=4, seed=1):
    c.save_midi(f"bach-{c.index}.mid"); c.save_wav(f"bach-{c.index}.wav")
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..codec.decode import decode
from ..codec.events import Piece, sort_notes
from ..codec.midi_io import write_midi
from ..codec.safe import load_midi
from ..codec.vocab import Vocab, VocabConfig
from ..errors import UserError
from .engine import GenerateConfig, generate_ids
from .sampling import SampleConfig

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
    critic: float | None = None  # the inner critic's P(real) when the candidate was chosen by reranking
    span: tuple[float, float] | None = None  # infill: the regenerated span (seconds); None for a continuation

    @property
    def seconds(self) -> float:
        return self.piece.duration

    def save_midi(self, path: str | Path) -> Path:
        write_midi(self.piece, path)
        return Path(path)

    def save_wav(self, path: str | Path, soundfont: str | Path | None = None) -> Path:
        from ..audio import render, save_wav

        rate = 44100
        save_wav(render(self.piece, sample_rate=rate, soundfont=soundfont), path, rate)
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
    return Path(os.environ.get("MUSENET_HOME", Path.home() / ".musenet")) / "models"


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

    def __init__(self, model, vocab: Vocab, meta: dict | None = None, path: Path | None = None):
        self.model = model.eval()
        self.vocab = vocab
        self.meta = meta or {}
        self.path = path
        self._critic = None  # loaded on first use by critic()

    @property
    def sampling(self) -> SampleConfig:
        """The model's own sampling defaults (`sampling` in its config.json, chosen by evaluation and written in its
        model card), else temperature 1 and nucleus 0.95."""
        d = self.meta.get("sampling") or {}
        try:
            return SampleConfig(
                float(d.get("temperature", 1.0)), int(d.get("top_k", 0)), float(d.get("top_p", 0.95))
            )
        except (TypeError, ValueError):
            raise UserError(f"{self.path}: config.json has a bad `sampling` entry: {d}") from None

    @property
    def styles(self) -> list[str]:
        return list(self.vocab.config.styles)

    @property
    def instruments(self) -> list[str]:
        return [i.name for i in self.vocab.config.instruments]

    def _sampling(self, temperature: float | None, top_k: int | None, top_p: float | None) -> SampleConfig:
        """The given sampling settings, the model's own defaults (`sampling`) for those left None."""
        d = self.sampling
        try:
            return SampleConfig(
                d.temperature if temperature is None else temperature,
                d.top_k if top_k is None else top_k,
                d.top_p if top_p is None else top_p,
            )
        except ValueError as e:
            raise UserError(str(e)) from None

    def generate(
        self,
        style: str | None = None,
        instruments: Sequence[str] = ("piano",),
        seconds: float = 30.0,
        primer: str | Path | Piece | None = None,
        prompt_seconds: float | None = None,
        candidates: int = 4,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int = 0,
        progress: Callable[[float], None] | None = None,
        rerank: int = 1,
    ) -> list[Candidate]:
        """`rerank` N > 1: sample N * candidates and keep the candidates the model's critic rates most real.
        Sampling settings left None are the model's own defaults (`Composer.sampling`)."""
        sampling = self._sampling(temperature, top_k, top_p)
        cfg = GenerateConfig(style, tuple(instruments), seconds, candidates, seed, sampling)
        cfg.check(self.vocab)
        if not 1 <= rerank <= 64:
            raise UserError(f"--rerank must be 1..64, got {rerank}")
        primer_piece = self._primer(primer, prompt_seconds)
        scores: list[float | None] = [None] * candidates
        if rerank > 1:
            from ..critic.rerank import generate_ranked

            ranked = generate_ranked(
                self.model, self.vocab, cfg, self.critic(), rerank, primer_piece, progress
            )
            out, scores = [g for g, _ in ranked], [p for _, p in ranked]
        else:
            out = generate_ids(self.model, self.vocab, cfg, primer=primer_piece, progress=progress)
        unit = self.vocab.config.time_unit_ms / 1000
        names = self.instruments
        program_to_inst = self.vocab.program_to_instrument
        results = []
        for i, g in enumerate(out, 1):
            piece, repairs = decode(g.new_ids(self.vocab), self.vocab)
            notes = piece.notes
            if primer_piece is not None:
                # the primer's own notes, verbatim (not quantised), then the new ones
                notes = sort_notes(np.concatenate([primer_piece.notes, notes]))
            piece = Piece(notes, style=style or self.styles[0], title=f"candidate-{i}")
            used = np.unique(program_to_inst[notes["program"].astype(np.int64)])
            playing = [names[k] for k in used if k >= 0]
            results.append(Candidate(i, piece, g.ids, g.primer_units * unit, repairs, playing, scores[i - 1]))
        return results

    def infill(
        self,
        piece: str | Path | Piece,
        start: float,
        end: float,
        instruments: Sequence[str] | None = None,
        candidates: int = 4,
        style: str | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int = 0,
        progress: Callable[[float], None] | None = None,
        rerank: int = 1,
    ) -> list[Candidate]:
        """Regenerates the span [start, end) seconds of `piece` (a MIDI path or a Piece) for `instruments` (None:
        all of the piece's): `candidates` versions, each the whole piece with every note outside the redone part
        identical to the input's (see `generate.infill`). Sampling and `rerank` work as for `generate`."""
        from .infill import InfillConfig, assemble, infill_ids, middle_of

        cfg = InfillConfig(
            start,
            end,
            None if instruments is None else tuple(instruments),
            style,
            candidates,
            seed,
            self._sampling(temperature, top_k, top_p),
        )
        cfg.check(self.vocab)
        if not 1 <= rerank <= 64:
            raise UserError(f"--rerank must be 1..64, got {rerank}")
        source = piece if isinstance(piece, Piece) else load_midi(piece)
        label = style or source.style or self.styles[0]
        made = []
        total = candidates * rerank
        batches = [min(64, total - at) for at in range(0, total, 64)]
        for b, size in enumerate(batches):
            step = None
            if progress is not None:
                step = lambda f, b=b: progress((b + f) / len(batches))  # noqa: E731 -- one-line rescale
            sub = InfillConfig(cfg.start, cfg.end, cfg.instruments, style, size, seed + b, cfg.sample)
            p, out = infill_ids(self.model, self.vocab, sub, source, step)
            made += [(g, *assemble(source, p, middle_of(g, self.vocab), self.vocab)) for g in out]
        scores: list[float | None] = [None] * len(made)
        if rerank > 1:
            from ..codec.encode import encode

            critic = self.critic()
            logits = critic.score(
                [encode(m[1], self.vocab, style=label).ids for m in made], self.vocab.start, self.vocab.pad
            )
            order = np.argsort(-logits, kind="stable")[:candidates]
            made = [made[int(k)] for k in order]
            scores = [float(1 / (1 + np.exp(-logits[int(k)]))) for k in order]
        names = self.instruments
        results = []
        for i, (g, piece_i, repairs) in enumerate(made[:candidates], 1):
            notes = piece_i.notes
            used = np.unique(self.vocab.program_to_instrument[notes["program"].astype(np.int64)])
            results.append(
                Candidate(
                    i,
                    Piece(notes, style=label, title=f"candidate-{i}"),
                    g.ids,
                    0.0,
                    repairs,
                    [names[k] for k in used if k >= 0],
                    scores[i - 1],
                    (start, end),
                )
            )
        return results

    @property
    def has_critic(self) -> bool:
        from ..critic.store import has_critic

        return self.path is not None and has_critic(self.path)

    def critic(self):
        """The critic saved in the model's folder (loaded once); a UserError if it has none."""
        if self._critic is None:
            from ..critic.store import load_critic

            if self.path is None:
                raise UserError("this model has no folder, so no critic: reranking needs one")
            self._critic = load_critic(self.path)[0]
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


def load(name_or_path: str | Path | None = None, device: str = "cpu") -> Composer:
    """Loads a model folder (or the shipped default) for generation."""
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
    return Composer(model, Vocab(VocabConfig.from_dict(vocab_cfg)), meta, path)
