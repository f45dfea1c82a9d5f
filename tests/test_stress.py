"""Stress tests and the UnitingCare replay: each shock does what data/stresses.yaml says."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lib import results, stress
from lib.catalogue import current
from lib.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent


def headline(scenario: Scenario, sims: int = 600) -> dict:
    return results.project(scenario.with_value("sims", sims)).headline()


def test_every_stress_names_its_source_and_what_it_does():
    known = stress.all_stresses()
    assert {"costs_understated", "demand_surge", "bid_discount", "slow_levers", "funding_freeze", "partner_exit"} <= set(
        stress.shocks()
    )
    assert stress.replay().id == "uniting_care_replay" and stress.replay().id not in stress.shocks()
    for s in known.values():
        assert s.name and s.what and s.source and s.changes


def test_costs_understated_takes_unitingcare_s_interval_from_its_template():
    uc = Scenario.from_template("uniting_care").uncertainty
    stressed = stress.apply(Scenario.from_template("salford"), ["costs_understated"])
    assert (
        (stressed.uncertainty.cost_error_low, stressed.uncertainty.cost_error_high)
        == (
            uc.cost_error_low,
            uc.cost_error_high,
        )
        == (0.05, 0.2)
    )


def test_demand_surge_adds_two_points_to_every_line_within_its_range():
    base = Scenario.from_template("dudley").with_value("demand_growth.specialised", 0.19)
    stressed = stress.apply(base, ["demand_surge"])
    for line, growth in base.demand_growth.items():
        assert stressed.demand_growth[line] == pytest.approx(min(growth + 0.02, 0.2))
    assert stressed.demand_growth["specialised"] == 0.2  # clipped to the field's top


def test_slow_levers_double_the_ramp_and_halve_the_realisation():
    base = Scenario.from_template("south_somerset")
    stressed = stress.apply(base, ["slow_levers"])
    for lever_id, lever in base.levers.items():
        after = stressed.levers[lever_id]
        assert after.years_to_full == min(2 * lever.years_to_full, 15)
        assert after.realisation_high == pytest.approx(lever.realisation_high / 2)
        assert after.realisation_low == pytest.approx(lever.realisation_low / 2)


def test_funding_freeze_and_bid_discount():
    stressed = stress.apply(Scenario.from_template("salford"), ["funding_freeze", "bid_discount"])
    assert stressed.contract.funding_growth == 0 and not stressed.contract.funding_follows_population
    assert stressed.contract.bid_discount == 0.035


def test_a_partner_pulling_out_takes_its_share_of_reserves():
    base = Scenario.from_template("northumberland")
    at_risk = [p for p in base.partners if p.role == "full_risk"]
    biggest = max(at_risk, key=lambda p: p.weight)
    stressed = stress.apply(base, ["partner_exit"])
    assert biggest.name not in [p.name for p in stressed.partners]
    stays = 1 - biggest.weight / sum(p.weight for p in at_risk)
    assert stressed.lead.reserves_gbp_m == pytest.approx(base.lead.reserves_gbp_m * stays)
    assert headline(stressed)["failure"] > headline(base)["failure"]
    single = Scenario.from_template("dudley")
    assert len([p for p in single.partners if p.role == "full_risk"]) == 1
    assert stress.apply(single, ["partner_exit"]) == single  # nobody to leave: no effect


def test_stresses_combine_in_turn():
    base = Scenario.from_template("wakefield")
    both = stress.apply(base, ["demand_surge", "funding_freeze"])
    assert both == stress.apply(stress.apply(base, ["demand_surge"]), ["funding_freeze"])


@pytest.mark.parametrize("shock", sorted(stress.shocks()))
def test_no_shock_makes_a_deal_look_better(shock):
    base = Scenario.from_template("salford")
    before, after = headline(base), headline(stress.apply(base, [shock]))
    assert after["failure"] >= before["failure"]
    assert after["provider"]["p50"] <= before["provider"]["p50"] + 1e-9


@pytest.mark.parametrize("template_id", current().template_ids)
def test_the_unitingcare_replay_fails_in_most_simulations_for_every_template(template_id):
    replayed = stress.apply(Scenario.from_template(template_id), [stress.replay().id])
    assert replayed.contract.years == 5 and replayed.lead.guarantee_gbp_m == 0
    assert replayed.risk.collar is None and replayed.risk.loss_share == 1
    assert headline(replayed)["failure"] > 0.5


def test_unknown_stress_is_refused_with_the_allowed_list():
    with pytest.raises(stress.StressError, match="allowed: costs_understated"):
        stress.apply(Scenario.from_template("salford"), ["nope"])


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lib", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_cli_projects_under_stress_and_says_which():
    plain = json.loads(cli("project", "--template", "dudley", "--sims", "400").stdout)
    done = cli("project", "--template", "dudley", "--sims", "400", "--stress", "demand_surge,funding_freeze")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [s["id"] for s in report["stresses"]] == ["demand_surge", "funding_freeze"]
    assert report["probabilities"]["failure"] > plain["probabilities"]["failure"]
    refused = cli("project", "--template", "dudley", "--stress", "meteor")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "meteor" in refused.stderr


def test_before_and_after_says_no_collar_rather_than_a_zero_chance_of_breaching_one():
    from lib import readings

    design = Scenario.from_template("salford").with_value("sims", 200)
    assert design.risk.collar is None
    table = readings.before_after(results.project(design), results.project(stress.apply(design, ["costs_understated"])))
    row = table[table["headline"] == "Chance the collar is breached"].iloc[0]
    assert row["this design"] == "no collar" and row["change"] == ""
    collared = design.with_value("risk.collar", 0.01)
    table = readings.before_after(results.project(collared), results.project(stress.apply(collared, ["costs_understated"])))
    assert table[table["headline"] == "Chance the collar is breached"].iloc[0]["this design"].endswith("%")


def test_a_partner_pulling_out_of_a_pool_is_the_largest_contributor_and_never_leaves_no_one_to_carry_losses():
    from lib import stress
    from lib.scenario import Scenario

    bcf = Scenario.from_template("bcf_s75")  # the council puts in £22.2m, the ICB £37.2m
    left = stress.apply(bcf, ["partner_exit"])
    assert [p.name for p in left.partners] == ["The council (host)"]
    alone = bcf.with_value("partners", [p.model_dump() | ({"contribution_gbp_m": 0.0} if i == 0 else {})
                                        for i, p in enumerate(bcf.partners)])  # fmt: skip
    assert stress.apply(alone, ["partner_exit"]) == alone  # the only contributor cannot leave: nothing changes
