"""What a built dataset is made of: tokens per source (the collection a piece came from), note tokens per
instrument, and the share of the band instruments (drums, bass, guitar) among note tokens.

**Source.** A piece's source is the `source` field of its row in `pieces.jsonl` when the row has one (a build
writes it; `merge` keeps rows as they are, so it survives merging), else it is derived from the piece's identity
(`source_of`): `music21:...` is `music21` (the corpus that ships inside music21), and a piece from a folder build
is named by the first folder under the source root (`midi:groove/drummer1/1.mid` is `groove`; a file directly in
the root is its reader's scheme, `midi`). So a folder whose sub-folders are the collections (as
`data-recipes/build-default-data.sh` lays them out) gives one source per collection, and a build of one collection's
own folder can name it with `BuildConfig.collection`.

Counted from the shards themselves (all splits together), so `musenet data info` works on any build, old or new;
a build and a merge also store the result in meta.json under `composition`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..codec.vocab import Vocab, VocabConfig
from . import shards

BAND = ("drums", "bass", "guitar")
"""The band instruments whose share of the note tokens the corpus issue tracks (target: >= 15 %)."""


def source_of(identity: str) -> str:
    """`music21:bach/bwv66.6.mxl` -> `music21`; `midi:groove/drummer1/1.mid` -> `groove`; `midi:a.mid` -> `midi`."""
    scheme, _, path = identity.partition(":")
    if scheme == "music21" or "/" not in path:
        return scheme
    return path.split("/", 1)[0]


def piece_sources(rows: list[dict]) -> list[str]:
    """Each pieces.jsonl row's source: its own `source` field, else derived from its identity."""
    return [r.get("source") or source_of(r["id"]) for r in rows]


def composition(folder: str | os.PathLike, meta: dict | None = None) -> dict:
    """{"sources": {name: {"pieces", "tokens", "note_tokens", "band_share"}}, "instruments": {name: {"tokens",
    "notes"}}, "note_tokens", "band_share"}: tokens counted over every split of the built dataset in `folder`."""
    folder = Path(folder)
    meta = meta if meta is not None else shards.read_meta(folder)
    vocab = Vocab(VocabConfig.from_dict(meta["vocab"]))
    path = folder / "pieces.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    names = sorted(set(piece_sources(rows)))
    of_row = np.array([names.index(s) for s in piece_sources(rows)], dtype=np.int64)
    n_notes, table = vocab.n_notes, vocab.note_table
    pieces = np.zeros(len(names), np.int64)
    tokens = np.zeros(len(names), np.int64)
    notes = np.zeros((len(names), n_notes), np.int64)  # per source, per note id
    for split in shards.SPLITS:
        ids, _, index = shards.open_split(folder, split)
        if not len(index):
            continue
        src = of_row[index["piece"]]
        np.add.at(pieces, src, 1)
        np.add.at(tokens, src, index["length"].astype(np.int64))
        order = np.argsort(index["offset"], kind="stable")
        start, length, src = index["offset"][order], index["length"][order].astype(np.int64), src[order]
        # every token's source, in chunks of pieces so a 20 M-token split never needs 20 M int64s at once
        for lo in range(0, len(start), 4096):
            a, b = int(start[lo]), int(start[lo : lo + 4096][-1] + length[lo : lo + 4096][-1])
            seg = np.asarray(ids[a:b], dtype=np.int64)
            at = np.arange(a, b)
            k = (
                lo + np.searchsorted(start[lo : lo + 4096], at, side="right") - 1
            )  # the piece each token is in
            note = (seg < n_notes) & (
                at < start[k] + length[k]
            )  # (no gaps between pieces in a build's shards)
            key = src[k[note]] * n_notes + seg[note]
            notes += np.bincount(key, minlength=len(names) * n_notes).reshape(len(names), n_notes)
    inst_names = [i.name for i in vocab.config.instruments]
    per_inst = np.zeros((len(names), len(inst_names)), np.int64)  # note tokens per source and instrument
    onsets = np.zeros(len(inst_names), np.int64)
    for k in range(len(inst_names)):
        mine = table[:, 0] == k
        per_inst[:, k] = notes[:, mine].sum(axis=1)
        onsets[k] = notes[:, mine & (table[:, 1] > 0)].sum()
    band = [inst_names.index(b) for b in BAND if b in inst_names]
    total = per_inst.sum(axis=1)
    return {
        "sources": {
            s: {
                "pieces": int(pieces[k]),
                "tokens": int(tokens[k]),
                "note_tokens": int(total[k]),
                "band_share": _share(per_inst[k, band].sum(), total[k]),
            }
            for k, s in enumerate(names)
        },
        "instruments": {
            name: {"tokens": int(per_inst[:, k].sum()), "notes": int(onsets[k])}
            for k, name in enumerate(inst_names)
        },
        "note_tokens": int(total.sum()),
        "band_share": _share(per_inst[:, band].sum(), total.sum()),
    }


def _share(part: float, whole: float) -> float:
    return round(float(part) / float(whole), 6) if whole else 0.0
