"""Audio: real synthesis through the pip-installed SoundFont, checked by spectrum, level, length and WAV header."""

from __future__ import annotations

import wave

import numpy as np
import pytest
from conftest import PACKAGED
from runcli import assert_user_error, main

from musenet.audio import (
    ENV_VAR,
    MAX_SECONDS,
    PEAK_DBFS,
    TAIL_S,
    SoundFont,
    SoundFontError,
    bundled_soundfont,
    find_soundfont,
    normalise,
    render,
    save_wav,
    synthesize,
)
from musenet.codec.events import DRUMS, Piece, make_notes
from musenet.codec.midi_io import midi_bytes
from musenet.codec.safe import load_midi
from musenet.errors import UserError

SR = 44100
TARGET = 10 ** (PEAK_DBFS / 20)  # -1 dBFS as a linear peak, ~0.891


@pytest.fixture(scope="module")
def timgm() -> SoundFont:
    """The SoundFont every install has, named explicitly so a system FluidR3 does not change the figures."""
    path = bundled_soundfont()
    assert path is not None, "pretty_midi's TimGM6mb.sf2 is missing: `pip install pretty_midi`"
    return SoundFont(path, "pretty_midi")


def one_note(pitch=69, program=0, seconds=1.0, velocity=100) -> Piece:
    return Piece(make_notes([0.0], [seconds], [pitch], [velocity], [program]))


def dominant_hz(x: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / sr)[np.argmax(spectrum)])


def high_share(x: np.ndarray, sr: int, above_hz: float = 4000.0) -> float:
    """Fraction of the signal's energy above `above_hz`."""
    power = np.abs(np.fft.rfft(x)) ** 2
    return float(power[np.fft.rfftfreq(len(x), 1 / sr) > above_hz].sum() / power.sum())


# ---- synthesis -------------------------------------------------------------------------------------------------


def test_a4_on_piano_sounds_at_440_hz_for_the_note_plus_the_tail(timgm):
    audio = render(one_note(69), SR, timgm)
    assert audio.dtype == np.float32 and audio.shape == (round((1.0 + TAIL_S) * SR), 2)
    assert dominant_hz(audio[:SR].mean(axis=1), SR) == pytest.approx(440.0, abs=3.0)
    # and a fifth up is not 440: the pitch really comes from the note
    assert dominant_hz(render(one_note(76), SR, timgm)[:SR].mean(axis=1), SR) == pytest.approx(659.3, abs=4.0)


