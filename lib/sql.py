"""The guarded SQL console: analysts' own read queries over the reference data, the current run's
results and the saved scenarios, safe to offer on a shared workshop server.

A query never runs in the server's process. It goes to a worker process (lib/sql_worker.py),
which decides from DuckDB's parse tree whether the query may run (one SELECT over the listed
tables, no function that reads files, settings or the environment) and runs it under DuckDB's
memory limit, one thread and no temporary files, with its address space capped. This module
watches the worker: at the time limit DuckDB is interrupted; half a second later, or as soon as
the worker grows past its memory allowance, the worker is killed and a fresh one takes its place.
So every query ends within TIME_LIMIT_S + 1 s and adds at most MEMORY_LIMIT_MB to its worker,
whatever it does, and the server's own memory and time are never at stake.

`tables_connection` is the app's own view of the same tables (the data dictionary, whole-table
downloads); no analyst's text ever runs on it.
"""

from __future__ import annotations

import atexit
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from lib import catalogue, saved, sql_worker, store
from lib.results import Run

ROW_LIMIT = 1000
TIME_LIMIT_S = 5.0
MEMORY_LIMIT_MB = 512  # the most a query may add to its worker's resident memory
GRACE_S = 0.5  # after the time limit, how long DuckDB's interrupt is given before the worker is killed
MAX_QUERY_CHARS = 20_000
MAX_WORKERS = 2  # queries from different sessions run side by side, one core each
MIN_RUN_S = 0.5  # a query that would get less than this, after waiting for a worker, is refused as busy
RECYCLE_MB = 128  # a worker holding this much more than when it started is replaced after its query
ROOT = Path(__file__).resolve().parent.parent


class SqlRefused(ValueError):
    """A query the console will not run, or one that failed: one clear sentence."""


@dataclass(frozen=True)
class SqlResult:
    frame: pd.DataFrame
    truncated: bool  # more rows than the limit: only the first `limit` are kept
    seconds: float
    cells_cut: bool = False  # a text cell longer than the worker's CELL_CHARS was cut


@dataclass
class Measured:
    """What the last query cost its worker (read by the tests and the benchmarks)."""

    seconds: float = 0.0
    idle_rss_mb: float = 0.0
    peak_rss_mb: float = 0.0
    killed: bool = False


last = Measured()


# ---- the worker processes ----------------------------------------------------------------------------


class _Worker:
    def __init__(self) -> None:
        reference = str(store.reference_database(catalogue.current()))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lib.sql_worker", reference],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=os.environ | {"MALLOC_ARENA_MAX": "2"},  # few malloc arenas: the address-space cap is for queries
            start_new_session=True,  # a Ctrl-C in the server's terminal is the server's, not the worker's
        )  # fmt: skip
        self.answers: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        ready = self._answer(30.0)
        if not ready or not ready.get("ready"):
            self.kill()
            raise SqlRefused("The SQL console could not start its worker; try again.")
        self.idle_rss_mb = float(ready["idle_rss_mb"])
        self.idle_size_mb = float(ready["idle_size_mb"])

    def _read(self) -> None:
        while True:
            answer = sql_worker.receive(self.process.stdout)
            self.answers.put(answer)
            if answer is None:  # the worker has gone
                return

    def _answer(self, wait_s: float) -> dict | None:
        try:
            return self.answers.get(timeout=wait_s)
        except queue.Empty:
            return None

    def rss_mb(self, field: str = "VmRSS") -> float:
        return sql_worker.status_mb(field, self.process.pid)

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except OSError:
                self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            try:
                pipe.close()
            except OSError:
                pass

    def ask(self, request: dict, timeout_s: float) -> dict:
        """Send one query; its answer, or {"refused": "timeout" | "memory" | "died"} when it is stopped."""
        try:
            sql_worker.send(self.process.stdin, request)
        except OSError:
            return {"refused": "died"}
        deadline = time.monotonic() + timeout_s + GRACE_S
        peak = self.idle_rss_mb
        while True:
            answer = self._answer(0.02)
            if answer is not None:
                return answer
            if not self.alive():  # ended by its own limits (an allocation past its address space)
                return {"refused": "memory", "peak_rss_mb": peak}
            peak = max(peak, self.rss_mb("VmHWM"))
            if self.rss_mb() - self.idle_rss_mb > MEMORY_LIMIT_MB:
                self.kill()
                return {"refused": "memory", "peak_rss_mb": peak, "killed": True}
            if time.monotonic() > deadline:
                self.kill()
                return {"refused": "timeout", "peak_rss_mb": peak, "killed": True}


class _Pool:
    """Up to MAX_WORKERS warm workers, shared by the server's sessions; a killed one is replaced."""

    def __init__(self) -> None:
        self.idle: list[_Worker] = []
        self.busy = 0
        self.lock = threading.Condition()

    def take(self, wait_s: float) -> _Worker:
        """A worker, waiting at most `wait_s` for one (a query's wait counts against its time)."""
        with self.lock:
            deadline = time.monotonic() + wait_s
            while not self.idle and self.busy >= MAX_WORKERS:
                if not self.lock.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise SqlRefused("The SQL console is busy with other analysts' queries; try again in a moment.")
            self.busy += 1
            if self.idle:
                return self.idle.pop()
        try:
            return _Worker()
        except BaseException:
            self.give_back(None)
            raise

    def give_back(self, worker: _Worker | None, stopped: bool = False) -> None:
        """Return a worker for the next query; one that was stopped, or has grown, is replaced
        (memory the engine keeps would count against the next query's allowance)."""
        grown = worker is not None and (
            worker.rss_mb() - worker.idle_rss_mb > RECYCLE_MB or worker.rss_mb("VmSize") - worker.idle_size_mb > 2 * RECYCLE_MB
        )
        if worker is not None and (stopped or grown or not worker.alive()):
            worker.kill()
            worker = None
        with self.lock:
            self.busy -= 1
            if worker is not None:
                self.idle.append(worker)
            self.lock.notify()

    def close(self) -> None:
        with self.lock:
            for worker in self.idle:
                worker.kill()
            self.idle.clear()


