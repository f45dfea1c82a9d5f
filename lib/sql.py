"""The guarded SQL console: analysts' own read queries over the reference data, the current run's
results and the saved scenarios, safe to offer on a shared workshop server.

Each query gets a connection of its own, built and then locked before the query is read:
the reference database attached read-only, the run's tables and the saved scenarios handed over
as in-memory tables, then file access switched off (`enable_external_access = false`) and the
configuration locked, so no statement can read a file, attach a database or undo the settings.
On top of DuckDB's own refusals, a query is read first and refused unless it is exactly one
SELECT (or WITH … SELECT) naming no file-reading function, and it runs under a row limit and a
time limit (DuckDB is interrupted when the time is up), on one thread and 512 MB of memory.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

import duckdb
import pandas as pd

from lib import catalogue, saved, store
from lib.results import Run

ROW_LIMIT = 1000
TIME_LIMIT_S = 5.0
MEMORY_LIMIT = "512MB"
FILE_FUNCTIONS = re.compile(
    r"\b(read_\w+|glob|getenv|parquet_\w+|sniff_csv|iceberg_\w+|delta_scan|sqlite_\w+|postgres_\w+|mysql_\w+)\s*\(",
    re.IGNORECASE,
)
QUOTED_SOURCE = re.compile(r"\b(from|join)\s+'", re.IGNORECASE)  # FROM '/etc/passwd' reads a file


class SqlRefused(ValueError):
    """A query the console will not run, or one that failed: one clear sentence."""


@dataclass(frozen=True)
class SqlResult:
    frame: pd.DataFrame
    truncated: bool  # more rows than the limit: only the first `limit` are kept
    seconds: float


def check(sql: str) -> str:
    """The query, if the console may run it; else SqlRefused saying why."""
    text = sql.strip().rstrip(";").strip()
    if not text:
        raise SqlRefused("Write one SELECT query, e.g. SELECT * FROM service_lines")
    if FILE_FUNCTIONS.search(text) or QUOTED_SOURCE.search(text):
        raise SqlRefused("Reading files or the environment is not allowed here: query the tables listed on the Data page.")
    try:
        statements = duckdb.connect(":memory:").extract_statements(text)
    except duckdb.Error as exc:
        raise SqlRefused(f"The query does not parse: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise SqlRefused(f"One statement at a time: this text holds {len(statements)}.")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise SqlRefused(f"Only SELECT (or WITH … SELECT) queries can run here, not {kind.name}.")
    return text


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300]


def connection(run: Run | None) -> duckdb.DuckDBPyConnection:
    """A fresh, locked, read-only view of the reference data, `run`'s tables and the saved scenarios."""
    con = duckdb.connect(":memory:", config=store.OFFLINE_CONFIG)
    reference = store.reference_database(catalogue.current())
    con.execute(f"ATTACH '{reference}' AS reference (READ_ONLY)")
    for (name,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'reference'").fetchall():
        con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM reference."{name}"')
    for name, table in (run.arrow_tables() if run else {}).items():
        con.register(name, table)
    con.register("saved_scenarios", saved.listing())
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")  # one query cannot starve the shared server
    con.execute("SET threads = 1")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def run_sql(sql: str, run: Run | None = None, limit: int = ROW_LIMIT, timeout_s: float = TIME_LIMIT_S) -> SqlResult:
    """Run one checked read query; at most `limit` rows; interrupted after `timeout_s` seconds."""
    text = check(sql)
    con = connection(run)
    timer = threading.Timer(timeout_s, con.interrupt)
    start = time.perf_counter()
    timer.start()
    try:
        result = con.execute(text)
        rows = result.fetchmany(limit + 1)
        columns = [d[0] for d in result.description]
    except duckdb.InterruptException:
        raise SqlRefused(f"Stopped after {timeout_s:g} s: the query took too long. Narrow it (WHERE, LIMIT).") from None
    except duckdb.Error as exc:
        raise SqlRefused(_first_line(exc)) from None
    finally:
        timer.cancel()
        con.close()
    frame = pd.DataFrame(rows[:limit], columns=columns)
    return SqlResult(frame, len(rows) > limit, time.perf_counter() - start)
