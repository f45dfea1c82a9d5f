"""Reference data: the templates carry the facts of vanguards.md, with sources; the DuckDB
reference database builds from the text and rebuilds when it changes."""

from __future__ import annotations

import re
import shutil

import duckdb
import pytest

from lib import catalogue, store
from lib.scenario import Scenario

from .conftest import SHARED

SHEET = SHARED / "vanguards.md"


def sheet_rows() -> dict[str, list[str]]:
    rows = {}
    for line in SHEET.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 8 and cells[0] in catalogue.template_ids():
            rows[cells[0]] = cells
    return rows


@pytest.mark.skipif(not SHEET.exists(), reason="../shared/vanguards.md is not beside the project")
def test_populations_and_contract_lengths_match_the_sheet():
    rows = sheet_rows()
    assert set(rows) == set(catalogue.template_ids()) - {"blank"}
    for tid, cells in rows.items():
        scenario = Scenario.from_template(tid)
        info = catalogue.template(tid).info
        numbers = [int(n.replace(",", "")) for n in re.findall(r"\d{2,3},\d{3}", cells[3])]
        if numbers:
            assert scenario.population == numbers[0], tid
        else:
            assert "assumption" in cells[3] and info["population_source"].startswith("assumption"), tid
        years = [int(y) for y in re.findall(r"\d+", cells[6].split("(")[0])]
        if years:
            assert min(years) <= scenario.contract.years <= max(years), tid


def test_every_fact_and_preset_has_a_source():
    tables = catalogue.tables()
    for name in ("template_facts", "template_presets"):
        sources = tables[name]["source"]
        assert sources.notna().all() and (sources.str.len() > 0).all(), name
        assert sources.str.contains(r"KF2016|assumption|NAO", regex=True).all(), name


def test_figures_users_look_for_are_carried():
    facts = catalogue.table("template_facts")

    def fact(tid, fid, column):
        row = facts[(facts["template_id"] == tid) & (facts["fact_id"] == fid)]
        return float(row[column].iloc[0])

    assert fact("salford", "pooled_budget", "value_gbp_m") == 236
    assert fact("northumberland", "pooled_budget", "value_gbp_m") == 400
    assert fact("dudley", "withhold", "value_num") == pytest.approx(0.10)
    assert fact("mid_notts", "cquin", "value_num") == pytest.approx(0.018)
    assert fact("uniting_care", "max_price", "value_gbp_m") == 752
    assert fact("uniting_care", "bid", "value_gbp_m") == 726
    assert fact("uniting_care", "top_up", "value_gbp_m") == 34
    assert fact("uniting_care", "terminated", "value_gbp_m") == 16
    assert fact("salford", "gp_practices", "value_num") == 46
    assert fact("salford", "staff_transfer", "value_num") == 450
    assert fact("salford", "legal_documents", "value_num") == 18
    assert fact("sandwell_wb", "modality", "value_num") == 70_000


def test_service_lines_are_stated_assumptions():
    lines = catalogue.service_lines().set_index("id")
    assert len(lines) >= 12
    assert not lines.loc["specialised", "poolable"]
    assert lines["spend_basis"].str.startswith("assumption").all()
    assert (lines["spend_year"] == "2016/17").all()
    assert lines.loc["core_primary", "spend_per_head_gbp"] == 140
    assert lines.loc["adult_social_care", "spend_per_head_gbp"] == 310


def test_baseline_is_population_times_per_head_unless_seeded():
    dudley = catalogue.template("dudley").lines.set_index("line_id")
    # 318,000 people x £150 a head = £47.7m
    assert dudley.loc["community_health", "baseline_gbp_m"] == pytest.approx(47.7)
    assert dudley.loc["community_health", "baseline_source"].startswith("assumption")
    salford = catalogue.template("salford").lines.set_index("line_id")
    assert "scaled to the seeds' pooled budget" in salford.loc["acute_emergency", "baseline_source"]
    # Lines outside the pool keep the per-head figure: 230,000 x £140 = £32.2m
    assert salford.loc["core_primary", "baseline_gbp_m"] == pytest.approx(32.2)


def test_outcome_measures_cover_the_four_domains():
    measures = catalogue.outcome_measures()
    assert set(measures["domain"]) == {"population_health", "quality_of_life", "quality_of_care", "effectiveness"}
    assert {"emergency_admissions", "ae_attendances", "emergency_bed_days"} <= set(measures["id"])


def test_database_builds_at_carelab_db_with_its_stamp(tmp_path, monkeypatch):
    target = tmp_path / "fresh.duckdb"
    monkeypatch.setenv("CARELAB_DB", str(target))
    assert store.ensure_database() == target
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("SELECT stamp FROM meta").fetchone()[0] == store.data_stamp()
        assert con.execute("SELECT count(*) FROM templates").fetchone()[0] == 9
        assert con.execute("SELECT count(*) FROM template_facts").fetchone()[0] > 40


def test_database_rebuilds_when_the_stamp_is_stale(tmp_path, monkeypatch):
    target = tmp_path / "stale.duckdb"
    with duckdb.connect(str(target)) as con:
        con.execute("CREATE TABLE meta (stamp VARCHAR, schema_version VARCHAR)")
        con.execute("INSERT INTO meta VALUES ('old', '0')")
    monkeypatch.setenv("CARELAB_DB", str(target))
    store.ensure_database()
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("SELECT stamp FROM meta").fetchone()[0] == store.data_stamp()
        assert con.execute("SELECT count(*) FROM service_lines").fetchone()[0] >= 12


def test_stamp_changes_when_the_text_changes(tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(store.DATA_DIR, copy, ignore=shutil.ignore_patterns("cache"))
    before = store.data_stamp(copy)
    path = copy / "service_lines.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",140,", ",141,"), encoding="utf-8")
    assert store.data_stamp(copy) == before  # looked at again only after a second
    assert store.data_stamp(copy, max_age_s=0) != before
