"""The embedded DuckDB database: reference data built from data/ text, and per-run result tables.

The reference database is a file, built on first use and rebuilt whenever the text in data/
changes (a hash stamp). It is written to a temporary file and moved into place, then only ever
opened read-only, so a Streamlit server, the CLI and the tests can all read it at once.
Simulation results live in a private in-memory database per run (see `RunStore`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
import weakref
from functools import lru_cache
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from lib import reference

SCHEMA_VERSION = "3"
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEFAULT_DB_PATH = DATA_DIR / "cache" / "carelab.duckdb"

# Nothing may be downloaded at run time: extensions stay off.
OFFLINE_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}

_build_lock = threading.Lock()


def database_path() -> Path:
    """Where the reference database lives: `CARELAB_DB`, or data/cache/carelab.duckdb."""
    override = os.environ.get("CARELAB_DB")
    return Path(override).expanduser() if override else DEFAULT_DB_PATH


def _reference_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in data_dir.glob("*") if p.is_file() and p.suffix in {".csv", ".yaml", ".yml", ".json"})


STAMP_TTL_SECONDS = 1.0  # how often a running app looks for edited reference text
_stamp_seen: dict[Path, tuple[float, str]] = {}


def data_stamp(data_dir: Path = DATA_DIR, max_age_s: float = STAMP_TTL_SECONDS) -> str:
    """A hash of every reference text file and the schema version; a stamp younger than
    `max_age_s` is reused rather than looking at the files again."""
    now = time.monotonic()
    seen = _stamp_seen.get(data_dir)
    if seen and now - seen[0] < max_age_s:
        return seen[1]
    files = _reference_files(data_dir)
    signature = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    stamp = _hash_files(signature, tuple(files))
    _stamp_seen[data_dir] = (now, stamp)
    return stamp


@lru_cache(maxsize=8)
def _hash_files(signature: tuple, files: tuple[Path, ...]) -> str:
    digest = hashlib.sha256(SCHEMA_VERSION.encode())
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _stored_stamp(path: Path) -> str | None:
    if not path.exists():
        return None
    try:
        with duckdb.connect(str(path), read_only=True, config=OFFLINE_CONFIG) as con:
            row = con.execute("SELECT stamp FROM meta").fetchone()
    except duckdb.Error:
        return None
    return row[0] if row else None


def ensure_database(path: Path | None = None) -> Path:
    """Build the reference database if it is missing or older than the text in data/."""
    path = path or database_path()
    stamp = data_stamp()
    if _stored_stamp(path) == stamp:
        return path
    with _build_lock:
        if _stored_stamp(path) == stamp:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(dir=path.parent, suffix=".building")
        os.close(handle)
        os.unlink(tmp_name)  # DuckDB wants to create the file itself
        try:
            with duckdb.connect(tmp_name, config=OFFLINE_CONFIG) as con:
                _write_reference_tables(con, stamp)
            os.replace(tmp_name, path)
        finally:
            for leftover in (tmp_name, tmp_name + ".wal"):
                if os.path.exists(leftover):
                    os.unlink(leftover)
    return path


def _write_reference_tables(con: duckdb.DuckDBPyConnection, stamp: str) -> None:
    tables = reference.load_tables(DATA_DIR)
    for name, frame in tables.items():
        con.register("frame", frame)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
        con.unregister("frame")
    con.execute("CREATE TABLE meta (stamp VARCHAR, schema_version VARCHAR)")
    con.execute("INSERT INTO meta VALUES (?, ?)", [stamp, SCHEMA_VERSION])


def read_reference_tables(path: Path | None = None) -> dict[str, pd.DataFrame]:
    """Every reference table as a DataFrame (they are small)."""
    path = ensure_database(path)
    with duckdb.connect(str(path), read_only=True, config=OFFLINE_CONFIG) as con:
        names = [row[0] for row in con.execute("SHOW TABLES").fetchall()]
        return {name: con.execute(f'SELECT * FROM "{name}"').df() for name in names}


_results_db: duckdb.DuckDBPyConnection | None = None
_results_lock = threading.Lock()


def results_database() -> duckdb.DuckDBPyConnection:
    """The process's one in-memory results database; every run queries it through its own cursor."""
    global _results_db
    with _results_lock:
        if _results_db is None:
            _results_db = duckdb.connect(":memory:", config=OFFLINE_CONFIG)
        return _results_db


class RunStore:
    """One projection's results as tidy tables in DuckDB, queried with SQL.

    Each run holds its own cursor on the process's results database and registers its tables
    on it as Arrow data: DuckDB scans them in place, so storing a run copies nothing. A DuckDB
    connection is not thread-safe, so the run's queries take turns on its cursor, and each
    fetches its whole result before returning (DuckDB 2.0 results stream otherwise).
    """

    def __init__(self) -> None:
        self._cursor = results_database().cursor()
        self._lock = threading.Lock()
        self._tables: dict[str, pa.Table] = {}
        weakref.finalize(self, self._cursor.close)

    def put_sim_year(self, table: str, values: dict[str, np.ndarray]) -> None:
        """Store (sims, years) arrays as a tidy table (sim, year, measure, value); years from 1."""
        first = next(iter(values.values()))
        sims, years = first.shape
        measures = list(values)
        n = len(measures)
        codes = np.repeat(np.arange(n, dtype=np.int16), sims * years)
        self.put_arrow(
            table,
            pa.table(
                {
                    "sim": np.tile(np.repeat(np.arange(sims, dtype=np.int32), years), n),
                    "year": np.tile(np.arange(1, years + 1, dtype=np.int16), sims * n),
                    "measure": pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(measures)),
                    "value": np.concatenate([np.asarray(values[m], dtype=float).ravel() for m in measures]),
                }
            ),
        )

    def put_columns(self, table: str, columns: dict[str, object]) -> None:
        """Store a small table given as named columns (numpy arrays or lists)."""
        self.put_arrow(
            table, pa.table({name: np.asarray(col) if not isinstance(col, list) else col for name, col in columns.items()})
        )

    def put_arrow(self, table: str, data: pa.Table) -> None:
        with self._lock:
            self._tables[table] = data
            self._cursor.register(table, data)

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        """Run one read query and return its whole result."""
        with self._lock:
            return self._cursor.execute(sql, params or []).df()

    def tables(self) -> list[str]:
        return sorted(self._tables)
