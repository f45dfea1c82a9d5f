"""Saved scenarios: every acknowledged save lands, from many threads and processes at once and
across killed processes; nothing is replaced or deleted without being asked, and what was can be
restored; names are checked and never taken as markup. Every test runs against both back ends:
the embedded DuckDB file and a PostgreSQL server (a throwaway one, tests/pgserver.py)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from lib import database, saved
from lib.scenario import Scenario

from . import pgserver
from .conftest import ROOT


@pytest.fixture(autouse=True)
def _on_both_back_ends(backend):
    """Every test here runs on the embedded file and on the server (conftest's `backend`)."""
    return backend


def test_save_list_open_rename_duplicate_delete():
    design = Scenario.from_template("dudley").with_value("risk.gain_share", 0.7)
    saved.save("Table 3 draft", design, "Table 3")
    saved.save("Table 4", Scenario.from_template("salford"), "Table 4")
    assert saved.listing()["name"].tolist() == ["Table 3 draft", "Table 4"]
    assert saved.listing("Table 3")["name"].tolist() == ["Table 3 draft"]
    opened, changes = saved.load("Table 3 draft")
    assert opened.scenario == design and opened.group == "Table 3" and changes == []
    saved.rename("Table 3 draft", "Table 3 final")
    saved.duplicate("Table 3 final", "Table 3 copy")
    assert saved.load("Table 3 copy")[0].scenario == design.with_value("name", "Table 3 copy")  # the same design, its own name
    saved.delete("Table 3 final")
    assert set(saved.listing()["name"]) == {"Table 3 copy", "Table 4"}
    with pytest.raises(saved.SavedError, match="no saved scenario"):
        saved.load("Table 3 final")
    with pytest.raises(saved.SavedError, match="already called"):
        saved.rename("Table 4", "Table 3 copy")
    with pytest.raises(saved.SavedError, match="already called"):
        saved.duplicate("Table 4", "Table 3 copy")
    with pytest.raises(saved.SavedError, match="no saved scenario"):
        saved.rename("Nothing here", "Something")


def test_saving_over_a_name_is_refused_unless_asked_and_the_old_design_is_kept():
    first = Scenario.from_template("dudley")
    saved.save("Mine", first)
    with pytest.raises(saved.SavedError, match='already called "Mine".*replace'):
        saved.save("Mine", first.with_value("sims", 500))
    assert saved.load("Mine")[0].scenario == first  # the refusal changed nothing
    saved.save("Mine", first.with_value("sims", 500), replace=True)
    assert len(saved.listing()) == 1 and saved.load("Mine")[0].scenario.sims == 500
    kept = saved.history("Mine")
    assert kept["why"].tolist() == ["replaced"]
    back = saved.restore(int(kept["version"].iloc[0]), name="Mine, as first saved")
    assert back.scenario == first and saved.load("Mine")[0].scenario.sims == 500
    assert saved.history().empty  # restored versions leave the history


def test_a_deleted_design_can_be_restored_and_restoring_over_a_name_asks_first():
    design = Scenario.from_template("wakefield").with_value("risk.loss_share", 0.3)
    saved.save("Table 2", design, "Tables")
    saved.delete("Table 2")
    assert saved.listing().empty
    entry = saved.history().iloc[0]
    assert (entry["name"], entry["group"], entry["why"]) == ("Table 2", "Tables", "deleted")
    saved.save("Table 2", Scenario.from_template("salford"))
    with pytest.raises(saved.SavedError, match="already called"):
        saved.restore(int(entry["version"]))
    saved.restore(int(entry["version"]), replace=True)
    assert saved.load("Table 2")[0].scenario == design
    assert saved.history()["template"].tolist() == ["salford"]  # the one it replaced is kept in turn
    with pytest.raises(saved.SavedError, match="no replaced or deleted design has version 999"):
        saved.restore(999)


def test_the_history_forgets_after_the_keeping_period(monkeypatch):
    saved.save("Old", Scenario.from_template("dudley"))
    saved.delete("Old")
    import datetime as dt

    later = saved._now() + dt.timedelta(days=saved.KEEP_DAYS + 1)
    monkeypatch.setattr(saved, "_now", lambda: later)
    saved.save("New", Scenario.from_template("dudley"))
    saved.delete("New")  # a change prunes what is past its time
    assert saved.history()["name"].tolist() == ["New"]


def test_a_design_with_no_group_has_none_not_nan():
    saved.save("No group", Scenario.from_template("dudley"))
    assert saved.listing()["group"].tolist() == [None]


@pytest.mark.parametrize("name", ["", " ", "<b>bold</b>", "a" * 81, "line\nbreak", "_leading", "{{x}}", "a\ud800b", "日本語\x00"])
def test_names_are_checked(name):
    with pytest.raises(saved.SavedError, match="not allowed"):
        saved.save(name, Scenario.from_template("dudley"))


def test_export_and_import_round_trip_and_imports_are_validated():
    design = Scenario.from_template("wakefield").with_value("risk.reopener", 0.03)
    saved.save("Wakefield with a re-opener", design, "Table 1")
    text = saved.export("Wakefield with a re-opener")
    with pytest.raises(saved.SavedError, match="already called"):
        saved.import_text(text)
    saved.delete("Wakefield with a re-opener")
    again = saved.import_text(text)
    assert again.scenario == design and again.group == "Table 1"
    saved.import_text(text, replace=True)
    assert saved.history("Wakefield with a re-opener")["why"].tolist() == ["replaced", "deleted"]
    with pytest.raises(saved.SavedError, match="not JSON"):
        saved.import_text("{nope")
    with pytest.raises(saved.SavedError, match="nested more than"):
        saved.import_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(saved.SavedError, match="at most 1,000,000"):
        saved.import_text(" " * 1_000_001)
    with pytest.raises(saved.SavedError, match="does not fit the model: risk.gain_share"):
        saved.import_text(text.replace('"gain_share": 0.5', '"gain_share": 5'), name="Other")
    with pytest.raises(saved.SavedError, match="sims = true"):
        saved.import_text(text.replace('"sims": 1000', '"sims": true'), name="Other")
    with pytest.raises(saved.SavedError, match='"group" must be text'):
        saved.import_text(text.replace('"group": "Table 1"', '"group": 3'), name="Other")
    assert saved.listing()["name"].tolist() == ["Wakefield with a re-opener"]


def test_twenty_threads_saving_at_once_all_land():
    errors: list[Exception] = []

    def save(i: int) -> None:
        try:
            saved.save(f"Thread {i}", Scenario.from_template("salford").with_value("seed", i), "Threads")
        except Exception as exc:  # noqa: BLE001 - every failure is reported below
            errors.append(exc)

    workers = [threading.Thread(target=save, args=(i,)) for i in range(20)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors
    assert len(saved.listing("Threads")) == 20


# A writer process: says "saving NAME" before each save and "saved NAME" once it is acknowledged,
# "refused NAME: why" for a SavedError; anything else is a traceback and a non-zero exit.
WRITER = textwrap.dedent(
    """
    import sys
    from lib import saved
    from lib.scenario import Scenario
    design = Scenario.from_template("dudley")
    prefix, count = sys.argv[1], int(sys.argv[2])
    for i in range(count):
        name = f"{prefix} {i}"
        print("saving", name, flush=True)
        try:
            saved.save(name, design.with_value("seed", i), "Processes")
        except saved.SavedError as exc:
            print("refused", name + ":", exc, flush=True)
        else:
            print("saved", name, flush=True)
    """
)


def _writer(prefix: str, count: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, prefix, str(count)],
        cwd=ROOT, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _acknowledged(output: str) -> set[str]:
    return {line.removeprefix("saved ") for line in output.splitlines() if line.startswith("saved ")}


def _refusals(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("refused ")]


@pytest.mark.parametrize("round_", [1, 2, 3])
def test_twenty_processes_saving_ten_each_lose_nothing(round_):
    procs = [_writer(f"R{round_} P{p}", 10) for p in range(20)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 20, [err[-400:] for _, err in outputs if err]
    acknowledged = set().union(*(_acknowledged(out) for out, _ in outputs))
    refused = [line for out, _ in outputs for line in _refusals(out)]
    assert all("busy" in line for line in refused)  # a refusal is a plain reason, never a lost save
    assert len(acknowledged) + len(refused) == 200
    assert acknowledged <= set(saved.listing()["name"])
    assert len(acknowledged) >= 190  # a 30 s wait is far longer than 200 saves take


def test_processes_killed_mid_save_lose_no_acknowledged_save_while_others_save():
    """Twenty writers, the server's threads saving too, and one writer after another killed with
    SIGKILL at a random moment inside its saves: every acknowledged save is there afterwards."""
    procs = [_writer(f"Steady {p}", 10) for p in range(20)]
    server_errors: list[Exception] = []
    server_saved: list[str] = []

    def server_session(t: int) -> None:
        for i in range(10):
            try:
                saved.save(f"Server {t} {i}", Scenario.from_template("salford"), "Server")
                server_saved.append(f"Server {t} {i}")
            except Exception as exc:  # noqa: BLE001 - reported below
                server_errors.append(exc)

    sessions = [threading.Thread(target=server_session, args=(t,)) for t in range(4)]
    for s in sessions:
        s.start()
    rng = random.Random(15)
    killed_acknowledged: set[str] = set()
    for k in range(5):
        victim = _writer(f"Victim {k}", 50)
        target = rng.randint(1, 6)
        seen = 0
        lines = []
        for line in victim.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("saving"):
                seen += 1
                if seen == target:
                    os.kill(victim.pid, signal.SIGKILL)  # inside its save: lock held, transaction open or closing
                    break
        rest, _ = victim.communicate(timeout=60)
        assert victim.returncode == -signal.SIGKILL
        killed_acknowledged |= _acknowledged("\n".join(lines) + "\n" + rest)
    outputs = [p.communicate(timeout=300) for p in procs]
    for s in sessions:
        s.join()
    assert [p.returncode for p in procs] == [0] * 20, [err[-400:] for _, err in outputs if err]
    assert not server_errors
    names = set(saved.listing()["name"])
    steady = set().union(*(_acknowledged(out) for out, _ in outputs))
    assert steady <= names and set(server_saved) <= names and killed_acknowledged <= names
    assert len(server_saved) == 40 and len(steady) >= 190


@contextmanager
def _held_lock(backend: str) -> Iterator[None]:
    """Another process's hold on the store: the file's flock, or the server's advisory lock."""
    if backend == "duckdb":
        import fcntl

        handle = os.open(f"{saved.path()}.lock", os.O_RDWR)
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            os.close(handle)
        return
    import psycopg

    with psycopg.connect(os.environ["CARELAB_DATABASE_URL"]) as other, other.transaction():
        other.execute("SELECT pg_advisory_xact_lock(%s)", [database.ADVISORY_KEY])
        yield


def test_a_held_lock_is_waited_for_then_refused_plainly(backend, monkeypatch):
    saved.save("Before", Scenario.from_template("dudley"))
    monkeypatch.setattr(database, "WAIT_S", 0.3)
    with _held_lock(backend), pytest.raises(saved.SavedError, match="stayed busy for 0.3 s; nothing changed"):
        saved.save("During", Scenario.from_template("dudley"))
    assert saved.listing()["name"].tolist() == ["Before"]


def test_an_unreachable_server_is_a_plain_refusal(backend, monkeypatch):
    if backend == "duckdb":
        pytest.skip("the embedded file has no server to reach (its damaged-file case is below)")
    database.close_pools()
    monkeypatch.setenv("CARELAB_DATABASE_URL", "postgresql://carelab:secret@127.0.0.1:9/none?connect_timeout=2")
    with pytest.raises(saved.SavedError, match="cannot be reached") as caught:
        saved.listing()
    assert "secret" not in str(caught.value)  # the password is never shown


def test_a_damaged_file_is_a_plain_refusal_not_a_traceback(backend, tmp_path, monkeypatch):
    if backend != "duckdb":
        pytest.skip("a server has no file to damage (its unreachable case is above)")
    broken = tmp_path / "broken.duckdb"
    broken.write_bytes(b"this is not a database" * 100)
    monkeypatch.setenv("CARELAB_SCENARIOS_DB", str(broken))
    with pytest.raises(saved.SavedError, match="cannot be opened") as caught:
        saved.listing()
    assert str(broken) not in str(caught.value)


def test_opening_a_design_saved_under_other_reference_data_says_what_changed(monkeypatch):
    saved.save("Old", Scenario.from_template("dudley"))
    older_template = Scenario.from_template("dudley").with_value("risk.withhold", 0.05).to_json()
    with database.transaction() as tx:
        tx.run("UPDATE scenarios SET reference_stamp = 'older', template_json = ? WHERE name = 'Old'", [older_template])
    opened, changes = saved.load("Old")
    assert len(changes) == 1
    assert "older" in changes[0] and "risk.withhold: 0.05 then, 0.1 now" in changes[0]


@pytest.mark.parametrize(
    ("call", "says"),
    [
        (lambda: saved.restore("abc"), "a version is a whole number"),
        (lambda: saved.restore(None), "a version is a whole number"),
        (lambda: saved.restore(True), "a version is a whole number"),
        (lambda: saved.restore(1.9), "a version is a whole number"),
        (lambda: saved.import_text(None), "an import is JSON text"),
        (lambda: saved.import_text('{"scenario": {"population": "x"}}'), "does not fit the model: population"),
        (lambda: saved.save("n", None), "only a scenario can be saved"),
        (lambda: saved.load(5), "no saved scenario is called \"5\""),
        (lambda: saved.delete(None), "no saved scenario is called"),
    ],
)
def test_every_refusal_of_the_library_is_a_saved_error(call, says):
    with pytest.raises(saved.SavedError, match=says):
        call()


def test_a_store_made_before_versions_were_kept_is_migrated_forward_and_keeps_its_designs(backend):
    """A store in the first release's layout (no schema_version table) is adopted as version 1 and
    brought to the current version the first time it is opened, its designs untouched."""
    design = Scenario.from_template("salford")
    row = ["Kept", "Table 1", "salford", design.to_json(), design.to_json(), "old", "0.3.0", database.now()]
    if backend == "duckdb":
        import duckdb

        with duckdb.connect(str(saved.path())) as con:
            for statement in database.MIGRATIONS[0][1]:
                con.execute(statement)
            con.execute(saved.INSERT, row)
    else:
        import psycopg

        with psycopg.connect(os.environ["CARELAB_DATABASE_URL"]) as con:
            for statement in database.MIGRATIONS[0][1]:
                con.execute(statement)
            con.execute(saved.INSERT.replace("?", "%s"), row)
    assert database.schema_version() == database.SCHEMA_VERSION > 1
    assert saved.listing()["name"].tolist() == ["Kept"] and saved.load("Kept")[0].scenario == design
    with database.transaction() as tx:
        applied = tx.frame("SELECT version FROM schema_version ORDER BY version")["version"].tolist()
    assert applied == [v for v, _ in database.MIGRATIONS]  # each step once, in order


def test_a_backup_survives_the_store_dropped_and_restores_every_design_and_its_history(backend, tmp_path):
    """Dump, drop, restore: every design, its group and the history come back as they were, through
    the command line an operator uses; a backup is never poured over a store that holds designs."""
    for i, template in enumerate(["salford", "dudley", "uniting_care"]):
        saved.save(f"Table {i}", Scenario.from_template(template).with_value("seed", i), "Workshop" if i else None)
    saved.save("Table 1", Scenario.from_template("dudley").with_value("seed", 9), "Workshop", replace=True)
    saved.delete("Table 2")
    before = {n: saved.load(n)[0] for n in saved.listing()["name"]}
    history = saved.history()
    dump = tmp_path / "backup.json"
    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lib", "scenarios", *args], cwd=ROOT, capture_output=True, text=True)

    done = cli("backup", str(dump))
    assert done.returncode == 0 and "backed up 2 designs and 0 custom places" in done.stdout, done.stderr
    if backend == "duckdb":  # drop the store
        saved.path().unlink()
    else:
        database.close_pools()
        with psycopg_admin() as con:
            con.execute("DROP SCHEMA public CASCADE")
            con.execute("CREATE SCHEMA public")
    assert saved.listing().empty
    done = cli("restore-backup", str(dump))
    assert done.returncode == 0 and "restored 2 designs, 2 history entries and 0 custom places" in done.stdout, done.stderr
    after = {n: saved.load(n)[0] for n in saved.listing()["name"]}
    assert after.keys() == before.keys()
    for name, kept in before.items():
        assert after[name] == kept  # scenario, group, template, stamp, version and time, to the microsecond
    assert saved.history().equals(history)
    assert saved.restore(int(history["version"].iloc[0])).name in ("Table 1", "Table 2")
    again = cli("restore-backup", str(dump))
    assert again.returncode != 0 and "already holds" in again.stderr  # never poured over designs


def psycopg_admin():
    import psycopg

    return psycopg.connect(os.environ["CARELAB_DATABASE_URL"], autocommit=True)


def test_a_restarted_server_is_used_again_at_once_and_a_bad_address_is_one_sentence(backend, postgres, monkeypatch):
    """The server restarts under a running process: its next save works (the pool replaces the cut
    connections). A wrong address is refused in one sentence that never shows the password."""
    if backend == "duckdb":
        pytest.skip("the embedded file has no server to restart")
    saved.save("Before the restart", Scenario.from_template("dudley"))
    pgserver.restart(postgres)
    saved.save("After the restart", Scenario.from_template("dudley"))  # no refusal: the cut connections are replaced
    assert {"Before the restart", "After the restart"} <= set(saved.listing()["name"])
    database.close_pools()
    monkeypatch.setattr(database, "CONNECT_S", 2.0)  # the refusals need not wait the whole 10 s here
    base = postgres.rsplit(":", 1)[0]
    for address in (
        f"{postgres}/missing_db?password=S3cretPW",
        f"postgresql://nobody:S3cretPW@{base.split('@')[1]}:9/db",
        "host=127.0.0.1 port=9 password=S3cretPW dbname=d",
        "mysql://u:S3cretPW@127.0.0.1/db",
    ):
        monkeypatch.setenv("CARELAB_DATABASE_URL", address)
        with pytest.raises(saved.SavedError) as refused:
            saved.listing()
        said = str(refused.value)
        assert "S3cretPW" not in said and "\n" not in said, said
        assert "cannot be reached" in said or "must be a PostgreSQL address" in said, said
        database.close_pools()


def _tampered(text: str, change) -> str:  # noqa: ANN001 - a function that edits the backup's document
    document = json.loads(text)
    change(document)
    return json.dumps(document)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda d: d["scenarios"][0].update(scenario_json="{not json"), "does not fit the model"),
        (lambda d: d["scenarios"][0].update(scenario_json=json.dumps(json.loads(d["scenarios"][0]["scenario_json"]) | {"population": -5})), "does not fit the model"),  # noqa: E501
        (lambda d: d["scenarios"][0].update(template_json=json.dumps({"template": "nowhere"})), "does not fit the model"),
        (lambda d: d["scenarios"][0].update(name=""), "is not allowed"),
        (lambda d: d["scenarios"][0].update(name="x" * 100_000), "is not allowed"),
        (lambda d: d["scenarios"][0].update(saved_at="yesterday"), "not a date and time"),
        (lambda d: d["scenarios"][0].update(saved_at=None), "not a date and time"),
        (lambda d: d["history"][0].update(why="lost"), "why must be replaced or deleted"),
        (lambda d: d.update(schema_version=99), "newer release"),
        (lambda d: d["scenarios"].append(dict(d["scenarios"][0])), "names one design twice"),
    ],
)
def test_a_tampered_backup_is_refused_whole_and_restores_nothing(change, says):
    saved.save("Kept", Scenario.from_template("salford"), "Table 1")
    saved.save("Kept", Scenario.from_template("dudley"), "Table 1", replace=True)
    text, _, _ = saved.backup()
    with database.transaction() as tx:  # an empty store to restore into
        tx.run("DELETE FROM scenarios")
        tx.run("DELETE FROM scenario_history")
    with pytest.raises(saved.SavedError, match=says):
        saved.restore_backup(_tampered(text, change))
    assert saved.listing().empty and saved.history().empty


def test_a_renamed_or_duplicated_design_carries_its_new_name_inside():
    """Titles, slides, the board pack and file names read the design's own name: a rename or a
    duplicate changes it there too, not only in the list."""
    saved.save("First name", Scenario.from_template("dudley").with_value("name", "First name"))
    saved.rename("First name", "Second name")
    assert saved.load("Second name")[0].scenario.name == "Second name"
    saved.duplicate("Second name", "Third name")
    assert saved.load("Third name")[0].scenario.name == "Third name"
    assert saved.load("Second name")[0].scenario.name == "Second name"


def test_a_name_is_one_name_however_it_was_typed():
    composed, decomposed, wide = "Zoë café", "Zoe\u0308 cafe\u0301", "Ｚｏë café"
    saved.save(decomposed, Scenario.from_template("dudley"))
    assert saved.listing()["name"].tolist() == [composed]
    with pytest.raises(saved.NameTaken):
        saved.save(wide, Scenario.from_template("dudley"))  # full-width letters are the same name
    with pytest.raises(saved.SavedError, match="Zoë — café"):
        saved.save("Zoë — café", Scenario.from_template("dudley"))  # the refusal shows the name as typed