_pool = _Pool()
atexit.register(_pool.close)


# ---- the console ----------------------------------------------------------------------------------


def _tables(run: Run | None) -> dict[str, bytes]:
    """The run's tables and the saved-scenarios listing, as Arrow streams for the worker."""
    tables = dict(run.arrow_tables()) if run else {}
    try:
        listing = saved.listing()
    except saved.SavedError as exc:
        raise SqlRefused(f"The saved scenarios cannot be read just now ({exc}); try again in a moment.") from None
    tables["saved_scenarios"] = pa.Table.from_pandas(listing, preserve_index=False)
    return {name: sql_worker.arrow_stream(table) for name, table in tables.items()}


def run_sql(sql: str, run: Run | None = None, limit: int = ROW_LIMIT, timeout_s: float = TIME_LIMIT_S) -> SqlResult:
    """Run one analyst's read query in a worker: at most `limit` rows (1 to ROW_LIMIT); stopped after
    `timeout_s` seconds or past MEMORY_LIMIT_MB."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= ROW_LIMIT:
        raise SqlRefused(f"The row limit must be 1 to {ROW_LIMIT:,}, not {limit!r}.")
    if not isinstance(sql, str) or len(sql) > MAX_QUERY_CHARS:
        raise SqlRefused(f"A query is at most {MAX_QUERY_CHARS:,} characters; this one is longer.")
    started = time.perf_counter()
    tables = _tables(run)
    worker = _pool.take(wait_s=max(0.0, timeout_s - MIN_RUN_S - (time.perf_counter() - started)))
    left = timeout_s - (time.perf_counter() - started)  # waiting for a worker counts against the time limit
    request = {"sql": sql.strip().rstrip(";").strip(), "tables": tables, "limit": limit, "timeout_s": left}
    answer: dict = {"refused": "died"}
    try:
        answer = worker.ask(request, left)
    finally:
        _pool.give_back(worker, stopped=answer.get("refused") in ("timeout", "memory", "died"))
    seconds = time.perf_counter() - started
    global last
    last = Measured(seconds, worker.idle_rss_mb, float(answer.get("peak_rss_mb", 0.0)), bool(answer.get("killed")))
    refused = answer.get("refused")
    if refused == "timeout":
        raise SqlRefused(f"Stopped after {timeout_s:g} s: the query took too long. Narrow it (WHERE, LIMIT).")
    if refused in ("memory", "died"):
        raise SqlRefused(
            f"Stopped: the query needed more than the console's {MEMORY_LIMIT_MB} MB of memory. "
            "Narrow it (WHERE, LIMIT, fewer columns)."
        )
    if refused:
        raise SqlRefused(_without_paths(refused))
    frame = pd.DataFrame(answer["rows"], columns=_unique(answer["columns"]))
    return SqlResult(frame, answer["truncated"], seconds, answer["cells_cut"])


def _unique(columns: list[str]) -> list[str]:
    """Column names as given, with a repeated one numbered (pandas needs them distinct)."""
    seen: dict[str, int] = {}
    out = []
    for name in columns:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def _without_paths(message: str) -> str:
    """An engine message with any of the server's folders taken out."""
    folders = {str(ROOT), str(Path.home()), str(store.database_path().parent), str(saved.path().parent)}
    for folder in sorted(folders, key=len, reverse=True):
        message = message.replace(folder, "…")
    return message


# ---- the app's own view of the tables ------------------------------------------------------------------


def tables_connection(run: Run | None) -> duckdb.DuckDBPyConnection:
    """A fresh, locked, read-only view of the reference data, `run`'s tables and the saved scenarios,
    for the app's own queries (never an analyst's text)."""
    con = duckdb.connect(":memory:", config=store.OFFLINE_CONFIG)
    reference = store.reference_database(catalogue.current())
    con.execute(f"ATTACH '{reference}' AS reference (READ_ONLY)")
    for (name,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'reference'").fetchall():
        con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM reference."{name}"')
    for name, table in (run.arrow_tables() if run else {}).items():
        con.register(name, table)
    try:
        listing = saved.listing()
    except saved.SavedError:  # the app's own view carries on: the table's columns, no rows
        listing = pd.DataFrame(columns=saved.LISTED)
    con.register("saved_scenarios", listing)
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def whole_table(table: str, run: Run | None) -> pd.DataFrame:
    """Every row of one of the console's tables (for downloads)."""
    con = tables_connection(run)
    try:
        listed = "SELECT table_name FROM duckdb_tables() UNION SELECT view_name FROM duckdb_views() WHERE NOT internal"
        names = {n for (n,) in con.execute(listed).fetchall()} | set(run.arrow_tables() if run else ()) | {"saved_scenarios"}
        if table not in names:
            raise SqlRefused(f"No table called {table[:80]!r} here.")
        return con.execute(f'SELECT * FROM "{table}"').df()
    finally:
        con.close()
