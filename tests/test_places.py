"""Custom places (a place's own baseline) on both back ends: a folder on one machine, the store's
places table on a server. An upload made by one process opens in another; a second upload of the
same place asks first; a failed replacement keeps the old place; two uploads at once never
overwrite each other; a backup carries places from a laptop to the server; a server that goes
away leaves the places already known in use."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lib import baseline, catalogue, database, places, saved
from lib.scenario import Scenario

from . import pgserver
from .conftest import ROOT
from .test_baseline import GOOD, RACER

AGAIN = b"line_id,spend_gbp_m\nacute_emergency,70\n"


def place_rows() -> list[str]:
    with database.transaction() as tx:
        return tx.frame("SELECT id FROM places ORDER BY id")["id"].tolist()


def test_an_upload_is_kept_where_the_back_end_keeps_places_and_opens_in_another_process(backend, own_templates):
    tid = baseline.save(baseline.read(GOOD, "Sharedshire", 300_000))
    files = sorted(p.name for p in own_templates.glob("*.yaml")) if own_templates.exists() else []
    if backend == "postgresql":  # in the server, for every replica on every machine; nothing in the folder
        assert place_rows() == [tid] and files == []
    else:
        assert files == [f"{tid}.yaml"] and place_rows() == []  # the folder, as before; the table stays empty
    done = subprocess.run(
        [sys.executable, "-m", "lib", "project", "--template", tid, "--sims", "100"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=dict(os.environ),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["scenario"]["baseline"]["acute_emergency"] == 61.2


def test_uploading_a_place_again_asks_and_a_failed_replacement_keeps_the_old_one(backend, own_templates, monkeypatch):
    tid = baseline.save(baseline.read(GOOD, "Twiceshire", 300_000))
    with pytest.raises(baseline.PlaceExists):
        baseline.save(baseline.read(AGAIN, "Twiceshire", 300_000))

    def broken(_tid):
        raise baseline.ScenarioError("population", 0, "a test's refusal")

    with monkeypatch.context() as patch:
        patch.setattr(baseline.Scenario, "from_template", staticmethod(broken))
        with pytest.raises(baseline.BaselineError, match="a test's refusal"):
            baseline.save(baseline.read(AGAIN, "Twiceshire", 300_000), replace=True)
    catalogue.refresh()
    assert Scenario.from_template(tid).baseline["acute_emergency"] == 61.2  # put back as it was
    baseline.save(baseline.read(AGAIN, "Twiceshire", 300_000), replace=True)
    catalogue.refresh()
    assert Scenario.from_template(tid).baseline["acute_emergency"] == 70


def test_a_failed_first_upload_leaves_no_place_behind(backend, own_templates, monkeypatch):
    def broken(_tid):
        raise baseline.ScenarioError("population", 0, "a test's refusal")

    monkeypatch.setattr(baseline.Scenario, "from_template", staticmethod(broken))
    with pytest.raises(baseline.BaselineError):
        baseline.save(baseline.read(GOOD, "Nevershire", 300_000))
    monkeypatch.undo()
    catalogue.refresh()
    assert places.listing().entries == () and not any(t.startswith("custom_") for t in catalogue.current().template_ids)


def test_two_uploads_of_one_place_at_once_never_overwrite_each_other(backend, own_templates):
    for _attempt in range(3):
        racers = [subprocess.Popen([sys.executable, "-c", RACER, name], cwd=ROOT, env=dict(os.environ),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                  for name in (f"Race Place {_attempt}", f"race place {_attempt}")]  # fmt: skip
        outcomes = [r.communicate(timeout=120) for r in racers]
        assert all(r.returncode == 0 for r in racers), [err for _, err in outcomes]
        assert sorted(out.split()[0] for out, _ in outcomes) == ["refused", "saved"], outcomes
    assert len(places.listing().entries) == 3


def test_a_backup_carries_places_and_the_designs_on_them_from_a_laptop_to_the_server(own_templates, postgres, tmp_path,
                                                                                       monkeypatch):
    monkeypatch.setenv("CARELAB_SCENARIOS_DB", str(tmp_path / "laptop.duckdb"))
    tid = baseline.save(baseline.read(GOOD, "Movingshire", 300_000))
    saved.save("On our own baseline", Scenario.from_template(tid).with_value("seed", 5), "Workshop")
    dump = tmp_path / "backup.json"

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lib", "scenarios", *args], cwd=ROOT, capture_output=True,
                              text=True, env=dict(os.environ))  # fmt: skip

    done = cli("backup", str(dump))
    assert done.returncode == 0 and "1 designs and 1 custom places" in done.stdout, done.stderr
    kept = saved.load("On our own baseline")[0]
    address = pgserver.new_database(postgres)
    try:
        monkeypatch.setenv("CARELAB_DATABASE_URL", address)
        monkeypatch.setenv("CARELAB_TEMPLATES_DIR", str(tmp_path / "a folder the server never reads"))
        catalogue.refresh()
        assert tid not in catalogue.current().template_ids
        done = cli("restore-backup", str(dump))
        assert done.returncode == 0 and "1 custom places" in done.stdout, done.stderr
        assert place_rows() == [tid]
        catalogue.refresh()
        assert saved.load("On our own baseline")[0] == kept
        assert Scenario.from_template(tid).baseline["acute_emergency"] == 61.2
    finally:
        monkeypatch.delenv("CARELAB_DATABASE_URL")
        catalogue.refresh()
        database.close_pools()
        pgserver.drop_database(address)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda p: p.update(id="custom_other"), "holds another id"),
        (lambda p: p.update(text="id: [unclosed\n"), "not readable YAML"),
        (lambda p: p.update(text=p["text"].replace("population:", "populace:")), "missing population"),
        (lambda p: p.pop("text"), "an id and a text"),
    ],
)
def test_a_tampered_place_in_a_backup_restores_nothing(backend, own_templates, change, says):
    tid = baseline.save(baseline.read(GOOD, "Tamperedshire", 300_000))
    saved.save("On it", Scenario.from_template(tid))
    text, _, _ = saved.backup()
    document = json.loads(text)
    saved.delete("On it")
    with database.transaction() as tx:
        tx.run("DELETE FROM scenario_history")
    for path in own_templates.glob("*.yaml") if own_templates.exists() else []:
        path.unlink()
    with database.transaction() as tx:
        tx.run("DELETE FROM places")
    catalogue.refresh()
    change(document["places"][0])
    with pytest.raises(saved.SavedError, match=says):
        saved.restore_backup(json.dumps(document))
    catalogue.refresh()
    assert places.listing().entries == () and saved.listing().empty


def test_a_different_place_of_the_same_id_is_never_overwritten_by_a_restore(backend, own_templates):
    tid = baseline.save(baseline.read(GOOD, "Clashshire", 300_000))
    text, _, _ = saved.backup()
    baseline.save(baseline.read(AGAIN, "Clashshire", 300_000), replace=True)
    with pytest.raises(saved.SavedError, match="different place"):
        saved.restore_backup(text)
    catalogue.refresh()
    assert Scenario.from_template(tid).baseline["acute_emergency"] == 70


def test_a_server_that_goes_away_leaves_the_places_known_in_use_and_is_not_asked_every_rerun(postgres, own_templates,
                                                                                             monkeypatch):
    address = pgserver.new_database(postgres)
    monkeypatch.setenv("CARELAB_DATABASE_URL", address)
    catalogue.refresh()
    try:
        tid = baseline.save(baseline.read(GOOD, "Outageshire", 300_000))
        assert tid in catalogue.current().template_ids
        from bench.serve import free_port

        monkeypatch.setenv("CARELAB_DATABASE_URL", f"postgresql://carelab@127.0.0.1:{free_port()}/gone")
        asked = []
        real_state = places.state
        monkeypatch.setattr(places, "state", lambda: asked.append(1) or real_state())
        monkeypatch.setattr(catalogue, "RECHECK_S", 0.0)  # every call would ask, but for the back-off
        catalogue.refresh()
        for _ in range(20):
            assert tid in catalogue.current().template_ids  # the places known stay
        assert Scenario.from_template("dudley").template == "dudley"  # the built-in ones open
        assert len(asked) == 1  # asked once, then left alone for UNREADABLE_RECHECK_S
        assert places.listing().skipped and "could not be read" in places.listing().skipped[0]
    finally:
        monkeypatch.setenv("CARELAB_DATABASE_URL", address)
        database.close_pools()
        monkeypatch.delenv("CARELAB_DATABASE_URL")
        catalogue.refresh()
        pgserver.drop_database(address)


def test_a_place_out_of_the_model_s_ranges_in_a_backup_restores_nothing(backend, own_templates):
    tid = baseline.save(baseline.read(GOOD, "Rangeshire", 300_000))
    text, _, _ = saved.backup()
    document = json.loads(text)
    with database.transaction() as tx:
        tx.run("DELETE FROM places")
    for path in own_templates.glob("*.yaml") if own_templates.exists() else []:
        path.unlink()
    catalogue.refresh()
    place = document["places"][0]
    place["text"] = place["text"].replace("value: 300000", "value: 5")  # shaped right, out of range
    with pytest.raises(saved.SavedError, match="does not open as a design"):
        saved.restore_backup(json.dumps(document))
    catalogue.refresh()
    assert places.listing().entries == () and tid not in catalogue.current().template_ids


def test_a_backup_leaves_out_a_place_the_catalogue_skips_so_it_always_restores(backend, own_templates):
    baseline.save(baseline.read(GOOD, "Keptshire", 300_000))
    broken = b"id: custom_broken\nname: [unclosed\n"
    places.replace("custom_broken", broken, lambda before: None)
    catalogue.refresh()
    text, designs, kept = saved.backup()
    assert kept == 1 and [p["id"] for p in json.loads(text)["places"]] == ["custom_keptshire"]


def test_a_server_that_stops_answering_is_waited_for_a_bounded_time(monkeypatch):
    """A frozen server (not refusing, not answering) must not hold every page: a read is given
    READ_S and then taken as unreadable, and the catalogue keeps the places it knows."""
    import threading

    never = threading.Event()
    monkeypatch.setattr(places, "READ_S", 0.2)
    assert places._bounded(lambda: never.wait(60) or "late") is None
    assert places._bounded(lambda: "prompt") == "prompt"
    never.set()


def test_places_lost_between_the_look_and_the_read_are_kept(own_templates, monkeypatch):
    tid = baseline.save(baseline.read(GOOD, "Keepershire", 300_000))
    catalogue.refresh()
    assert tid in catalogue.current().template_ids
    monkeypatch.setattr(places, "state", lambda: ("changed",))  # the look answers
    monkeypatch.setattr(places, "listing", lambda: places.Listing(skipped=("gone",), unreadable=True))  # the read not
    catalogue.refresh()
    assert tid in catalogue.current().template_ids
