"""The scenario: template presets, immutability, JSON round trip, refusals."""

from __future__ import annotations

import json
import re

import pytest
from pydantic import ValidationError

from lib import catalogue
from lib.scenario import Scenario, ScenarioError

TEMPLATES = ["salford", "northumberland", "dudley", "south_somerset", "sandwell_wb", "wakefield", "mid_notts", "uniting_care"]
TODAY = ["bcf_s75", "multi_neighbourhood", "integrated_health_org", "lead_provider_collaborative"]


def test_all_eight_vanguards_and_blank_exist():
    assert catalogue.current().template_ids == [*TEMPLATES, *TODAY, "blank"]


@pytest.mark.parametrize("tid", [*TEMPLATES, "blank"])
def test_json_round_trip_is_lossless(tid):
    scenario = Scenario.from_template(tid)
    again = Scenario.from_json(scenario.to_json())
    assert again == scenario
    assert again.to_json() == scenario.to_json()


def test_presets_follow_the_seeds():
    dudley = Scenario.from_template("dudley")
    assert (dudley.contract.years, dudley.risk.withhold) == (15, 0.10)
    assert dudley.approach() == "fully integrated"

    salford = Scenario.from_template("salford")
    assert salford.contract.years == 5
    assert (salford.risk.glide_years, salford.risk.glide_loss_share, salford.risk.carry_forward) == (1, 0.0, True)
    assert salford.pooled_budget_gbp_m() == pytest.approx(236.0, abs=0.01)
    assert "core_primary" not in salford.pooled_lines and salford.approach() == "partially integrated"

    northumberland = Scenario.from_template("northumberland")
    assert northumberland.contract.years == 10
    assert northumberland.pooled_budget_gbp_m() == pytest.approx(400.0, abs=0.01)
    assert northumberland.risk.beyond_cap == "reinvest"
    assert northumberland.risk.gain_share == northumberland.risk.loss_share == 0.5
    assert northumberland.risk.cap == northumberland.risk.collar  # the seeds are silent: symmetric, marked so

    sandwell = Scenario.from_template("sandwell_wb")
    assert sandwell.risk.cap is not None and sandwell.risk.collar is not None

    mid_notts = Scenario.from_template("mid_notts")
    assert mid_notts.pooled_lines == {} and mid_notts.approach() == "virtual"
    assert mid_notts.risk.incentive_pot == pytest.approx(0.018)
    assert len(mid_notts.scope) >= 3

    uc = Scenario.from_template("uniting_care")
    assert uc.contract.years == 5 and uc.contract.bid_discount == pytest.approx(0.035)
    assert uc.contract.route == "competitive_tender"
    assert uc.lead.form == "corporate_jv" and uc.lead.guarantee_gbp_m == 0.0
    assert uc.uncertainty.cost_error_low > 0  # the baseline was understated in every draw
    assert uc.pooled_budget_gbp_m() * 5 == pytest.approx(752.0, abs=0.1)


def test_south_somerset_pot_is_the_pot():
    risk = Scenario.from_template("south_somerset").risk
    assert (risk.gain_share, risk.loss_share) == (1.0, 1.0)


def test_with_value_returns_a_new_scenario():
    base = Scenario.from_template("dudley")
    changed = base.with_value("risk.gain_share", 0.25)
    assert changed.risk.gain_share == 0.25
    assert base.risk.gain_share == 0.5
    assert changed.get("risk.gain_share") == 0.25
    with pytest.raises(ValidationError):
        base.risk.gain_share = 0.1  # frozen


def test_required_field_paths_exist():
    s = Scenario.from_template("dudley")
    paths = {
        "population": 300_000,
        "contract.years": 10,
        "contract.funding_growth": 0.01,
        "contract.bid_discount": 0.02,
        "pooling.adult_social_care": 0.5,
        "risk.gain_share": 0.4,
        "risk.loss_share": 0.3,
        "risk.neutral_band": 0.01,
        "risk.cap": 0.05,
        "risk.collar": None,
        "risk.withhold": 0.05,
        "risk.quality_gate": 101.0,
        "risk.carry_forward": True,
        "risk.beyond_cap": "reinvest",
        "lead.reserves_gbp_m": 25.0,
        "lead.guarantee_gbp_m": 5.0,
        "partners": [{"name": "Trust", "role": "full_risk", "weight": 1.0, "capacity_gbp_m": None, "contribution_gbp_m": 40.0}],
        "levers.prevention.effect": 0.1,
        "levers.prevention.years_to_full": 5,
        "levers.prevention.investment_gbp_m": 2.0,
        "sims": 500,
        "seed": 7,
    }
    for path, value in paths.items():
        changed = s.with_value(path, value)
        got = changed.get(path)
        assert got == value, path


