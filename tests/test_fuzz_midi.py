"""Fuzzing as a test: seeded mutants of small real MIDI files through the whole path a user's file takes.

Each mutant goes load (the isolated loader) -> encode -> primer -> generation with a tiny model -> decode -> MIDI
and WAV, and through the web upload (`CoComposer.upload`, with its cost checks); every one must end in a result or
a one-line `MidiError`/`UserError`, within a time limit per mutant and a memory limit for the run. A failure names
the mutant's seed and mutations, so `mutant(seed)` rebuilds it.

The seeds are files the test writes with symusic (notes, drums, tempo changes, pedals, controllers, bends, text)
and the MIDI files that ship in music21's wheel; ../shared/midi adds its small files when present. The default run
takes a few hundred mutants; `-m slow` takes thousands.
"""

from __future__ import annotations

import importlib.util
import random
import resource
import struct
import time
from pathlib import Path

import numpy as np
import pytest
import symusic
import torch
from conftest import CORRUPT, shared_midi_files

from musenet.audio import bundled_soundfont, render, save_wav
from musenet.codec.decode import decode
from musenet.codec.encode import encode
from musenet.codec.events import Piece, make_notes, sort_notes
from musenet.codec.midi_io import midi_bytes
from musenet.codec.safe import MidiError, SafeLoader
from musenet.codec.vocab import Vocab
from musenet.errors import UserError
from musenet.generate.composer import Composer, primer_tokens
from musenet.generate.engine import GenerateConfig, generate_ids
from musenet.model.config import GPTConfig
from musenet.model.gpt import GPT
from musenet.web.config import ServeConfig
from musenet.web.jobs import QueueFull
from musenet.web.service import CoComposer

VOCAB = Vocab()
SECONDS_PER_MUTANT = 20.0  # far above the slowest mutant seen (~1 s): a hang or a crawl, not noise
RSS_GROWTH_MB = 1024  # the whole run's peak memory may grow by this much at most
SOUNDFONT = (
    bundled_soundfont()
)  # 6 MB: loads in a few ms, where a 140 MB system SoundFont takes most of a second
PRIMER_S = 10.0  # the part of a mutant continued and rendered (the web server keeps a primer's first 120 s)

# ---- the seed files --------------------------------------------------------------------------------------------


def written_seeds() -> list[bytes]:
    """Small files written with symusic: what a user's notation program or DAW might export."""
    t = np.arange(0, 4, 0.25)
    melody = Piece(make_notes(t, t + 0.2, 60 + np.arange(len(t)) % 12, 90, 0))
    band = Piece(
        sort_notes(
            np.concatenate(
                [
                    make_notes(t, t + 0.5, 48 + np.arange(len(t)) % 7, 70, 33),
                    make_notes(t, t + 0.1, 36 + np.arange(len(t)) % 3 * 2, 100, 128),
                    make_notes(t[::2], t[::2] + 1.0, 72, 60, 40),
                ]
            )
        )
    )
    score = symusic.Score(96)
    score.tempos.append(symusic.Tempo(0, 100.0))
    score.tempos.append(symusic.Tempo(192, 180.0))
    score.time_signatures.append(symusic.TimeSignature(0, 3, 4))
    track = symusic.Track("rich", 0, False)
    for i in range(24):
        track.notes.append(symusic.Note(i * 48, 60, 50 + i, 40 + i * 3))
    track.pedals.append(symusic.Pedal(96, 300))
    track.controls.append(symusic.ControlChange(10, 7, 100))
    track.pitch_bends.append(symusic.PitchBend(20, 1000))
    track.lyrics.append(symusic.TextMeta(0, "la"))
    score.tracks.append(track)
    drums = symusic.Track("kit", 0, True)
    for i in range(16):
        drums.notes.append(symusic.Note(i * 24, 10, 36 + i % 12, 100))
    score.tracks.append(drums)
    return [midi_bytes(melody), midi_bytes(band), score.dumps_midi()]


def package_seeds() -> list[bytes]:
    spec = importlib.util.find_spec("music21")
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(spec.submodule_search_locations[0]) / "midi" / "testPrimitive"
    return [p.read_bytes() for p in sorted(folder.glob("*.mid")) if p.stat().st_size <= 20_000]


def shared_seeds() -> list[bytes]:
    shared = [p for p in shared_midi_files() if p.name not in CORRUPT]  # loadable_files() holds music21's too
    return [p.read_bytes() for p in shared if p.stat().st_size <= 20_000][:40]


SEEDS = written_seeds() + package_seeds() + shared_seeds()

# ---- the mutator -----------------------------------------------------------------------------------------------

