"""The data flows one way: the codec imports nothing else from the project; the model knows no codec or data."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "musenet"


def project_imports(path: Path) -> set[str]:
    """Top-level musenet subpackages a module imports (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    parts = path.relative_to(PKG.parent).with_suffix("").parts  # ('musenet', 'codec', 'encode')
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(parts[: len(parts) - node.level])
                mod = base + (node.module.split(".") if node.module else [])
                names = [mod + [a.name] for a in node.names] if not node.module else [mod]
            else:
                names = [node.module.split(".")] if node.module else []
            for n in names:
                if n and n[0] == "musenet" and len(n) > 1:
                    found.add(n[1])
        elif isinstance(node, ast.Import):
            for a in node.names:
                n = a.name.split(".")
                if n[0] == "musenet" and len(n) > 1:
                    found.add(n[1])
    return found


@pytest.mark.parametrize(
    "package, forbidden",
    [
        ("codec", {"data", "model", "train", "generate", "web", "cli", "commands", "errors"}),
        ("model", {"codec", "data"}),
    ],
)
def test_layers(package, forbidden):
    root = PKG / package
    if not root.exists():
        pytest.skip(f"musenet/{package} does not exist yet")
    for path in root.rglob("*.py"):
        bad = project_imports(path) & forbidden
        assert not bad, f"{path.relative_to(PKG)} imports musenet.{', musenet.'.join(sorted(bad))}"
