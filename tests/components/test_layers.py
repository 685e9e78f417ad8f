"""The layers run one way: components/ never imports stacks/ (design.md, "Layers")."""

from __future__ import annotations

import ast
from pathlib import Path

COMPONENTS = Path(__file__).resolve().parents[2] / "components"


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def offenders(root: Path) -> dict[str, set[str]]:
    result: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        bad = {m for m in imported_modules(path) if m == "stacks" or m.startswith("stacks.")}
        if bad:
            result[str(path.relative_to(root))] = bad
    return result


def test_no_component_imports_stacks() -> None:
    assert len(list(COMPONENTS.rglob("*.py"))) > 40
    assert offenders(COMPONENTS) == {}


def test_the_check_sees_an_offender(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("from stacks.settings import PlatformSettings\nimport stacks.pools\n")
    (tmp_path / "good.py").write_text("from components.common import labels\n")
    assert offenders(tmp_path) == {"bad.py": {"stacks.settings", "stacks.pools"}}
