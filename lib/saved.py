"""Saved scenarios: named designs and their history, in the store lib/database.py opens (the
embedded DuckDB file by default, `CARELAB_SCENARIOS_DB`; a PostgreSQL server when
`CARELAB_DATABASE_URL` is set), apart from the read-only reference database.

What the store guarantees, and why (docs/operations.md says the same for operators):
- Writers one at a time: every call is one transaction under the store's lock (a `flock` beside
  the DuckDB file; an advisory lock on the server). A call that waits longer than
  database.WAIT_S is refused with a plain SavedError; it changes nothing.
- A save is acknowledged only after its transaction has committed (DuckDB syncs its write-ahead
  log at COMMIT; PostgreSQL its WAL). A process killed at any moment leaves either the whole
  change or none of it.
- Nothing is replaced or deleted silently: saving over an existing name, importing over it or
  restoring over it needs `replace=True`, and the design it replaces (or one deleted) is kept in
  the history for KEEP_DAYS days, from where `restore` brings it back.
Every failure reaches the caller as a SavedError in one sentence.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

import lib
from lib import baseline, catalogue, database, places
from lib.scenario import Scenario, ScenarioError, flatten, read_json

NAME_PATTERN = re.compile(r"[^\W_][\w .,'&()/+:%-]*")  # a letter or digit first, then words and a little punctuation
NAME_LENGTH = (1, 80)
KEEP_DAYS = 30  # how long a replaced or deleted design can be restored
MAX_IMPORT_BYTES = 1_000_000  # an exported design is a few kB

COLUMNS = ["name", "grp", "template", "scenario_json", "template_json", "reference_stamp", "app_version", "saved_at"]
INSERT = f"INSERT INTO scenarios VALUES ({', '.join('?' * len(COLUMNS))})"
LISTED = ["name", "group", "template", "saved_at", "reference_stamp", "app_version"]  # what `listing` gives
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
    """The DuckDB file (when no server is configured)."""
    return database.path()


def where() -> str:
    """The store in words (the file, or the server without its password)."""
    return database.where()


def check_name(text: str, what: str = "name") -> str:
    """A name or group as it will be stored: trimmed, 1-80 characters, words and a little punctuation."""
    if not isinstance(text, str):
        raise SavedError(f"{what} must be text, not {json.dumps(text, default=str)[:40]}")
    name = unicodedata.normalize("NFKC", text).strip()  # one name, however it was typed (é as one mark or two, full width)
    low, high = NAME_LENGTH
    if not low <= len(name) <= high or not NAME_PATTERN.fullmatch(name):
        shown = json.dumps(name[:40] + ("…" if len(name) > 40 else ""), ensure_ascii=False)
        raise SavedError(
            f"{what} {shown} is not allowed: {low} to {high} characters, starting with a letter or digit, "
            "then letters, digits, spaces and . , ' & ( ) / + : % - _"
        )
    return name


def _quoted(name: object) -> str:
    return json.dumps(str(name)[:80], ensure_ascii=False)


# ---- the transaction ---------------------------------------------------------------------------


@contextmanager
def _transaction() -> Iterator[database.Transaction]:
    """One transaction on the store (lib/database.py: the DuckDB file or the PostgreSQL server)."""
    try:
        with database.transaction() as tx:
            yield tx
    except database.DatabaseError as exc:
        raise SavedError(str(exc)) from None


def _frame(tx: database.Transaction, where: str = "", params: list | None = None) -> pd.DataFrame:
    return tx.frame(f"SELECT {', '.join(COLUMNS)} FROM scenarios {where} ORDER BY grp NULLS LAST, name", params or [])


def _exists(tx: database.Transaction, name: str) -> bool:
    return tx.one("SELECT count(*) FROM scenarios WHERE name = ?", [name])[0] > 0


def _retire(tx: database.Transaction, name: str, why: str) -> None:
    """Keep the design now called `name` in the history (and forget history older than KEEP_DAYS)."""
    now = _now()
    tx.run("DELETE FROM scenario_history WHERE retired_at < ?", [now - timedelta(days=KEEP_DAYS)])
    version = tx.one("SELECT coalesce(max(version), 0) + 1 FROM scenario_history")[0]
    columns = ", ".join(COLUMNS)
    tx.run(
        f"INSERT INTO scenario_history (version, {columns}, retired_at, why) "
        f"SELECT ?, {columns}, ?, ? FROM scenarios WHERE name = ?",
        [version, now, why, name],
    )
    tx.run("DELETE FROM scenarios WHERE name = ?", [name])


def _now() -> datetime:
    return database.now()


def _plain(value: object) -> object:
    """A value read into pandas, as either back end takes it back (None for a missing group)."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value.item() if hasattr(value, "item") else value


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
    with _transaction() as tx:
        if _exists(tx, name):
            if not replace:
                raise NameTaken(name)
            _retire(tx, name, "replaced")
        tx.run(INSERT, values)
    return Saved(name, group, scenario, template, stamp, lib.__version__, saved_at)


