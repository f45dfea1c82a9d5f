"""Shared test set-up: every test session builds its own reference database from data/."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pytest_configure(config: pytest.Config) -> None:
    # A fresh database per session proves it builds from the text alone.
    if "CARELAB_DB" not in os.environ:
        base = Path(config.cache.mkdir("carelab")) if config.cache else ROOT / ".pytest_cache"
        db = base / f"carelab-{os.getpid()}.duckdb"
        os.environ["CARELAB_DB"] = str(db)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
