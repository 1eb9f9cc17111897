"""`musenet evaluate` end to end through the real entry point: a tiny data build from the MIDI files music21 ships, a
tiny random model (and a second one without structural embeddings, as the ablation compares), a report with the
documented keys. The whole report is `slow` (`make test-slow`); the likelihood-only run and the errors are not."""

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from conftest import M21
from runcli import main as main_
from runcli import subprocess

from musenet.cli import main
from musenet.codec.vocab import Vocab, VocabConfig
from musenet.evaluate.corpus import read_vocab
from musenet.model import checkpoint
from musenet.model.config import GPTConfig
from musenet.model.gpt import GPT

# style folder -> files (music21's MIDI tests and a Mozart opening); the first of each is pinned to test
FILES = {
    "pop": ["midi/testPrimitive/test03.mid", "midi/testPrimitive/test02.mid", "midi/testPrimitive/test06.mid",
            "midi/testPrimitive/test07.mid"],
    "classical": ["omr/k525short.mid", "midi/testPrimitive/test09.mid", "midi/testPrimitive/test11.mid",
                  "midi/testPrimitive/test17.mid"],
}  # fmt: skip
musenet = subprocess


def save_model(path, vocab, embeddings: bool):
    torch.manual_seed(0)
    cfg = GPTConfig(
        vocab_size=vocab.size, block_size=128, n_layer=1, n_head=2, n_embd=32, musenet_embeddings=embeddings
    )
    checkpoint.save(path, GPT(cfg), step=0, seed=0, vocab=vocab.config.to_dict())
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    rows = ["path,style,split"]
    for style, names in FILES.items():
        (root / "midi" / style).mkdir(parents=True)
        for k, name in enumerate(names):
            shutil.copy(M21 / name, root / "midi" / style)
            rows.append(f"{style}/{Path(name).name},{style},{'test' if k == 0 else 'train'}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    r = main_("data", "build", "--source", root / "midi", "--labels", root / "labels.csv", "--out", root / "data",
              "--workers", 1, "--quiet", "--no-cache")  # fmt: skip
    assert r.returncode == 0, r.stderr
    vocab = read_vocab(root / "data")
    return root, save_model(root / "m1", vocab, True), save_model(root / "m2", vocab, False)


