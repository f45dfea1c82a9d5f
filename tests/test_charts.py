"""Chart specs: plain plotly dicts that plotly accepts, named for screen readers by what they show."""

import json

import plotly.io as pio
import pytest

from lib import catalogue, charts, results, sensitivity, views
from lib.scenario import Scenario


@pytest.fixture(scope="module")
def run():
    return results.project(Scenario.from_template("northumberland").with_value("sims", 300))


def every_chart(run):
    cat = catalogue.current()
    bars = sensitivity.tornado(run.scenario.with_value("sims", 100))
    return {
        "budget": charts.budget_vs_cost(run),
        "split": charts.variance_split(run),
        "cumulative": charts.cumulative_provider(run),
        "partners": charts.partner_split(run),
        "flow": charts.money_flow(views.money_flows(run), "Where the money goes"),
        "outcomes": charts.outcomes_grid(views.outcome_table(run, cat), views.outcome_labels(cat)),
        "waterfall": charts.waterfall(views.waterfall_steps(run, cat), run.years),
        "s_curve": charts.s_curve(run),
        "histogram": charts.end_distribution(run),
        "failure": charts.failure_over_time(run.failure_by_year()),
        "tornado": charts.tornado(bars, run.headline()["provider"]["p50"]),
    }


def test_every_chart_is_a_valid_plotly_figure_and_reads_in_large_type(run):
    for name, figure in every_chart(run).items():
        pio.to_json(figure, validate=True)  # raises on any property plotly does not know
        before = json.dumps(figure, default=str)
        big = charts.for_screen(figure)
        assert big["layout"]["font"]["size"] == 20 and big["layout"]["height"] >= 560, name
        assert json.dumps(figure, default=str) == before  # specs are shared: the original is left as it was


def test_each_summary_names_the_chart_and_what_it_shows(run):
    drawn = every_chart(run)
    said = {name: charts.describe(figure) for name, figure in drawn.items()}
    for name, text in said.items():
        assert text.startswith(drawn[name]["layout"]["title"]["text"]), name
        assert len(text) > len(drawn[name]["layout"]["title"]["text"]) + 10, name  # more than the title
    budget = run.measure("budget")
    assert f"Budget (P50): {budget['p50'].iloc[0]:,.1f} at 1, {budget['p50'].iloc[-1]:,.1f} at {run.years}" in said["budget"]
    assert f"{run.scenario.sims} simulations from" in said["histogram"]
    assert "largest" in said["waterfall"] and "money flowing between" in said["flow"]


def test_the_s_curve_and_histogram_mark_the_failure_line_and_the_collar(run):
    capacity = run.scenario.lead.loss_capacity_gbp_m
    for figure in (charts.s_curve(run), charts.end_distribution(run)):
        notes = " ".join(a["text"] for a in figure["layout"]["annotations"])
        assert f"Failure line {views.gbp_m(-capacity)}" in notes and "Collar over the contract" in notes  # it has a collar
