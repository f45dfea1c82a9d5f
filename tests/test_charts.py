"""Chart specs: plain plotly dicts that plotly accepts, named for screen readers by what they show."""

import ast
import json
import re

import plotly.io as pio
import pytest

from lib import catalogue, charts, gallery, results, views, words
from lib.scenario import Scenario

from .conftest import ROOT


@pytest.fixture(scope="module")
def run():
    return results.project(Scenario.from_template("northumberland").with_value("sims", 300))


def every_chart(run):
    """Every chart of the gallery (lib/gallery.py), the one place charts are defined."""
    d = gallery.Drawn(run, catalogue.current(), results.project)
    return {item.id: item.draw(d) for item in gallery.CHARTS.values()}


def test_every_chart_is_a_valid_plotly_figure_and_reads_in_large_type(run):
    for name, figure in every_chart(run).items():
        pio.to_json(figure, validate=True)  # raises on any property plotly does not know
        before = json.dumps(figure, default=str)
        big = charts.for_screen(figure)
        assert big["layout"]["font"]["size"] == 19 and 500 <= big["layout"]["height"] <= 520, name
        assert json.dumps(figure, default=str) == before  # specs are shared: the original is left as it was


def test_each_summary_names_the_chart_and_what_it_shows(run):
    drawn = every_chart(run)
    said = {name: charts.describe(figure) for name, figure in drawn.items()}
    for name, text in said.items():
        assert text.startswith(drawn[name]["layout"]["title"]["text"]), name
        assert len(text) > len(drawn[name]["layout"]["title"]["text"]) + 10, name  # more than the title
    budget = run.measure("budget")
    first, last = words.gbp_m(budget["p50"].iloc[0]), words.gbp_m(budget["p50"].iloc[-1])
    assert f"Budget (P50): {first} in year 1, {last} in year {run.years}" in said["budget-cost"]
    assert f"{run.scenario.sims:,} simulations, from −£" in said["end-distribution"]
    failed = run.failure_by_year()["failed_by"].iloc[-1] * 100
    assert f"Provider side failed: 0% in year 1, {failed:.0f}% in year {run.years}" in said["failure-over-time"]  # as tiles
    assert not re.search(r"\d\.\d{3,}|-\d", " ".join(said.values()))  # no long decimals, no hyphen for a minus
    assert "largest" in said["waterfall"] and "money flowing between" in said["money-flow"]


def test_the_s_curve_and_histogram_mark_the_failure_line_and_the_collar(run):
    capacity = run.scenario.lead.loss_capacity_gbp_m
    for figure in (charts.s_curve(run), charts.end_distribution(run)):
        notes = " ".join(a["text"] for a in figure["layout"]["annotations"])
        assert f"Failure line {words.gbp_m(-capacity)}" in notes and "Collar over the contract" in notes  # it has a collar


def _tabs(page: str) -> list[str]:
    tree = ast.parse((ROOT / "pages" / f"{page}.py").read_text(encoding="utf-8"))
    found = next(n.value for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "TABS")
    return list(ast.literal_eval(found)) if not isinstance(found, ast.Dict) else [ast.literal_eval(k) for k in found.keys]


def test_every_chart_is_defined_once_with_its_table_caption_and_places(run):
    """The gallery is read by Projections, Risk, the Design preview, presentation mode and the pack:
    each chart has a table, a caption and a place, and every place it names exists."""
    d = gallery.Drawn(run, catalogue.current(), results.project)
    known = {f"{page}:{tab}" for page in ("projections", "risk") for tab in _tabs(page)}
    known |= {f"preview:{tab}" for tab in _tabs("design")} | {"slide", "pack"}
    for item in gallery.CHARTS.values():
        assert item.places and set(item.places) <= known, (item.id, set(item.places) - known)
        assert len(item.table(d)) and item.caption(d), item.id
        raw = [c for c in item.shown_table(d).columns if "_" in str(c) or str(c) in ("year", "cost", "budget")]
        assert raw == [], (item.id, raw)  # "Show as table" names columns in words
    for tab in _tabs("design"):  # one preview for each Design tab
        assert len(gallery.on(f"preview:{tab}")) == 1, tab
    assert [c.id for c in gallery.on("slide")] == gallery.SLIDES and set(gallery.SLIDES) <= set(gallery.SLIDE_TITLES)
    titles = [figure["layout"]["title"]["text"] for figure in every_chart(run).values()]
    assert len(titles) == len(set(titles))  # no two charts share a title, and each chart has one


def test_a_pooled_fund_s_money_flow_starts_from_what_each_partner_puts_in():
    """Into a section 75 pool the partners pay their contributions (pro rata over the contract), not
    'Commissioners'; out of it the same money meets the costs and the year's result."""
    run = results.project(Scenario.from_template("bcf_s75"))
    flows = views.money_flows(run)
    into = flows[flows["source"].str.startswith("Puts in: ")].set_index("source")["value_gbp_m"]
    assert set(into.index) == {"Puts in: The council (host)", "Puts in: The integrated care board"}
    budget = run.central()["pooled_budget"].sum()
    assert into.sum() == pytest.approx(budget)
    assert into["Puts in: The council (host)"] / into.sum() == pytest.approx(22.2 / 59.4)
    assert "Commissioners" not in set(flows["source"]) and set(flows["target"]) >= {"Pooled fund (host: council)"}
    vanguard = views.money_flows(results.project(Scenario.from_template("salford")))
    assert vanguard.iloc[0]["source"] == "Commissioners" and not vanguard["source"].str.startswith("Puts in").any()


@pytest.mark.parametrize(
    "changes",
    [
        {"risk.loss_share": 0.0, "risk.gain_share": 1.0, "contract.funding_growth": 0.06},  # surplus years and deficit years
        {"risk.incentive_pot": 0.05, "risk.incentive_at_stake": True, "scope": ["acute_emergency"]},  # a pot at stake
    ],
)
def test_money_into_the_pool_equals_money_out_each_year_and_over_the_contract(changes):
    run = results.project(Scenario.from_template("bcf_s75").with_values({"sims": 1, **changes}))
    lead = "Pooled fund (host: council)"
    for year in [None, *range(1, run.scenario.contract.years + 1)]:
        flows = views.money_flows(run, year)
        into, out = flows[flows["target"] == lead]["value_gbp_m"].sum(), flows[flows["source"] == lead]["value_gbp_m"].sum()
        assert into == pytest.approx(out, abs=1e-6), year


def test_partners_named_like_other_nodes_are_told_apart_in_the_money_flow():
    scenario = Scenario.from_template("bcf_s75")
    partners = scenario.get("partners")
    partners[0]["name"], partners[1]["name"] = "Commissioners", "Pooled fund (host: council)"
    partners.append({"name": "Commissioners", "role": "full_risk", "weight": 1.0, "contribution_gbp_m": 5.0})
    flows = views.money_flows(results.project(scenario.with_values({"partners": partners, "sims": 50})), 1)
    hub = "Pooled fund (host: council)"
    assert set(flows["source"]) & set(flows["target"]) == {hub}  # no loop, no merged node
    assert not (flows["source"] == flows["target"]).any()
    paying = flows[flows["target"] == hub]["source"].tolist()
    assert len([name for name in paying if name.startswith("Puts in:")]) == 3  # three partners, three payers
