"""Command-line flags derived from the config dataclasses, so that each option is defined once: in its dataclass.

To add an option to a command, add a field with a docstring to the config dataclass the command reads; nothing
else. `add_flags(parser, Config)` turns every field into `--field-name`, with
- its type from the annotation: `int`, `float`, `str`, `Path`, `X | None` (with a default that is not None,
  the value `none` gives None: how a user turns such a feature off); `Literal[...]` or
  `field(metadata={"choices": ...})` as choices; `tuple[str, ...]` as a comma-separated list; `bool` as
  `--x` / `--no-x`; a nested config dataclass adds its own fields' flags;
- its help from the docstring under the field, and the field's default shown.
`from_args(Config, args)` builds the config from what the user gave: a flag left out is not in `args` at all, so
the dataclass's own default applies, and `__post_init__` makes every check; a `ValueError` from it becomes a
one-line `UserError` (`musenet.cli` writes the field names in it as flags). A command lists only the fields it
renames (`names={"val_fraction": "--val"}`; a renamed bool flag sets the field to the opposite of its default,
e.g. `{"use_cache": "--no-cache"}`) or keeps off the command line (`skip`).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import functools
import inspect
import re
import textwrap
import types
import typing
from pathlib import Path
from typing import Any

from .errors import UserError

METAVARS = {int: "N", float: "X", Path: "PATH"}


def add_flags(
    parser: argparse.ArgumentParser,
    cls: type,
    names: dict[str, str] | None = None,
    skip: frozenset[str] | set[str] = frozenset(),
    shown: dict[str, str] | None = None,
    require: bool = True,
    prefix: str = "",
    base: Any = None,
) -> None:
    """One flag per field of the dataclass `cls` (nested dataclass fields: their fields, by `a.b` in names, skip
    and shown); `shown`: the default to print where it is not the field's (e.g. "the model's");
    `require`: False where a command checks itself that fields without a default were given;
    `base`: an instance whose values are the defaults shown (a nested field's own default)."""
    names, shown = names or {}, shown or {}
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = prefix + f.name
        if key in skip or not f.init:
            continue
        kind, optional = _unwrap(hints[f.name])
        default = _default(f) if base is None else getattr(base, f.name)
        if dataclasses.is_dataclass(kind):
            add_flags(parser, kind, names, skip, shown, require, prefix=key + ".", base=default)
            continue
        flag = names.get(key, "--" + f.name.replace("_", "-"))
        help_text = (docs.get(f.name) or "").replace("%", "%%").rstrip(".")
        opts: dict[str, Any] = {"dest": key, "default": argparse.SUPPRESS}
        if kind is bool:
            if key in names:  # renamed: the flag sets the opposite of the default
                opts["action"] = "store_false" if default else "store_true"
                help_text = f"turn {'off' if default else 'on'}: {help_text[:1].lower()}{help_text[1:]}"
            else:
                opts["action"] = argparse.BooleanOptionalAction
                help_text += f" (default {'on' if default else 'off'})"
        else:
            opts["metavar"] = METAVARS.get(kind) or flag.lstrip("-").split("-")[-1].upper()
            if typing.get_origin(kind) is typing.Literal or "choices" in f.metadata:
                opts["choices"] = f.metadata.get("choices") or typing.get_args(kind)
                opts.pop("metavar")
            elif typing.get_origin(kind) is tuple:
                opts["type"] = _comma_list
            elif optional and default is not None and default is not dataclasses.MISSING:
                opts["type"] = _or_none(kind)  # a field that is on by default: `none` turns it off
                help_text += f"; `{flag} none` gives None"
            else:
                opts["type"] = kind
            if default is dataclasses.MISSING:
                opts["required"] = require
            elif key in shown:
                help_text += f" (default: {shown[key]})"
            elif default is not None and "default" not in help_text:
                help_text += f" (default {_shown(default)})"
        parser.add_argument(flag, help=help_text.strip() or None, **opts)


def given(args: argparse.Namespace, cls: type, prefix: str = "") -> dict[str, Any]:
    """The fields of `cls` the user gave on the command line (nested configs: as a dict under their field)."""
    out: dict[str, Any] = {}
    hints = typing.get_type_hints(cls)
    values = vars(args)
    for f in dataclasses.fields(cls):
        key = prefix + f.name
        kind, _ = _unwrap(hints[f.name])
        if dataclasses.is_dataclass(kind):
            inner = given(args, kind, prefix=key + ".")
            if inner:
                out[f.name] = inner
        elif key in values:
            out[f.name] = values[key]
    return out


def from_args(cls: type, args: argparse.Namespace, **extra: Any):
    """The config `cls` from the given flags (plus `extra` fields); its checks' errors as one-line UserErrors."""
    return build(cls, {**given(args, cls), **extra})


def build(cls: type, values: dict[str, Any]):
    """`cls(**values)`, nested configs built from their dicts onto the field's default; a ValueError (a check
    in `__post_init__`) becomes a UserError (the CLI writes its field names as flags: `flag_words`)."""
    hints = typing.get_type_hints(cls)
    kwargs = dict(values)
    try:
        for f in dataclasses.fields(cls):
            kind, _ = _unwrap(hints[f.name])
            if dataclasses.is_dataclass(kind) and isinstance(kwargs.get(f.name), dict):
                inner = _default(
                    f
                )  # the field's own default (e.g. text mode's top-k 40), then the flags given
                if dataclasses.is_dataclass(inner):
                    kwargs[f.name] = dataclasses.replace(inner, **kwargs[f.name])
                else:
                    kwargs[f.name] = kind(**kwargs[f.name])
        return cls(**kwargs)
    except ValueError as e:
        raise UserError(str(e)) from None


def flag_words(message: str, parser: argparse.ArgumentParser) -> str:
    """A config check's message with the field names it starts with (`top_p must be ...`, `real and heldout
    must ...`) written as the parser's flags (`--top-p must be ...`)."""
    flags = {}
    for action in parser._actions:  # argparse keeps no public list of its arguments
        if action.option_strings and action.dest != "help":
            flags.setdefault(action.dest.rsplit(".", 1)[-1], action.option_strings[0])
    head, sep, tail = _split(message)
    if not sep or not flags:
        return message
    pattern = re.compile(
        r"(?<![\w-])(" + "|".join(map(re.escape, sorted(flags, key=len, reverse=True))) + r")\b"
    )
    return pattern.sub(lambda m: flags[m.group(1)], head) + sep + tail


def _split(message: str) -> tuple[str, str, str]:
    m = re.search(r" (must|apply|applies) ", message)
    return (message[: m.start()], m.group(0), message[m.end() :]) if m else (message, "", "")


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """{field: its docstring's first paragraph, on one line}, read from the source of `cls` and its bases."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__[:-1]):
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for stmt, after in zip(body, body[1:], strict=False):
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                first = inspect.cleandoc(after.value.value).split("\n\n")[0]
                docs[stmt.target.id] = " ".join(first.split())
    return docs


def _unwrap(hint: Any) -> tuple[Any, bool]:
    """`X | None` -> (X, True); anything else -> (hint, False)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return hint, False


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _or_none(kind: type):
    """An argparse type: `kind`, or None for `none`/`off`."""

    def parse(text: str):
        return None if text.strip().lower() in ("none", "off") else kind(text)

    parse.__name__ = kind.__name__  # argparse's "invalid float value" message
    return parse


def _comma_list(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())
