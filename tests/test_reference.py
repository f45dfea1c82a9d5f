"""Reference data: the templates carry the seeds' facts, with sources; the DuckDB reference
database builds from the catalogue and rebuilds when the text in data/ changes."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from lib import catalogue, store
from lib.scenario import Scenario

# The seeds' populations and contract lengths (KF2016 Table 1; UnitingCare's five years from the
# NAO). None: the seeds give no population, so the template's is a stated assumption.
SEED_FACTS = {
    "salford": (230_000, (5, 5)),
    "northumberland": (322_000, (10, 10)),
    "dudley": (318_000, (15, 15)),
    "south_somerset": (135_000, (5, 10)),
    "sandwell_wb": (165_000, (10, 15)),
    "wakefield": (363_000, (10, 10)),
    "mid_notts": (None, (1, 15)),
    "uniting_care": (None, (5, 5)),
}


@pytest.mark.parametrize("tid", list(SEED_FACTS))
def test_populations_and_contract_lengths_follow_the_seeds(tid):
    population, (shortest, longest) = SEED_FACTS[tid]
    scenario = Scenario.from_template(tid)
    info = catalogue.current().template(tid).info
    if population is None:
        assert info["population_source"].startswith("assumption")
    else:
        assert scenario.population == population
        assert "KF2016" in info["population_source"]
    assert shortest <= scenario.contract.years <= longest


def test_every_fact_and_preset_has_a_source():
    tables = catalogue.current().tables
    for name in ("template_facts", "template_presets"):
        sources = tables[name]["source"]
        assert sources.notna().all() and (sources.str.len() > 0).all(), name
        # the seeds, an assumption, or a named published source outside them (today's templates name
        # theirs in the header of data/templates.yaml: PAC2015, NHSE BCF grants, Rotherham s75 …)
        cited = (
            r"KF2016|assumption|NAO|Improvement Analytics Unit|PAC201[57]|NHSE |NHS England|Rotherham s75|BCF call-off"
            r"|Better Care Fund|Pulse|HSJ|DHSC|Homecare Association|Health and Wellbeing Board|Herefordshire"
            r"|Management in Practice|HTN|Distilled Post|NHS Black Country ICB|NHS Confederation|Nuffield Trust"
        )
        assert sources.str.contains(cited, regex=True).all(), sources[~sources.str.contains(cited, regex=True)].tolist()


def test_figures_users_look_for_are_carried():
    facts = catalogue.current().table("template_facts")

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
    lines = catalogue.current().table("service_lines").set_index("id")
    assert len(lines) >= 12
    assert not lines.loc["specialised", "poolable"]
    assert lines["spend_basis"].str.startswith("assumption").all()
    # one price year, but for the line today's collaboratives hold, which says its own (docs/model.md, Baseline)
    assert (lines.drop("specialised_mental_health")["spend_year"] == "2016/17").all()
    assert lines.loc["core_primary", "spend_per_head_gbp"] == 140
    assert lines.loc["adult_social_care", "spend_per_head_gbp"] == 310


def test_baseline_is_population_times_per_head_unless_seeded():
    dudley = catalogue.current().template("dudley").lines.set_index("line_id")
    # 318,000 people x £150 a head = £47.7m
    assert dudley.loc["community_health", "baseline_gbp_m"] == pytest.approx(47.7)
    assert dudley.loc["community_health", "baseline_source"].startswith("assumption")
    salford = catalogue.current().template("salford").lines.set_index("line_id")
    assert "scaled to its source's pooled budget" in salford.loc["acute_emergency", "baseline_source"]
    # Lines outside the pool keep the per-head figure: 230,000 x £140 = £32.2m
    assert salford.loc["core_primary", "baseline_gbp_m"] == pytest.approx(32.2)


def test_outcome_measures_cover_the_four_domains_and_the_funds_metrics():
    measures = catalogue.current().table("outcome_measures")
    domains = {"population_health", "quality_of_life", "quality_of_care", "effectiveness", "outside_index"}
    assert set(measures["domain"]) == domains
    # the Better Care Fund's three national metrics: unplanned admissions, discharge delays, care-home admissions
    metrics = {"emergency_admissions", "ae_attendances", "emergency_bed_days", "delayed_transfer_days", "care_home_admissions"}
    assert metrics <= set(measures["id"])


def test_database_builds_at_carelab_db_with_its_stamp(tmp_path, monkeypatch):
    target = tmp_path / "fresh.duckdb"
    monkeypatch.setenv("CARELAB_DB", str(target))
    cat = catalogue.current()
    assert store.reference_database(cat) == target
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("SELECT stamp FROM meta").fetchone()[0] == cat.stamp
        assert con.execute("SELECT count(*) FROM templates").fetchone()[0] == 13  # 8 vanguards, 4 of today, blank
        assert con.execute("SELECT count(*) FROM template_facts").fetchone()[0] > 40


def test_database_rebuilds_when_the_stamp_is_stale(tmp_path, monkeypatch):
    target = tmp_path / "stale.duckdb"
    with duckdb.connect(str(target)) as con:
        con.execute("CREATE TABLE meta AS SELECT 'old' AS stamp")
    monkeypatch.setenv("CARELAB_DB", str(target))
    store.reference_database(catalogue.current())
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("SELECT stamp FROM meta").fetchone()[0] == catalogue.current().stamp
        assert con.execute("SELECT count(*) FROM service_lines").fetchone()[0] >= 12


def test_stamp_and_tables_change_when_the_text_changes(tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(catalogue.DATA_DIR, copy, ignore=shutil.ignore_patterns("cache"))
    before = catalogue.load(copy)
    path = copy / "service_lines.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",140,", ",141,"), encoding="utf-8")
    after = catalogue.load(copy)
    assert after.stamp != before.stamp
    lines = after.table("service_lines").set_index("id")
    assert lines.loc["core_primary", "spend_per_head_gbp"] == 141


def test_unknown_template_is_refused_by_name():
    with pytest.raises(catalogue.UnknownTemplateError, match="atlantis"):
        catalogue.current().template("atlantis")


def test_today_s_templates_carry_the_figures_their_sources_give():
    """Each figure checked against its source (the 2025-26 fund, the pilots, the sizes)."""
    cat = catalogue.current()
    facts = cat.table("template_facts").set_index(["template_id", "fact_id"])
    assert facts.loc[("bcf_s75", "scale_2025"), "value_gbp_m"] == 5614 + 2640 + 711
    assert facts.loc[("bcf_s75", "scale_2015"), "value_gbp_m"] == 3800  # the minimum, like the later years (they pooled £5.3bn)
    assert facts.loc[("bcf_s75", "risk_share"), "value_gbp_m"] == 0.5
    bcf = Scenario.from_template("bcf_s75")
    assert bcf.pooled_budget_gbp_m() == pytest.approx((5614 + 2640 + 711) / 151, abs=0.05)  # the minimum per area
    assert sum(p.contribution_gbp_m for p in bcf.partners) == pytest.approx(bcf.pooled_budget_gbp_m(), abs=0.1)
    assert bcf.risk.partner_split == "contribution" and bcf.risk.cap_at_contribution and bcf.risk.risk_pool_gbp_m == 0.5
    assert Scenario.from_template("multi_neighbourhood").population == 250_000
    assert Scenario.from_template("lead_provider_collaborative").pooled_budget_gbp_m() == pytest.approx(65.0)
    info = cat.tables["templates"].set_index("id")
    today = info[info["era"] == catalogue.ERA_TODAY]
    expected = ["bcf_s75", "multi_neighbourhood", "integrated_health_org", "lead_provider_collaborative"]
    assert sorted(today.index) == sorted(expected)
    assert set(today["equivalent"]) <= set(info[info["era"] == catalogue.ERA_VANGUARDS].index)