@pytest.mark.parametrize(
    ("path", "value", "allowed"),
    [
        ("risk.gain_share", 1.5, "0 to 1"),
        ("risk.loss_share", -0.1, "0 to 1"),
        ("risk.cap", -0.01, "null or a number from 0 to 1"),
        ("risk.beyond_cap", "keep", "commissioner, reinvest"),
        ("contract.years", 16, "1 to 15"),
        ("population", 0, "1,000 to 20,000,000"),
        ("baseline.acute_elective", -5, "0 to 100,000"),
        ("pooling.specialised", 0.5, "cannot be pooled"),
        ("pooling.hospital_at_home", 0.5, "a known id"),
        ("levers.prevention.effect", 2, "0 to 1"),
        ("partners", [], "1 to 12"),
        ("partners.0.role", "boss", "full_risk"),
        ("risk.not_a_field", 1, "a known field path"),
        ("uncertainty.cost_error_low", 0.9, "at most cost_error_high"),
        ("sims", 0, "1 to 20,000"),
    ],
)
def test_bad_values_are_refused_with_field_value_and_range(path, value, allowed):
    scenario = Scenario.from_template("dudley")
    with pytest.raises(ScenarioError) as caught:
        scenario.with_value(path, value)
    message = str(caught.value)
    assert message.startswith(path)
    assert json.dumps(value) in message
    assert allowed in message


def test_partners_need_a_full_risk_member():
    with pytest.raises(ScenarioError, match="full_risk"):
        Scenario.from_template("dudley").with_value("partners", [{"name": "Adviser", "role": "consultative", "weight": 1}])


def test_bad_json_is_refused():
    with pytest.raises(ScenarioError, match="valid JSON"):
        Scenario.from_json("{not json")
    with pytest.raises(ScenarioError, match="template"):
        Scenario.from_json(json.dumps({**Scenario.from_template("blank").to_dict(), "template": "atlantis"}))


def test_approach_names():
    s = Scenario.from_template("blank")
    assert s.approach() == "partially integrated"
    assert s.with_value("pooling.core_primary", 1.0).approach() == "fully integrated"
    assert Scenario.from_template("bcf_s75").approach() == "section 75 pooled fund"  # no provider contract to name
    nothing = s.with_values({f"pooling.{line}": 0.0 for line in s.pooling})
    assert nothing.approach() == "virtual"


@pytest.mark.parametrize(
    ("path", "value", "says"),
    [
        ("risk.cap", False, "risk.cap = false is not allowed: a number from 0 to 1, not true/false"),
        ("contract.years", True, "contract.years = true is not allowed: a number from 1 to 15, not true/false"),
        ("risk.gain_share", "0.5", 'risk.gain_share = "0.5" is not allowed: a number from 0 to 1, not text'),
        ("levers.prevention.group", 1, "levers.prevention.group = 1 is not allowed: one of everyone, older_people"),
        ("outcome_growth.ae_attendances", None, "is not allowed: a number from -0.1 to 0.2, not nothing (null)"),
        ("contract.route", [], "one of most_capable_provider, competitive_dialogue"),
        ("sims", True, "sims = true"),
        ("contract.funding_follows_population", 1, "true or false"),
        ("name", 5, "name = 5 is not allowed: text"),
        ("baseline.acute_emergency", "61", "baseline.acute_emergency"),
        ("partners.0.name", "a\ud800b", "lone surrogate"),
    ],
)
def test_a_value_of_the_wrong_kind_is_refused_never_converted(path, value, says):
    with pytest.raises(ScenarioError, match=re.escape(says)):
        Scenario.from_template("salford").with_value(path, value)


def test_null_still_means_none_and_whole_numbers_stay_numbers():
    scenario = Scenario.from_template("salford").with_values({"risk.cap": None, "contract.years": 7.0, "risk.gain_share": 1})
    assert scenario.risk.cap is None and scenario.contract.years == 7 and scenario.risk.gain_share == 1.0