HUGE_VLQ = b"\x8f\xff\xff\x7f"  # the largest variable-length quantity MIDI allows (2^28 - 1)


def chunks(data: bytearray) -> list[int]:
    """Offsets of the chunk headers (MThd, MTrk) found by walking the declared lengths."""
    out, i = [], 0
    while i + 8 <= len(data):
        out.append(i)
        i += 8 + struct.unpack(">I", data[i + 4 : i + 8])[0]
    return out


def events(data: bytearray) -> list[tuple[int, int, int]]:
    """(delta offset, status offset or -1 under running status, status) of every event of the well-formed prefix of
    each track chunk: where a mutation hits a real delta time, status byte or value rather than any byte."""
    out = []
    for at in chunks(data):
        if data[at : at + 4] != b"MTrk":
            continue
        i, end, status = at + 8, min(len(data), at + 8 + struct.unpack(">I", data[at + 4 : at + 8])[0]), 0
        while i < end:
            delta = i
            while i < end and data[i] & 0x80:
                i += 1
            i += 1
            if i >= end:
                break
            if data[i] & 0x80:
                status, at_status = data[i], i
                i += 1
            else:
                at_status = -1
            if status in (0xFF, 0xF0, 0xF7):
                i += status == 0xFF  # the meta type
                n = 0
                while i < end and data[i] & 0x80:
                    n = (n << 7) | (data[i] & 0x7F)
                    i += 1
                n = (n << 7) | (data[i] & 0x7F) if i < end else 0
                i += 1 + n
            elif 0x80 <= status <= 0xEF:
                i += 1 if 0xC0 <= status <= 0xDF else 2
            else:
                break
            out.append((delta, at_status, status))
    return out


def _bits(r, d):
    for _ in range(r.randint(1, 8)):
        i = r.randrange(len(d))
        d[i] ^= 1 << r.randrange(8)
    return "bit flips"


def _bytes(r, d):
    for _ in range(r.randint(1, 4)):
        d[r.randrange(len(d))] = r.choice([0, 0x7F, 0x80, 0xFF, r.randrange(256)])
    return "bytes"


def _truncate(r, d):
    del d[r.randrange(len(d)) :]
    return "truncated"


def _chunk_length(r, d):
    at = r.choice(chunks(d) or [0])
    if at + 8 <= len(d):
        n = struct.unpack(">I", d[at + 4 : at + 8])[0]
        d[at + 4 : at + 8] = struct.pack(
            ">I", r.choice([0, 1, 5, n - 1, n + 1, n * 2, 0x7FFFFFFF, 0xFFFFFFFF]) % 2**32
        )
    return "lying chunk length"


def _header(r, d):
    if len(d) >= 14:
        field = r.choice([8, 10, 12, 12])  # format, number of tracks, time division (twice: the one that bit)
        value = r.choice([0, 0, 0, 1, 2, 3, 0x7FFF, 0x8000, 0xE728, 0xFFFF, r.randrange(65536)])
        d[field : field + 2] = struct.pack(">H", value)
    return "header field"


def _running_status(r, d):
    channel = [e for e in events(d) if e[1] >= 0 and 0x80 <= e[2] <= 0xEF]
    if channel:
        _, i, status = r.choice(channel)
        choice = r.random()
        if choice < 0.5:
            del d[i]  # the event leans on running status: the previous event's status, or none at all
        elif choice < 0.8:
            d[i] = (status & 0xF0) | r.randrange(16)  # another channel
        else:
            d[i] = r.choice([0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xE0]) | (status & 0x0F)  # another kind of event
    return "running status"


def _delta(r, d):
    evs = events(d)
    if evs:
        i = r.choice(evs)[0]
        n = 1
        while d[i + n - 1] & 0x80 and i + n < len(d):
            n += 1
        d[i : i + n] = r.choice([HUGE_VLQ, b"\x00", b"\x81\x00", bytes([0x81, 0x80, 0x80, 0x80, 0x80, 0x00])])
    return "delta time"


def _huge_value(r, d):
    tempo = d.find(b"\xff\x51\x03")
    if tempo >= 0 and r.random() < 0.4:
        d[tempo + 3 : tempo + 6] = r.choice([b"\x00\x00\x00", b"\x00\x00\x01", b"\xff\xff\xff"])
        return "tempo"
    notes = [e for e in events(d) if e[1] >= 0 and 0x80 <= e[2] <= 0xAF and e[1] + 2 < len(d)]
    if notes and r.random() < 0.6:
        _, i, _ = r.choice(notes)
        d[i + r.choice([1, 2])] = r.choice([0, 1, 0x7F])  # an extreme pitch or velocity
        return "note value"
    i = r.randrange(14, max(15, len(d)))
    d[i:i] = r.choice([b"\x00\xf0" + HUGE_VLQ, b"\x00\xff\x01" + HUGE_VLQ, b"\x00\xff\x51\x03\x00\x00\x00"])
    return "huge length"


