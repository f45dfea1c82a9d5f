"""Every page, driven through Streamlit's AppTest: widgets change the scenario, and the figures
shown are the ones lib computes for that scenario."""

from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lib import evidence, links, readings, results, views, words
from lib.scenario import Scenario, field_spec

from .conftest import ROOT

APP = str(ROOT / "app.py")


def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    return at


def scenario_of(at: AppTest) -> Scenario:
    return at.session_state["scenario"]


def open_page(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def design_tab(at: AppTest, tab: str) -> AppTest:
    """Open the Design page on one of its tabs (only the open tab's controls are drawn)."""
    at.session_state["design-tab"] = tab
    return open_page(at, "design")


def metric(at: AppTest, label_start: str):
    return next(m for m in at.metric if m.label.startswith(label_start))


# ---- Home -------------------------------------------------------------------------------------


def test_home_shows_eight_templates_and_a_blank_place():
    at = app()
    buttons = [b.key for b in at.button]
    for tid in ("salford", "northumberland", "dudley", "south_somerset", "sandwell_wb", "wakefield", "mid_notts", "uniting_care"):
        assert f"start-{tid}" in buttons
    assert "start-blank" in buttons
    text = " ".join(m.value for m in at.markdown)
    assert "£236m pooled" in text and "318,000 people" in text
    assert any("KF2016 Table 1" in c.value for c in at.caption)


def test_starting_from_a_template_opens_its_design():
    at = app()
    at.button(key="start-dudley").click().run()
    assert not at.exception
    assert scenario_of(at).template == "dudley"
    assert at.title[0].value == "Design the deal: Dudley"


def test_sidebar_follows_the_scenario_across_pages():
    at = app()
    at.button(key="start-uniting_care").click().run()
    open_page(at, "evidence")
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    assert "UnitingCare" in sidebar
    assert any("provider side takes 100% of gains and 100% of losses" in c.value for c in at.sidebar.caption)


# ---- Design ----------------------------------------------------------------------------------


def test_pooling_social_care_out_of_salford():
    at = open_page(app(), "design")
    before = scenario_of(at).pooled_budget_gbp_m()
    at.slider(key="design:pooling.adult_social_care").set_value(0.0).run()
    after = scenario_of(at)
    assert after.pooling["adult_social_care"] == 0.0
    assert after.pooled_budget_gbp_m() < before
    assert metric(at, "Pooled budget").value == words.gbp_m(after.pooled_budget_gbp_m(), 1)


def test_pooling_core_primary_care_makes_it_fully_integrated():
    at = open_page(app(), "design")
    assert metric(at, "Contracting approach").value == "Partially integrated"
    at.slider(key="design:pooling.core_primary").set_value(100.0).run()
    assert metric(at, "Contracting approach").value == "Fully integrated"


def test_only_the_open_tab_draws_its_controls():
    at = open_page(app(), "design")
    keys = {s.key for s in at.slider}
    assert "design:pooling.adult_social_care" in keys and "design:risk.gain_share" not in keys
    design_tab(at, "4 · Risk split")
    keys = {s.key for s in at.slider}
    assert "design:risk.gain_share" in keys and "design:pooling.adult_social_care" not in keys


def test_risk_terms_change_the_scenario_and_reset_restores_it():
    at = design_tab(app(), "4 · Risk split")
    at.slider(key="design:risk.loss_share").set_value(0.0).run()
    at.slider(key="design:risk.gain_share").set_value(80.0).run()
    at.checkbox(key="design:risk.cap:on").check().run()
    risk = scenario_of(at).risk
    assert (risk.loss_share, risk.gain_share, risk.cap) == (0.0, 0.8, 0.03)
    assert metric(at, "Provider side").value == "80% / 0%"
    at.slider(key="design:risk.cap").set_value(5.0).run()
    assert scenario_of(at).risk.cap == 0.05
    at.button[[b.label for b in at.button].index("Reset to template")].click().run()
    assert scenario_of(at) == Scenario.from_template("salford")


def test_template_values_are_marked_with_their_source():
    at = design_tab(app(), "4 · Risk split")
    slider = at.slider(key="design:risk.loss_share")
    assert "Template value (assumption)" in slider.help
    assert not slider.label.endswith("✎")
    slider.set_value(20.0).run()
    changed = at.slider(key="design:risk.loss_share")
    assert "Changed from the template's 50.0%" in changed.help
    assert changed.label.endswith("✎")
    design_tab(at, "3 · Contract")
    assert "KF2016 Table 1" in at.slider(key="design:contract.years").help
    design_tab(at, "2 · Who holds the budget")
    reserves = at.number_input(key="design:lead.reserves_gbp_m")
    assert "Allowed: 0 to 10,000 £m." in reserves.help and "(£m)" in reserves.label


def test_contract_levers_and_uncertainty_controls():
    at = design_tab(app(), "3 · Contract")
    at.slider(key="design:contract.years").set_value(10).run()
    at.selectbox(key="design:contract.route").set_value("competitive_tender").run()
    design_tab(at, "5 · Levers")
    at.slider(key="design:levers.prevention.effect").set_value(12.0).run()
    at.slider(key="design:levers.prevention.realisation_low:levers.prevention.realisation_high").set_value((40.0, 90.0)).run()
    reach = at.selectbox(key="design:levers.coordination.group")
    assert reach.options[0] == "Everyone the contract covers" and "85%" in reach.help
    assert reach.options[1] == "People aged 65 and over" and "45% of emergency admissions" in reach.help
    reach.set_value("older_people").run()
    design_tab(at, "6 · Uncertainty")
    at.select_slider(key="design:sims").set_value(200).run()
    s = scenario_of(at)
    assert s.contract.years == 10 and s.contract.route == "competitive_tender" and s.sims == 200
    assert s.levers["prevention"].effect == pytest.approx(0.12)
    assert (s.levers["prevention"].realisation_low, s.levers["prevention"].realisation_high) == (0.4, 0.9)
    assert s.levers["coordination"].group == "older_people"


def test_partners_can_be_added_renamed_and_removed():
    at = design_tab(app(), "2 · Who holds the budget")
    count = len(scenario_of(at).partners)
    at.button[[b.label for b in at.button].index("Add a partner")].click().run()
    assert len(scenario_of(at).partners) == count + 1
    at.text_input(key=f"design:partners.{count}.name").input("Voluntary sector").run()
    assert scenario_of(at).partners[count].name == "Voluntary sector"
    at.button(key=f"design:remove-{count}").click().run()
    assert len(scenario_of(at).partners) == count


def test_bad_input_is_refused_with_a_message_and_nothing_is_lost():
    at = design_tab(app(), "2 · Who holds the budget")
    before = scenario_of(at)
    at.text_input(key="design:partners.0.name").input("").run()
    assert not at.exception
    assert at.error and "partners.0.name" in at.error[0].value and "1 to 80 characters" in at.error[0].value
    assert scenario_of(at) == before
    at.text_input(key="design:partners.0.name").input("Salford Royal").run()
    assert not at.error


# ---- Projections -----------------------------------------------------------------------------


def test_projection_tiles_show_what_lib_computes():
    at = open_page(app(), "projections")
    expected = readings.headline_tiles(results.project(scenario_of(at)))
    shown = {m.label: m.value for m in at.metric}
    for tile in expected:
        assert shown[tile["label"]] == tile["value"]


def test_loss_share_zero_keeps_the_provider_p10_tile_non_negative():
    at = open_page(app(), "projections")
    at.slider(key="proj:risk.loss_share").set_value(0.0).run()
    s = scenario_of(at)
    assert s.risk.loss_share == 0.0
    run = results.project(s)
    assert run.headline()["provider"]["p10"] >= 0
    assert metric(at, "Provider fails").value == "0%"
    detail = next(m.proto.delta_description for m in at.metric if m.proto.delta_description.startswith("cumulative after year"))
    assert "P10 −" not in detail


def test_gain_share_slider_moves_the_provider_tile_up_by_what_lib_computes():
    at = open_page(app(), "projections")
    before = results.project(scenario_of(at)).headline()["provider"]
    at.slider(key="proj:risk.gain_share").set_value(100.0).run()
    s = scenario_of(at)
    assert s.risk.gain_share == 1.0
    after = results.project(s).headline()["provider"]
    assert metric(at, "Provider side").value == words.gbp_m(after["p50"])
    # Keeping all of every surplus instead of half can only raise the provider side's position, and
    # by no more than the surpluses it did not keep before.
    assert after["mean"] > before["mean"]
    sim = results.project(s).simulation
    surplus_half = 0.5 * np.clip(sim.money["pooled_budget"] - sim.money["pooled_cost"], 0, None).sum(axis=1).mean()
    assert after["mean"] - before["mean"] <= surplus_half + 1e-9


def test_collar_shows_its_breach_probability():
    at = open_page(app(), "projections")
    assert metric(at, "Collar breached").value == "no collar"
    at.checkbox(key="proj:risk.collar:on").check().run()
    s = scenario_of(at)
    expected = results.project(s).headline()["collar_breach_any_year"]
    assert metric(at, "Collar breached").value == words.pct(expected)


@pytest.mark.parametrize(
    ("tab", "charts", "title"),
    [
        ("Money", 2, "Budget against projected cost"),
        ("Both sides' risk", 3, "cumulative position"),
        ("Partners and money flow", 2, "Each partner's share"),
        ("Outcomes", 1, "Outcomes by contract year"),
        ("Cost bridge", 1, "From baseline cost to projected cost"),
    ],
)
def test_every_chart_has_a_title_caption_and_table(tab, charts, title):
    at = app()
    at.session_state["projections-tab"] = tab
    open_page(at, "projections")
    figures = at.get("plotly_chart")
    assert len(figures) == charts
    specs = [json.loads(f.proto.spec) for f in figures]
    assert any(title in spec["layout"]["title"]["text"] for spec in specs)
    for spec in specs:
        assert spec["layout"]["title"]["text"]
    boxes = [e for e in at.expander if e.label == "Show as table"]
    assert len(boxes) == charts
    assert len(at.dataframe) == 0  # a table is sent only once its expander is opened
    for box in boxes:
        at.session_state[box.key] = True
    at.run()
    assert len(at.dataframe) == charts
    assert all(len(d.value) > 0 for d in at.dataframe)


def test_virtual_template_projects_with_commissioners_holding_the_variance():
    at = app()
    at.button(key="start-mid_notts").click().run()
    open_page(at, "projections")
    assert not at.exception
    assert metric(at, "Provider fails").value == "nothing pooled"  # no contract to fail, said so rather than 0%


# ---- Evidence --------------------------------------------------------------------------------


def test_evidence_lists_facts_with_sources_and_the_glossary():
    at = open_page(app(), "evidence")
    at.selectbox(key="evidence-template").set_value("uniting_care").run()
    facts = at.dataframe[0].value
    assert "£752m maximum contract price" in set(facts["Value"])
    assert set(facts["Source"]) >= {"KF2016 UnitingCare box"}
    text = " ".join(m.value for m in at.markdown)
    assert "**Winning bid:** £726m, about 3.5% under the maximum price *(KF2016 UnitingCare box)*" in text
    labels = [e.label for e in at.expander]
    assert {"Care models", "Contracting approaches", "Risk terms", "Organisational forms"} <= set(labels)
    text = " ".join(m.value for m in at.markdown)
    for term in ("Cap and collar", "Gain share", "Withhold", "Multispecialty community provider"):
        assert term in text


def test_a_deal_that_often_fails_says_why_on_the_projections_page():
    at = app()
    at.button(key="start-wakefield").click().run()
    open_page(at, "projections")
    warning = next(w.value for w in at.warning if "fails in" in w.value)
    assert "the levers add cost to the pooled services" in warning and "Design › 1 · Budgets to pool" in warning


def test_evidence_draws_the_better_care_fund_s_national_minimum_beside_this_area_s_pool():
    def titled(at: AppTest) -> list[dict]:
        specs = [json.loads(f.proto.spec) for f in at.get("plotly_chart")]
        return [spec for spec in specs if "England's minimum" in spec["layout"]["title"]["text"]]

    at = open_page(app(), "evidence")
    assert not titled(at)  # a vanguard has no national series
    at.selectbox(key="evidence-template").set_value("bcf_s75").run()
    spec = titled(at)[0]
    bars = spec["data"][0]
    assert bars["x"] == ["2015-16", "2020-21", "2025-26"] and bars["y"] == [3800, 6698, 8965]
    assert "this area pools £59.4m (0.7% of the latest)" in spec["layout"]["title"]["text"]  # 59.4 / 8,965
    assert any("£5.3bn" in c.value for c in at.caption)  # what areas pooled beyond the minimum, said


def test_evidence_page_holds_the_model_against_what_happened():
    at = open_page(app(), "evidence")
    check = next(d.value for d in at.dataframe if "verdict" in d.value.columns)
    assert {"Salford", "Dudley"} <= set(check["template"]) and "Emergency admissions" in set(check["measure"])
    assert not any("_" in c for c in check.columns)  # columns in words
    every = next(d.value for d in at.dataframe if "source" in d.value.columns and "verdict" in d.value.columns)
    assert any("Morciano" in s for s in every["source"])
    assert set(check["role"]) <= set(evidence.ROLES.values())
    assert any(m.value.startswith("**Out of sample:") for m in at.markdown)
    assert any("National Audit Office" in c.value for c in at.caption)


def test_money_flow_period_redraws_only_its_chart():
    at = app()
    at.session_state["projections-tab"] = "Partners and money flow"
    at.session_state["table-open-money-flow"] = True
    open_page(at, "projections")
    tiles_before = {m.label: m.value for m in at.metric}
    whole = at.dataframe[-1].value
    at.select_slider(key="money-flow-period").set_value("Year 1").run()
    assert not at.exception
    year_one = at.dataframe[-1].value
    run = results.project(scenario_of(at))
    expected = views.money_flows(run, 1).round(2)
    assert year_one["£m"].tolist() == expected["value_gbp_m"].tolist()
    assert year_one["£m"].sum() < whole["£m"].sum()
    assert {m.label: m.value for m in at.metric} == tiles_before


def test_widget_ranges_and_help_come_from_the_model():
    at = design_tab(app(), "4 · Risk split")
    at.checkbox(key="design:risk.collar:on").check().run()
    for key, path in (("design:risk.collar", "risk.collar"), ("design:risk.neutral_band", "risk.neutral_band")):
        spec = field_spec(path)
        widget = at.slider(key=key)
        assert (widget.min, widget.max) == (spec.low * 100, spec.high * 100)
        assert widget.help.startswith(spec.help)
    design_tab(at, "3 · Contract")
    years = at.slider(key="design:contract.years")
    assert (years.min, years.max) == (field_spec("contract.years").low, field_spec("contract.years").high)


# ---- the design in the URL -------------------------------------------------------------------


def test_the_scenario_is_mirrored_in_the_url_and_a_new_session_reopens_it():
    at = design_tab(app(), "4 · Risk split")
    at.slider(key="design:risk.gain_share").set_value(80.0).run()
    link = at.query_params["s"]
    link = link[0] if isinstance(link, list) else link
    fresh = AppTest.from_file(APP, default_timeout=120)
    fresh.query_params["s"] = link
    fresh.switch_page("pages/projections.py").run()
    assert not fresh.exception
    assert scenario_of(fresh) == scenario_of(at)
    assert {m.label: m.value for m in fresh.metric} == {
        t["label"]: t["value"] for t in readings.headline_tiles(results.project(scenario_of(at)))
    }


def test_a_damaged_link_opens_the_nearest_scenario_with_a_warning():
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["s"] = links.encode(Scenario.from_template("dudley"))[:-6]
    at.run()
    assert not at.exception
    assert any("could not be read" in w.value for w in at.warning)
    assert scenario_of(at) == Scenario.from_template("salford")


# ---- saving and comparing ------------------------------------------------------------------------


def table_with(at: AppTest, column: str):
    """The first table on the page with this column (AppTest does not expose a table's key)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def save_from_design(at: AppTest, name: str, group: str = "") -> AppTest:
    open_page(at, "design")
    at.text_input(key="save-name").input(name)
    at.text_input(key="save-group").input(group)
    at.button(key="save-go").click().run()
    assert not at.exception
    return at


def test_save_from_design_then_compare_and_rank_in_a_group():
    at = app()
    save_from_design(at, "Table 1 gain_share_high", "Workshop A")
    assert any("Saved as Table 1 gain\\_share\\_high" in s.value for s in at.success)  # shown as text
    design_tab(at, "4 · Risk split")
    at.slider(key="design:risk.loss_share").set_value(20.0).run()
    save_from_design(at, "Table 2 low loss", "Workshop A")
    open_page(at, "compare")
    at.selectbox(key="compare-group").set_value("Workshop A").run()
    ranked = table_with(at, "rank")
    assert set(ranked["scenario"]) == {"Table 1 gain_share_high", "Table 2 low loss"} and list(ranked["rank"]) == [1, 2]
    rank_on = at.selectbox(key="compare-rank")
    assert "Provider side at the end, P50 (£m)" in rank_on.options and not any("_gbp_" in o for o in rank_on.options)
    rank_on.set_value("failure_chance").run()
    ranked = table_with(at, "rank")
    assert list(ranked["failure_chance"]) == sorted(ranked["failure_chance"])  # lower is better, first
    at.multiselect(key="compare-picked").set_value(["Table 1 gain_share_high", "Table 2 low loss"]).run()
    assert not at.exception
    headline = [d.value for d in at.dataframe if "provider_p50_gbp_m" in d.value.columns][1]
    assert list(headline["scenario"]) == ["Table 1 gain_share_high", "Table 2 low loss"]
    differ = table_with(at, "Setting")  # settings by their labels, values as shares
    settings = set(differ["Setting"])
    assert "Provider share of a deficit (loss share)" in settings and "Provider share of a surplus (gain share)" not in settings
    loss = differ[differ["Setting"] == "Provider share of a deficit (loss share)"].iloc[0]
    assert all(str(v).endswith("%") for v in loss.drop("Setting"))
    assert len(at.get("plotly_chart")) == 5


def test_a_design_takes_the_name_it_is_saved_under(tmp_path, monkeypatch):
    """Presentation, the board pack and downloaded file names read the design's name."""
    monkeypatch.setenv("CARELAB_SCENARIOS_DB", str(tmp_path / "named.duckdb"))
    at = save_from_design(app(), "Salford ASC out, 3% gain")
    assert scenario_of(at).name == "Salford ASC out, 3% gain"
    at.button(key="present-on").click().run()
    assert at.title[0].value == "Salford ASC out, 3% gain"


def test_names_that_look_like_markup_or_are_too_long_are_refused_and_nothing_is_lost():
    at = app()
    before = scenario_of(open_page(at, "design"))
    for name in ("<b>bold</b>", "x" * 81):
        at.text_input(key="save-name").input(name)
        at.button(key="save-go").click().run()
        assert not at.exception and any("not allowed" in e.value for e in at.error)
    assert scenario_of(at) == before


def test_saving_over_a_name_asks_first_and_the_replaced_design_can_be_restored(tmp_path, monkeypatch):
    from lib import saved

    monkeypatch.setenv("CARELAB_SCENARIOS_DB", str(tmp_path / "asked.duckdb"))
    at = save_from_design(app(), "Table 5", "Asked")
    first = saved.load("Table 5")[0].scenario
    design_tab(at, "4 · Risk split")
    at.slider(key="design:risk.loss_share").set_value(20.0).run()
    save_from_design(at, "Table 5", "Asked")
    assert any("already saved as" in w.value for w in at.warning) and not at.success
    assert saved.load("Table 5")[0].scenario == first  # nothing replaced until the person says so
    at.button(key="save-cancel").click().run()
    assert not any("already saved as" in w.value for w in at.warning)
    assert saved.load("Table 5")[0].scenario == first
    save_from_design(at, "Table 5", "Asked")
    at.button(key="save-replace").click().run()
    assert any("Replaced Table 5" in s.value for s in at.success)
    assert saved.load("Table 5")[0].scenario.risk.loss_share == 0.2

    open_page(at, "compare")
    bin_ = table_with(at, "why")
    assert bin_["why"].tolist() == ["replaced"] and bin_["name"].tolist() == ["Table 5"]
    at.text_input(key="bin-name").input("Table 5 as first saved")
    at.button(key="bin-restore").click().run()
    assert not at.exception
    assert saved.load("Table 5 as first saved")[0].scenario == first


def test_delete_asks_first_and_a_deleted_design_comes_back(tmp_path, monkeypatch):
    from lib import saved

    monkeypatch.setenv("CARELAB_SCENARIOS_DB", str(tmp_path / "deleted.duckdb"))
    saved.save("Keep me", Scenario.from_template("dudley"), "Bin")
    at = open_page(app(), "compare")
    at.selectbox(key="manage-name").set_value("Keep me").run()
    at.button(key="manage-delete").click().run()
    assert any("Delete" in w.value and "restored" in w.value for w in at.warning)
    assert saved.exists("Keep me")
    at.button(key="manage-delete-no").click().run()
    assert saved.exists("Keep me") and not at.warning
    at.button(key="manage-delete").click().run()
    at.button(key="manage-delete-yes").click().run()
    assert not saved.exists("Keep me")
    assert any("Deleted Keep me" in m.value for m in at.success)  # a change says what it did
    at.button(key="bin-restore").click().run()
    assert not at.exception and saved.load("Keep me")[0].group == "Bin"
    assert any("Restored Keep me" in m.value for m in at.success)


def test_projections_quick_controls_include_the_pooled_share_of_each_line():
    at = open_page(app(), "projections")
    assert "proj:pooling.core_primary" not in {s.key for s in at.slider}  # drawn when asked for
    at.toggle(key="proj-pooling-open").set_value(True).run()
    before = metric(at, "Provider side").value
    at.slider(key="proj:pooling.adult_social_care").set_value(0.0).run()
    assert scenario_of(at).pooling["adult_social_care"] == 0.0
    expected = readings.headline_tiles(results.project(scenario_of(at)))
    assert metric(at, "Provider side").value == expected[0]["value"]
    assert {s.key for s in at.slider} >= {f"proj:pooling.{line}" for line in ("core_primary", "acute_emergency")}
    assert before is not None


# ---- Risk -------------------------------------------------------------------------------------


def risk_tab(at: AppTest, tab: str) -> AppTest:
    at.session_state["risk-tab"] = tab
    return open_page(at, "risk")


def test_risk_distribution_marks_the_failure_line_and_the_worst_tenth():
    at = app()
    at.button(key="start-dudley").click().run()
    risk_tab(at, "Distribution")
    run = results.project(scenario_of(at))
    specs = [json.loads(f.proto.spec) for f in at.get("plotly_chart")]
    assert specs[0]["data"][0]["type"] == "histogram" and len(specs[0]["data"][0]["x"]) == scenario_of(at).sims
    notes = " ".join(a["text"] for a in specs[0]["layout"]["annotations"])
    assert "Failure line −£10.0m" in notes and f"Worst 10% average {words.gbp_m(run.expected_shortfall())}" in notes
    text = " ".join(m.value for m in at.markdown)
    assert "more than it can absorb" in text  # Dudley's worst tenth passes its £10m


def test_risk_over_time_reads_the_cumulative_chance_of_failure():
    at = app()
    at.button(key="start-wakefield").click().run()
    risk_tab(at, "Over time and partners")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    by_year = spec["data"][0]["y"]
    failure = results.project(scenario_of(at)).headline()["failure"]
    assert by_year == sorted(by_year) and by_year[-1] == pytest.approx(failure * 100)
    partners = table_with(at, "Chance it loses more than it can bear (%)")
    assert set(partners["Partner"]) == {p.name for p in scenario_of(at).partners}
    roles = {words.ROLE_NAMES[p.role] for p in scenario_of(at).partners}
    assert set(partners["Role"]) == roles
    at.run()  # the tab drawn again, as switching away and back does: the roles stay named (the shared summary unchanged)
    assert set(table_with(at, "Chance it loses more than it can bear (%)")["Role"]) == roles
    open_page(at, "projections")
    assert not at.exception


def test_stress_tests_show_the_design_before_and_after():
    at = app()
    risk_tab(at, "Stress tests")
    at.multiselect(key="risk-stresses").set_value(["demand_surge", "funding_freeze"]).run()
    assert not at.exception
    table = table_with(at, "under the stresses").set_index("headline")
    before, after = table.loc["Chance the provider side fails", ["this design", "under the stresses"]]
    assert int(after.rstrip("%")) > int(before.rstrip("%"))
    text = " ".join(m.value for m in at.markdown)
    assert "**Demand surge**" in text and "**Funding freeze**" in text
    fails = metric(at, "Provider fails")
    assert fails.value == after and fails.delta.startswith("+") and fails.delta.endswith(" points")
    short = table.loc["Chance commissioners pass their contingency", "under the stresses"]
    assert metric(at, "Commissioners short").value == short
    at.multiselect(key="risk-stresses").set_value([]).run()
    assert any("Pick one or more shocks" in i.value for i in at.info)


def test_the_unitingcare_replay_beside_the_design_with_what_happened():
    at = app()
    at.button(key="start-northumberland").click().run()
    at.session_state["table-open-replay"] = True
    risk_tab(at, "UnitingCare replay")
    replay = table_with(at, "UnitingCare's terms, failed by this year (%)")
    assert replay["UnitingCare's terms, failed by this year (%)"].iloc[4] > 50
    assert any("fails in 99%" in c.value or "fails in 100%" in c.value for c in at.caption)
    text = " ".join(m.value for m in at.markdown)
    assert "Asked for £34m more" in text and "Terminated in December 2015" in text


def test_the_tornado_sorts_at_least_ten_assumptions():
    at = app()
    risk_tab(at, "What would make it fail")
    money, failure = (json.loads(f.proto.spec) for f in at.get("plotly_chart"))
    labels = money["data"][0]["y"]
    assert len(labels) >= 10 and "Demand growth" in labels and "Loss share" in labels
    widths = np.abs(np.array(money["data"][1]["x"]) - np.array(money["data"][0]["x"]))
    assert list(widths) == sorted(widths)  # largest swing drawn on top (plotly's last category)
    assert "chance of failure" in failure["layout"]["title"]["text"]


# ---- Presentation mode ------------------------------------------------------------------------


def test_presentation_mode_steps_through_every_chart_without_controls():
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["present"] = "1"
    at.run()
    assert not at.exception
    assert len(at.sidebar) == 0 and not at.slider and not at.selectbox  # no controls, no sidebar
    assert at.title[0].value == "Salford" and "£236m pooled" in at.caption[0].value
    assert at.subheader[0].value.startswith("1 of 8") and len(at.metric) == 6
    seen = []
    while not at.button(key="present-next").disabled:
        at.button(key="present-next").click().run()
        assert not at.exception
        (chart,) = at.get("plotly_chart")
        spec = json.loads(chart.proto.spec)
        assert spec["layout"]["font"]["size"] == 19  # large type
        assert chart.proto.alt.startswith(spec["layout"]["title"]["text"])  # named for screen readers
        seen.append(at.subheader[0].value)
    assert len(seen) == 7 and seen[-1].startswith("8 of 8")
    at.button(key="present-back").click().run()
    assert at.subheader[0].value.startswith("7 of 8") and at.query_params["slide"] == "7"
    reloaded = AppTest.from_file(APP, default_timeout=120)  # a reload, or the link copied to another screen
    reloaded.query_params["present"], reloaded.query_params["slide"] = "1", "7"
    reloaded.run()
    assert reloaded.subheader[0].value.startswith("7 of 8")
    for odd in ("²", "①", "abc", "-3", "3.5"):  # digits to str.isdigit but not to int(), and other junk: slide 1
        wrong = AppTest.from_file(APP, default_timeout=120)
        wrong.query_params["present"], wrong.query_params["slide"] = "1", odd
        wrong.run()
        assert not wrong.exception and wrong.subheader[0].value.startswith("1 of 8"), odd
    at.button(key="present-off").click().run()
    assert not at.exception and "present" not in at.query_params and "slide" not in at.query_params and len(at.sidebar) > 0


def test_the_sidebar_button_starts_presentation_mode():
    at = app()
    at.button(key="present-on").click().run()
    assert at.query_params["present"] == "1" and at.subheader[0].value.startswith("1 of 8")


def test_a_link_brought_back_by_the_browser_history_opens_its_design():
    at = app()
    open_page(at, "projections")
    at.slider(key="proj:risk.loss_share").set_value(20.0).run()
    changed = scenario_of(at)
    assert at.query_params["s"] == links.encode(changed, Scenario.from_template("salford"))
    earlier = Scenario.from_template("salford").with_value("risk.loss_share", 0.8)
    at.query_params["s"] = links.encode(earlier, Scenario.from_template("salford"))  # back, as the browser does
    at.run()
    assert not at.exception and scenario_of(at) == earlier
    assert at.slider(key="proj:risk.loss_share").value == 80.0


# ---- Data -------------------------------------------------------------------------------------


def data_tab(at: AppTest, tab: str) -> AppTest:
    at.session_state["data-tab"] = tab
    return open_page(at, "data")


def test_data_tables_show_the_dictionary_and_a_preview():
    at = data_tab(app(), "Tables")
    at.selectbox(key="data-table").set_value("sims").run()
    assert not at.exception
    described = table_with(at, "meaning")
    assert "provider_end_gbp_m" in set(described["column"]) and described["meaning"].str.len().min() > 0
    preview = table_with(at, "failed_in")
    assert len(preview) == 100
    assert {b.label for b in at.get("download_button")} >= {"Download as CSV", "Download as Parquet"}


def test_the_sql_console_answers_and_refuses_in_one_line():
    at = data_tab(app(), "SQL console")
    at.text_area(key="data-sql").input("SELECT count(*) AS n FROM sims").run()
    at.button(key="data-sql-run").click().run()
    assert table_with(at, "n")["n"].iloc[0] == scenario_of(at).sims
    for query in ("COPY (SELECT 1) TO '/tmp/x.csv'", "SELECT * FROM '/etc/passwd'", "SELECT 1; SELECT 2"):
        at.text_area(key="data-sql").input(query).run()
        at.button(key="data-sql-run").click().run()
        assert not at.exception and len(at.error) == 1 and "\n" not in at.error[0].value


def test_a_sweep_draws_its_heat_map_and_frontier():
    at = data_tab(app(), "Sweep")
    at.text_input(key="sweep-x-values").input("0,1").run()
    at.text_input(key="sweep-y-values").input("0,0.5,1").run()
    assert not at.exception
    heat, front = (json.loads(f.proto.spec) for f in at.get("plotly_chart"))
    assert len(heat["data"][0]["z"]) == 3 and len(heat["data"][0]["z"][0]) == 2
    assert heat["data"][0]["z"][0] == [0.0, 0.0]  # a loss share of 0 never fails
    assert len(front["data"][0]["x"]) == 6
    at.text_input(key="sweep-y-values").input("0,2").run()
    assert any("loss" in e.value and "from 0 to 1" in e.value for e in at.error)


def test_an_uploaded_baseline_becomes_a_template_that_opens_everywhere(own_templates):
    from lib import baseline

    tid = baseline.template_id("Uploadshire *bold*")
    at = data_tab(app(), "Your own baseline")
    bad = b"line_id,spend_gbp_m\nhospital,5\nacute_emergency,-2\n"
    at.get("file_uploader")[0].set_value(("bad.csv", bad, "text/csv")).run()
    at.text_input(key="baseline-name").input("Uploadshire *bold*").run()
    at.button(key="baseline-save").click().run()
    assert not at.exception and "Row 2" in at.error[0].value and "Row 3" in at.error[0].value
    good = b"line_id,spend_gbp_m\nacute_emergency,70\n"
    at.get("file_uploader")[0].set_value(("good.csv", good, "text/csv")).run()
    at.button(key="baseline-save").click().run()
    assert not at.exception and tid in at.success[0].value
    at.button(key="baseline-open").click().run()
    assert not at.exception and scenario_of(at).template == tid
    assert scenario_of(at).baseline["acute_emergency"] == 70
    home = open_page(at, "home")
    assert any("Uploadshire \\*bold\\*" in m.value for m in home.markdown)  # the typed name as text
    assert f"start-{tid}" in [b.key for b in home.button]
    for page in ("projections", "risk", "compare", "evidence"):
        assert not open_page(at, page).exception
    at.selectbox(key="evidence-template").set_value(tid).run()
    assert not at.exception and any("Uploaded for Uploadshire \\*bold\\*" in m.value for m in at.markdown)
    # the same place again is asked about, and replaced only when the person says so
    at = data_tab(at, "Your own baseline")
    at.get("file_uploader")[0].set_value(("again.csv", b"line_id,spend_gbp_m\nacute_emergency,80\n", "text/csv")).run()
    at.text_input(key="baseline-name").input("Uploadshire *bold*").run()
    at.button(key="baseline-save").click().run()
    assert any("already saved" in w.value for w in at.warning)
    assert not at.success  # the earlier "Saved" is not left to read as this file's answer
    assert baseline.Scenario.from_template(tid).baseline["acute_emergency"] == 70
    at.button(key="baseline-cancel").click().run()
    assert not any("already saved" in w.value for w in at.warning)
    assert baseline.Scenario.from_template(tid).baseline["acute_emergency"] == 70
    at.button(key="baseline-save").click().run()
    at.button(key="baseline-replace").click().run()
    assert not at.exception and baseline.Scenario.from_template(tid).baseline["acute_emergency"] == 80
    assert not any("already saved" in w.value for w in at.warning)
    assert any(m.value.startswith("Replaced") for m in at.success)


def test_a_chart_s_table_opens_its_query_in_the_sql_console():
    at = app()
    at.session_state["table-open-budget-cost"] = True
    open_page(at, "projections")
    (code,) = [c for c in at.code if "FROM sim_year" in c.value]
    assert 'quantile_cont("budget", 0.5)' in code.value
    at.button(key="query-budget-cost").click().run()
    assert not at.exception and at.text_area(key="data-sql").value == code.value
    shown = table_with(at, "budget P50")
    assert len(shown) == scenario_of(at).contract.years and shown["budget P50"].dtype.kind == "f"


def test_a_sweep_file_from_the_command_line_opens_on_the_data_page(tmp_path):
    from lib import sweep

    base = Scenario.from_template("dudley").with_value("sims", 100)
    grid = sweep.parse_grid(["risk.gain_share=0,1", "risk.loss_share=0,1", "risk.withhold=0,0.1"])
    path = tmp_path / "sweep.parquet"
    sweep.sweep(base, grid, workers=1).to_parquet(path, index=False)
    at = data_tab(app(), "Sweep")
    at.get("file_uploader")[0].set_value(("sweep.parquet", path.read_bytes(), "application/octet-stream")).run()
    assert not at.exception
    assert at.selectbox(key="sweep-file-x").value == "risk.gain_share"
    at.selectbox(key="sweep-file-risk.withhold").set_value(0.1).run()
    heat = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert len(heat["data"][0]["z"]) == 2 and len(heat["data"][0]["z"][0]) == 2
    at.get("file_uploader")[0].set_value(("junk.parquet", b"not parquet", "application/octet-stream")).run()
    assert not at.exception and "not a Parquet file" in at.error[0].value


def test_a_bad_custom_template_is_named_on_home_and_the_app_carries_on(own_templates):
    from lib import catalogue

    own_templates.mkdir(parents=True, exist_ok=True)
    (own_templates / "custom_broken.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    (own_templates / "custom_folder.yaml").mkdir()
    catalogue.refresh()
    at = open_page(app(), "home")
    notes = [w.value.replace("\\", "") for w in at.warning]  # shown as text: markup characters escaped
    assert any("custom_broken.yaml skipped: not readable YAML text" in n for n in notes), notes
    assert any("custom_folder.yaml skipped: not a regular file" in n for n in notes)
    assert "start-salford" in [b.key for b in at.button]
    for page in ("design", "projections", "evidence", "compare"):
        assert not open_page(at, page).exception


def test_a_places_own_outcome_rates_and_growth_can_be_entered_on_design():
    at = design_tab(app(), "1 · Budgets to pool")
    assert any("outcome rates" in e.label for e in at.expander)
    at.session_state["design-outcomes"] = True  # open it, as a click does
    at.run()
    assert "national, not local" in " ".join(c.value for c in at.caption)
    at.number_input(key="design:outcome_baseline.emergency_admissions").set_value(92.0).run()
    at.slider(key="design:outcome_growth.emergency_admissions").set_value(4.0).run()
    s = scenario_of(at)
    assert s.outcome_baseline["emergency_admissions"] == 92.0
    assert s.outcome_growth["emergency_admissions"] == pytest.approx(0.04)


def test_a_link_with_a_tab_opens_on_that_tab():
    at = app()
    at.query_params["tab"] = "5 · Levers"
    open_page(at, "design")
    assert at.session_state["design-tab"] == "5 · Levers"
    assert any(s.key == "design:levers.prevention.group" for s in at.selectbox)  # the levers' controls are drawn
    fresh = app()
    fresh.query_params["tab"] = "No such tab"
    open_page(fresh, "design")
    assert "design-tab" not in fresh.session_state or fresh.session_state["design-tab"] != "No such tab"


@pytest.mark.parametrize("page", ["design", "risk", "data"])
def test_the_glossary_is_reachable_from_every_page(page):
    at = open_page(app(), page)
    at.session_state["glossary"] = True  # opened, as a click does
    at.run()
    text = " ".join(m.value for m in at.sidebar.markdown)
    for term in ("Primary and acute care system (PACS)", "CQUIN", "Glide path", "Cap and collar", "P10, P50, P90"):
        assert term in text, term


def test_a_field_has_one_label_on_every_page():
    """Declared once with its range (lib/scenario.py): Design and Projections' quick controls agree."""
    at = design_tab(app(), "4 · Risk split")
    on_design = {p: at.slider(key=f"design:{p}").label for p in ("risk.gain_share", "risk.loss_share")}
    open_page(at, "projections")
    quick = {s.key.split(":", 1)[1]: s.label for s in at.slider if s.key and s.key.split(":", 1)[1] in on_design}
    assert quick == on_design
    assert on_design["risk.gain_share"] == "Provider share of a surplus (gain share) (%)"


def test_a_controls_help_explains_its_term_from_the_glossary():
    at = design_tab(app(), "4 · Risk split")
    help_text = at.slider(key="design:risk.glide_years").help
    glossary = state_reference_glossary()
    assert glossary["Glide path"] in help_text  # the words come from data/glossary.yaml, once
    assert glossary["Gain share"] in at.slider(key="design:risk.gain_share").help


def state_reference_glossary() -> dict[str, str]:
    from lib import catalogue

    terms = catalogue.current().tables["glossary"]
    return dict(zip(terms["term"], terms["meaning"], strict=True))


def test_the_commissioners_contingency_can_be_set_where_the_help_says():
    at = design_tab(app(), "4 · Risk split")
    contingency = at.slider(key="design:risk.commissioner_contingency")
    assert "contingency" in contingency.label.lower()
    contingency.set_value(2.0).run()
    assert scenario_of(at).risk.commissioner_contingency == pytest.approx(0.02)
    assert "Design › 4 · Risk split" in metric(at, "Commissioners short").help


# ---- Today's arrangements ----------------------------------------------------------------------

TODAY = ["bcf_s75", "multi_neighbourhood", "integrated_health_org", "lead_provider_collaborative"]


def test_home_groups_templates_by_era_and_today_s_open_everywhere():
    at = app()
    titles = [s.value for s in at.subheader]
    assert titles.index("The vanguards, 2015–18") < titles.index("Today's arrangements")
    assert titles.index("Today's arrangements") < titles.index("Better Care Fund section 75 pool (a typical area)")
    for tid in TODAY:
        at = app()
        at.button(key=f"start-{tid}").click().run()
        assert not at.exception and scenario_of(at).template == tid
        for page in ("projections", "compare", "evidence"):
            assert not open_page(at, page).exception, (tid, page)
        for tab in ("Stress tests", "UnitingCare replay", "What would make it fail"):
            assert not risk_tab(at, tab).exception, (tid, tab)
        assert not data_tab(at, "Tables").exception


def test_a_pool_s_terms_are_set_on_the_design_page_and_refused_plainly_without_contributions():
    at = app()
    at.button(key="start-bcf_s75").click().run()
    at = design_tab(at, "4 · Risk split")
    assert at.radio(key="design:risk.partner_split").value == "contribution"
    assert at.checkbox(key="design:risk.cap_at_contribution").value
    assert at.number_input(key="design:risk.risk_pool_gbp_m").value == 0.5
    at.radio(key="design:risk.overspend_order").set_value("schemes_first").run()
    assert scenario_of(at).risk.overspend_order == "schemes_first"
    at.number_input(key="design:risk.risk_pool_gbp_m").set_value(2.0).run()
    assert scenario_of(at).risk.risk_pool_gbp_m == 2.0
    at.session_state["projections-tab"] = "Partners and money flow"
    said = [m.value for m in open_page(at, "projections").markdown if m.value.startswith("Over the contract")]
    run = results.project(scenario_of(at))
    assert said == [readings.pool_reading(run)] and "the risk pool met" in said[0]
    at = design_tab(at, "2 · Who holds the budget")
    assert at.number_input(key="design:partners.1.contribution").value == 37.2
    at.number_input(key="design:partners.1.contribution").set_value(40.0).run()
    assert scenario_of(at).partners[1].contribution_gbp_m == 40.0
    # Salford's partners put in nothing stated: sharing by contribution is refused, naming the field
    at = app()
    at = design_tab(at, "4 · Risk split")
    at.radio(key="design:risk.partner_split").set_value("contribution").run()
    assert not at.exception and scenario_of(at).risk.partner_split == "weight"
    assert any("partners.0.contribution_gbp_m" in e.value and "100,000" in e.value for e in at.error)


def test_compare_sets_today_s_arrangement_beside_its_vanguard():
    at = open_page(app(), "compare")
    at.selectbox(key="compare-pair").set_value("Template: Better Care Fund section 75 pool (a typical area)").run()
    assert any("Why this pair: Salford's integrated care organisation grew from a £112m" in c.value for c in at.caption)
    at.button(key="compare-pair-go").click().run()
    assert not at.exception
    assert at.multiselect(key="compare-picked").value == [
        "Template: Better Care Fund section 75 pool (a typical area)", "Template: Salford"]
