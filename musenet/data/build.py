"""`build(config)`: a source (the music21 corpus or a folder of MIDI and score files) -> labelled, split token shards.

    tasks (files, or runs of ABC tunes)  --pool of worker processes-->  cached conversion -> encode
        -> drop short pieces and exact duplicates -> split by a hash of each piece's identity -> shards

Workers convert (through the cache, `data.cache`) and encode; the parent only orders results by task (so the
output does not depend on which worker finished first), drops duplicates and writes. Nothing is fatal: a file that
fails to parse, times out or crashes its worker is a drop with its reason, listed in `dropped.jsonl` and counted
in `meta.json` and the printed summary.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import numpy as np

from ..codec.encode import encode
from ..codec.events import Piece
from ..codec.safe import Limits
from ..codec.vocab import DEFAULT_STYLES, Vocab, VocabConfig
from . import cache, shards
from .composition import composition, source_of
from .items import Drop, Task


@dataclass(frozen=True)
class BuildConfig:
    source: str
    """"music21", or a folder of MIDI and score files (MusicXML, .mxl, ABC, kern)."""
    out: Path
    """Output folder (created)."""
    collections: tuple[str, ...] | None = None
    """music21 only: the collections to build (default: all)."""
    labels: Path | None = None
    """Folder only: a CSV `path,style[,split]` overriding the sub-folder labels (and pinning splits)."""
    collection: str | None = None
    """The source recorded for every piece in pieces.jsonl (e.g. `groove` when building that collection's own
    folder); None derives it from each piece's identity (`composition.source_of`: `music21`, or the first folder)."""
    workers: int = max(1, os.cpu_count() or 1)
    """Worker processes (default: all cores)."""
    val_fraction: float = 0.02
    """Share of pieces in the val split."""
    test_fraction: float = 0.02
    """Share of pieces in the test split."""
    min_notes: int = 8
    """Pieces with fewer notes (after the codec's cleaning) are dropped: too short to learn from."""
    limit: int | None = None
    """At most this many files per collection (music21) or in all (folder): quick builds and tests."""
    cache_dir: Path | None = None
    """Conversion cache (default `$MUSENET_HOME/cache/pieces`)."""
    use_cache: bool = True
    """Read and write the conversion cache (off: convert everything again, write no cache)."""
    timeout_s: float = 900.0
    """Per task, music21 only (a MIDI file gets `Limits.timeout_s`); the largest corpus file parses in ~30 s."""
    score_timeout_s: float = 120.0
    """Per score file (or run of ABC tunes) of a folder: our readers take well under a second, music21 (their
    fallback) tens of seconds on a big score; past this the file is a `timeout` drop."""
    progress: bool = True
    """A progress bar on stderr."""

    def __post_init__(self) -> None:
        if self.source != "music21" and not Path(self.source).is_dir():
            raise ValueError(f"source {self.source}: not `music21` and not a folder")
        if self.collections is not None and self.source != "music21":
            raise ValueError("collections apply to the source music21 only")
        if self.labels is not None and self.source == "music21":
            raise ValueError("labels apply to a MIDI folder only (music21 styles come from its collections)")
        if self.labels is not None and not Path(self.labels).is_file():
            raise ValueError(f"labels must name a CSV file; there is none at {self.labels}")
        if not (
            0 <= self.val_fraction < 1
            and 0 <= self.test_fraction < 1
            and self.val_fraction + self.test_fraction < 1
        ):
            raise ValueError("val and test fractions must be in [0, 1) and sum below 1")
        if self.workers < 1 or self.min_notes < 1:
            raise ValueError("workers and min_notes must be >= 1")
        if self.timeout_s <= 0 or self.score_timeout_s <= 0:
            raise ValueError("timeouts must be > 0 seconds")
        if self.collection is not None and not self.collection.strip():
            raise ValueError("collection must be a name (or None)")

    @property
    def is_music21(self) -> bool:
        return self.source == "music21"


@dataclass
class Encoded:
    id: str
    title: str
    style: str
    ids: np.ndarray
    prefix: int
    duration: int
    notes: int
    pitched: int = 0
    """Pitched notes that reached the codec's range rule (the base of the folded share)."""
    folded: int = 0
    """Of those, the notes the codec moved by octaves into their instrument's range (`pitch_folded`)."""


