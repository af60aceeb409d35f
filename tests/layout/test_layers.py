"""The import graph of the product: layers point one way and nothing imports in a circle.

The floors, lowest first (README.md, "Layout"):

0. ``schemas``: the ground (``schemas.ids``, ``schemas.settings``: nothing of the project
   beneath them) and the contracts (events, migrations);
1. ``core``: the libraries (vision, analytics maths, the warehouse client, the stages);
2. ``workers``: the Kafka transports of the camera, inference and sink roles;
3. ``streams`` (the Faust app) and ``dashboards`` (the Grafana generator);
4. ``classroom``: the command line and the embedded runner.

A module may import its own package and the floors below it, never a floor above or a
package beside it. Every rule is checked on the product and, as a control, on a planted
tree that breaks it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

FLOORS = {"schemas": 0, "core": 1, "workers": 2, "streams": 3, "dashboards": 3, "classroom": 4}
GROUND = {"schemas.ids": set(), "schemas.settings": {"schemas.ids"}}
LIBRARIES = ("core.vision", "core.analytics")
"""Libraries that know nothing of Kafka, the command line or the warehouse."""
TRANSPORTS = ("aiokafka", "faust", "click", "clickhouse_connect", "chdb", "core.warehouse")

Graph = dict[str, set[str]]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(tree: ast.AST, package: str) -> set[str]:
    """Every module an ``import`` or ``from … import`` names, at any depth of the file
    (lazy and type-checking imports count: they close circles all the same). Relative
    imports are resolved against ``package``, the package the file is in."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = parts[: len(parts) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def import_graph(root: Path, packages: set[str]) -> tuple[Graph, Graph]:
    """(project graph, every import): module -> the project modules (resp. all names) it
    imports. ``from pkg import name`` counts as importing ``pkg.name`` when that is a
    module, else ``pkg``."""
    modules = {
        module_name(path, root): path
        for package in packages
        for path in (root / package).rglob("*.py")
    }
    project: Graph = {}
    everything: Graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        imported = imported_names(ast.parse(path.read_text(), str(path)), package)
        everything[name] = imported
        project[name] = {target for target in imported if target in modules} - {name}
    return project, everything


def package_of(module: str) -> str:
    return module.split(".")[0]


def upward_imports(graph: Graph, floors: dict[str, int]) -> list[str]:
    wrong = []
    for module, targets in graph.items():
        here = package_of(module)
        for target in targets:
            there = package_of(target)
            if there != here and floors[there] >= floors[here]:
                wrong.append(f"{module} -> {target}")
    return sorted(wrong)


def circles(graph: Graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def ground_breaches(graph: Graph) -> list[str]:
    return sorted(
        f"{module} -> {target}"
        for module, allowed in GROUND.items()
        for target in graph.get(module, set()) - allowed
    )


def transport_leaks(everything: Graph) -> list[str]:
    return sorted(
        f"{module} -> {name}"
        for module, names in everything.items()
        if module.startswith(LIBRARIES)
        for name in names
        if name.startswith(TRANSPORTS)
    )


@pytest.fixture(scope="module")
def product() -> tuple[Graph, Graph]:
    return import_graph(PROJECT_ROOT, set(FLOORS))


def test_no_module_imports_a_floor_above_or_beside_it(product: tuple[Graph, Graph]) -> None:
    assert upward_imports(product[0], FLOORS) == []


def test_no_modules_import_each_other_in_a_circle(product: tuple[Graph, Graph]) -> None:
    assert circles(product[0]) == []


def test_the_settings_stand_on_nothing_of_the_project(product: tuple[Graph, Graph]) -> None:
    assert ground_breaches(product[0]) == []


def test_vision_and_analytics_know_nothing_of_kafka_cli_or_warehouse(
    product: tuple[Graph, Graph],
) -> None:
    assert transport_leaks(product[1]) == []


def test_the_checks_catch_a_planted_upward_import_circle_and_leak(tmp_path: Path) -> None:
    """Control: a tree that breaks each rule once is caught once by each check."""
    files = {
        "schemas/__init__.py": "",
        "schemas/settings.py": "from schemas.events import X\n",
        "schemas/events.py": "def late():\n    from core.vision import engine\n",
        "core/__init__.py": "",
        "core/vision/__init__.py": "",
        "core/vision/engine.py": "import aiokafka\nfrom core.vision import tracking\n",
        "core/vision/tracking.py": "from .engine import step\n",
        "workers/__init__.py": "",
        "workers/infer.py": "from core.vision.engine import step\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph, everything = import_graph(tmp_path, {"schemas", "core", "workers"})
    assert upward_imports(graph, FLOORS) == [
        "schemas.events -> core.vision",
        "schemas.events -> core.vision.engine",
    ]
    assert circles(graph) == [["core.vision.engine", "core.vision.tracking"]]
    assert ground_breaches(graph) == ["schemas.settings -> schemas.events"]
    assert transport_leaks(everything) == ["core.vision.engine -> aiokafka"]
