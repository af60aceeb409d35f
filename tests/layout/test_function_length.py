"""Every function of the product reads at once: none is longer than 60 lines."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import PROJECT_ROOT
from tests.layout.test_layers import FLOORS

MAX_LINES = 60


def long_functions(root: Path, packages: set[str]) -> list[str]:
    """``path:name (lines)`` of each function or method over ``MAX_LINES`` lines, its
    signature and docstring included, its decorators not."""
    found = []
    for package in sorted(packages):
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    lines = node.end_lineno - node.lineno + 1
                    if lines > MAX_LINES:
                        found.append(f"{path.relative_to(root)}:{node.name} ({lines})")
    return found


def test_no_function_of_the_product_is_over_60_lines() -> None:
    assert long_functions(PROJECT_ROOT, set(FLOORS)) == []


def test_the_check_finds_a_planted_long_function(tmp_path: Path) -> None:
    """Control: 61 lines are caught, 60 are not."""
    body = "    x = 1\n"
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "long.py").write_text(
        "def fits():\n" + body * 59 + "\n\nasync def too_long():\n" + body * 60
    )
    assert long_functions(tmp_path, {"core"}) == ["core/long.py:too_long (61)"]