@dataclass
class TaskResult:
    pieces: list[Encoded] = field(default_factory=list)
    drops: list[Drop] = field(default_factory=list)
    rules: Counter = field(default_factory=Counter)
    cached: bool = False
    readers: Counter = field(default_factory=Counter)


def _work(task: Task, cfg: BuildConfig, vocab: Vocab, limits: Limits) -> TaskResult:
    """Runs in a worker: read the task's tokens from the cache, or convert (through the notes cache) and encode."""
    cdir = cfg.cache_dir or cache.default_dir()
    use_cache = cfg.use_cache and task.source != "midi"  # a MIDI file reads as fast as a cache entry
    encoding = hashlib.sha1(
        json.dumps([vocab.config.to_dict(), task.style, cfg.min_notes]).encode()
    ).hexdigest()
    if use_cache:
        hit = cache.load_arrays(cdir, task, encoding)
        if hit is not None:
            return _unpack(*hit, cached=True)
    result = _encode(task, cfg, vocab, limits, cdir if use_cache else None)
    if use_cache:
        with contextlib.suppress(OSError):  # a cache that cannot be written costs time, never pieces
            cache.save_arrays(cdir, task, encoding, *_pack(result))
    return result


def _encode(task: Task, cfg: BuildConfig, vocab: Vocab, limits: Limits, cdir: Path | None) -> TaskResult:
    from . import corpus, folder

    conv = cache.load(cdir, task) if cdir is not None else None
    result = TaskResult(cached=conv is not None)
    if conv is None:
        conv = corpus.convert(task) if task.source == "music21" else folder.convert(task, limits)
        if cdir is not None:
            with contextlib.suppress(OSError):
                cache.save(cdir, task, conv)
    result.drops = list(conv.drops)
    result.readers = Counter(conv.readers)
    dtype = shards.token_dtype(vocab.size)
    for raw in conv.pieces:
        enc = encode(Piece(raw.notes), vocab, style=task.style)
        inst = vocab.program_to_instrument[raw.notes["program"].astype(np.int64)]
        onsets = int(np.count_nonzero(enc.positions.chord > 0))  # notes kept by the codec's cleaning
        if onsets < cfg.min_notes:
            result.drops.append(Drop(raw.id, "too_few_notes", f"{onsets} notes (< {cfg.min_notes})"))
            continue
        prefix = int(np.flatnonzero(enc.ids == vocab.start)[0]) + 1
        result.rules.update(enc.counts)
        pitched = int(((inst >= 0) & ~vocab.is_drums[inst]).sum())
        ids = enc.ids.astype(dtype)
        result.pieces.append(
            Encoded(
                raw.id, raw.title, task.style, ids, prefix, enc.duration, onsets, pitched,
                enc.counts["pitch_folded"],
            )
        )  # fmt: skip
    return result


def _pack(r: TaskResult) -> tuple[dict, dict[str, np.ndarray]]:
    meta = {
        "ids": [p.id for p in r.pieces],
        "titles": [p.title for p in r.pieces],
        "style": r.pieces[0].style if r.pieces else "",
        "drops": [d.__dict__ for d in r.drops],
        "rules": dict(r.rules),
        "readers": dict(r.readers),
    }
    arrays = {
        "tokens": np.concatenate([p.ids for p in r.pieces]) if r.pieces else np.zeros(0, np.int16),
        "table": np.array(
            [(len(p.ids), p.prefix, p.duration, p.notes, p.pitched, p.folded) for p in r.pieces], np.int64
        ).reshape(-1, 6),
    }
    return meta, arrays


def _unpack(meta: dict, arrays: dict[str, np.ndarray], cached: bool) -> TaskResult:
    table, tokens = arrays["table"], arrays["tokens"]
    bounds = np.concatenate([[0], np.cumsum(table[:, 0])])
    pieces = [
        Encoded(pid, title, meta["style"], tokens[bounds[k] : bounds[k + 1]], *(int(x) for x in t[1:]))
        for k, (pid, title, t) in enumerate(zip(meta["ids"], meta["titles"], table, strict=True))
    ]
    drops = [Drop(**d) for d in meta["drops"]]
    return TaskResult(pieces, drops, Counter(meta["rules"]), cached, Counter(meta.get("readers", {})))