def _splice(r, d):
    if len(d) > 20:
        a = r.randrange(14, len(d))
        b = min(len(d), a + r.randint(1, 64))
        piece = d[a:b] * r.choice([1, 2, 50])
        i = r.randrange(14, len(d))
        d[i:i] = piece
    return "splice"


MUTATIONS = [_bits, _bytes, _truncate, _chunk_length, _header, _running_status, _delta, _huge_value, _splice]


def mutant(seed: int) -> tuple[bytes, str]:
    """The mutant numbered `seed`: a seed file and 1-3 mutations, all drawn from `random.Random(seed)`."""
    r = random.Random(seed)
    k = r.randrange(len(SEEDS))
    data = bytearray(SEEDS[k])
    k_mutations = r.choices([1, 2, 3], weights=[6, 3, 1])[0]
    done = [mutate(r, data) for mutate in r.choices(MUTATIONS, k=k_mutations) if len(data) > 0]
    return bytes(data), f"seed file {k}, {', '.join(done)}"


# ---- the path a user's file takes ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=VOCAB.size, block_size=64, n_layer=1, n_head=2, n_embd=16)).eval()
    composer = Composer(model, VOCAB)
    root = tmp_path_factory.mktemp("fuzz")
    service = CoComposer(composer, ServeConfig(sample_rate=8000, soundfont=str(SOUNDFONT)), root=root / "web")
    sid = service.new_session()["session"]
    with SafeLoader() as loader:
        yield lambda data: through_everything(data, loader, model, service, sid, root)
    service.close()


def through_everything(data: bytes, loader, model, service, sid, root: Path) -> str:
    """load -> encode -> primer -> generate -> decode -> MIDI and WAV, then the web upload. 'ok' or 'rejected'."""
    try:
        piece = loader.load_bytes(data, name="mutant.mid")
    except MidiError as e:
        one_line(e)
        outcome = "rejected"
    else:
        encode(piece, VOCAB)  # what `musenet tokens` does with the whole file
        primer = piece.window(0.0, PRIMER_S)
        cfg = GenerateConfig(instruments=("piano", "drums"), seconds=0.02, candidates=1)
        (g,) = generate_ids(model, VOCAB, cfg, primer=primer_tokens(primer, VOCAB))
        new, _ = decode(g.new_ids(VOCAB), VOCAB)
        out = Piece(sort_notes(np.concatenate([primer.notes, new.notes])))
        (root / "out.mid").write_bytes(midi_bytes(out))
        save_wav(render(out, sample_rate=8000, soundfont=SOUNDFONT), root / "out.wav", 8000)
        outcome = "ok"
    try:
        node = service.upload(sid, data, "mutant.mid")
        service.store.remove(sid, [node["id"]])
    except (MidiError, UserError, QueueFull) as e:
        one_line(e)
    return outcome


def one_line(e: Exception) -> None:
    text = str(e)
    assert text and "\n" not in text and len(text) < 300, text


def fuzz(path, seeds: range) -> None:
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    outcomes = {"ok": 0, "rejected": 0}
    for seed in seeds:
        data, how = mutant(seed)
        t0 = time.monotonic()
        try:
            outcomes[path(data)] += 1
        except Exception as e:
            raise AssertionError(f"mutant {seed} ({how}): {type(e).__name__}: {str(e)[:200]}") from e
        took = time.monotonic() - t0
        assert took < SECONDS_PER_MUTANT, f"mutant {seed} ({how}) took {took:.1f} s"
    grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss0
    assert grew < RSS_GROWTH_MB, f"peak memory grew by {grew:.0f} MB"
    # the mutants are neither all harmless nor all hopeless: both ends of the path are exercised
    assert outcomes["ok"] > len(seeds) // 10 and outcomes["rejected"] > len(seeds) // 10, outcomes


def test_the_mutator_is_seeded_and_the_seeds_load(path):
    assert mutant(7) == mutant(7) and mutant(7) != mutant(8)
    assert len(SEEDS) >= 3
    for data in SEEDS[:3]:
        assert path(data) == "ok"


def test_a_few_hundred_mutants_end_in_a_result_or_one_line(path):
    fuzz(path, range(300))


@pytest.mark.slow
def test_thousands_of_mutants_end_in_a_result_or_one_line(path):
    fuzz(path, range(300, 5300))
