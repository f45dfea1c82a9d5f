"""The house reads top to bottom: a module imports only from its own layer or the layers below,
there are no import loops, and lib/ never imports Streamlit (docs/model.md, "Code layout")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .conftest import ROOT

# stores, data/ text -> catalogue -> scenario -> engine -> results (DuckDB) -> views/charts -> cli -> pages -> app
LAYERS = [
    ["lib.memory", "lib.sql_worker", "lib.bounded", "lib.database", "lib.places"],
    ["lib.catalogue", "lib.calibration"],
    ["lib.scenario", "lib.links", "lib.stress", "lib.baseline"],
    ["lib.levers", "lib.settlement", "lib.outcomes", "lib.engine"],
    ["lib.store", "lib.results", "lib.saved", "lib.sensitivity", "lib.sql", "lib.dictionary"]
    + ["lib.sweep", "lib.words"],
    ["lib.views", "lib.readings", "lib.evidence", "lib.charts", "lib.gallery", "lib.export"],
    ["lib.cli", "lib.__main__"],
    ["pages.*"],
    ["app"],
]


def rank(module: str) -> int | None:
    """The module's layer, counted from the bottom (None: not placed)."""
    key = "pages.*" if module.startswith("pages.") else module
    return next((i for i, layer in enumerate(LAYERS) if key in layer), None)


def modules() -> dict[str, Path]:
    files = [*sorted((ROOT / "lib").glob("*.py")), *sorted((ROOT / "pages").glob("*.py")), ROOT / "app.py"]
    found = {}
    for path in files:
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        if path.name != "__init__.py":
            found[name] = path
    return found


def imports(path: Path) -> set[str]:
    """Every module a file imports, with `from lib import x` read as lib.x."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def project_imports() -> dict[str, set[str]]:
    known = modules()
    return {name: {m for m in imports(path) if m in known and m != name} for name, path in known.items()}


def test_every_module_has_a_layer():
    unplaced = [m for m in modules() if rank(m) is None]
    assert not unplaced, f"place these modules in LAYERS: {unplaced}"


def test_imports_only_look_down():
    climbs = [
        f"{module} (layer {rank(module)}) imports {target} (layer {rank(target)})"
        for module, targets in project_imports().items()
        for target in targets
        if rank(target) > rank(module)
    ]
    assert not climbs, "\n".join(climbs)


def test_no_import_loops():
    graph = project_imports()
    state: dict[str, int] = {}
    loops: list[str] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                loops.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not loops, loops


@pytest.mark.parametrize("name", [m for m in modules() if m.startswith("lib.")])
def test_lib_never_imports_streamlit(name):
    assert not any(m == "streamlit" or m.startswith("streamlit.") for m in imports(modules()[name]))


def test_the_checker_sees_a_climb(tmp_path):
    """The rule can fail: a lib module that imported a page would be caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("from pages import state\nimport lib.engine\n", encoding="utf-8")
    found = imports(bad)
    assert "pages.state" in found and "lib.engine" in found
    assert rank("pages.state") > rank("lib.engine")
