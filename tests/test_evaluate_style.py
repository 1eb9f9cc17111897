"""Style recognition at the level of eras: which styles share an era, and how the report reads it."""

from musenet.codec.vocab import DEFAULT_STYLES
from musenet.data.sources.styles import CONCERT_STYLES, ERAS, era_of
from musenet.evaluate.report import _style
from musenet.evaluate.style import _era_share


def test_every_era_member_is_a_style_of_concert_music_in_one_era():
    members = [s for group in ERAS.values() for s in group]
    assert len(members) == len(set(members))  # no style in two eras
    assert set(members) <= set(DEFAULT_STYLES)
    assert set(CONCERT_STYLES) <= set(members)  # every concert style has its era
    for era, group in ERAS.items():
        assert era in group and all(era_of(s) == era for s in group)


def test_styles_outside_the_eras_are_their_own():
    assert era_of("schubert") == "romantic" and era_of("bach") == "baroque"
    for s in ("pop", "jazz", "german_folk", "unknown", "not-a-style"):
        assert era_of(s) == s


def test_era_share_counts_the_era_and_its_composers_only():
    said = ["schubert", "romantic", "brahms", "mozart", "blues"]
    assert _era_share(said, "romantic") == 3 / 5
    assert _era_share(said, "chopin") == 3 / 5  # a composer's era holds the era token and the other composers
    assert _era_share(said, "blues") == 1 / 5
    assert _era_share([], "romantic") is None


def test_report_shows_the_era_figure_only_where_it_differs():
    m = {
        "config": {"classifier_min_pieces": 5},
        "style": {
            "train_excerpts": 10, "classes": ["pop", "romantic", "schubert"], "left_out": [], "real_n": 4,
            "real_accuracy": 0.5, "majority": 0.5, "real_balanced_accuracy": 0.5, "chance": 1 / 3,
            "real_recall": {"pop": 1.0, "romantic": 0.0},
            "generated": {
                "romantic": {"n": 4, "accuracy": 0.0, "real_accuracy": 0.0, "predicted": {"schubert": 3, "pop": 1},
                             "era_accuracy": 0.75, "real_era_accuracy": 1.0},
                "pop": {"n": 4, "accuracy": 0.5, "real_accuracy": 1.0, "predicted": {"pop": 2, "schubert": 2},
                        "era_accuracy": 0.5, "real_era_accuracy": 1.0},
            },
        },
    }  # fmt: skip
    text = "\n".join(_style(m))
    assert "| romantic | 4 | 0% (era 75%) | 0% (era 100%) | schubert: 3, pop: 1 |" in text
    assert "| pop | 4 | 50% | 100% | pop: 2, schubert: 2 |" in text
    assert "ERAS" in text
    m["style"]["generated"].pop("romantic")
    assert "ERAS" not in "\n".join(_style(m))
