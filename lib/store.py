"""The embedded DuckDB database: reference data built from data/ text, and per-run result tables.

The reference database is a file, built on first use and rebuilt whenever the text in data/
changes (a hash stamp). It is written to a temporary file and moved into place, then only ever
opened read-only, so a Streamlit server, the CLI and the tests can all read it at once.
Simulation results live in a private in-memory database per run (see `RunStore`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tempfile
import threading
import weakref
from contextlib import contextmanager
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


def data_stamp(data_dir: Path = DATA_DIR) -> str:
    """A hash of every reference text file and the schema version."""
    files = _reference_files(data_dir)
    signature = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    return _hash_files(signature, tuple(files))


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
_run_ids = itertools.count(1)
ROWS_PER_INSERT = 2_000_000  # bounds the extra memory one insert needs


def results_database() -> duckdb.DuckDBPyConnection:
    """The process's one in-memory results database; every run stores into its own schema."""
    global _results_db
    with _results_lock:
        if _results_db is None:
            _results_db = duckdb.connect(":memory:", config=OFFLINE_CONFIG)
        return _results_db


class RunStore:
    """One projection's results as tidy tables in their own schema of the results database.

    A DuckDB connection is not thread-safe, so every statement runs on its own cursor, which
    fetches its result fully before returning (DuckDB 2.0 results stream otherwise). The schema
    is dropped when the store is garbage-collected.
    """

    def __init__(self) -> None:
        self.schema = f"run_{next(_run_ids)}"
        with self._cursor(create=True):
            pass
        weakref.finalize(self, _drop_schema, self.schema)

    @contextmanager
    def _cursor(self, create: bool = False):
        cur = results_database().cursor()
        try:
            if create:
                cur.execute(f"CREATE SCHEMA {self.schema}")
            cur.execute(f"SET schema = '{self.schema}'")
            yield cur
        finally:
            cur.close()

    def put_sim_year(self, table: str, values: dict[str, np.ndarray]) -> None:
        """Store (sims, years) arrays as a tidy table (sim, year, measure, value); years from 1."""
        first = next(iter(values.values()))
        sims, years = first.shape
        measures = list(values)
        enum = ", ".join("'" + m.replace("'", "''") + "'" for m in measures)
        per_insert = max(1, ROWS_PER_INSERT // (sims * years))
        sim_col = np.repeat(np.arange(sims, dtype=np.int32), years)
        year_col = np.tile(np.arange(1, years + 1, dtype=np.int16), sims)
        with self._cursor() as cur:
            cur.execute(f'CREATE TYPE "{table}_measure" AS ENUM ({enum})')
            cur.execute(f'CREATE TABLE "{table}" (sim INTEGER, year SMALLINT, measure "{table}_measure", value DOUBLE)')
            for start in range(0, len(measures), per_insert):
                chunk = measures[start : start + per_insert]
                codes = np.repeat(np.arange(start, start + len(chunk), dtype=np.int16), sims * years)
                batch = pa.table(
                    {
                        "sim": np.tile(sim_col, len(chunk)),
                        "year": np.tile(year_col, len(chunk)),
                        "measure": pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(measures)),
                        "value": np.concatenate([np.asarray(values[m], dtype=float).ravel() for m in chunk]),
                    }
                )
                cur.register("batch", batch)
                cur.execute(f'INSERT INTO "{table}" SELECT sim, year, measure::VARCHAR::"{table}_measure", value FROM batch')
                cur.unregister("batch")

    def put_frame(self, table: str, frame: pd.DataFrame) -> None:
        with self._cursor() as cur:
            cur.register("frame", frame)
            cur.execute(f'CREATE OR REPLACE TABLE "{table}" AS SELECT * FROM frame')
            cur.unregister("frame")

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        """Run one read query and return its whole result."""
        with self._cursor() as cur:
            return cur.execute(sql, params or []).df()

    def tables(self) -> list[str]:
        return list(
            self.query("SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1", [self.schema])[
                "table_name"
            ]
        )


def _drop_schema(schema: str) -> None:
    try:
        cur = results_database().cursor()
        try:
            cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        finally:
            cur.close()
    except duckdb.Error:
        pass  # the process is shutting down


def to_json_value(value: object) -> str:
    """JSON for a preset value as stored in the reference tables."""
    return json.dumps(value, sort_keys=True)
