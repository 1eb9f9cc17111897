"""The training configuration: one frozen dataclass, saved in every checkpoint; presets fill what flags leave out."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from musenet.model.config import ATTENTION_KINDS, GPTConfig
from musenet.model.config import PRESETS as MODEL_PRESETS

# Optimisation defaults per preset (model sizes are in musenet.model.config.PRESETS). tiny is sized to show a
# clearly falling validation loss within minutes on 2 CPU cores; base is MuseNet's 4,096-token context, for GPUs.
TRAIN_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(batch_size=8, lr=1e-3, warmup_steps=30, max_steps=2000, eval_interval=50),
    "small": dict(batch_size=8, lr=6e-4, warmup_steps=100, max_steps=5000, eval_interval=250),
    "base": dict(batch_size=8, lr=3e-4, warmup_steps=500, max_steps=50000, eval_interval=1000),
}

DType = Literal["auto", "bf16", "fp32"]
Device = Literal["auto", "cpu", "cuda"]
StructuralInit = Literal["normal", "zero"]

# Fields that may change when a run is resumed: they alter neither the model nor the data order nor the
# optimisation of the steps already taken. Everything else must match the saved run.
RESUMABLE = frozenset(
    {
        "data",
        "max_steps",
        "eval_interval",
        "eval_batches",
        "ckpt_interval",
        "log_interval",
        "compile",
        "threads",
        "device",
        "time_limit_s",
        "data_workers",
        # changes the batches of the steps still to come, not the model or the steps taken: a run can learn the
        # unconditioned style from a resume on (classifier-free guidance, `SampleConfig.guidance`)
        "style_dropout",
        "piano_alias",  # likewise: which style some windows carry from here on
    }
)


@dataclass(frozen=True)
class TrainConfig:
    data: str
    """Folder of a built dataset (`musenet data build`)."""
    out: str
    """Run folder: checkpoint, log.csv, loss.png."""
    preset: str = field(default="tiny", metadata={"choices": tuple(MODEL_PRESETS)})
    """Model size and optimisation defaults (musenet.model.config.PRESETS)."""
    dataset: str = "musenet.data.dataset:WindowDataset"
    """`module:Class` of the window dataset; tests and benchmarks use musenet.train.synthetic:SyntheticDataset."""

    # model shape (None = the preset's)
    n_layer: int | None = None
    """Transformer blocks (default: the preset's)."""
    n_head: int | None = None
    """Attention heads (default: the preset's)."""
    n_embd: int | None = None
    """Embedding width (default: the preset's)."""
    context: int | None = None
    """Tokens per training window, the model's context (default: the preset's)."""
    dropout: float = 0.0
    """Dropout probability."""
    musenet_embeddings: bool = True
    """Off = plain GPT-2 (token + position embeddings only), for the ablation."""
    structural_init: StructuralInit = "normal"
    """Initial MuseNet embedding tables: `normal` (N(0, 0.02), as GPT-2's) or `zero` (they start as no-ops and
    grow only where they lower the loss)."""
    attention: str = field(default="dense", metadata={"choices": ATTENTION_KINDS})
    """dense, or the Sparse Transformer's strided / fixed block-sparse patterns (see musenet.model.sparse)."""
    sparse_stride: int = 128
    """Stride / block length of the sparse patterns."""
    rotary: bool = False
    """Rotary position embeddings on queries and keys, besides the learned and MuseNet's positions (see
    musenet.model.config.GPTConfig.rotary)."""

    # optimisation (None = the preset's)
    batch_size: int | None = None
    """Windows per micro-step per process; a step sees batch_size * grad_accum * world_size windows."""
    grad_accum: int = 1
    """Micro-steps per optimizer step."""
    max_steps: int | None = None
    """Optimizer steps in the run; the cosine schedule ends here."""
    lr: float | None = None
    """Peak learning rate, reached after warmup."""
    min_lr_ratio: float = 0.1
    """The cosine decays to lr * min_lr_ratio."""
    warmup_steps: int | None = None
    """Linear warmup steps (default: the preset's)."""
    weight_decay: float = 0.1
    """AdamW weight decay."""
    beta1: float = 0.9
    """AdamW beta1."""
    beta2: float = 0.95
    """AdamW beta2."""
    grad_clip: float = 1.0
    """Clip the global gradient norm to this (0 = off)."""
    mixup: float = 0.0
    """MuseNet's mixup in token-embedding space: lambda ~ Beta(mixup, mixup) per micro-batch; 0 = off."""
    augment: bool = True
    """The dataset's augmentations (transposition, velocity, tempo) on training windows."""
    infill_share: float = 0.0
    """Share of training windows turned into fill-in-the-middle samples (`musenet.data.infill`), so the model
    learns to regenerate a span besides continuing; 0 = left to right only. Validation stays left to right."""
    style_dropout: float = 0.0
    """Share of training windows whose style token is replaced by the vocabulary's first style (`unknown`, which no
    labelled piece has), so the model also learns the music of no style in particular: what classifier-free
    guidance (`musenet generate --guidance`) steers away from. 0 = every window keeps its style."""
    piano_alias: float = 0.0
    """Share of the training windows of solo-piano pieces in a concert style (Chopin, Beethoven, ...; see
    musenet.data.sources.styles.CONCERT_STYLES) that carry the style `piano` instead of their composer's, so that
    `piano` learns from all piano music, not only the few pieces labelled so. 0 = every window keeps its style."""
    style_alpha: float = 0.5
    """Style balance of the drawn windows: a style holding T tokens gets a share T^style_alpha / sum(T^style_alpha)
    of them (1 = in proportion to tokens, 0 = every style alike; see musenet.train.data.StyleBalance)."""

    # machinery
    dtype: DType = "auto"
    """bf16 (autocast), fp32, or auto: bf16 where the hardware has fast bf16 matmuls, else fp32."""
    compile: bool = False
    """torch.compile the model."""
    device: Device = "auto"
    """auto (cuda if present, else cpu), cpu, cuda."""
    threads: int | None = None
    """CPU threads per process (None = torch's default, or cores / processes under torchrun)."""
    data_workers: int = 0
    """Processes making the next steps' batches (0 = one background thread, enough on a CPU; one thread makes
    ~0.3-0.5 M augmented tokens a second, so a GPU wants several). The batches are the same either way."""
    seed: int = 1337
    """Seed of the initial weights and the data order."""
    eval_interval: int | None = None
    """Steps between validation losses (default: the preset's)."""
    eval_batches: int = 8
    """Validation batches per evaluation."""
    ckpt_interval: int | None = None
    """Steps between checkpoints (None = eval_interval); one is always written at the end."""
    log_interval: int = 1
    """Steps between log.csv rows."""
    time_limit_s: float | None = None
    """Stop after this many seconds of training in this process (counted from the first step; the evaluation and
    checkpoint of the step reached are written after it), even before max_steps: a GPU lent for minutes."""
    init_from: str | None = None
    """A run or export folder whose weights start this run (its shape and vocabulary must match; the optimizer and
    the schedule start afresh, so give it a short warmup): continuing on the CPU what a GPU trained."""

    def __post_init__(self) -> None:
        if self.preset not in MODEL_PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; choose one of {', '.join(MODEL_PRESETS)}")
        for name, kind in (
            ("dtype", DType),
            ("structural_init", StructuralInit),
            ("device", Device),
        ):
            if getattr(self, name) not in get_args(kind):
                raise ValueError(
                    f"{name} must be one of {', '.join(get_args(kind))}, not {getattr(self, name)!r}"
                )
        if not 0.0 <= self.infill_share <= 1.0:
            raise ValueError(f"infill_share must be in [0, 1], got {self.infill_share}")
        if not 0.0 <= self.style_dropout < 1.0:
            raise ValueError(f"style_dropout must be in [0, 1), got {self.style_dropout}")
        if not 0.0 <= self.piano_alias <= 1.0:
            raise ValueError(f"piano_alias must be in [0, 1], got {self.piano_alias}")
        if not 0 <= self.style_alpha <= 1:
            raise ValueError(f"style_alpha must be in [0, 1], not {self.style_alpha}")
        if self.mixup < 0:
            raise ValueError(f"mixup must be >= 0, got {self.mixup}")
        for name in ("grad_accum", "eval_batches", "log_interval"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.data_workers < 0:
            raise ValueError("data_workers must be >= 0")
        if self.time_limit_s is not None and self.time_limit_s <= 0:
            raise ValueError("time_limit_s must be positive")
        for name in ("max_steps", "batch_size", "context", "eval_interval", "ckpt_interval"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ValueError(f"{name} must be positive")
        if self.context is not None and self.context < 8:
            raise ValueError(f"context must be at least 8 tokens, got {self.context}")
        if self.n_embd is not None and self.n_head is not None and self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})")

    def resolved(self) -> TrainConfig:
        """This config with every None filled from the preset."""
        fill = {**MODEL_PRESETS[self.preset], **TRAIN_PRESETS[self.preset]}
        fill["context"] = fill.pop("block_size")
        values = {k: v for k, v in fill.items() if getattr(self, k) is None}
        cfg = dataclasses.replace(self, **values)  # checked again: the preset's width with the user's heads
        if cfg.ckpt_interval is None:
            cfg = dataclasses.replace(cfg, ckpt_interval=cfg.eval_interval)
        return cfg

    def model_config(self, vocab_size: int, chord_positions: int) -> GPTConfig:
        c = self.resolved()
        return GPTConfig(
            vocab_size=vocab_size,
            block_size=c.context,
            n_layer=c.n_layer,
            n_head=c.n_head,
            n_embd=c.n_embd,
            dropout=c.dropout,
            musenet_embeddings=c.musenet_embeddings,
            chord_positions=chord_positions,
            attention=c.attention,
            sparse_stride=c.sparse_stride,
            sparse_summary=max(1, c.sparse_stride // 16),
            rotary=c.rotary,
        )

    def resume_with(self, given: dict[str, Any]) -> TrainConfig:
        """This (saved) config with the flags given on the command line; only RESUMABLE fields may change."""
        changed = {k: v for k, v in given.items() if getattr(self, k) != v}
        fixed = sorted(k for k in changed if k not in RESUMABLE)
        if fixed:
            saved = ", ".join(f"{k}={getattr(self, k)!r}" for k in fixed)
            raise ValueError(f"cannot change {', '.join(fixed)} when resuming (the run has {saved})")
        return dataclasses.replace(self, **changed)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        # runs saved before style balancing drew windows in proportion to their count: alpha 1 is the closest
        return cls(**{"style_alpha": 1.0, **d})