def folded_share(pitched: int, folded: int) -> dict:
    """The meta.json entry of one source: its pitched notes, how many the codec moved by octaves, their share."""
    return {
        "pitched_notes": pitched,
        "folded": folded,
        "share": round(folded / pitched, 5) if pitched else 0.0,
    }


def vocab_config_for(tasks: list[Task]) -> VocabConfig:
    """The default config, with any label not among its styles appended (sorted), so default ids stay put."""
    extra = sorted({t.style for t in tasks} - set(DEFAULT_STYLES))
    return VocabConfig() if not extra else VocabConfig().with_styles(DEFAULT_STYLES + tuple(extra))


def list_tasks(cfg: BuildConfig) -> tuple[list[Task], list[Drop]]:
    from . import corpus, folder

    if cfg.is_music21:
        return corpus.list_tasks(list(cfg.collections) if cfg.collections else None, cfg.limit)
    return folder.list_tasks(Path(cfg.source), cfg.labels, cfg.limit)


def build(cfg: BuildConfig) -> dict:
    """Builds the dataset into `cfg.out`; returns the meta.json it wrote (counts, drops, timings)."""
    from .pool import run_tasks

    t0 = time.monotonic()
    tasks, drops = list_tasks(cfg)
    vocab = Vocab(vocab_config_for(tasks))
    limits = Limits()
    cfg.out.mkdir(parents=True, exist_ok=True)
    (cfg.out / "meta.json").unlink(missing_ok=True)  # until the new one is written, the folder is no dataset
    fn = partial(_work, cfg=cfg, vocab=vocab, limits=limits)
    if cfg.is_music21:
        init, timeout = None, [cfg.timeout_s] * len(tasks)
    else:
        from .folder import init_worker

        # the pool's deadline is the per-file limit; parsing in the worker is additionally memory-capped
        init = partial(init_worker, limits)
        timeout = [limits.timeout_s if t.source == "midi" else cfg.score_timeout_s for t in tasks]
    results: list[TaskResult | None] = [None] * len(tasks)
    bar = _progress(len(tasks), cfg)
    for outcome in run_tasks(fn, tasks, cfg.workers, timeout, init, cost=[_cost(t) for t in tasks]):
        task = tasks[outcome.index]
        if outcome.error is not None:
            results[outcome.index] = TaskResult(
                drops=[Drop(f"{task.source}:{task.key}", _task_reason(outcome.error), outcome.error)]
            )
        else:
            results[outcome.index] = outcome.value
        bar.update(1)
    bar.close()
    t_convert = time.monotonic() - t0
    meta = _write(cfg, vocab, tasks, results, drops)
    meta["composition"] = composition(cfg.out, meta)
    meta["build"].update(seconds=round(time.monotonic() - t0, 1), convert_seconds=round(t_convert, 1))
    shards.write_meta(cfg.out, meta)
    return meta


# rough parsing seconds per byte of each format, measured on the music21 corpus (ABC: per tune, see _cost)
SECONDS_PER_BYTE = {".krn": 2e-6, ".mxl": 1e-6, ".xml": 0.2e-6, ".musicxml": 0.2e-6}


def _cost(task: Task) -> float:
    """An estimate of a task's parsing time, to start the long ones first."""
    if task.tunes is not None:
        return 0.002 * (task.tunes[1] - task.tunes[0])  # our ABC reader (music21 is ~40x slower)
    size = float(os.stat(task.path).st_size)
    return size * SECONDS_PER_BYTE.get(Path(task.path).suffix.lower(), 1e-6)


def _task_reason(error: str) -> str:
    if error.startswith("took longer"):
        return "timeout"
    if error.startswith("the worker crashed"):
        return "crashed"
    return "convert_error"


def _progress(total: int, cfg: BuildConfig):
    from tqdm import tqdm

    unit = "task" if cfg.is_music21 else "file"  # a music21 task is a file or a run of ABC tunes
    return tqdm(
        total=total, unit=unit, desc="converting", disable=not cfg.progress, file=sys.stderr, smoothing=0.05
    )


