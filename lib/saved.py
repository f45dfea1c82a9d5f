"""Saved scenarios: named designs in a writable DuckDB file, apart from the read-only reference
database (`CARELAB_SCENARIOS_DB`, default data/cache/scenarios.duckdb).

What the store guarantees, and why (docs/operations.md says the same for operators):
- One process at a time: every call takes an exclusive lock on a file beside the database
  (`flock` on `<file>.lock`) before it opens the database, and lets go only after DuckDB has
  closed it. DuckDB supports one writing process per file; the lock makes that true for the app's
  threads, its replicas on one machine and the command line alike. A call that waits longer than
  WAIT_S for the lock is refused with a plain SavedError; it never touches the file.
- A save is acknowledged only after its transaction has committed: DuckDB writes the change to
  its write-ahead log and syncs it to disk at COMMIT, then folds it into the file when the
  connection closes. A process killed at any moment leaves either the whole change or none of it,
  and the kernel releases its lock.
- Nothing is replaced or deleted silently: saving over an existing name, importing over it or
  restoring over it needs `replace=True`, and the design it replaces (or one deleted) is kept in
  the history for KEEP_DAYS days, from where `restore` brings it back.
Every failure reaches the caller as a SavedError in one sentence.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

import lib
from lib import catalogue
from lib.scenario import Scenario, ScenarioError, flatten, read_json
from lib.store import OFFLINE_CONFIG

DEFAULT_PATH = catalogue.DATA_DIR / "cache" / "scenarios.duckdb"
NAME_PATTERN = re.compile(r"[^\W_][\w .,'&()/+:%-]*")  # a letter or digit first, then words and a little punctuation
NAME_LENGTH = (1, 80)
WAIT_S = 30.0  # how long a call waits for another process to let go of the file
KEEP_DAYS = 30  # how long a replaced or deleted design can be restored
MAX_IMPORT_BYTES = 1_000_000  # an exported design is a few kB

COLUMNS = ["name", "grp", "template", "scenario_json", "template_json", "reference_stamp", "app_version", "saved_at"]
INSERT = f"INSERT INTO scenarios VALUES ({', '.join('?' * len(COLUMNS))})"
LISTED = ["name", "group", "template", "saved_at", "reference_stamp", "app_version"]  # what `listing` gives
SCHEMA = [
    """CREATE TABLE IF NOT EXISTS scenarios (
        name VARCHAR PRIMARY KEY, grp VARCHAR, template VARCHAR, scenario_json VARCHAR,
        template_json VARCHAR, reference_stamp VARCHAR, app_version VARCHAR, saved_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS scenario_history (
        version INTEGER PRIMARY KEY, name VARCHAR, grp VARCHAR, template VARCHAR, scenario_json VARCHAR,
        template_json VARCHAR, reference_stamp VARCHAR, app_version VARCHAR, saved_at TIMESTAMP,
        retired_at TIMESTAMP, why VARCHAR)""",
]


class SavedError(ValueError):
    """A refused save or look-up, in one sentence naming what and why."""


class NameTaken(SavedError):
    """The name is already a saved design's: the caller may ask the person and pass `replace`."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"a saved scenario is already called {_quoted(name)}: choose another name, or replace it")


@dataclass(frozen=True)
class Saved:
    name: str
    group: str | None
    scenario: Scenario
    template: Scenario  # the template's preset as it was when this was saved
    reference_stamp: str
    app_version: str
    saved_at: datetime


def path() -> Path:
    override = os.environ.get("CARELAB_SCENARIOS_DB")
    return Path(override).expanduser() if override else DEFAULT_PATH


def check_name(text: str, what: str = "name") -> str:
    """A name or group as it will be stored: trimmed, 1-80 characters, words and a little punctuation."""
    if not isinstance(text, str):
        raise SavedError(f"{what} must be text, not {json.dumps(text, default=str)[:40]}")
    name = text.strip()
    low, high = NAME_LENGTH
    if not low <= len(name) <= high or not NAME_PATTERN.fullmatch(name):
        shown = json.dumps(name[:40] + ("…" if len(name) > 40 else ""))
        raise SavedError(
            f"{what} {shown} is not allowed: {low} to {high} characters, starting with a letter or digit, "
            "then letters, digits, spaces and . , ' & ( ) / + : % - _"
        )
    return name


def _quoted(name: object) -> str:
    return json.dumps(str(name)[:80])


# ---- the lock and the transaction ---------------------------------------------------------------


@contextmanager
def _locked() -> Iterator[Path]:
    """Hold the store's exclusive lock (every thread and process takes it); refuse after WAIT_S."""
    target = path()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(f"{target}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise SavedError(f"the saved-scenarios folder cannot be written ({exc.strerror})") from None
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise SavedError(f"the saved scenarios cannot be locked ({exc.strerror})") from None
                if time.monotonic() > deadline:
                    raise SavedError(f"the saved scenarios stayed busy for {WAIT_S:g} s; nothing changed, try again") from None
                time.sleep(0.005)
        yield target
    finally:
        os.close(handle)  # closing the descriptor releases the lock


@contextmanager
def _transaction() -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction on the store under its lock: committed when the block ends, else rolled back."""
    with _locked() as target:
        try:
            con = duckdb.connect(str(target), config=OFFLINE_CONFIG)
        except duckdb.Error as exc:
            raise SavedError(f"the saved-scenarios file cannot be opened ({_reason(exc)})") from None
        try:
            for statement in SCHEMA:
                con.execute(statement)
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        except duckdb.Error as exc:
            raise SavedError(f"the saved scenarios could not be changed; nothing was saved ({_reason(exc)})") from None
        finally:
            con.close()


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.replace(str(path()), "the file")[:200]


def _frame(con: duckdb.DuckDBPyConnection, where: str = "", params: list | None = None) -> pd.DataFrame:
    return con.execute(f"SELECT * FROM scenarios {where} ORDER BY grp NULLS LAST, name", params or []).df()


def _exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return con.execute("SELECT count(*) FROM scenarios WHERE name = ?", [name]).fetchone()[0] > 0


def _retire(con: duckdb.DuckDBPyConnection, name: str, why: str) -> None:
    """Keep the design now called `name` in the history (and forget history older than KEEP_DAYS)."""
    now = _now()
    con.execute("DELETE FROM scenario_history WHERE retired_at < ?", [now - timedelta(days=KEEP_DAYS)])
    version = con.execute("SELECT coalesce(max(version), 0) + 1 FROM scenario_history").fetchone()[0]
    columns = ", ".join(COLUMNS)
    con.execute(
        f"INSERT INTO scenario_history (version, {columns}, retired_at, why) "
        f"SELECT ?, {columns}, ?, ? FROM scenarios WHERE name = ?",
        [version, now, why, name],
    )
    con.execute("DELETE FROM scenarios WHERE name = ?", [name])


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# ---- what callers use -----------------------------------------------------------------------------


def save(name: str, scenario: Scenario, group: str | None = None, replace: bool = False) -> Saved:
    """Save a design under a new name, or over an existing one when `replace` (the old one goes to
    the history); returns once it is committed."""
    name = check_name(name)
    group = check_name(group, "group") if group not in (None, "") else None
    if not isinstance(scenario, Scenario):
        raise SavedError(f"only a scenario can be saved, not {type(scenario).__name__}")
    try:
        template = Scenario.from_template(scenario.template)
    except (ScenarioError, catalogue.UnknownTemplateError) as exc:
        raise SavedError(f"its template cannot be opened ({exc})") from None
    stamp, saved_at = catalogue.current().design_stamp(scenario.template), _now()
    values = [name, group, scenario.template, scenario.to_json(), template.to_json(), stamp, lib.__version__, saved_at]
    with _transaction() as con:
        if _exists(con, name):
            if not replace:
                raise NameTaken(name)
            _retire(con, name, "replaced")
        con.execute(INSERT, values)
    return Saved(name, group, scenario, template, stamp, lib.__version__, saved_at)


def exists(name: str) -> bool:
    with _transaction() as con:
        return _exists(con, name)


def listing(group: str | None = None) -> pd.DataFrame:
    """Every saved design (of one group): name, group (None for none), template, when, under which data and app."""
    with _transaction() as con:
        frame = _frame(con, "WHERE grp = ?", [group]) if group else _frame(con)
    frame = frame.rename(columns={"grp": "group"})[LISTED]
    return _no_nan_group(frame)


def _no_nan_group(frame: pd.DataFrame) -> pd.DataFrame:
    """A design saved with no group has the group None (never NaN, which prints as "nan")."""
    return frame.assign(group=pd.Series([g if isinstance(g, str) else None for g in frame["group"]], dtype=object))


def _looked_up(name: object) -> str:
    if not isinstance(name, str):
        raise SavedError(f"no saved scenario is called {_quoted(name)}")
    return name


def load(name: str) -> tuple[Saved, list[str]]:
    """A saved design, and what has changed in the reference data since it was saved."""
    name = _looked_up(name)
    with _transaction() as con:
        rows = _frame(con, "WHERE name = ?", [name])
    if rows.empty:
        raise SavedError(f"no saved scenario is called {_quoted(name)}")
    return _opened(rows.iloc[0])


def _opened(row: pd.Series) -> tuple[Saved, list[str]]:
    name = row["name"]
    try:
        scenario = Scenario.from_json(row["scenario_json"])
        template = Scenario.from_json(row["template_json"])
    except (ScenarioError, catalogue.UnknownTemplateError) as exc:
        raise SavedError(f"{_quoted(name)} no longer fits the model: {exc}") from None
    grp = row["grp"] if isinstance(row["grp"], str) else None
    saved = Saved(name, grp, scenario, template, row["reference_stamp"], row["app_version"], row["saved_at"].to_pydatetime())
    return saved, changed_since(saved)


def changed_since(saved: Saved) -> list[str]:
    """The template defaults that differ now from when the design was saved."""
    cat = catalogue.current()
    try:
        now_stamp = cat.design_stamp(saved.template.template)
        current = Scenario.from_template(saved.template.template)
    except (catalogue.UnknownTemplateError, ScenarioError):
        head = f"saved under other reference data ({saved.reference_stamp})"
        return [head + f"; its template ({saved.template.template}) is no longer here"]
    if saved.reference_stamp == now_stamp:
        return []
    head = f"saved under other reference data ({saved.reference_stamp}, now {now_stamp})"
    then, now = dict(flatten(saved.template.to_dict())), dict(flatten(current.to_dict()))
    moved = [
        f"{p}: {json.dumps(then.get(p))} then, {json.dumps(now.get(p))} now"
        for p in sorted(set(then) | set(now))
        if then.get(p) != now.get(p)
    ]
    return [
        head + ("; the template's defaults that changed: " + "; ".join(moved[:12]) if moved else "; the template is as it was")
    ]


def rename(old: str, new: str) -> None:
    old, new = _looked_up(old), check_name(new)
    with _transaction() as con:
        if not _exists(con, old):
            raise SavedError(f"no saved scenario is called {_quoted(old)}")
        if new != old and _exists(con, new):
            raise NameTaken(new)
        con.execute("UPDATE scenarios SET name = ? WHERE name = ?", [new, old])


def duplicate(name: str, new: str) -> Saved:
    saved, _ = load(name)
    return save(new, saved.scenario, saved.group)


def delete(name: str) -> None:
    """Delete a design; it stays in the history (restorable) for KEEP_DAYS days."""
    name = _looked_up(name)
    with _transaction() as con:
        if not _exists(con, name):
            raise SavedError(f"no saved scenario is called {_quoted(name)}")
        _retire(con, name, "deleted")


def history(name: str | None = None) -> pd.DataFrame:
    """Designs replaced or deleted in the last KEEP_DAYS days, newest first: version, name, group,
    template, saved_at, retired_at, why ("replaced" or "deleted")."""
    where, params = ("WHERE name = ?", [name]) if name else ("", [])
    with _transaction() as con:
        frame = con.execute(
            f"SELECT version, name, grp AS \"group\", template, saved_at, retired_at, why FROM scenario_history {where} "
            "ORDER BY retired_at DESC, version DESC",
            params,
        ).df()
    return _no_nan_group(frame)


def restore(version: int, name: str | None = None, replace: bool = False) -> Saved:
    """Bring a replaced or deleted design back, under its own name or `name`; a design already
    called that is kept only when `replace` (it goes to the history in turn)."""
    if isinstance(version, bool) or not isinstance(version, int):
        raise SavedError(f"a version is a whole number from the history, not {_quoted(version)}")
    with _transaction() as con:
        rows = con.execute("SELECT * FROM scenario_history WHERE version = ?", [int(version)]).df()
        if rows.empty:
            raise SavedError(f"no replaced or deleted design has version {int(version)} (older ones are kept {KEEP_DAYS} days)")
        row = rows.iloc[0].copy()
        row["name"] = check_name(name) if name else row["name"]
        if _exists(con, row["name"]):
            if not replace:
                raise NameTaken(row["name"])
            _retire(con, row["name"], "replaced")
        con.execute(INSERT, [row[c] for c in COLUMNS])
        con.execute("DELETE FROM scenario_history WHERE version = ?", [int(version)])
    return _opened(row)[0]


def export(name: str) -> str:
    """A saved design as JSON text that `import_text` reads back."""
    saved, _ = load(name)
    record = {"name": saved.name, "group": saved.group, "scenario": saved.scenario.to_dict()}
    record |= {"reference_stamp": saved.reference_stamp, "app_version": saved.app_version, "saved_at": saved.saved_at.isoformat()}
    return json.dumps(record, indent=1)


def import_text(text: str, name: str | None = None, replace: bool = False) -> Saved:
    """Save a design from exported JSON, validated like any scenario; an existing name needs `replace`."""
    if not isinstance(text, str):
        raise SavedError(f"an import is JSON text, not {type(text).__name__}")
    if len(text) > MAX_IMPORT_BYTES:
        raise SavedError(f"the file is {len(text):,} characters; an exported design is at most {MAX_IMPORT_BYTES:,}")
    try:
        record = read_json(text)
    except ValueError as exc:
        raise SavedError(f"the file is not JSON ({exc})") from None
    if not isinstance(record, dict) or not isinstance(record.get("scenario"), dict):
        raise SavedError('the file does not hold an exported scenario (no "scenario" object)')
    try:
        scenario = Scenario.from_json(json.dumps(record["scenario"]))
    except (ScenarioError, catalogue.UnknownTemplateError) as exc:
        raise SavedError(f"the design in the file does not fit the model: {exc}") from None
    group = record.get("group")
    if group is not None and not isinstance(group, str):
        raise SavedError(f'"group" must be text or null, not {json.dumps(group)[:40]}')
    chosen = name or record.get("name") or scenario.name
    return save(chosen if isinstance(chosen, str) else check_name(chosen), scenario, group, replace=replace)
