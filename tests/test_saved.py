"""Saved scenarios: every acknowledged save lands, from many threads and processes at once and
across a killed process; names are checked and never taken as markup."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from lib import saved
from lib.scenario import Scenario, ScenarioError

from .conftest import ROOT


@pytest.fixture(autouse=True)
def own_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CARELAB_SCENARIOS_DB", str(tmp_path / "scenarios.duckdb"))


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
    assert saved.load("Table 3 copy")[0].scenario == design
    saved.delete("Table 3 final")
    assert set(saved.listing()["name"]) == {"Table 3 copy", "Table 4"}
    with pytest.raises(saved.SavedError, match="no saved scenario"):
        saved.load("Table 3 final")
    with pytest.raises(saved.SavedError, match="already called"):
        saved.rename("Table 4", "Table 3 copy")


def test_saving_again_replaces_the_design():
    saved.save("Mine", Scenario.from_template("dudley"))
    saved.save("Mine", Scenario.from_template("dudley").with_value("sims", 500))
    assert len(saved.listing()) == 1 and saved.load("Mine")[0].scenario.sims == 500


@pytest.mark.parametrize("name", ["", " ", "<b>bold</b>", "a" * 81, "line\nbreak", "_leading", "{{x}}"])
def test_names_are_checked(name):
    with pytest.raises(saved.SavedError, match="not allowed"):
        saved.save(name, Scenario.from_template("dudley"))


def test_export_and_import_round_trip_and_imports_are_validated():
    design = Scenario.from_template("wakefield").with_value("risk.reopener", 0.03)
    saved.save("Wakefield with a re-opener", design, "Table 1")
    text = saved.export("Wakefield with a re-opener")
    saved.delete("Wakefield with a re-opener")
    again = saved.import_text(text)
    assert again.scenario == design and again.group == "Table 1"
    with pytest.raises(saved.SavedError, match="not JSON"):
        saved.import_text("{nope")
    with pytest.raises(ScenarioError, match="risk.gain_share"):
        saved.import_text(text.replace('"gain_share": 0.5', '"gain_share": 5'))


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


def _python(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=os.environ.copy())


def test_twenty_saves_from_four_processes_all_land():
    code = (
        "import sys; from lib import saved; from lib.scenario import Scenario\n"
        "for i in range(5): saved.save(f'P{sys.argv[-1]} {i}', Scenario.from_template('dudley'), 'Processes')"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(p)], cwd=ROOT, env=os.environ.copy()) for p in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    assert len(saved.listing("Processes")) == 20


def test_every_acknowledged_save_survives_a_killed_process():
    code = (
        "import os, signal; from lib import saved; from lib.scenario import Scenario\n"
        "for i in range(10): saved.save(f'Before the crash {i}', Scenario.from_template('salford'))\n"
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    assert _python(code).wait(timeout=120) == -9
    assert len(saved.listing()) == 10


def test_opening_a_design_saved_under_other_reference_data_says_what_changed(monkeypatch):
    saved.save("Old", Scenario.from_template("dudley"))
    import duckdb

    older_template = Scenario.from_template("dudley").with_value("risk.withhold", 0.05).to_json()
    with duckdb.connect(str(saved.path())) as con:
        con.execute("UPDATE scenarios SET reference_stamp = 'older', template_json = ? WHERE name = 'Old'", [older_template])
    opened, changes = saved.load("Old")
    assert len(changes) == 1
    assert "older" in changes[0] and "risk.withhold: 0.05 then, 0.1 now" in changes[0]
