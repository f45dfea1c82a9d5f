"""Saved scenarios: named designs in a writable DuckDB file, apart from the read-only reference
database (`CARELAB_SCENARIOS_DB`, default data/cache/scenarios.duckdb).

Each call opens the file, does its work in one transaction and closes it: a save returns only
once DuckDB has committed it (written to its write-ahead log), so a server killed straight after
still has it when it starts again. One process may hold the file at a time, and threads of one
process share it: a call that finds it busy waits its turn and tries again.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

import lib
from lib import catalogue
from lib.scenario import Scenario, ScenarioError, flatten
from lib.store import OFFLINE_CONFIG

DEFAULT_PATH = catalogue.DATA_DIR / "cache" / "scenarios.duckdb"
NAME_PATTERN = re.compile(r"[^\W_][\w .,'&()/+:-]*")  # a letter or digit first, then words and a little punctuation
NAME_LENGTH = (1, 80)
WAIT_S = 30.0  # how long a call waits for another process to let go of the file

SCHEMA = """
CREATE TABLE IF NOT EXISTS scenarios (
    name VARCHAR PRIMARY KEY, grp VARCHAR, template VARCHAR, scenario_json VARCHAR,
    template_json VARCHAR, reference_stamp VARCHAR, app_version VARCHAR, saved_at TIMESTAMP)
"""
COLUMNS = ["name", "grp", "template", "scenario_json", "template_json", "reference_stamp", "app_version", "saved_at"]


_schema_lock = threading.Lock()
_ready: set[Path] = set()


class SavedError(ValueError):
    """A refused save or look-up, in one sentence naming what and why."""


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
    name = str(text).strip()
    low, high = NAME_LENGTH
    if not low <= len(name) <= high or not NAME_PATTERN.fullmatch(name):
        shown = json.dumps(name[:40] + ("…" if len(name) > 40 else ""))
        raise SavedError(
            f"{what} {shown} is not allowed: {low} to {high} characters, starting with a letter or digit, "
            "then letters, digits, spaces and . , ' & ( ) / + : - _"
        )
    return name


@contextmanager
def _connection() -> Iterator[duckdb.DuckDBPyConnection]:
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            con = duckdb.connect(str(target), config=OFFLINE_CONFIG)
            break
        except duckdb.IOException:  # another process holds the file: wait for it
            if time.monotonic() > deadline:
                raise SavedError(f"the saved scenarios ({target}) stayed busy for {WAIT_S:g} s; try again") from None
            time.sleep(0.02)
    try:
        with _schema_lock:  # threads of one process share the file: create the table once
            if target not in _ready:
                con.execute(SCHEMA)
                _ready.add(target)
        yield con
    finally:
        con.close()


def _write(sql: str, params: list) -> int:
    """Run one change in its own transaction, retrying if another thread changed the same row."""
    for attempt in range(200):
        with _connection() as con:
            try:
                con.execute("BEGIN TRANSACTION")
                changed = con.execute(sql, params).fetchall()
                con.execute("COMMIT")
                return len(changed)
            except duckdb.TransactionException:
                con.execute("ROLLBACK")
                time.sleep(0.005 * (attempt + 1))
    raise SavedError("the saved scenarios are too busy to change; try again")


def _rows(where: str = "", params: list | None = None) -> pd.DataFrame:
    with _connection() as con:
        return con.execute(f"SELECT * FROM scenarios {where} ORDER BY grp NULLS LAST, name", params or []).df()


def save(name: str, scenario: Scenario, group: str | None = None) -> Saved:
    """Save (or save again over) a named design; returns once it is committed."""
    name = check_name(name)
    group = check_name(group, "group") if group not in (None, "") else None
    template = Scenario.from_template(scenario.template)
    stamp, saved_at = catalogue.current().stamp, datetime.now(UTC).replace(tzinfo=None)
    values = [name, group, scenario.template, scenario.to_json(), template.to_json(), stamp, lib.__version__, saved_at]
    _write(f"INSERT OR REPLACE INTO scenarios VALUES ({', '.join('?' * len(COLUMNS))}) RETURNING name", values)
    return Saved(name, group, scenario, template, stamp, lib.__version__, saved_at)


def listing(group: str | None = None) -> pd.DataFrame:
    """Every saved design (of one group): name, group, template, when, under which data and app."""
    frame = _rows("WHERE grp = ?", [group]) if group else _rows()
    return frame[["name", "grp", "template", "saved_at", "reference_stamp", "app_version"]].rename(columns={"grp": "group"})


def load(name: str) -> tuple[Saved, list[str]]:
    """A saved design, and what has changed in the reference data since it was saved."""
    rows = _rows("WHERE name = ?", [name])
    if rows.empty:
        raise SavedError(f"no saved scenario is called {json.dumps(name[:80])}")
    row = rows.iloc[0]
    try:
        scenario = Scenario.from_json(row["scenario_json"])
    except ScenarioError as exc:
        raise SavedError(f"{json.dumps(name)} no longer fits the model: {exc}") from None
    template = Scenario.from_json(row["template_json"])
    grp = row["grp"] if isinstance(row["grp"], str) else None
    saved = Saved(name, grp, scenario, template, row["reference_stamp"], row["app_version"], row["saved_at"].to_pydatetime())
    return saved, changed_since(saved)


def changed_since(saved: Saved) -> list[str]:
    """The template defaults that differ now from when the design was saved."""
    if saved.reference_stamp == catalogue.current().stamp:
        return []
    head = f"saved under other reference data ({saved.reference_stamp}, now {catalogue.current().stamp})"
    try:
        current = Scenario.from_template(saved.template.template)
    except catalogue.UnknownTemplateError:
        return [head + f"; its template ({saved.template.template}) is no longer here"]
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
    new = check_name(new)
    if new != old and not _rows("WHERE name = ?", [new]).empty:
        raise SavedError(f"a saved scenario is already called {json.dumps(new)}")
    if not _write("UPDATE scenarios SET name = ? WHERE name = ? RETURNING name", [new, old]):
        raise SavedError(f"no saved scenario is called {json.dumps(old[:80])}")


def duplicate(name: str, new: str) -> Saved:
    saved, _ = load(name)
    if not _rows("WHERE name = ?", [check_name(new)]).empty:
        raise SavedError(f"a saved scenario is already called {json.dumps(new)}")
    return save(new, saved.scenario, saved.group)


def delete(name: str) -> None:
    if not _write("DELETE FROM scenarios WHERE name = ? RETURNING name", [name]):
        raise SavedError(f"no saved scenario is called {json.dumps(name[:80])}")


def export(name: str) -> str:
    """A saved design as JSON text that `import_text` reads back."""
    saved, _ = load(name)
    record = {"name": saved.name, "group": saved.group, "scenario": saved.scenario.to_dict()}
    record |= {"reference_stamp": saved.reference_stamp, "app_version": saved.app_version, "saved_at": saved.saved_at.isoformat()}
    return json.dumps(record, indent=1)


def import_text(text: str, name: str | None = None) -> Saved:
    """Save a design from exported JSON, validated like any scenario."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SavedError(f"the file is not JSON ({exc.msg})") from None
    if not isinstance(record, dict) or not isinstance(record.get("scenario"), dict):
        raise SavedError('the file does not hold an exported scenario (no "scenario" object)')
    scenario = Scenario.from_json(json.dumps(record["scenario"]))
    return save(name or str(record.get("name") or scenario.name), scenario, record.get("group"))
