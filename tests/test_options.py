"""CLI flags derived from the config dataclasses: every field is a flag with help, defaults come from the dataclass,
checks are the dataclass's, and every command's flags are documented."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from musenet.cli import COMMANDS, Parser
from musenet.errors import UserError
from musenet.options import add_flags, field_docs, flag_words, from_args, given


@dataclass(frozen=True)
class Inner:
    rate: float = 0.5
    """A rate."""

    def __post_init__(self) -> None:
        if not 0 <= self.rate <= 1:
            raise ValueError(f"rate must be in [0, 1], got {self.rate}")


@dataclass(frozen=True)
class Example:
    path: Path
    """Where it goes."""
    count_max: int = 3
    """How many at most."""
    names: tuple[str, ...] = ("a", "b")
    """Some names."""
    mode: Literal["x", "y"] = "x"
    """A mode."""
    on: bool = True
    """A switch."""
    limit: int | None = None
    """A cap (None: none)."""
    entry: float | None = 8.0
    """Enters by then (None: never forced)."""
    inner: Inner = field(default_factory=lambda: Inner(0.25))
    """Nested."""


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="t")
    add_flags(p, Example, names={"on": "--off"})
    return p


def test_flags_types_defaults_and_help_come_from_the_dataclass():
    p = parser()
    args = p.parse_args(["--path", "x", "--count-max", "7", "--names", "c, d", "--mode", "y", "--off"])
    assert given(args, Example) == {
        "path": Path("x"),
        "count_max": 7,
        "names": ("c", "d"),
        "mode": "y",
        "on": False,
    }
    cfg = from_args(Example, args)
    assert cfg.limit is None and cfg.inner == Inner(0.25)  # left out: the dataclass's own defaults
    text = p.format_help()
    assert "How many at most (default 3)" in text and "Some names (default a,b)" in text
    assert "{x,y}" in text and "turn off: a switch" in text and "A rate (default 0.25)" in text
    with pytest.raises(SystemExit):
        p.parse_args(["--count-max", "3"])  # --path is required: the field has no default


def test_a_nested_flag_keeps_the_fields_own_default_and_the_checks_are_the_dataclasss():
    p = parser()
    assert from_args(Example, p.parse_args(["--path", "x", "--rate", "1"])).inner == Inner(1.0)
    with pytest.raises(UserError, match=r"rate must be in \[0, 1\], got 2"):
        from_args(Example, p.parse_args(["--path", "x", "--rate", "2"]))
    assert flag_words("count_max must be positive", p) == "--count-max must be positive"
    assert flag_words("the count_max was 3", p) == "the count_max was 3"  # only the subject of a check


def test_a_feature_on_by_default_is_turned_off_with_none():
    p = parser()
    assert from_args(Example, p.parse_args(["--path", "x"])).entry == 8.0
    assert from_args(Example, p.parse_args(["--path", "x", "--entry", "none"])).entry is None
    assert from_args(Example, p.parse_args(["--path", "x", "--entry", "OFF"])).entry is None
    assert from_args(Example, p.parse_args(["--path", "x", "--entry", "2.5"])).entry == 2.5
    assert "`--entry none` gives None (default 8)" in " ".join(p.format_help().split())
    with pytest.raises(SystemExit):
        p.parse_args(["--path", "x", "--entry", "soon"])  # neither a number nor none
    with pytest.raises(SystemExit):
        p.parse_args(["--path", "x", "--limit", "none"])  # a default of None: nothing to turn off


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_flag_of_every_command_has_help(name):
    target, _, attr = COMMANDS[name][0].partition(":")
    module = importlib.import_module(target)
    p = Parser(prog=f"musenet {name}")
    (getattr(module, attr) if attr else module).add_arguments(p)
    for action in p._actions:
        assert action.help, f"musenet {name} {'/'.join(action.option_strings) or action.dest} has no help"


def test_field_docs_reads_the_docstring_under_each_field():
    from musenet.generate.config import GenerateConfig

    docs = field_docs(GenerateConfig)
    assert docs["seconds"].startswith("Length of the new music")
    assert set(docs) >= {f.name for f in dataclasses.fields(GenerateConfig)}