def exists(name: str) -> bool:
    with _transaction() as tx:
        return _exists(tx, name)


def listing(group: str | None = None) -> pd.DataFrame:
    """Every saved design (of one group): name, group (None for none), template, when, under which data and app."""
    with _transaction() as tx:
        frame = _frame(tx, "WHERE grp = ?", [group]) if group else _frame(tx)
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
    with _transaction() as tx:
        rows = _frame(tx, "WHERE name = ?", [name])
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
    with _transaction() as tx:
        if not _exists(tx, old):
            raise SavedError(f"no saved scenario is called {_quoted(old)}")
        if new != old and _exists(tx, new):
            raise NameTaken(new)
        try:
            design = Scenario.from_json(tx.one("SELECT scenario_json FROM scenarios WHERE name = ?", [old])[0])
        except (ScenarioError, catalogue.UnknownTemplateError) as exc:
            raise SavedError(f"{_quoted(old)} no longer fits the model: {exc}") from None
        renamed = design.with_value("name", new).to_json()  # titles, slides and files read the design's own name
        tx.run("UPDATE scenarios SET name = ?, scenario_json = ? WHERE name = ?", [new, renamed, old])


def duplicate(name: str, new: str) -> Saved:
    saved, _ = load(name)
    return save(new, saved.scenario.with_value("name", check_name(new)), saved.group)


def delete(name: str) -> None:
    """Delete a design; it stays in the history (restorable) for KEEP_DAYS days."""
    name = _looked_up(name)
    with _transaction() as tx:
        if not _exists(tx, name):
            raise SavedError(f"no saved scenario is called {_quoted(name)}")
        _retire(tx, name, "deleted")


def history(name: str | None = None) -> pd.DataFrame:
    """Designs replaced or deleted in the last KEEP_DAYS days, newest first: version, name, group,
    template, saved_at, retired_at, why ("replaced" or "deleted")."""
    where, params = ("WHERE name = ?", [name]) if name else ("", [])
    with _transaction() as tx:
        frame = tx.frame(
            f"SELECT version, name, grp AS \"group\", template, saved_at, retired_at, why FROM scenario_history {where} "
            "ORDER BY retired_at DESC, version DESC",
            params,
        )
    return _no_nan_group(frame)


def restore(version: int, name: str | None = None, replace: bool = False) -> Saved:
    """Bring a replaced or deleted design back, under its own name or `name`; a design already
    called that is kept only when `replace` (it goes to the history in turn)."""
    if isinstance(version, bool) or not isinstance(version, int):
        raise SavedError(f"a version is a whole number from the history, not {_quoted(version)}")
    with _transaction() as tx:
        rows = tx.frame(f"SELECT {', '.join(COLUMNS)} FROM scenario_history WHERE version = ?", [int(version)])
        if rows.empty:
            raise SavedError(f"no replaced or deleted design has version {int(version)} (older ones are kept {KEEP_DAYS} days)")
        row = rows.iloc[0].copy()
        row["name"] = check_name(name) if name else row["name"]
        if _exists(tx, row["name"]):
            if not replace:
                raise NameTaken(row["name"])
            _retire(tx, row["name"], "replaced")
        tx.run(INSERT, [_plain(row[c]) for c in COLUMNS])
        tx.run("DELETE FROM scenario_history WHERE version = ?", [int(version)])
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


