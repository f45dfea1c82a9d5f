"""Every package the code imports is pinned in requirements.txt (runtime) or
requirements-dev.txt (tests and benches)."""

from __future__ import annotations

import ast
import re
import sys

from .conftest import ROOT

# import name -> distribution
DISTRIBUTIONS = {"yaml": "pyyaml", "axe_playwright_python": "axe-playwright-python", "psycopg_pool": "psycopg-pool"}
OURS = {"lib", "pages", "tests", "bench", "app"}


def imported(folders: list[str]) -> set[str]:
    names: set[str] = set()
    files = [p for folder in folders for p in (ROOT / folder).rglob("*.py")]
    for path in files + ([ROOT / "app.py"] if "lib" in folders else []):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in OURS}


def pinned(filename: str) -> set[str]:
    text = (ROOT / filename).read_text(encoding="utf-8")
    return {m.group(1).lower() for m in re.finditer(r"^([A-Za-z0-9_.-]+)(?:\[[\w,-]+\])?==\S+", text, re.MULTILINE)}


def test_runtime_imports_are_pinned_in_requirements():
    missing = {DISTRIBUTIONS.get(n, n) for n in imported(["lib", "pages"])} - pinned("requirements.txt")
    assert not missing, f"pin these in requirements.txt: {sorted(missing)}"


def test_test_and_bench_imports_are_pinned():
    allowed = pinned("requirements.txt") | pinned("requirements-dev.txt")
    missing = {DISTRIBUTIONS.get(n, n) for n in imported(["tests", "bench"])} - allowed
    assert not missing, f"pin these in requirements-dev.txt: {sorted(missing)}"
