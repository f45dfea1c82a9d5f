"""The sensitivity tornado: ranges from the data, common random numbers, sorted bars."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import catalogue, results, sensitivity
from lib.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dudley_bars():
    return sensitivity.tornado(Scenario.from_template("dudley").with_value("sims", 400))


def test_at_least_ten_assumptions_each_with_its_reasoning(dudley_bars):
    assert len(dudley_bars) >= 10
    wanted = {"demand_growth", "cost_error", "funding_growth", "gain_share", "loss_share", "withhold", "reserves"}
    assert wanted | {row["id"] for row in catalogue.current().records["levers"]} <= set(dudley_bars["id"])
    assert dudley_bars["reasoning"].str.len().min() > 10


def test_bars_are_sorted_by_their_swing(dudley_bars):
    swings = dudley_bars["swing_gbp_m"].tolist()
    assert swings == sorted(swings, reverse=True)
    row = dudley_bars.iloc[0]
    assert row["swing_gbp_m"] == pytest.approx(abs(row["provider_p50_high_gbp_m"] - row["provider_p50_low_gbp_m"]))


def test_each_end_is_the_design_projected_with_that_change_and_the_same_random_numbers(dudley_bars):
    scenario = Scenario.from_template("dudley").with_value("sims", 400)
    row = dudley_bars.set_index("id").loc["loss_share"]
    by_hand = results.project(scenario.with_value("risk.loss_share", 1.0)).headline()
    assert row["provider_p50_high_gbp_m"] == by_hand["provider"]["p50"]
    assert row["failure_high"] == by_hand["failure"]
    assert (row["low"], row["high"]) == ("0.0%", "100.0%")


def test_a_loss_share_of_zero_means_no_failure_and_more_loss_share_more_failure(dudley_bars):
    row = dudley_bars.set_index("id").loc["loss_share"]
    assert row["failure_low"] == 0 and row["failure_high"] > 0.3


def test_interval_bars_follow_the_design_s_own_interval():
    scenario = Scenario.from_template("salford").with_values(
        {"uncertainty.cost_error_low": 0.03, "uncertainty.cost_error_high": 0.03, "sims": 200}
    )
    bars = sensitivity.tornado(scenario).set_index("id")
    assert bars.loc["cost_error", "swing_gbp_m"] == 0 and bars.loc["cost_error", "failure_swing"] == 0
    assert bars.loc["cost_error", "low"] == bars.loc["cost_error", "high"] == "3.0%"


@settings(max_examples=15, deadline=None)
@given(
    kind=st.sampled_from(["span", "shift", "scale"]),
    path=st.sampled_from(["risk.gain_share", "risk.loss_share", "contract.funding_growth", "lead.reserves_gbp_m"]),
    end=st.floats(0, 1),
)
def test_a_bar_is_zero_when_its_range_is_a_point(kind, path, end):
    scenario = Scenario.from_template("wakefield").with_value("sims", 150)
    entry = {"id": "x", "label": "x", "reasoning": "test", "kind": kind, "path": path, "low": end, "high": end}
    bar = sensitivity.tornado(scenario, (entry,)).iloc[0]
    assert bar["swing_gbp_m"] == 0 and bar["failure_swing"] == 0


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lib", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_cli_tornado_as_json():
    done = cli("tornado", "--template", "south_somerset", "--sims", "300", "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["scenario"]["template"] == "south_somerset" and len(report["bars"]) >= 10
    assert set(sensitivity.COLUMNS) <= set(report["bars"][0])
    refused = cli("tornado", "--template", "atlantis")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1


def test_a_pooled_fund_has_bars_for_its_own_terms_and_a_vanguard_has_none():
    """The risk pool and the uncommitted schemes move a pool's outcome; a partner-funded risk pool is
    the partners' own money, so a bigger one leaves fewer schemes stopped and the partners more to carry."""
    bars = sensitivity.tornado(Scenario.from_template("bcf_s75")).set_index("id")
    assert {"risk_pool", "uncommitted"} <= set(bars.index)
    schemes, pool = bars.loc["uncommitted"], bars.loc["risk_pool"]
    assert schemes.failure_high < schemes.failure_low  # more to stop, fewer failures
    assert pool.failure_high > pool.failure_low  # the partners' own risk pool, spent before schemes stop
    assert pool.low == "£0.0m" and pool.high == "£1.0m"  # the design's £0.5m, none to twice
    assert not {"withhold", "bid_discount"} & set(bars.index)  # a provider contract's terms: a pool has none
    dudley = set(sensitivity.tornado(Scenario.from_template("dudley"))["id"])
    assert not {"risk_pool", "uncommitted"} & dudley and {"withhold", "bid_discount"} <= dudley


def test_a_pool_term_left_empty_has_a_bar_from_none_to_none():
    """An empty risk pool (None) scales as none: the Risk page, the board pack and the CLI drew no
    tornado at all for such a deal."""
    empty = {"sims": 50, "risk.risk_pool_gbp_m": None, "risk.uncommitted_gbp_m": 1.0}
    scenario = Scenario.from_template("bcf_s75").with_values(empty)
    bars = sensitivity.tornado(scenario).set_index("id")
    assert (bars.loc["risk_pool", "low"], bars.loc["risk_pool", "high"]) == ("£0.0m", "£0.0m")
    assert bars.loc["risk_pool", "swing_gbp_m"] == 0 and bars.loc["uncommitted", "high"] == "£2.0m"
