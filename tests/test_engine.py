"""The projection engine, stage by stage and whole, and its DuckDB summaries."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import catalogue, engine, levers, readings, results
from lib.scenario import Scenario


def single_line_scenario(**changes) -> Scenario:
    """One pooled line (£100m), no levers, no uncertainty: every figure can be checked by hand."""
    s = Scenario.from_template("blank")
    values = {f"pooling.{line}": 0.0 for line in s.pooling}
    values.update({f"baseline.{line}": 0.0 for line in s.baseline})
    values.update(
        {
            "pooling.community_health": 1.0,
            "baseline.community_health": 100.0,
            "demand_growth.community_health": 0.04,
            "contract.years": 3,
            "contract.funding_growth": 0.02,
            "contract.transaction_cost": 0.01,
            "risk.gain_share": 0.5,
            "risk.loss_share": 0.5,
            "lead.reserves_gbp_m": 100.0,
            "uncertainty.demand_growth_low": 0.0,
            "uncertainty.demand_growth_high": 0.0,
            "uncertainty.cost_error_low": 0.0,
            "uncertainty.cost_error_high": 0.0,
            "sims": 1,
        }
    )
    for lever in s.levers:
        values[f"levers.{lever}.effect"] = 0.0
        values[f"levers.{lever}.investment_gbp_m"] = 0.0
    values.update(changes)
    return s.with_values(values)


def test_hand_computed_central_case():
    # Year 1: budget 100 x 1.02 = 102; cost 100 x 1.04 = 104 plus transaction 1% of 102 = 1.02,
    # so 105.02; variance -3.02; provider half of it, -1.51.
    # Year 2: budget 104.04; cost 108.16; variance -4.12; provider -2.06.
    # Year 3: budget 106.1208; cost 112.4864; variance -6.3656; provider -3.1828.
    run = results.project(single_line_scenario())
    central = run.central().set_index("year")
    assert central["budget"].tolist() == pytest.approx([102.0, 104.04, 106.1208])
    assert central["cost"].tolist() == pytest.approx([105.02, 108.16, 112.4864])
    assert central["variance"].tolist() == pytest.approx([-3.02, -4.12, -6.3656])
    assert central["provider"].tolist() == pytest.approx([-1.51, -2.06, -3.1828])
    assert central["provider_cumulative"].tolist() == pytest.approx([-1.51, -3.57, -6.7528])
    assert central["outcome_index"].tolist() == pytest.approx([100.0, 100.0, 100.0])


def test_hand_computed_withhold_not_earned_without_improvement():
    # 10% withheld of 102 and no lever, so no outcome gain: nothing earned back; budget 91.8.
    run = results.project(single_line_scenario(**{"risk.withhold": 0.1}))
    central = run.central().set_index("year")
    assert central.loc[1, "budget"] == pytest.approx(91.8)
    assert central.loc[1, "withhold_earned"] == pytest.approx(0.0)


def test_hand_computed_failure_on_thin_reserves():
    # Full risk with £2m of reserves: -3.02 in year 1 passes it; years 2 and 3 are marked.
    run = results.project(single_line_scenario(**{"risk.loss_share": 1.0, "lead.reserves_gbp_m": 2.0}))
    central = run.central().set_index("year")
    assert central["active"].tolist() == [1.0, 0.0, 0.0]
    assert central["provider"].tolist() == pytest.approx([-3.02, 0.0, 0.0])
    assert central["commissioner"].tolist() == pytest.approx([0.0, -4.12, -6.3656])
    assert run.probabilities()["failure"] == 1.0


def prevention_scenario(**changes) -> Scenario:
    """£100m of pooled emergency care growing 4% a year, with community care pooled (at £0) to
    take what prevention moves there; prevention at 10% from year 1, fully realised."""
    return single_line_scenario(
        **{
            "pooling.community_health": 1.0,
            "baseline.community_health": 0.0,
            "pooling.acute_emergency": 1.0,
            "baseline.acute_emergency": 100.0,
            "demand_growth.acute_emergency": 0.04,
            "levers.prevention.effect": 0.1,
            "levers.prevention.years_to_full": 1,
            "levers.prevention.realisation_low": 1.0,
            "levers.prevention.realisation_high": 1.0,
            **changes,
        }
    )


def test_prevention_moves_cost_and_provider_position_by_the_hand_computed_amount():
    # Year 1: emergency cost with no change 104; prevention avoids 10% of it (10.4) and buys back
    # 35% of that in the community (3.64): net -6.76. Cost 104 - 6.76 + procurement 1.02 = 98.26;
    # budget 102; variance 3.74; the provider's half 1.87 (against -1.51 without the lever).
    # Year 2: no change 108.16, net -0.65 x 10.816 = -7.0304: cost 101.1296, variance 2.9104.
    with_lever = results.project(prevention_scenario()).central().set_index("year")
    without = results.project(prevention_scenario(**{"levers.prevention.effect": 0.0})).central().set_index("year")
    assert without["cost"].tolist()[:2] == pytest.approx([105.02, 108.16])
    assert with_lever["cost"].tolist()[:2] == pytest.approx([98.26, 101.1296])
    assert (with_lever["cost"] - without["cost"]).tolist()[:2] == pytest.approx([-6.76, -7.0304])
    assert with_lever["provider"].tolist()[:2] == pytest.approx([1.87, 1.4552])
    assert (with_lever["provider"] - without["provider"]).tolist()[:2] == pytest.approx([3.38, 3.5152])
    assert with_lever["counterfactual_cost"].tolist() == pytest.approx(without["counterfactual_cost"].tolist())


def test_half_realised_lever_saves_half():
    full = results.project(prevention_scenario()).central().set_index("year")
    half = prevention_scenario(**{"levers.prevention.realisation_low": 0.5, "levers.prevention.realisation_high": 0.5})
    assert results.project(half).central().set_index("year").loc[1, "cost"] == pytest.approx(98.26 + 6.76 / 2)
    assert full.loc[1, "cost"] == pytest.approx(98.26)


def test_gain_share_scales_the_provider_surplus_exactly():
    # Funding grows 6% against 4% demand: year 1 budget 106, cost 104 + 1.06 procurement = 105.06,
    # surplus 0.94; the provider keeps gain_share of it: 0.47 at 50%, 0.94 at 100%, 0 at 0%.
    base = {"contract.funding_growth": 0.06}
    for share, expected in ((0.0, 0.0), (0.5, 0.47), (1.0, 0.94)):
        central = results.project(single_line_scenario(**base, **{"risk.gain_share": share})).central()
        assert central.loc[0, "variance"] == pytest.approx(0.94)
        assert central.loc[0, "provider"] == pytest.approx(expected)


def test_ramp_starts_slowly_and_reaches_full_effect():
    # smoothstep: x = year / years_to_full; 3x^2 - 2x^3
    assert levers.ramp(np.arange(1, 6), 4).tolist() == pytest.approx([0.15625, 0.5, 0.84375, 1.0, 1.0])


# ---- stages ----------------------------------------------------------------------------------


def test_sample_inputs_central_draw_and_valid_range():
    s = Scenario.from_template("dudley").with_values(
        {"sims": 2000, "uncertainty.cost_error_low": 0.5, "uncertainty.cost_error_high": 1.0}
    )
    draws = engine.sample_inputs(s, catalogue.current())
    assert draws.cost_error[0] == pytest.approx(0.75)  # draw 0 is the mid-point
    assert draws.cost_error.max() == pytest.approx(1.0)  # clipped at the field's upper bound
    assert set(draws.realisation) == set(s.levers)
    inside = np.mean((draws.demand_shift > -0.01) & (draws.demand_shift < 0.01))
    assert 0.75 < inside < 0.85  # an 80% interval


def test_project_costs_stage_alone():
    s = single_line_scenario()
    cat = catalogue.current()
    place = engine.place_vectors(s, cat)
    costs = engine.project_costs(s, cat, place, engine.sample_inputs(s, cat), np.arange(1, 4))
    assert costs.no_change["pool"][0].tolist() == pytest.approx([104.0, 108.16, 112.4864])
    assert costs.transaction.tolist() == pytest.approx([1.02, 0.0, 0.0])
    assert costs.pooled[0].tolist() == pytest.approx([105.02, 108.16, 112.4864])


def test_build_budgets_stage_alone():
    s = single_line_scenario(**{"risk.withhold": 0.1})
    place = engine.place_vectors(s, catalogue.current())
    index = np.full((1, 3), 100.0)  # no better than doing nothing: nothing earned back
    budgets = engine.build_budgets(s, place, index, np.arange(1, 4))
    assert budgets.pooled[0].tolist() == pytest.approx([91.8, 93.636, 95.50872])
    earned = engine.build_budgets(s, place, np.full((1, 3), 150.0), np.arange(1, 4))
    assert earned.pooled[0].tolist() == pytest.approx([102.0, 104.04, 106.1208])


def test_same_seed_same_answer_bit_for_bit():
    s = Scenario.from_template("dudley").with_value("sims", 500)
    a, b = engine.simulate(s), engine.simulate(s)
    for key in a.money:
        assert np.array_equal(a.money[key], b.money[key], equal_nan=True), key
    for key in a.outcomes:
        assert np.array_equal(a.outcomes[key], b.outcomes[key], equal_nan=True), key
    c = engine.simulate(s.with_value("seed", s.seed + 1))
    assert not np.array_equal(a.money["cost"], c.money["cost"])


def test_sim_zero_is_the_central_case():
    s = Scenario.from_template("dudley")
    many = engine.simulate(s.with_value("sims", 300))
    one = engine.simulate(engine.central_case(s))
    assert np.allclose(many.money["provider"][0], one.money["provider"][0], rtol=0, atol=1e-9)


@pytest.mark.parametrize("tid", ["salford", "dudley", "mid_notts", "uniting_care", "sandwell_wb"])
def test_sides_add_up_in_every_simulation(tid):
    sim = engine.simulate(Scenario.from_template(tid).with_value("sims", 400))
    m = sim.money
    assert np.allclose(m["provider"] + m["commissioner"] + m["reinvested"], m["variance"], atol=1e-9)
    assert np.allclose(m["budget"] - m["cost"], m["variance"], atol=1e-9)
    assert np.allclose(sim.partners.sum(axis=0), m["provider"], atol=1e-9)


def test_loss_share_zero_never_shows_a_provider_loss():
    run = results.project(Scenario.from_template("dudley").with_values({"risk.loss_share": 0.0, "sims": 400}))
    provider = run.measure("provider")
    assert (provider["p10"] >= 0).all()
    assert run.probabilities()["failure"] == 0.0


def test_collar_bounds_the_provider_loss():
    s = Scenario.from_template("sandwell_wb").with_value("sims", 400)
    sim = engine.simulate(s)
    assert np.all(sim.money["provider"] >= -s.risk.collar * sim.money["pooled_budget"] - 1e-9)
    assert np.all(sim.money["provider"] <= s.risk.cap * sim.money["pooled_budget"] + 1e-9)


def test_virtual_model_leaves_the_variance_with_commissioners():
    s = Scenario.from_template("mid_notts").with_value("sims", 300)
    sim = engine.simulate(s)
    assert np.all(sim.money["pooled_budget"] == 0)
    # Providers gain or lose only through the incentive pot (at stake: what they do not earn, they lose);
    # everything else is the commissioner's.
    pot = s.risk.incentive_pot * sim.money["aligned_budget"]
    assert s.risk.incentive_at_stake
    assert np.allclose(sim.money["provider"], sim.money["incentive_earned"] - pot)
    assert np.all((sim.money["provider"] <= 1e-9) & (sim.money["provider"] >= -pot - 1e-9))
    assert np.all(sim.failed_in == 0)
    assert sim.money["budget"][0, 0] > 0  # the alliance's services are still shown


def test_unitingcare_understated_baseline_fails():
    run = results.project(Scenario.from_template("uniting_care").with_value("sims", 400))
    assert run.probabilities()["failure"] > 0.9
    assert run.probabilities()["deficit_any_year"] > 0.9


def test_pooling_a_line_moves_its_money_into_the_deal():
    s = Scenario.from_template("salford").with_value("sims", 1)
    out = s.with_value("pooling.adult_social_care", 0.0)
    assert out.pooled_budget_gbp_m() < s.pooled_budget_gbp_m()
    a, b = engine.simulate(s), engine.simulate(out)
    assert b.money["pooled_budget"][0, 0] < a.money["pooled_budget"][0, 0]


def test_the_summaries_a_page_shows_are_what_duckdb_s_queries_return():
    """The tiles and fans come from the engine's arrays; the query behind each chart (and the SQL
    console) must return the same figures from the same rows."""
    s = Scenario.from_template("dudley").with_value("sims", 800)
    run = results.project(s)
    for measure in ("provider", "cost", "emergency_admissions"):
        summary = run.measure(measure)
        by_duckdb = run.query(
            f'SELECT year, quantile_cont("{measure}", [0.1, 0.5, 0.9]) AS q, avg("{measure}") AS mean '
            "FROM sim_year GROUP BY year ORDER BY year"
        )
        expected = np.array(by_duckdb["q"].tolist(), dtype=float)
        assert np.allclose(summary[["p10", "p50", "p90"]].to_numpy(dtype=float), expected, rtol=0, atol=1e-9)
        assert np.allclose(summary["mean"], by_duckdb["mean"], rtol=0, atol=1e-9)
        shown = run.query(run.sql_of("yearly", fans=[measure]))  # the query a chart's table offers, rounded as shown
        assert np.allclose(shown[f"{measure} P50"], summary["p50"].round(2), atol=0.0051)
    h, row = run.headline(), run.query(run.sql_of("headline")).iloc[0]
    for side in ("provider", "commissioner"):
        assert np.allclose([h[side][q] for q in ("p10", "p50", "p90")], row[f"{side}_q"], rtol=0, atol=1e-9)
        assert h[side]["mean"] == pytest.approx(row[f"{side}_mean"], abs=1e-9)
    for chance in results.PROBABILITIES:
        assert h[chance] == pytest.approx(row[chance], abs=1e-12)
    assert h["failure"] == pytest.approx(np.mean(run.simulation.failed_in > 0))
    totals = run.query(run.sql_of("central_totals"))
    assert list(run.central_totals()) == totals["part"].tolist()
    assert np.allclose(list(run.central_totals().values()), totals["total"], rtol=0, atol=1e-9)
    assert h["deficit_any_year"] == pytest.approx(np.mean((run.simulation.money["variance"] < 0).any(axis=1)))


def test_means_add_up_in_the_report():
    report = results.project(Scenario.from_template("salford").with_value("sims", 500)).to_report()
    for year in report["years"]:
        total = year["provider"]["mean"] + year["commissioner"]["mean"] + year["reinvested"]["mean"]
        assert total == pytest.approx(year["variance"]["mean"], abs=1e-5)


def test_partner_summary_flags_partners_over_capacity():
    run = results.project(Scenario.from_template("uniting_care").with_value("sims", 300))
    partners = run.partner_summary()
    full = partners[partners["role"] == "full_risk"]
    assert (full["p_over_capacity"] > 0.5).all()
    assert (partners.loc[partners["role"] == "subcontractor", "p_over_capacity"] == 0).all()


def test_funding_that_follows_population_grows_with_it():
    # Funding 2% a year per head, population 1% a year: 100 x 1.02 x 1.01 = 103.02, then x 1.0302 again.
    s = single_line_scenario(**{"contract.funding_follows_population": True, "contract.population_growth": 0.01})
    central = results.project(s).central().set_index("year")
    assert central["budget"].tolist()[:2] == pytest.approx([103.02, 106.131204])


def test_reopener_in_the_engine_reprices_after_year_1():
    # Year 1: budget 102, cost 105.02: -3.02 is past 2% of 102, so later budgets x 105.02 / 102.
    # Year 2: 104.04 x 1.0296 = 107.1204 against 108.16 (inside 2%); year 3: 109.262808.
    central = results.project(single_line_scenario(**{"risk.reopener": 0.02})).central().set_index("year")
    assert central["budget"].tolist() == pytest.approx([102.0, 107.1204, 109.262808])
    assert central["variance"].tolist() == pytest.approx([-3.02, 107.1204 - 108.16, 109.262808 - 112.4864])


@settings(max_examples=25, deadline=None)
@given(
    template=st.sampled_from(["salford", "dudley", "wakefield", "uniting_care"]),
    follows=st.booleans(),
    reopener=st.one_of(st.none(), st.floats(min_value=0.0, max_value=0.2)),
    glide=st.integers(min_value=0, max_value=4),
    glide_gain=st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0)),
    glide_loss=st.floats(min_value=0.0, max_value=1.0),
    carry=st.booleans(),
)
def test_money_is_conserved_in_every_simulation_under_the_new_terms(
    template, follows, reopener, glide, glide_gain, glide_loss, carry
):
    s = Scenario.from_template(template).with_values(
        {
            "sims": 200,
            "contract.funding_follows_population": follows,
            "risk.reopener": reopener,
            "risk.glide_years": glide,
            "risk.glide_gain_share": glide_gain,
            "risk.glide_loss_share": glide_loss,
            "risk.carry_forward": carry,
        }
    )
    m = engine.simulate(s).money
    assert np.allclose(m["provider"] + m["commissioner"] + m["reinvested"], m["variance"], atol=1e-9)
    assert np.allclose(m["budget"] - m["cost"], m["variance"], atol=1e-9)


def test_commissioners_short_in_is_the_first_year_past_their_contingency():
    commissioner = np.array([[1.0, -2.0, -5.0], [0.0, -0.5, 0.0], [-4.0, 0.0, 0.0]])
    contingency = np.array([[1.0, 1.0, 3.0], [1.0, 1.0, 1.0], [4.0, 1.0, 1.0]])
    assert engine.short_in(commissioner, contingency).tolist() == [2, 0, 0]  # a loss equal to it is met


def test_both_sides_risk_in_the_headline_and_by_year():
    scenario = Scenario.from_template("dudley").with_value("sims", 400)
    run = results.project(scenario)
    h = run.headline()
    short = run.simulation.per_sim["commissioner_short_in"]
    assert h["commissioner_shortfall"] == pytest.approx(np.mean(short > 0))
    by_year = run.failure_by_year()
    assert by_year["commissioners_short_by"].iloc[-1] == pytest.approx(h["commissioner_shortfall"])
    assert by_year["commissioners_short_by"].is_monotonic_increasing
    none_held = results.project(scenario.with_value("risk.commissioner_contingency", 0.0)).headline()
    most_held = results.project(scenario.with_value("risk.commissioner_contingency", 0.2)).headline()
    assert none_held["commissioner_shortfall"] >= h["commissioner_shortfall"] >= most_held["commissioner_shortfall"]
    assert none_held["commissioner_shortfall"] > most_held["commissioner_shortfall"]


def test_a_deal_where_the_provider_never_loses_reads_as_one_sided():

    upside_only = Scenario.from_template("salford").with_values({"risk.loss_share": 0.0, "risk.glide_years": 0, "sims": 400})
    run = results.project(upside_only)
    assert run.headline()["provider"]["p10"] >= 0
    reading = readings.one_sided_reading(run)
    assert reading is not None and reading.startswith("A one-sided deal: in the worst tenth of simulations commissioners")
    shared = results.project(Scenario.from_template("salford").with_values({"risk.loss_share": 0.5, "sims": 400}))
    h = shared.headline()
    heavy, light = sorted([-min(h["provider"]["p10"], 0), -min(h["commissioner"]["p10"], 0)], reverse=True)
    assert (readings.one_sided_reading(shared) is None) == (heavy < readings.ONE_SIDED * light)


def test_commissioners_keep_what_they_do_not_pay_of_their_funding():
    """A withhold not earned and a bid below the funding stay with commissioners: counted in their
    position, so every pound of the funding is somebody's (provider + commissioners + reinvested =
    funding - cost, in every simulation and year)."""
    s = Scenario.from_template("dudley").with_values({"sims": 300, "contract.bid_discount": 0.03})
    sim = engine.simulate(s)
    m = sim.money
    funding_less_cost = m["variance"] + m["commissioner_kept"]
    yearly_position = np.diff(m["commissioner_cumulative"], axis=1, prepend=0.0)
    assert np.allclose(m["provider"] + yearly_position + m["reinvested"], funding_less_cost, atol=1e-9)
    assert np.all(m["commissioner_kept"] > 0)  # a 3% bid discount at the least
    paid_in_full = engine.simulate(s.with_values({"contract.bid_discount": 0.0, "risk.withhold": 0.0}))
    assert np.allclose(paid_in_full.money["commissioner_kept"], 0.0)


def test_a_move_of_the_terms_resettles_the_same_costs_and_matches_a_fresh_run():
    """The stages before the terms are kept per design: a move of a share reuses them (the same
    arrays), and its result is the one a run from nothing gives; any other change projects again."""
    cat = catalogue.current()
    first = Scenario.from_template("dudley")
    engine.simulate(first, cat)
    moved = first.with_values({"risk.gain_share": 0.2, "risk.loss_share": 0.9, "risk.withhold": 0.05})
    kept = engine.simulate(moved, cat)
    assert kept.central_parts["investment"] is engine.simulate(first, cat).central_parts["investment"]
    engine._before_terms.clear()
    fresh = engine.simulate(moved, cat)
    for name, values in fresh.money.items():
        np.testing.assert_array_equal(kept.money[name], values, err_msg=name)
    np.testing.assert_array_equal(kept.partners, fresh.partners)
    grown = engine.simulate(moved.with_value("contract.funding_growth", 0.01), cat)
    assert grown.central_parts["investment"] is not fresh.central_parts["investment"]
    assert not np.array_equal(grown.money["provider_cumulative"], fresh.money["provider_cumulative"])


def test_kept_stages_cannot_be_written_into():
    engine.simulate(Scenario.from_template("salford"))
    (place, draws, costs, _), _ = next(reversed(engine._before_terms.values()))
    with pytest.raises(ValueError):
        costs.pooled[0, 0] = 1.0
    with pytest.raises(ValueError):
        draws.realisation[next(iter(draws.realisation))][0] = 0.0


def test_a_pooled_fund_s_tiles_name_its_sides_as_a_board_knows_them():
    pool = [t["label"] for t in readings.headline_tiles(results.project(Scenario.from_template("bcf_s75")))]
    sides = ["Pool partners", "Partners fail", "Collar breached", "Outside the pool", "Outside the pool short", "Deficit year"]
    assert pool == sides
    vanguard = [t["label"] for t in readings.headline_tiles(results.project(Scenario.from_template("dudley")))]
    assert vanguard[:2] == ["Provider side", "Provider fails"] and vanguard[3:5] == ["Commissioners", "Commissioners short"]


def test_the_failure_warning_speaks_of_the_pool_s_partners_in_a_pooled_fund():
    pool = readings.failure_sentence(Scenario.from_template("bcf_s75"), 0.86)
    assert pool == "**The pool's partners fail in 86% of simulations.**"
    assert readings.failure_sentence(Scenario.from_template("salford"), 0.25).startswith("**The provider side fails in 25%")


def test_a_pooled_fund_s_readings_speak_of_partners_and_money_outside_the_pool():
    run = results.project(Scenario.from_template("bcf_s75"))
    said = readings.one_sided_reading(run)
    assert "money outside the pool loses" in said and "the pool's partners lose" in said
    assert said.endswith("Check that the budgets outside the pool can carry that.")
    warning = readings.partner_warning(run.scenario, "The council (host)", 1.1, 0.86)
    assert warning.startswith("**The council (host)** loses more than it can bear (£1.1m) in 86% of simulations")
    assert "provider" not in warning
    assert "Northumberland" in readings.partner_warning(Scenario.from_template("salford"), "A", 1, 0.2)
    tiles = {t["id"]: t for t in readings.headline_tiles(run)}
    assert "−\u2060£" in tiles["provider"]["detail"]  # a minus sign never ends a line without its figure
    drivers = " ".join(d["why"] for d in readings.failure_drivers(run))
    assert "procurement" not in drivers


def test_kept_stages_stay_within_their_memory():
    for seed in range(4):
        engine.simulate(Scenario.from_template("salford").with_values({"sims": 20_000, "seed": seed, "contract.years": 15}))
    kept = sum(size for _, size in engine._before_terms.values())
    assert kept <= engine.KEEP_BEFORE_TERMS_MB * 2**20 or len(engine._before_terms) == 1
    assert len(engine._before_terms) < 4  # each of these is ~70 MB: the newest stays, older ones go


def test_a_pooled_fund_s_one_line_summary_names_its_partners():
    from lib import words

    assert "the pool's partners take 100% of gains and 100% of losses" in words.deal_summary(Scenario.from_template("bcf_s75"))
    assert "provider side takes" in words.deal_summary(Scenario.from_template("salford"))