@pytest.mark.slow
def test_evaluate_writes_report_metrics_and_plots(built):
    root, m1, m2 = built
    out = root / "report"
    r = musenet("evaluate", "--model", m1, "--compare", m2, "--data", root / "data", "--out", out, "--samples", 2,
                "--seconds", 4, "--max-test-tokens", 2000, "--seed", 3, "--classifier-min-pieces", 1)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "NLL/token" in r.stdout
    m = json.loads((out / "metrics.json").read_text())
    lk = m["likelihood"]
    for key in ("model", "compare", "ngram"):
        for k in ("nll_per_token", "nll_per_note", "bits_per_second"):
            assert math.isfinite(lk[key][k]) and lk[key][k] > 0, (key, k)
        assert lk[key]["tokens"] == lk["model"]["tokens"] > 0  # the same test tokens for every scorer
    assert lk["model"]["musenet_embeddings"] and not lk["compare"]["musenet_embeddings"]
    d = lk["compare"]["model_minus_compare"]
    assert d["ci95"][0] <= d["nll_per_token"] <= d["ci95"][1]
    assert d["nll_per_token"] == pytest.approx(lk["model"]["nll_per_token"] - lk["compare"]["nll_per_token"])
    s = m["samples"]
    assert s["count"] == 4 and set(s["per_style"]) == {"pop", "classical"}
    for k in ("validity", "instrument_precision", "instrument_recall", "seconds_got", "length_abs_error_s"):
        assert math.isfinite(s[k]), k
    assert s["validity"] == 1.0 and s["instrument_precision"] == 1.0  # the grammar guarantees both
    assert s["seconds_got"] <= 4.0 + 1e-6
    assert sorted(s["midi"]) == ["classical-1.mid", "classical-2.mid", "pop-1.mid", "pop-2.mid"]
    assert all((out / "samples" / name).read_bytes()[:4] == b"MThd" for name in s["midi"])
    for style in ("pop", "classical"):
        music = m["music"][style]
        assert music["n_generated"] == 2 and music["n_real"] >= 1
        for k in (
            "pitch_class_entropy",
            "scale_consistency",
            "polyphony",
            "empty_beat_rate",
            "groove_consistency",
        ):
            f = music["features"][k]
            assert math.isfinite(f["oa"]) and 0 <= f["oa"] <= 1 and math.isfinite(f["gen_mean"]), (style, k)
    c = m["style"]
    assert c["classes"] == ["classical", "pop"] and 0 <= c["real_accuracy"] <= 1
    assert set(c["generated"]) == {"pop", "classical"}
    for g in c["generated"].values():  # neither style shares an era with the other: the era reads the same
        assert g["era_accuracy"] == g["accuracy"] and sum(g["predicted"].values()) == g["n"]
    assert c["real_era_recall"] == c["real_recall"]
    assert sum(sum(p.values()) for p in c["real_predicted"].values()) == c["real_n"]
    mem = m["memorisation"]
    assert mem["generated"]["n"] == 4 and mem["generated"]["max"] >= 0 and mem["real"]["n"] >= 2
    assert all(math.isfinite(v) for v in m["timings_s"].values())
    report = (out / "report.md").read_text()
    assert report.startswith("# musenet evaluation")
    assert m["command"] == (
        f"musenet evaluate --model {m1} --data {root / 'data'} --out {out} --compare {m2} --samples 2 --seconds 4.0 "
        "--seed 3 --max-test-tokens 2000 --classifier-min-pieces 1"
    )
    assert m["command"] in report
    for section in (
        "Held-out likelihood",
        "Music statistics",
        "Style recognisability",
        "Memorisation",
        "Caveats",
    ):
        assert section in report
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == sorted(m["plots"]) and "likelihood.png" in pngs
    assert {"pianoroll-pop.png", "features-classical.png"} <= set(pngs)
    for p in out.glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_likelihood_only_and_user_errors(built, tmp_path, capsys):
    # in-process through the same entry point (`musenet.cli.main`): no interpreter start per case
    root, m1, _ = built
    args = ["evaluate", "--model", str(m1), "--data", str(root / "data")]
    assert main([*args, "--out", str(tmp_path / "a"), "--samples", "0", "--max-test-tokens", "500"]) == 0
    m = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert m["samples"]["count"] == 0 and "compare" not in m["likelihood"]
    assert m["music"]["pop"]["n_generated"] == 0 and m["music"]["pop"]["features"]["polyphony"]["oa"] is None
    capsys.readouterr()

    def error(*extra: str) -> str:
        assert main([*args, "--out", str(tmp_path / "b"), *extra]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        return err

    assert "unknown style" in error("--styles", "kazoo")
    assert "val and/or test" in error("--real", "train")
    other = save_model(tmp_path / "other", Vocab(VocabConfig(velocity_bins=4)), True)
    assert "different vocabularies" in error("--compare", str(other))
    args[4] = str(tmp_path / "nowhere")
    assert "not a built dataset" in error()


def test_a_model_with_other_styles_reads_the_dataset_by_token_names(built, tmp_path, capsys):
    """An older model on a newer corpus: its vocabulary lists the styles in another order and lacks one. Scored
    through the translation by names, a model whose token rows are m1's rows moved to its own ids gives m1's NLL
    exactly; a style it lacks leaves that style's pieces out for every scorer, and asking for it is one line."""
    root, m1, _ = built
    data_vocab = read_vocab(root / "data")
    styles = tuple(reversed(data_vocab.config.styles))
    moved = Vocab(VocabConfig(styles=styles))
    model, _ = checkpoint.load_model(m1)
    to_data = torch.from_numpy(moved.translation(data_vocab))
    assert (to_data >= 0).all() and len(set(to_data.tolist())) == data_vocab.size
    model.transformer.wte.weight.data = model.transformer.wte.weight.data[to_data]
    checkpoint.save(tmp_path / "moved", model, step=0, seed=0, vocab=moved.config.to_dict())
    args = ["evaluate", "--data", str(root / "data"), "--samples", "0", "--max-test-tokens", "0"]
    assert (
        main([*args, "--model", str(m1), "--compare", str(tmp_path / "moved"), "--out", str(tmp_path / "a")])
        == 0
    )
    lk = json.loads((tmp_path / "a" / "metrics.json").read_text())["likelihood"]
    assert lk["unreadable_pieces"] == 0 and lk["test_pieces"] == lk["test_pieces_total"] == 2
    by_source = lk["model"]["by_source"]  # every piece counted once, under the collection it came from
    assert sum(v["tokens"] for v in by_source.values()) == lk["model"]["tokens"] and "" not in by_source
    bits = lk["model"]["bits_per_second_by_style"]
    assert bits.keys() == {"pop", "classical"} and min(bits.values()) > 0
    assert lk["compare"]["nll_per_token"] == pytest.approx(lk["model"]["nll_per_token"], rel=1e-5)

    lacking = Vocab(VocabConfig(styles=tuple(s for s in styles if s != "pop")))
    save_model(tmp_path / "lacking", lacking, True)
    out = tmp_path / "b"
    assert main([*args, "--model", str(m1), "--compare", str(tmp_path / "lacking"), "--out", str(out)]) == 0
    lk = json.loads((out / "metrics.json").read_text())["likelihood"]
    assert lk["unreadable_pieces"] == 1 and lk["unreadable_styles"] == ["pop"] and lk["test_pieces"] == 1
    assert lk["model"]["nll_per_token_by_style"].keys() == {"classical"}
    assert (
        "Left out: 1 pieces whose style a scored model's vocabulary lacks (pop)"
        in (out / "report.md").read_text()
    )
    capsys.readouterr()
    lack = ["--model", str(tmp_path / "lacking"), "--out", str(tmp_path / "c"), "--styles", "pop"]
    assert main([*args[:5], "--samples", "1", *lack]) == 2
    err = capsys.readouterr().err
    assert "unknown style(s) pop" in err and len(err.strip().splitlines()) == 1
