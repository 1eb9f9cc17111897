"""The data flows one way: the table of which part of musenet may import which, third-party packages included.

Each row names a part (a subpackage, or a top-level module) and everything it may import. A command-line module
(`*/cli.py`, `commands/`, `__main__`, `demo.py`) is an entry point and may import any part; the rest of its package
keeps to the row. A part missing from the table, or a row whose part no longer exists, fails: a renamed package
cannot slip past the rules.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "musenet"
ROOT = "musenet"  # musenet/__init__.py: `musenet.load`, `__version__`

# part -> (musenet parts it may import, third-party packages it may import)
ALLOWED: dict[str, tuple[set[str], set[str]]] = {
    "errors": (set(), set()),  # the leaves: standard library only
    "files": (set(), set()),
    "options": ({"errors"}, set()),
    "codec": ({"errors", "files"}, {"numpy", "symusic"}),  # no torch: the codec runs without it
    "model": ({"files"}, {"torch", "safetensors"}),  # no codec, no data: a GPT-2 that knows no music
    "audio": ({"codec", "errors", "files"}, {"numpy", "tinysoundfont"}),
    "data": ({"codec", "errors", "files"}, {"numpy", "symusic", "music21", "tqdm"}),  # builds without torch
    "train": ({"codec", "model", "data", "errors", "files"}, {"numpy", "torch", "tqdm", "matplotlib"}),
    "generate": ({"codec", "model", "audio", "errors", "files"}, {"numpy", "torch"}),  # no critic: a Scorer
    "critic": ({"codec", "data", "generate", "model", "errors", "files"}, {"numpy", "torch", "safetensors"}),
    "evaluate": ({ROOT, "codec", "data", "generate", "model", "errors"}, {"numpy", "torch", "matplotlib"}),
    "text": ({"generate", "model", "errors"}, {"numpy", "torch", "safetensors", "tokenizers"}),
    "web": (
        {"audio", "codec", "generate", "errors", "files"},
        {"numpy", "torch", "fastapi", "pydantic", "starlette", "uvicorn", "h11"},
    ),
    "cli": ({ROOT, "errors", "options"}, set()),  # the other commands are imported by name, when used
    ROOT: ({"critic", "generate"}, set()),
}
ENTRY_POINTS = ("cli.py", "__main__.py")  # in any package; plus commands/ and demo.py
ANY = "*"


def part_of(path: Path) -> str:
    rel = path.relative_to(PKG)
    if rel.parts[0] == "commands" or rel.name in ENTRY_POINTS and len(rel.parts) > 1 or rel.name == "demo.py":
        return ANY
    if rel.name == "__main__.py":
        return ANY
    if len(rel.parts) == 1:
        return ROOT if rel.name == "__init__.py" else rel.stem
    return rel.parts[0]


def imports(path: Path) -> tuple[set[str], set[str]]:
    """(musenet parts, third-party top-level packages) a module imports, relative imports resolved."""
    parts = path.relative_to(PKG.parent).with_suffix("").parts  # ('musenet', 'codec', 'encode')
    own, third = set(), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(parts[: len(parts) - node.level])
                mod = base + (node.module.split(".") if node.module else [])
                names = [mod + [a.name] for a in node.names] if not node.module else [mod]
            else:
                names = [node.module.split(".")]
        elif isinstance(node, ast.Import):
            names = [a.name.split(".") for a in node.names]
        else:
            continue
        for n in names:
            if n[0] != "musenet":
                if n[0] not in sys.stdlib_module_names and n[0] != "__future__":
                    third.add(n[0])
            elif len(n) == 1 or not ((PKG / n[1]).is_dir() or (PKG / f"{n[1]}.py").is_file()):
                own.add(ROOT)  # `from musenet import load`, `from .. import __version__`
            else:
                own.add(n[1])
    return own, third


def modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_part_has_a_row_and_every_row_a_part():
    parts = {part_of(p) for p in modules()} - {ANY}
    assert parts - set(ALLOWED) == set(), "parts of musenet without a row in the table: add one"
    assert set(ALLOWED) - parts == set(), "rows for parts that do not exist (renamed?): update the table"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_imports_follow_the_table(path):
    part = part_of(path)
    if part == ANY:
        return
    own, third = imports(path)
    may_own, may_third = ALLOWED[part]
    bad = own - may_own - {part}
    assert not bad, f"{path.relative_to(PKG)} ({part}) imports musenet.{', musenet.'.join(sorted(bad))}"
    bad = third - may_third
    assert not bad, f"{path.relative_to(PKG)} ({part}) imports {', '.join(sorted(bad))}"


def test_the_table_catches_a_forbidden_import(tmp_path, monkeypatch):
    """The check itself can fail: a codec module importing torch or the model is reported."""
    fake = tmp_path / "musenet"
    (fake / "codec").mkdir(parents=True)
    (fake / "model").mkdir()
    bad = fake / "codec" / "bad.py"
    bad.write_text("import torch\nfrom ..model import gpt\n")
    monkeypatch.setattr(sys.modules[__name__], "PKG", fake)
    with pytest.raises(AssertionError, match="imports musenet.model"):
        test_imports_follow_the_table(bad)
    bad.write_text("import torch\n")
    with pytest.raises(AssertionError, match="imports torch"):
        test_imports_follow_the_table(bad)
