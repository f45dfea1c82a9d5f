"""Where custom places are kept: a place's own baseline, uploaded by an analyst, as one template's
YAML text. Two back ends, chosen like the saved designs' store (lib/database.py):

- **a folder** (the default, one machine): one file a place in `CARELAB_TEMPLATES_DIR`
  (default data/cache/templates), written whole or not at all; uploads take turns on a lock file.
- **PostgreSQL** (`CARELAB_DATABASE_URL`): the `places` table in the store, so every replica on
  every machine reads the same places. Writers take turns on the store's advisory lock.

This module moves bytes only; lib/catalogue.py reads and checks them, lib/baseline.py writes them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lib import bounded, database

T = TypeVar("T")
MAX_BYTES = 200_000  # a place is a few kB; a bigger one is not read
SUFFIX = ".yaml"


class PlaceError(ValueError):
    """A place could not be written, in one sentence; nothing was changed. (A store or lock that
    cannot be used raises database.DatabaseError.)"""


@dataclass(frozen=True)
class Listing:
    """Every place as (file name, at most MAX_BYTES + 1 bytes), in name order, and one sentence for
    each entry that could not be read at all."""

    entries: tuple[tuple[str, bytes], ...] = ()
    skipped: tuple[str, ...] = ()
    unreadable: bool = False  # the server could not be read just now: the places known before still stand


def folder() -> Path:
    """Where places are kept when no server is configured."""
    override = os.environ.get("CARELAB_TEMPLATES_DIR")
    return Path(override).expanduser() if override else database.DATA_DIR / "cache" / "templates"


def where() -> str:
    """Where places are kept, in words (for the CLI and the operators' docs)."""
    return f"the places table of {database.where()}" if database.url() else f"the folder {folder()}"


READ_S = 3.0  # a server that has not answered a read in this time is taken as unreadable for now


def _bounded(read: Callable[[], T]) -> T | None:
    """`read()`, waited for at most READ_S (lib/bounded.py): a server that stops answering (not
    refusing: frozen, or cut off without a reset) must not hold a page, or every page, for minutes.
    None if it failed or did not answer in time; a read left waiting ends when the server answers."""
    try:
        return bounded.within(READ_S, read, name="carelab-places-read")
    except Exception:  # noqa: BLE001 - failed or no answer yet: the caller keeps the places it knows
        return None


def _read_frame(sql: str) -> Any:
    with database.reading() as tx:
        return tx.frame(sql)


def state() -> tuple | None:
    """What the places are now, cheaply (names and change marks): equal states, equal listings.
    None: the server cannot be read just now."""
    if database.url():
        found = _bounded(lambda: _read_frame("SELECT id, md5(body) AS mark FROM places ORDER BY id"))
        return None if found is None else tuple(found.itertuples(index=False))
    found = []
    for path in _files()[0]:
        try:
            facts = path.stat()
        except OSError:  # gone since it was listed
            continue
        found.append((path.name, facts.st_mtime_ns, facts.st_size))
    return tuple(found)


def listing() -> Listing:
    """Every place's bytes (one failure never hides the others)."""
    if database.url():
        rows = _bounded(lambda: _read_frame("SELECT id, body FROM places ORDER BY id"))
        if rows is None:
            return Listing(skipped=("custom places could not be read from the server just now",), unreadable=True)
        rows = rows.itertuples(index=False)
        return Listing(tuple((f"{tid}{SUFFIX}", body.encode("utf-8")[: MAX_BYTES + 1]) for tid, body in rows))
    files, odd = _files()
    odd_kind = "not a regular file (a folder, link, device or pipe)"
    entries, skipped = [], [f"custom template {name} skipped: {odd_kind}" for name in odd]
    for path in files:
        try:
            with path.open("rb") as handle:
                entries.append((path.name, handle.read(MAX_BYTES + 1)))
        except OSError as exc:
            skipped.append(f"custom template {path.name} skipped: not readable ({exc.strerror})")
    return Listing(tuple(entries), tuple(skipped))


def replace(tid: str, data: bytes, accept: Callable[[bytes | None], None]) -> bytes | None:
    """Write place `tid` whole, after `accept(what it holds now)` has not raised; returns what it held
    (None: new). Two writers take turns, so neither overwrites the other unasked."""
    if database.url():
        with database.transaction() as tx:  # the store's writers are serialised: this read stays true
            found = tx.one("SELECT body FROM places WHERE id = ?", [tid])
            before = found[0].encode("utf-8") if found else None
            accept(before)
            tx.run("DELETE FROM places WHERE id = ?", [tid])
            tx.run("INSERT INTO places VALUES (?, ?, ?)", [tid, data.decode("utf-8"), database.now()])
            return before
    target = _file(tid)
    with _folder_locked():
        if (target.exists() or target.is_symlink()) and not target.is_file():
            raise PlaceError(f"The template id {tid} is taken by something that is not a template; rename the place.")
        before = target.read_bytes() if target.exists() else None
        accept(before)
        _write_atomically(target, data)
        return before


def put_back(tid: str, before: bytes | None, written: bytes) -> None:
    """Undo `replace`: what place `tid` held before (None: remove it), unless another writer has
    changed it since (theirs is kept)."""
    def undo(now: bytes | None) -> None:
        if now != written:
            raise _Changed

    try:
        if before is not None:
            replace(tid, before, undo)
        elif database.url():
            with database.transaction() as tx:
                tx.run("DELETE FROM places WHERE id = ? AND body = ?", [tid, written.decode("utf-8")])
        else:
            with _folder_locked():
                target = _file(tid)
                if target.is_file() and target.read_bytes() == written:
                    target.unlink()
    except _Changed:
        pass


class _Changed(Exception):
    """Another writer got there first."""


def _file(tid: str) -> Path:
    return folder() / f"{tid}{SUFFIX}"


def _files() -> tuple[list[Path], list[str]]:
    """The place files, and the names of anything else called *.yaml there (a folder, a device, a
    pipe or a dangling link: reading one could fail, hang or never end, so it is passed over)."""
    where_ = folder()
    try:
        found = sorted(where_.glob(f"*{SUFFIX}")) if where_.is_dir() else []
        return [p for p in found if p.is_file()], [p.name for p in found if not p.is_file()]
    except OSError:
        return [], []


def _folder_locked() -> AbstractContextManager[None]:
    """The folder's lock: uploads from every process take turns (refused after database.WAIT_S)."""
    return database.locked(folder() / ".lock", "the custom places")


def _write_atomically(target: Path, data: bytes) -> None:
    """Write a whole file or nothing: a reader never sees half of one, and a failed write leaves no part behind."""
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=".part")
    partial = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