def test_the_sound_stops_within_the_tail(timgm):
    audio = render(one_note(69, seconds=0.5), SR, timgm)
    assert np.abs(audio[: SR // 2]).max() > 0.1
    assert np.abs(audio[-SR // 10 :]).max() < 1e-3  # the piano's release has died away before the end


def test_a_zero_length_note_is_released_not_held(timgm):
    # an organ sustains forever: a note whose note-off reached the synth before its note-on would never stop
    piece = Piece(make_notes([0.0, 3.0], [0.0, 3.5], [60, 60], 100, [19, 0]))
    audio = render(piece, SR, timgm)
    assert np.abs(audio[: SR // 100]).max() > 0.0  # it does sound, briefly
    assert np.abs(audio[SR : 3 * SR - 10]).max() < 1e-4


def test_drums_play_the_drum_kit_not_a_pitched_instrument(timgm):
    # pitch 42 is the closed hi-hat on the drum channel: mostly noise above 4 kHz; as a piano note it is F#2
    hat = render(one_note(42, DRUMS, 0.2), SR, timgm).mean(axis=1)
    piano = render(one_note(42, 0, 0.2), SR, timgm).mean(axis=1)
    assert np.abs(hat).max() > 0.5
    assert high_share(hat, SR) > 0.5
    assert high_share(piano, SR) < 0.05


def test_a_drum_only_piece_is_not_silent(timgm):
    beat = Piece(make_notes([0.0, 0.25, 0.5, 0.75], [0.1, 0.35, 0.6, 0.85], [36, 42, 38, 42], 100, DRUMS))
    raw, missing = synthesize(beat, SR, timgm)
    assert np.abs(raw).max() > 0.05 and missing == ()


def test_an_empty_piece_is_the_tail_in_silence(timgm):
    audio = render(Piece(), SR, timgm)
    assert audio.shape == (round(TAIL_S * SR), 2)
    assert np.isfinite(audio).all() and not audio.any()


def test_midi_bytes_render_like_the_piece(timgm):
    piece = Piece(make_notes([0.0, 0.5], [1.0, 1.5], [60, 64], [90, 70], [0, 40]))
    np.testing.assert_allclose(render(midi_bytes(piece), SR, timgm), render(piece, SR, timgm), atol=1e-6)


def test_sample_rate_sets_the_length(timgm):
    assert render(one_note(), 22050, timgm).shape == (round((1.0 + TAIL_S) * 22050), 2)
    with pytest.raises(UserError, match="outside"):
        render(one_note(), 1000, timgm)


def test_an_hour_long_piece_is_refused_before_any_memory_is_taken(timgm):
    with pytest.raises(UserError, match="minutes"):
        render(one_note(seconds=MAX_SECONDS), SR, timgm)


# ---- normalisation ---------------------------------------------------------------------------------------------


def test_a_loud_piece_is_brought_down_to_minus_1_dbfs_without_clipping(timgm):
    # a 24-note fortissimo cluster on four instruments sums well past full scale before normalisation
    n = 24
    cluster = Piece(make_notes(np.zeros(n), np.ones(n), 48 + np.arange(n), 127, np.arange(n) % 4 * 16))
    raw, _ = synthesize(cluster, SR, timgm)
    assert np.abs(raw).max() > 1.0  # the case this test is about
    audio = render(cluster, SR, timgm)
    assert np.abs(audio).max() <= 1.0
    assert np.abs(audio).max() == pytest.approx(TARGET, rel=1e-4)


def test_a_quiet_piece_is_brought_up_to_minus_1_dbfs(timgm):
    raw, _ = synthesize(one_note(velocity=10), SR, timgm)
    assert np.abs(raw).max() < 0.1
    assert np.abs(render(one_note(velocity=10), SR, timgm)).max() == pytest.approx(TARGET, rel=1e-4)


def test_silence_and_near_silence_stay_at_zero():
    zeros = np.zeros((100, 2), np.float32)
    out, gain = normalise(zeros)
    assert gain is None and not out.any()
    out, gain = normalise(np.full((100, 2), 1e-9, np.float32))  # denormal dust must not become full scale
    assert gain is None and not out.any()
    out, gain = normalise(np.zeros((0, 2), np.float32))
    assert gain is None and out.shape == (0, 2)


# ---- WAV files -------------------------------------------------------------------------------------------------


def test_wav_header_and_samples_round_trip(tmp_path, timgm):
    audio = render(one_note(), 22050, timgm)
    path = tmp_path / "a4.wav"
    save_wav(audio, path, 22050)
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 22050)
        assert w.getnframes() == len(audio)
        back = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2) / 32767.0
    assert np.abs(back - audio).max() <= 0.5 / 32767 + 1e-7
    assert np.abs(back).max() == pytest.approx(TARGET, abs=1e-4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a4.wav"]  # no temp file left behind


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    path = tmp_path / "out.wav"
    save_wav(np.zeros((10, 2), np.float32), path, SR)
    before = path.read_bytes()
    with pytest.raises(TypeError):
        save_wav(np.array([["x", "y"]], dtype=object), path, SR)  # fails after the temp file is opened
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]


# ---- finding the SoundFont -------------------------------------------------------------------------------------


def test_soundfont_lookup_order(tmp_path, timgm):
    flag, env, system = (tmp_path / n for n in ("flag.sf2", "env.sf2", "system.sf2"))
    for p in (flag, env, system):
        p.write_bytes(b"RIFF")
    assert find_soundfont(flag, {ENV_VAR: str(env)}, (system,)) == SoundFont(flag, "--soundfont")
    assert find_soundfont(None, {ENV_VAR: str(env)}, (system,)) == SoundFont(env, f"${ENV_VAR}")
    assert find_soundfont(None, {}, (tmp_path / "absent.sf2", system)) == SoundFont(system, "system")
    assert find_soundfont(None, {}, ()) == timgm


@pytest.mark.parametrize("where", ["flag", "env"])
def test_a_named_soundfont_that_is_missing_is_an_error_not_a_fallback(tmp_path, where):
    missing = tmp_path / "nope.sf2"
    with pytest.raises(SoundFontError, match="does not exist"):
        if where == "flag":
            find_soundfont(missing, {}, ())
        else:
            find_soundfont(None, {ENV_VAR: str(missing)}, ())


def test_a_file_that_is_not_a_soundfont_is_a_user_error(tmp_path):
    bad = tmp_path / "bad.sf2"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00sfbk" + bytes(100))
    with pytest.raises(SoundFontError, match="not a SoundFont"):
        render(one_note(), SR, bad)


# ---- the command, in-process through `musenet.cli.main` -----------------------------------------------------------


@pytest.fixture
def render_cli(monkeypatch):
    """`musenet render ...`, with $MUSENET_SOUNDFONT set to `env_soundfont` (or unset)."""

    def run(*args, env_soundfont: str | None = None):
        if env_soundfont is None:
            monkeypatch.delenv(ENV_VAR, raising=False)
        else:
            monkeypatch.setenv(ENV_VAR, env_soundfont)
        return main("render", *args)

    return run


def test_cli_renders_a_real_file(tmp_path, timgm, render_cli):
    src = PACKAGED["piano"]
    out = tmp_path / "piano.wav"
    r = render_cli(src, out, "--sample-rate", 22050, env_soundfont=str(timgm.path))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1 and "TimGM6mb.sf2" in lines[0] and "dBFS" in lines[0], r.stdout
    with wave.open(str(out)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 22050)
        seconds = w.getnframes() / 22050
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    assert seconds == pytest.approx(load_midi(src).duration + TAIL_S, abs=0.5)
    assert np.abs(pcm).max() == pytest.approx(TARGET * 32767, abs=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["piano.wav"]


def test_cli_rejects_a_corrupt_file_in_one_line_and_writes_nothing(tmp_path, corrupt_midi, render_cli):
    out = tmp_path / "out"
    out.mkdir()
    r = render_cli(corrupt_midi, out / "out.wav")
    assert_user_error(r, corrupt_midi.name)
    assert list(out.iterdir()) == []


def test_cli_user_errors_write_nothing(tmp_path, timgm, render_cli):
    mid = tmp_path / "in.mid"
    mid.write_bytes(midi_bytes(one_note()))
    out = tmp_path / "out.wav"
    assert_user_error(render_cli(tmp_path / "absent.mid", out), "absent.mid")
    assert_user_error(render_cli(mid, tmp_path / "no" / "out.wav"), "does not exist")
    assert_user_error(render_cli(mid, out, "--soundfont", tmp_path / "x.sf2"), "x.sf2")
    assert_user_error(render_cli(mid, out, "--soundfont", mid), "not a SoundFont")
    assert_user_error(render_cli(mid, out, env_soundfont=str(tmp_path / "y.sf2")), ENV_VAR)
    assert_user_error(render_cli(mid, out, "--sample-rate", 100), "sample rate")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mid"]
