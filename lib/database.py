"""Where saved designs live: one interface, two back ends.

- **DuckDB** (the default): a file on this machine (`CARELAB_SCENARIOS_DB`, default
  data/cache/scenarios.duckdb). DuckDB lets one process write a file, so every transaction first
  takes an exclusive `flock` on `<file>.lock` (the app's threads, other replicas on the machine and
  the command line alike), opens the file, runs and closes it.
- **PostgreSQL** (`CARELAB_DATABASE_URL=postgresql://…`): for replicas on several machines. A
  pool of connections per process (psycopg 3); each writing transaction takes one advisory lock,
  so saves are serialised exactly as the file's lock serialises them, and a client killed
  mid-transaction is rolled back by the server.

The server also keeps the custom places (lib/places.py) in its `places` table.

Both keep a `schema_version` table and apply MIGRATIONS forward, once, under that same lock: a
store made by an older release is brought up to date the first time a newer one opens it.
Callers write SQL with `?` placeholders and get a `Transaction` whatever the back end; every
failure reaches them as a `DatabaseError` in one sentence.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

DATA_DIR = Path(__file__).resolve().parent.parent / "data"  # the reference text; data/cache holds what users make
DEFAULT_PATH = DATA_DIR / "cache" / "scenarios.duckdb"
OFFLINE_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}  # never fetch
WAIT_S = 30.0  # how long a transaction waits for another to let go of the store
ADVISORY_KEY = 7_242_015  # PostgreSQL's advisory lock that stands for the DuckDB file's flock

# Each migration: (version, statements). Version 1 is the layout of releases before versions were
# kept, written so that it adopts such a store as it is (IF NOT EXISTS).
MIGRATIONS: list[tuple[int, list[str]]] = [
    (1, [
        """CREATE TABLE IF NOT EXISTS scenarios (
            name VARCHAR PRIMARY KEY, grp VARCHAR, template VARCHAR, scenario_json VARCHAR,
            template_json VARCHAR, reference_stamp VARCHAR, app_version VARCHAR, saved_at TIMESTAMP)""",
        """CREATE TABLE IF NOT EXISTS scenario_history (
            version INTEGER PRIMARY KEY, name VARCHAR, grp VARCHAR, template VARCHAR, scenario_json VARCHAR,
            template_json VARCHAR, reference_stamp VARCHAR, app_version VARCHAR, saved_at TIMESTAMP,
            retired_at TIMESTAMP, why VARCHAR)""",
    ]),
    (2, [  # a facilitator's group listing and the history's look-up by name read these
        "CREATE INDEX IF NOT EXISTS scenarios_by_group ON scenarios (grp)",
        "CREATE INDEX IF NOT EXISTS history_by_name ON scenario_history (name)",
    ]),
    (3, [  # custom places (lib/places.py): read from here when a server is configured
        "CREATE TABLE IF NOT EXISTS places (id VARCHAR PRIMARY KEY, body VARCHAR NOT NULL, saved_at TIMESTAMP)",
    ]),
]  # fmt: skip
SCHEMA_VERSION = MIGRATIONS[-1][0]


class DatabaseError(ValueError):
    """The store could not be reached or changed, in one sentence; nothing was changed."""


def url() -> str | None:
    """The PostgreSQL server's address when one is configured (`CARELAB_DATABASE_URL`)."""
    found = os.environ.get("CARELAB_DATABASE_URL", "").strip()
    return found or None


def path() -> Path:
    """The DuckDB file, when no server is configured."""
    override = os.environ.get("CARELAB_SCENARIOS_DB")
    return Path(override).expanduser() if override else DEFAULT_PATH


def where() -> str:
    """The store in words, without its password (for the CLI and the operators' docs)."""
    address = url()
    return f"PostgreSQL at {_without_password(address)}" if address else f"the file {path()}"


def _without_password(address: str) -> str:
    """user@host:port/dbname of an address in either form (URL or key=value), never its password."""
    from psycopg import conninfo  # only a deployment with a server needs psycopg

    try:
        parts = conninfo.conninfo_to_dict(address)
    except Exception:  # noqa: BLE001 - not an address psycopg reads: say nothing of what it holds
        return "an address that is not a PostgreSQL connection string"
    host = str(parts.get("host", "localhost")).rsplit("@", 1)[-1]  # an unquoted @ in a password spills into the host
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"{user}{host}{port}/{parts.get('dbname', '')}"


