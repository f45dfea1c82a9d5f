"""The SQL console's worker: a process of its own that reads one analyst's query, decides by what
it does whether it may run, and runs it under limits the engine and the kernel enforce.

It is started by lib/sql.py (`python -m lib.sql_worker REFERENCE_DB`) and speaks over its
standard input and output: each message is an 8-byte length, then a pickle. It never imports the
rest of the library, so it starts quickly and holds little.

- What a query may do is decided from DuckDB's own parse tree (`json_serialize_sql`), not from its
  spelling: one SELECT; tables only from the console's list (and its own WITH names); scalar,
  aggregate and window functions from DuckDB's catalogue except the few that read settings or
  write; table functions only range, generate_series, unnest, json_each and json_tree. Quoting
  and comments change nothing, and a harmless query is never refused for how it is written.
- Each query gets a fresh in-memory database holding copies of the reference tables (the
  reference file is read once at start and never attached, so no path is in any answer), the
  run's tables and the saved-scenarios listing; then file access is switched off and the
  configuration locked.
- Limits: DuckDB's memory limit, one thread, no temporary files; the process's address space
  capped (so an allocation the engine does not count fails at once instead of swapping); DuckDB
  interrupted at the time limit. The parent (lib/sql.py) also watches the process and kills it if
  it outlives the time limit or grows past its memory allowance.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import struct
import sys
import threading
import time
from typing import Any

import duckdb
import pyarrow as pa

DUCKDB_MEMORY = "384MB"  # the engine's own limit, inside the worker's allowance (lib/sql.py MEMORY_LIMIT_MB)
ADDRESS_HEADROOM_MB = 512  # virtual memory the worker may map beyond what it holds when idle
CELL_CHARS = 10_000  # a text cell longer than this is cut (the answer stays small)
TABLE_FUNCTIONS = {"range", "generate_series", "unnest", "json_each", "json_tree"}
SELECT_LIST_FUNCTIONS = frozenset({"unnest", "unlist"})  # special forms, not in DuckDB's function list: SELECT unnest([1, 2])
DENIED_FUNCTIONS = {"current_setting", "getenv", "write_log", "current_query"}  # settings, environment, writes
CONFIG = {
    "threads": 1,
    "memory_limit": DUCKDB_MEMORY,
    "temp_directory": "",  # nothing spills to disk: a query over its memory is refused, not written out
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


class Refused(Exception):
    """One sentence saying why a query will not run."""


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


# ---- deciding by meaning ---------------------------------------------------------------------------


def allowed_functions(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    rows = con.execute(
        "SELECT DISTINCT function_name FROM duckdb_functions() "
        "WHERE function_type IN ('scalar', 'aggregate', 'window', 'macro')"
    ).fetchall()
    return frozenset(name for (name,) in rows if name not in DENIED_FUNCTIONS) | SELECT_LIST_FUNCTIONS


def check(con: duckdb.DuckDBPyConnection, text: str, tables: set[str], functions: frozenset[str]) -> None:
    """Refused unless `text` is one SELECT over `tables` using only allowed functions."""
    if not text.strip():
        raise Refused("Write one SELECT query, e.g. SELECT * FROM service_lines")
    try:
        statements = con.extract_statements(text)
    except duckdb.Error as exc:
        raise Refused(f"The query does not parse: {first_line(exc)}") from None
    if len(statements) != 1:
        raise Refused(f"One statement at a time: this text holds {len(statements)}.")
    kind = statements[0].type
    if kind.name == "MULTI" and "pivot" in text.lower():
        raise Refused("The PIVOT statement is not available here; write SELECT … FROM t PIVOT (… FOR … IN (…)) instead.")
    if kind != duckdb.StatementType.SELECT:
        raise Refused(f"Only SELECT (or WITH … SELECT) queries can run here, not {kind.name}.")
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [text]).fetchall()[0][0])
    if tree.get("error"):
        raise Refused(f"The query does not parse: {tree.get('error_message', '')[:200]}")
    if _holds(tree, lambda node: node.get("type") == "SHOW_REF"):
        raise Refused("SHOW, DESCRIBE and SUMMARIZE are not available here: the Data page lists every table and column.")
    names, table_functions, sources = parts_of(tree)
    for name in sorted(table_functions):
        if name.lower() not in TABLE_FUNCTIONS:
            raise Refused(
                f"{name}(…) is not available here (it reads files or the server's state); "
                f"table functions allowed: {', '.join(sorted(TABLE_FUNCTIONS))}."
            )
    for name in sorted(names):
        if name.lower() not in functions:
            raise Refused(f"{name}(…) is not available here (it reads settings, the environment or writes).")
    ctes = cte_names(tree)
    for schema, table in sorted(sources):
        if schema or (table.lower() not in {t.lower() for t in tables} and table.lower() not in ctes):
            shown = f"{schema}.{table}" if schema else table
            raise Refused(f"No table called {shown[:80]!r} here: query the tables listed on the Data page.")


def parts_of(tree: Any) -> tuple[set[str], set[str], set[tuple[str, str]]]:
    """The function names, table-function names and (schema, table) sources a parse tree uses."""
    names: set[str] = set()
    table_functions: set[str] = set()
    sources: set[tuple[str, str]] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if node.get("type") == "TABLE_FUNCTION" and isinstance(node.get("function"), dict):
            table_functions.add(str(node["function"].get("function_name", "")))
            stack.extend(node["function"].get("arguments", []) or [])
            stack.extend(v for k, v in node.items() if k != "function")
            continue
        if node.get("type") == "BASE_TABLE":
            schema = ".".join(p for p in (node.get("catalog_name"), node.get("schema_name")) if p and p not in ("memory", "main"))
            sources.add((schema, str(node.get("table_name", ""))))
        elif "function_name" in node:
            names.add(str(node["function_name"]))
        stack.extend(node.values())
    return names, table_functions, sources


def _holds(tree: Any, test) -> bool:  # noqa: ANN001 - a predicate on a parse-tree node
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if test(node):
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def cte_names(tree: Any) -> set[str]:
    found: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for entry in (node.get("cte_map") or {}).get("map", []) if isinstance(node.get("cte_map"), dict) else []:
                found.add(str(entry.get("key", "")).lower())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


# ---- running -------------------------------------------------------------------------------------


def read_reference(path: str) -> dict[str, pa.Table]:
    """The reference tables, copied into memory once (the file is closed before any query)."""
    if not path:
        return {}
    with duckdb.connect(path, read_only=True, config={k: v for k, v in CONFIG.items() if k != "temp_directory"}) as con:
        names = [n for (n,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return {name: con.execute(f'SELECT * FROM "{name}"').to_arrow_table() for name in names}


def run(request: dict, reference: dict[str, pa.Table], functions: frozenset[str]) -> dict:
    started = time.perf_counter()
    con = duckdb.connect(":memory:", config=CONFIG)
    try:
        tables = dict(reference)
        for name, data in request["tables"].items():
            tables[name] = pa.ipc.open_stream(data).read_all()
        check(con, request["sql"], set(tables), functions)
        for name, table in tables.items():
            con.register(name, table)
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        timer = threading.Timer(request["timeout_s"], con.interrupt)
        timer.start()
        try:
            result = con.execute(request["sql"])
            rows = result.fetchmany(request["limit"] + 1)
            columns = [d[0] for d in result.description]
        finally:
            timer.cancel()
    except Refused as exc:
        return {"refused": str(exc)}
    except duckdb.InterruptException:
        return {"refused": "timeout"}
    except (duckdb.OutOfMemoryException, MemoryError):
        return {"refused": "memory"}
    except duckdb.Error as exc:
        message = first_line(exc)
        return {"refused": "memory" if "Out of Memory" in message or "bad allocation" in message else message}
    finally:
        con.close()
    cut = False
    kept = []
    for row in rows[: request["limit"]]:
        cells = []
        for cell in row:
            if isinstance(cell, str | bytes) and len(cell) > CELL_CHARS:
                cell, cut = cell[:CELL_CHARS], True
            cells.append(cell)
        kept.append(tuple(cells))
    return {
        "columns": columns,
        "rows": kept,
        "truncated": len(rows) > request["limit"],
        "cells_cut": cut,
        "seconds": time.perf_counter() - started,
    }


# ---- the process -----------------------------------------------------------------------------------


def arrow_stream(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def status_mb(field: str, pid: int | str = "self") -> float:
    """A figure of a process from /proc (VmRSS, VmHWM, VmSize), in MB; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def send(out, message: dict) -> None:  # noqa: ANN001 - a binary stream
    """One message on the channel: its length in 8 bytes, then its pickle (both ends use these two)."""
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(struct.pack(">Q", len(body)) + body)
    out.flush()


