"""Shared test set-up: the project root on the import path (tests run from any directory), and
a reference database of this test session's own, built from data/ alone."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pytest_configure() -> None:
    # A fresh database per session proves it builds from the text alone.
    # and saved scenarios of its own: tests never write into data/cache.
    folder = Path(tempfile.mkdtemp(prefix="carelab-tests-"))
    os.environ.setdefault("CARELAB_DB", str(folder / "carelab.duckdb"))
    os.environ.setdefault("CARELAB_SCENARIOS_DB", str(folder / "scenarios.duckdb"))
    os.environ.setdefault("CARELAB_TEMPLATES_DIR", str(folder / "templates"))
    os.environ.pop("CARELAB_DATABASE_URL", None)  # the embedded default, unless a test asks for the server


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL server for this test session (tests/pgserver.py): its base address."""
    from . import pgserver

    with pgserver.server() as base:
        yield base


@pytest.fixture(params=["duckdb", "postgresql"])
def backend(request, tmp_path, monkeypatch):
    """A store of the test's own: a DuckDB file (places in a folder), or a fresh database on the
    test server (places in its table)."""
    from lib import catalogue, database

    from . import pgserver

    monkeypatch.setenv("CARELAB_SCENARIOS_DB", str(tmp_path / "scenarios.duckdb"))
    if request.param == "duckdb":
        yield "duckdb"
        return
    address = pgserver.new_database(request.getfixturevalue("postgres"))
    monkeypatch.setenv("CARELAB_DATABASE_URL", address)
    catalogue.refresh()
    try:
        yield "postgresql"
    finally:
        monkeypatch.delenv("CARELAB_DATABASE_URL", raising=False)
        catalogue.refresh()
        database.close_pools()
        pgserver.drop_database(address)


@pytest.fixture()
def own_templates(tmp_path, monkeypatch):
    """A custom templates folder of the test's own, so templates it makes leave no trace."""
    from lib import catalogue

    monkeypatch.setenv("CARELAB_TEMPLATES_DIR", str(tmp_path / "templates"))
    catalogue.refresh()
    yield tmp_path / "templates"
    monkeypatch.undo()
    catalogue.refresh()