def _scrubbed(text: str, address: str) -> str:
    """A driver's message with the address and any password in it replaced by the safe form."""
    from psycopg import conninfo

    text = text.replace(address, _without_password(address))
    try:
        secret = conninfo.conninfo_to_dict(address).get("password")
    except Exception:  # noqa: BLE001
        secret = None
    for piece in filter(None, [secret, *re.findall(r"//[^:/@]*:([^@/]+)@", address)]):
        text = text.replace(str(piece), "…")
    return re.sub(r"password=\S+", "password=…", text)


def _check_address(address: str) -> None:
    if not re.match(r"^(postgres(ql)?://|\s*\w+\s*=)", address):
        raise DatabaseError(
            "CARELAB_DATABASE_URL must be a PostgreSQL address (postgresql://USER:PASSWORD@HOST:5432/DB); "
            "unset it to keep saved designs in the local file"
        )


def now() -> datetime:
    """The store's clock: UTC, without a time zone (both back ends store TIMESTAMP)."""
    return datetime.now(UTC).replace(tzinfo=None)


class Transaction:
    """One transaction on either back end, with `?` placeholders."""

    def __init__(self, cursor: Any, postgres: bool) -> None:
        self._cursor, self._postgres = cursor, postgres

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._cursor.execute(sql.replace("?", "%s") if self._postgres else sql, list(params))

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple:
        self.run(sql, params)
        return self._cursor.fetchone()

    def frame(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        self.run(sql, params)
        if not self._postgres:
            return self._cursor.df()
        columns = [d.name for d in self._cursor.description]
        return pd.DataFrame(self._cursor.fetchall(), columns=columns)


@contextmanager
def transaction() -> Iterator[Transaction]:
    """One transaction on the store, migrated to SCHEMA_VERSION: committed when the block ends,
    rolled back if it raises. Writers are serialised; one waiting longer than WAIT_S is refused."""
    address = url()
    if address:
        with _postgres_transaction(address) as tx:
            yield tx
    else:
        with _duckdb_transaction() as tx:
            yield tx


@contextmanager
def reading() -> Iterator[Transaction]:
    """A read-only look at the store. On the server it takes no lock, so frequent readers (every
    replica watching for new places) never queue behind a save; the first look migrates as a write."""
    address = url()
    if not address:
        with _duckdb_transaction() as tx:
            yield tx
        return
    if address not in _migrated:
        with _postgres_transaction(address):
            pass
    with _postgres_transaction(address, lock=False) as tx:
        yield tx


def _migrate(tx: Transaction) -> None:
    """Bring the store to SCHEMA_VERSION (the caller holds the store's lock)."""
    tx.run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP)")
    current = tx.one("SELECT coalesce(max(version), 0) FROM schema_version")[0]
    for version, statements in MIGRATIONS:
        if version > current:
            for statement in statements:
                tx.run(statement)
            tx.run("INSERT INTO schema_version VALUES (?, ?)", [version, now()])


def schema_version() -> int:
    with transaction() as tx:
        return int(tx.one("SELECT max(version) FROM schema_version")[0])


# ---- DuckDB: a file and a lock beside it ---------------------------------------------------------


@contextmanager
def locked(lock_file: Path, what: str) -> Iterator[None]:
    """Hold `lock_file`'s exclusive lock (every thread and process takes it); refuse after WAIT_S.
    `what` names what the lock guards, for the refusal ("the saved scenarios")."""
    try:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise DatabaseError(f"the folder of {what} cannot be written ({exc.strerror})") from None
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise DatabaseError(f"{what} cannot be locked ({exc.strerror})") from None
                if time.monotonic() > deadline:
                    raise DatabaseError(f"{what} stayed busy for {WAIT_S:g} s; nothing changed, try again") from None
                time.sleep(0.005)
        yield
    finally:
        os.close(handle)  # closing the descriptor releases the lock