def receive(inp) -> dict | None:  # noqa: ANN001 - a binary stream
    """The next message, or None once the other end has gone (or sent something unreadable)."""
    head = inp.read(8)
    if len(head) < 8:
        return None
    try:
        return pickle.loads(inp.read(struct.unpack(">Q", head)[0]))
    except (pickle.UnpicklingError, EOFError, MemoryError):
        return None


def main() -> None:
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but messages on the channel
    reference = read_reference(sys.argv[1] if len(sys.argv) > 1 else "")
    with duckdb.connect(":memory:", config=CONFIG) as con:
        functions = allowed_functions(con)
    warm_up = {"sql": "SELECT count(*) FROM warm_up", "limit": 1, "timeout_s": 5.0}
    run(warm_up | {"tables": {"warm_up": arrow_stream(pa.table({"x": [1, 2, 3]}))}}, reference, functions)
    idle_size = status_mb("VmSize")  # after a first query has mapped what every query maps
    limit = int((idle_size + ADDRESS_HEADROOM_MB) * 2**20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    send(out, {"ready": True, "idle_rss_mb": status_mb("VmRSS"), "idle_size_mb": idle_size, "pid": os.getpid()})
    while (request := receive(inp)) is not None:
        answer = run(request, reference, functions)
        answer["peak_rss_mb"] = status_mb("VmHWM")
        try:
            send(out, answer)
        except MemoryError:
            send(out, {"refused": "memory", "peak_rss_mb": status_mb("VmHWM")})


if __name__ == "__main__":
    main()
