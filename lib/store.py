"""The embedded DuckDB databases: the reference database built from the catalogue, and the
in-memory database that holds projection results.

The reference database is a file, built on first use and rebuilt whenever the catalogue's stamp
changes. It is written to a temporary file and moved into place, then only ever opened
read-only, so a Streamlit server, the CLI and the tests can all read it at once.
Nothing may be downloaded at run time: DuckDB's extension loading stays off.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import duckdb
import pandas as pd

from lib.catalogue import DATA_DIR, Catalogue
from lib.database import OFFLINE_CONFIG

DEFAULT_DB_PATH = DATA_DIR / "cache" / "carelab.duckdb"

_build_lock = threading.Lock()
_results_db: duckdb.DuckDBPyConnection | None = None
_results_lock = threading.Lock()


def database_path() -> Path:
    """Where the reference database lives: `CARELAB_DB`, or data/cache/carelab.duckdb."""
    override = os.environ.get("CARELAB_DB")
    return Path(override).expanduser() if override else DEFAULT_DB_PATH


def _stored_stamp(path: Path) -> str | None:
    if not path.exists():
        return None
    try:
        with duckdb.connect(str(path), read_only=True, config=OFFLINE_CONFIG) as con:
            row = con.execute("SELECT stamp FROM meta").fetchone()
    except duckdb.Error:
        return None
    return row[0] if row else None


def reference_database(cat: Catalogue, path: Path | None = None) -> Path:
    """The reference database of `cat`, built if it is missing or holds other reference data."""
    path = path or database_path()
    if _stored_stamp(path) == cat.stamp:
        return path
    with _build_lock:
        if _stored_stamp(path) == cat.stamp:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(dir=path.parent, suffix=".building")
        os.close(handle)
        os.unlink(tmp_name)  # DuckDB wants to create the file itself
        try:
            with duckdb.connect(tmp_name, config=OFFLINE_CONFIG) as con:
                for name, frame in cat.tables.items():
                    con.register("frame", frame)
                    con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame')
                    con.unregister("frame")
                con.execute("CREATE TABLE meta AS SELECT ? AS stamp", [cat.stamp])
            os.replace(tmp_name, path)
        finally:
            for leftover in (tmp_name, tmp_name + ".wal"):
                if os.path.exists(leftover):
                    os.unlink(leftover)
    return path


def query_reference(cat: Catalogue, queries: dict[str, tuple[str, list]]) -> dict[str, pd.DataFrame]:
    """Named read queries (sql, params) over the reference database, on one connection."""
    with duckdb.connect(str(reference_database(cat)), read_only=True, config=OFFLINE_CONFIG) as con:
        return {name: con.execute(sql, params).df() for name, (sql, params) in queries.items()}


def results_cursor() -> duckdb.DuckDBPyConnection:
    """A cursor of its own on the process's one in-memory results database."""
    global _results_db
    with _results_lock:
        if _results_db is None:
            _results_db = duckdb.connect(":memory:", config=OFFLINE_CONFIG)
        return _results_db.cursor()