def _write(cfg: BuildConfig, vocab: Vocab, tasks: list[Task], results: list, drops: list[Drop]) -> dict:
    rules: Counter = Counter()
    readers: Counter = Counter()
    seen: dict[str, str] = {}  # content hash -> first piece id with it
    per_split: dict[str, list[Encoded]] = {s: [] for s in shards.SPLITS}
    rows: list[dict] = []
    cached = 0
    folded: dict[str, Counter] = {}  # source -> pitched notes, folded notes
    for task, res in zip(tasks, results, strict=True):
        cached += res.cached
        drops.extend(res.drops)
        rules.update(res.rules)
        readers.update(res.readers)
        for p in res.pieces:
            h = hashlib.sha1(p.ids[p.prefix :].tobytes()).hexdigest()
            if h in seen:
                drops.append(Drop(p.id, "duplicate", f"same notes as {seen[h]}"))
                continue
            seen[h] = p.id
            source = cfg.collection or source_of(p.id)
            folded.setdefault(source, Counter()).update({"pitched_notes": p.pitched, "folded": p.folded})
            split = task.split or shards.split_of(p.id, cfg.val_fraction, cfg.test_fraction)
            per_split[split].append(p)
            rows.append(
                {
                    "id": p.id,
                    "title": p.title,
                    "style": p.style,
                    "split": split,
                    "notes": p.notes,
                    "tokens": len(p.ids),
                    "source": source,
                }
            )
    row_of = {r["id"]: k for k, r in enumerate(rows)}
    styles = list(vocab.config.styles)
    counts: dict[str, dict] = {}
    dtype = shards.token_dtype(vocab.size)
    for split, pieces in per_split.items():
        lengths = np.array([len(p.ids) for p in pieces], dtype=np.int64)
        offsets = (
            np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
            if len(pieces)
            else np.zeros(0, np.int64)
        )
        tokens = np.concatenate([p.ids for p in pieces]).astype(dtype) if pieces else np.zeros(0, dtype)
        index = np.zeros(len(pieces), dtype=shards.INDEX_DTYPE)
        index["offset"], index["length"] = offsets, lengths
        index["prefix"] = [p.prefix for p in pieces]
        index["duration"] = [p.duration for p in pieces]
        index["style"] = [styles.index(p.style) for p in pieces]
        index["piece"] = [row_of[p.id] for p in pieces]
        time_ = shards.clock(tokens, offsets, vocab.wait_offset, vocab.config.max_wait)
        shards.write_split(cfg.out, split, tokens, time_, index)
        by_style = Counter()
        tok_style = Counter()
        for p in pieces:
            by_style[p.style] += 1
            tok_style[p.style] += len(p.ids)
        counts[split] = {
            "pieces": len(pieces),
            "tokens": int(lengths.sum()),
            "styles": {s: {"pieces": by_style[s], "tokens": tok_style[s]} for s in sorted(by_style)},
        }
    shards.write_lines(cfg.out / "pieces.jsonl", rows)
    shards.write_lines(cfg.out / "dropped.jsonl", [d.__dict__ for d in drops])
    return {
        "source": cfg.source,
        "collections": list(cfg.collections) if cfg.collections else None,
        "vocab": vocab.config.to_dict(),
        "vocab_size": vocab.size,
        "styles": styles,
        "splits": {
            "val": cfg.val_fraction,
            "test": cfg.test_fraction,
            "hash": "sha1(piece id)",
            "pinned": sum(t.split is not None for t in tasks),
        },
        "counts": counts,
        "pieces": sum(c["pieces"] for c in counts.values()),
        "tokens": sum(c["tokens"] for c in counts.values()),
        "dropped": dict(sorted(Counter(d.reason for d in drops).items())),
        "rules": dict(sorted(rules.items())),
        "readers": dict(sorted(readers.items())),
        "folded": {src: folded_share(c["pitched_notes"], c["folded"]) for src, c in sorted(folded.items())},
        "build": {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "tasks": len(tasks),
            "cached_tasks": cached,
            "workers": cfg.workers,
            "converter_version": cache.CONVERTER_VERSION,
            "min_notes": cfg.min_notes,
            "limit": cfg.limit,
        },
    }