# ---- backup and restore of the whole store -------------------------------------------------------

BACKUP_FORMAT = "carelab-saved-designs"
HISTORY_COLUMNS = ["version", *COLUMNS, "retired_at", "why"]


def backup() -> tuple[str, int, int]:
    """Every saved design and its history as one JSON document, read in one transaction (a
    consistent copy while people go on saving), with the custom places they may be built on; and
    how many designs and places it holds. Either back end reads it back: `restore_backup`."""
    with _transaction() as tx:
        designs = tx.frame(f"SELECT {', '.join(COLUMNS)} FROM scenarios ORDER BY name")
        retired = tx.frame(f"SELECT {', '.join(HISTORY_COLUMNS)} FROM scenario_history ORDER BY version")
        version = tx.one("SELECT max(version) FROM schema_version")[0]

    def records(frame: pd.DataFrame) -> list[dict]:
        return [{c: _stored(row[c]) for c in frame.columns} for _, row in frame.iterrows()]

    document = {"format": BACKUP_FORMAT, "schema_version": int(version), "taken_at": _now().isoformat()}
    kept = _places_kept()
    document |= {"scenarios": records(designs), "history": records(retired), "places": kept}
    return json.dumps(document, indent=1), len(designs), len(kept)


def _places_kept() -> list[dict]:
    """The custom places the designs may be built on, as their text (lib/places.py)."""
    kept, usable = [], set(catalogue.current().template_ids)  # a place the catalogue skips would not restore
    for name, data in places.listing().entries:
        tid = name.removesuffix(places.SUFFIX)
        try:
            if tid in usable:
                kept.append({"id": tid, "text": data.decode("utf-8")})
        except UnicodeDecodeError:  # changed since the catalogue read it, into text no design can be built on
            continue
    return kept


def _restore_places(entries: object) -> list[tuple[str, bytes | None, bytes]]:
    """Put a backup's custom places back (a place already here must be the same text); returns what
    was written, so a restore refused later can take them out again."""
    if not isinstance(entries, list) or not all(isinstance(e, dict) and set(e) == {"id", "text"} for e in entries):
        raise SavedError('the backup\'s "places" must be a list of entries with an id and a text')
    checked = []
    for entry in entries:
        try:
            if not isinstance(entry["text"], str):
                raise catalogue.CustomTemplateError("its text is not text")
            data = entry["text"].encode("utf-8")
            if catalogue.check_place(data)["id"] != entry["id"]:
                raise catalogue.CustomTemplateError(f"its text holds another id than {entry['id']}")
        except (catalogue.CustomTemplateError, UnicodeEncodeError) as exc:
            raise SavedError(f"the backup's place {_quoted(entry['id'])} cannot be used ({exc})") from None
        checked.append((entry["id"], data))
    written = []

    def same_or_new(data: bytes, tid: str) -> Callable[[bytes | None], None]:
        def check(before: bytes | None) -> None:
            if before is not None and before != data:
                raise SavedError(f"a different place {_quoted(tid)} is already here; nothing was restored")
        return check

    try:
        for tid, data in checked:
            written.append((tid, places.replace(tid, data, same_or_new(data, tid)), data))
    except (SavedError, places.PlaceError, database.DatabaseError):
        _take_back(written)
        raise
    for tid, before, data in written:  # each place opens as an upload must (every value in its field's range)
        try:
            baseline.opens_or_put_back(tid, before, data)
        except (ScenarioError, catalogue.UnknownTemplateError) as exc:
            _take_back(written)
            raise SavedError(f"the backup's place {_quoted(tid)} does not open as a design ({exc})") from None
    return written