@contextmanager
def _duckdb_transaction() -> Iterator[Transaction]:
    target = path()
    with locked(Path(f"{target}.lock"), "the saved scenarios"):
        try:
            con = duckdb.connect(str(target), config=OFFLINE_CONFIG)
        except duckdb.Error as exc:
            raise DatabaseError(f"the saved-scenarios file cannot be opened ({_first_line(exc, str(target))})") from None
        try:
            tx = Transaction(con, postgres=False)
            con.execute("BEGIN TRANSACTION")
            _migrate(tx)
            con.execute("COMMIT")
            con.execute("BEGIN TRANSACTION")
            try:
                yield tx
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        except duckdb.Error as exc:
            raise DatabaseError(
                f"the saved scenarios could not be changed; nothing was saved ({_first_line(exc, str(target))})"
            ) from None
        finally:
            con.close()


# ---- PostgreSQL: a pool per process and an advisory lock ---------------------------------------

_pools: dict[str, Any] = {}
_pools_lock = threading.Lock()


CONNECT_S = 10.0  # how long a process waits for the server to accept a connection


def _pool(address: str) -> Any:
    """This process's pool of connections to `address` (opened on first use, kept). Each connection
    is checked as it is handed out, so one the server dropped (a restart) is replaced, not used."""
    import logging

    from psycopg_pool import ConnectionPool  # only a deployment with a server needs psycopg

    _check_address(address)
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)  # a refusal is said once, by us, in one line
    with _pools_lock:
        pool = _pools.get(address)
        if pool is None or pool.closed:
            size = int(os.environ.get("CARELAB_DATABASE_POOL", "4"))
            pool = ConnectionPool(
                address, min_size=1, max_size=max(size, 1), timeout=CONNECT_S, open=False,
                check=ConnectionPool.check_connection, kwargs={"connect_timeout": 5},
            )  # fmt: skip
            try:
                pool.open(wait=True, timeout=CONNECT_S)
            except Exception:  # noqa: BLE001 - the reason is asked of the server below
                pool.close()
                raise _unreachable(address) from None
            _pools[address] = pool
        return pool


def _unreachable(address: str) -> DatabaseError:
    """Why the server cannot be used, in one sentence: one direct attempt gives the driver's reason."""
    import psycopg

    try:
        psycopg.connect(address, connect_timeout=5).close()
    except Exception as exc:  # noqa: BLE001 - any failure's first line, without the password
        reason = _scrubbed(_first_line(exc), address)
    else:  # the server answers: every connection of this process was in use
        return DatabaseError(f"the saved scenarios stayed busy for {CONNECT_S:g} s; nothing changed, try again")
    return DatabaseError(
        f"the saved-scenarios server ({_without_password(address)}) cannot be reached ({reason}); nothing changed, try again"
    )


def close_pools() -> None:
    """Close this process's connections (tests, and a server stopping)."""
    with _pools_lock:
        for pool in _pools.values():
            pool.close()
        _pools.clear()


def _first_line(exc: BaseException, hide: str | None = None) -> str:
    """An error's first line, at most 200 characters, with `hide` (a file's path) said as "the store"."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return (line.replace(hide, "the store") if hide else line)[:200]


_migrated: set[str] = set()  # servers this process has brought to SCHEMA_VERSION


@contextmanager
def _postgres_transaction(address: str, lock: bool = True) -> Iterator[Transaction]:
    """A transaction on the server; `lock`: a writer's, serialised and migrating first."""
    import psycopg

    pool = _pool(address)
    try:
        connection = pool.getconn()
    except Exception:  # noqa: BLE001 - no connection in time: the server is down, or every connection is busy
        raise _unreachable(address) from None
    try:
        with connection.transaction(), connection.cursor() as cursor:
            if not lock:
                cursor.execute("SET TRANSACTION READ ONLY")
            cursor.execute(f"SET LOCAL lock_timeout = '{int(WAIT_S * 1000)}ms'")
            tx = Transaction(cursor, postgres=True)
            if lock:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_KEY])
                _migrate(tx)  # one look at schema_version: a store restored from an older dump is brought up too
                _migrated.add(address)
            yield tx
    except psycopg.errors.LockNotAvailable:
        raise DatabaseError(f"the saved scenarios stayed busy for {WAIT_S:g} s; nothing changed, try again") from None
    except psycopg.Error as exc:
        reason = _scrubbed(_first_line(exc), address)
        raise DatabaseError(f"the saved scenarios could not be changed; nothing was saved ({reason})") from None
    finally:
        pool.putconn(connection)  # a broken connection is discarded by the pool