def _take_back(written: list[tuple[str, bytes | None, bytes]]) -> None:
    for tid, before, data in reversed(written):
        places.put_back(tid, before, data)
    catalogue.refresh()


def _stored(value: object) -> object:
    plain = _plain(value)
    return plain.isoformat() if isinstance(plain, datetime) else plain


def _checked(column: str, value: Any, name: object) -> Any:
    """One value of a backup entry, checked as a save would check it; nothing unusable is restored."""
    which = f"the backup's design {_quoted(name)}"
    if column in ("saved_at", "retired_at"):
        try:
            return datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise SavedError(f"{which}: {column} is not a date and time ({_quoted(value)})") from None
    if column == "name":
        return check_name(value)
    if column == "grp":
        return None if value is None else check_name(value, "group")
    if column in ("scenario_json", "template_json"):
        try:
            Scenario.from_json(value)
        except (ScenarioError, catalogue.UnknownTemplateError, TypeError, ValueError) as exc:
            raise SavedError(f"{which} does not fit the model ({exc})") from None
        return value
    if column == "version":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SavedError(f"{which}: version must be a whole number from 1, not {_quoted(value)}")
        return value
    if column == "why" and value not in ("replaced", "deleted"):
        raise SavedError(f"{which}: why must be replaced or deleted, not {_quoted(value)}")
    if not isinstance(value, str):
        raise SavedError(f"{which}: {column} must be text, not {_quoted(value)}")
    return value


def restore_backup(text: str) -> tuple[int, int, int]:
    """Put a backup into an empty store (refused if it holds any design or history, or a different
    place of the same id, so nothing is overwritten); returns how many designs and history entries
    came back, and how many places. Its custom places come back first (lib/places.py)."""
    try:
        document = read_json(text)
    except ValueError as exc:
        raise SavedError(f"the backup is not JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != BACKUP_FORMAT:
        raise SavedError(f'the file is not a backup of saved designs (no "format": "{BACKUP_FORMAT}")')
    designs, retired = document.get("scenarios"), document.get("history")
    if not isinstance(designs, list) or not isinstance(retired, list):
        raise SavedError('the backup has no "scenarios" and "history" lists')

    made_by = document.get("schema_version")
    if not isinstance(made_by, int) or made_by > database.SCHEMA_VERSION:
        raise SavedError(f"the backup was made by a newer release (store version {made_by}); upgrade before restoring it")

    written = _restore_places(document.get("places", []))  # first: designs built on them are checked against them
    try:
        return (*_restore_designs(designs, retired), len(written))
    except BaseException:
        _take_back(written)
        raise


def _restore_designs(designs: list, retired: list) -> tuple[int, int]:
    def row(record: dict, columns: list[str]) -> list:
        if not isinstance(record, dict) or set(record) != set(columns):
            raise SavedError(f"a backup entry does not have the columns {', '.join(columns)}")
        return [_checked(c, record[c], record.get("name")) for c in columns]

    design_rows = [row(r, COLUMNS) for r in designs]
    history_rows = [row(r, HISTORY_COLUMNS) for r in retired]
    names = [r[0] for r in design_rows]
    if len(set(names)) != len(names):
        raise SavedError("the backup names one design twice; it is not a backup this tool wrote")
    with _transaction() as tx:
        held = tx.one("SELECT (SELECT count(*) FROM scenarios) + (SELECT count(*) FROM scenario_history)")[0]
        if held:
            raise SavedError(f"the store already holds {held} designs or history entries; restore a backup into an empty one")
        for values in design_rows:
            tx.run(INSERT, values)
        columns = ", ".join(HISTORY_COLUMNS)
        for values in history_rows:
            tx.run(f"INSERT INTO scenario_history ({columns}) VALUES ({', '.join('?' * len(HISTORY_COLUMNS))})", values)
    return len(design_rows), len(history_rows)
