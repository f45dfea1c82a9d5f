"""The Monte Carlo projection (pure numpy): from a scenario to simulated money and outcomes.

`simulate` runs five named stages, each a short function that can be tested alone:
sample the uncertain inputs -> project costs -> project outcomes -> build budgets -> settle,
then assembles them. Contract years run 1..N; year 0 is the baseline year whose spend the
scenario holds. Simulation 0 is always the central case (every uncertain input at its
mid-point); the others sample each 80% interval (low, high) as a normal with mean (low+high)/2
and sd (high-low)/2.563, clipped to the field's valid range (docs/model.md, "Uncertainty").
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

import numpy as np

from lib import catalogue, levers, outcomes, settlement
from lib.catalogue import Catalogue
from lib.scenario import Scenario, field_spec

Z80 = 2.563  # width of an 80% interval of a standard normal (2 x 1.2816)

# YEAR_MAJOR: every (sims, years) array is laid out in memory year by year (each year's simulations
# side by side), as the transpose of a C-ordered (years, sims) array. The running totals and the
# year-by-year steps of settlement then read contiguous memory, and a run is stored as it lies.
PARTS = ("pool", "aligned", "scope", "scope_hospital")  # the weightings of the place's lines costed


@dataclass(frozen=True)
class Place:
    """The scenario's service lines as vectors in catalogue order (£m a year in year 0, shares)."""

    line_ids: list[str]
    baseline: np.ndarray
    growth: np.ndarray
    weights: dict[str, np.ndarray]  # PARTS -> per-line weight

    @property
    def pooled_gbp_m(self) -> float:
        return float(self.baseline @ self.weights["pool"])

    @property
    def aligned_gbp_m(self) -> float:
        return float(self.baseline @ self.weights["aligned"])


@dataclass(frozen=True)
class Draws:
    """The sampled uncertain inputs, (sims,) each."""

    demand_shift: np.ndarray
    outcome_shift: np.ndarray  # drawn with the demand shift: faster demand, faster-growing admissions
    cost_error: np.ndarray
    realisation: dict[str, np.ndarray]  # lever id -> share of its effect realised
    drift: np.ndarray  # (years, sims): measured outcomes' level against their trend, the yearly one-off steps kept

    def as_columns(self) -> dict[str, np.ndarray]:
        return {
            "demand_growth_shift": self.demand_shift,
            "outcome_growth_shift": self.outcome_shift,
            "cost_error": self.cost_error,
            **{f"realisation_{k}": v for k, v in self.realisation.items()},
        }


@dataclass(frozen=True)
class Costs:
    """Cost in £m, (sims, years) unless said otherwise."""

    with_levers: dict[str, np.ndarray]  # PARTS -> cost
    no_change: dict[str, np.ndarray]  # PARTS -> cost without the levers
    lever_net: dict[str, np.ndarray]  # lever -> its net change of the cost in scope (central case, (years,))
    place_lever_net: np.ndarray  # (years,) the levers' net change of the whole place's cost (central case)
    investment: np.ndarray  # (years,)
    transaction: np.ndarray  # (years,)
    pooled: np.ndarray  # cost the pooled budget meets, extras included
    aligned: np.ndarray  # cost of aligned services left under their own contracts


@dataclass(frozen=True)
class Budgets:
    """Funding in £m, (sims, years)."""

    pooled: np.ndarray
    aligned: np.ndarray
    withhold_earned: np.ndarray
    incentive_earned: np.ndarray
    incentive_due: np.ndarray  # the pot the providers' income already counts on (at stake), 0 for a bonus
    funding: np.ndarray  # (years,) pooled funding before bid discount, withhold and re-opener
    withheld: np.ndarray  # (years,) the outcome withhold


@dataclass(frozen=True)
class Simulation:
    """Everything the engine computed, as (sims, years) arrays unless said otherwise."""

    scenario: Scenario
    money: dict[str, np.ndarray]
    outcomes: dict[str, np.ndarray]  # each measure, and its path without the levers (`<measure>_no_change`)
    year_0: dict[str, float]  # each outcome measure in the baseline year
    partners: np.ndarray  # (partners, sims, years)
    partner_capacity_gbp_m: np.ndarray  # (partners,)
    per_sim: dict[str, np.ndarray]  # (sims,) each simulation's sampled inputs, end positions and events
    central_parts: dict[str, np.ndarray]  # (years,) central-case cost components in scope

    @property
    def failed_in(self) -> np.ndarray:
        """(sims,) contract year in which the provider side failed, 0 if it never did."""
        return self.per_sim["failed_in"]


def simulate(scenario: Scenario, cat: Catalogue | None = None) -> Simulation:
    """Project a scenario: every stage in order, then the assembled result."""
    cat = cat or catalogue.current()
    years = np.arange(1, scenario.contract.years + 1)
    place, draws, costs, result = _before_the_terms(scenario, cat, years)
    budgets = build_budgets(scenario, place, result.index, years, costs.pooled)
    settled = settlement.settle(
        budgets.pooled - costs.pooled,
        budgets.pooled,
        scenario.risk,
        result.index,
        capacity_gbp_m=scenario.lead.loss_capacity_gbp_m if place.pooled_gbp_m > 0 else None,
        pool=settlement.pool_shares(
            [p.role for p in scenario.partners], [p.weight for p in scenario.partners],
            [p.contribution_gbp_m for p in scenario.partners], scenario.risk,
        ),
    )  # fmt: skip
    return assemble(scenario, place, draws, costs, result, budgets, settled)


# The stages up to the outcomes never read the deal's terms (scenario.risk): a move of a share, the
# collar or the withhold re-settles the same costs, so they are kept for the last few designs (about
# half a run's work). Kept arrays are made read-only: a later stage that wrote into one would raise.
KEEP_BEFORE_TERMS = 8
KEEP_BEFORE_TERMS_MB = 64  # and no more than this (eight designs of 20,000 simulations would hold ~585 MB)
_before_terms: OrderedDict[tuple[str, str], tuple[tuple[Any, ...], int]] = OrderedDict()  # stages, their bytes
_before_terms_lock = threading.Lock()


def _before_the_terms(scenario: Scenario, cat: Catalogue, years: np.ndarray) -> tuple[Place, Draws, Costs, Any]:
    key = (cat.stamp, scenario.model_dump_json(exclude={"risk"}))
    with _before_terms_lock:
        if key in _before_terms:
            _before_terms.move_to_end(key)
            return _before_terms[key][0]
    place = place_vectors(scenario, cat)
    draws = sample_inputs(scenario, cat)
    costs = project_costs(scenario, cat, place, draws, years)
    stages = (place, draws, costs, project_outcomes(scenario, cat, place, draws, costs, years))
    size = sum(_read_only(stage) for stage in stages)
    with _before_terms_lock:
        _before_terms[key] = (stages, size)
        while len(_before_terms) > 1 and (
            len(_before_terms) > KEEP_BEFORE_TERMS or sum(b for _, b in _before_terms.values()) > KEEP_BEFORE_TERMS_MB * 2**20
        ):
            _before_terms.popitem(last=False)
    return stages


def _read_only(value: Any) -> int:
    """Make every array in `value` read-only; return their bytes."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
        return value.nbytes
    if isinstance(value, dict):
        return sum(_read_only(item) for item in value.values())
    if is_dataclass(value):
        return sum(_read_only(getattr(value, f.name)) for f in fields(value))
    return 0


# ---- stage 0: the place ---------------------------------------------------------------------------


def place_vectors(scenario: Scenario, cat: Catalogue) -> Place:
    lines = cat.records["service_lines"]
    line_ids = [row["id"] for row in lines]
    pool = np.array([scenario.pooling.get(line, 0.0) for line in line_ids])
    scope = np.maximum(pool, np.array([line in scenario.scope for line in line_ids], dtype=float))
    hospital = np.array([row["setting"] == "hospital" for row in lines], dtype=float)
    return Place(
        line_ids=line_ids,
        baseline=np.array([scenario.baseline.get(line, 0.0) for line in line_ids]),
        growth=np.array([scenario.demand_growth.get(row["id"], row["demand_growth"]) for row in lines]),
        weights={"pool": pool, "aligned": scope - pool, "scope": scope, "scope_hospital": scope * hospital},
    )


# ---- stage 1: sample the uncertain inputs ---------------------------------------------------------


def sample_interval(z: np.ndarray, low: float, high: float, valid: tuple[float, float]) -> np.ndarray:
    """Draws for an 80% interval from standard normal draws `z`, clipped to the valid range."""
    mid, sd = (low + high) / 2, (high - low) / Z80
    return np.clip(mid + sd * z, *valid)


def _valid(path: str) -> tuple[float, float]:
    spec = field_spec(path)
    return spec.low, spec.high


def sample_inputs(scenario: Scenario, cat: Catalogue) -> Draws:
    """Same seed, same draws: one standard normal row per input (demand and outcome growth share
    the first, then cost error, then each lever in catalogue order), column 0 set to 0 so that
    simulation 0 is the central case."""
    chosen = [k for k in cat.lever_ids if k in scenario.levers]
    years = scenario.contract.years
    rng = np.random.default_rng(scenario.seed)
    z = rng.standard_normal((2 + len(chosen), scenario.sims))
    z[:, 0] = 0.0
    level = rng.standard_normal((years, scenario.sims), dtype=np.float32)  # drawn after the others: they keep their values
    level[:, 0] = 0.0
    unc = scenario.uncertainty
    demand = sample_interval(z[0], unc.demand_growth_low, unc.demand_growth_high, _valid("uncertainty.demand_growth_low"))
    outcome = sample_interval(z[0], unc.outcome_growth_low, unc.outcome_growth_high, _valid("uncertainty.outcome_growth_low"))
    cost_error = sample_interval(z[1], unc.cost_error_low, unc.cost_error_high, _valid("uncertainty.cost_error_low"))
    valid = _valid("levers.any.realisation_low")
    realisation = {
        k: sample_interval(z[2 + i], scenario.levers[k].realisation_low, scenario.levers[k].realisation_high, valid)
        for i, k in enumerate(chosen)
    }
    # each year's one-off step, kept from then on: the measured level against the trend, in place
    level *= scenario.uncertainty.measured_drift
    np.clip(level, -0.5, 0.5, out=level)
    level += 1.0
    for t in range(1, years):  # a running product, a year's row at a time (faster than cumprod down the columns)
        level[t] *= level[t - 1]
    return Draws(demand, outcome, cost_error, realisation, level)


# ---- stage 2: costs ---------------------------------------------------------------------------------


def project_costs(scenario: Scenario, cat: Catalogue, place: Place, draws: Draws, years: np.ndarray) -> Costs:
    """Each part's cost with and without the levers, plus investment and procurement costs."""
    with_levers, no_change, lever_net, place_lever_net = _costs_by_part(scenario, cat, place, draws, years)
    chosen = {k: scenario.levers[k] for k in draws.realisation}
    investment = sum((lever.investment_gbp_m * (years <= lever.years_to_full) for lever in chosen.values()), np.zeros(len(years)))
    transaction = np.zeros(len(years))
    pooled = place.pooled_gbp_m > 0
    if pooled:
        share = scenario.contract.transaction_cost
        if share is None:
            share = cat.route_transaction_share(scenario.contract.route)
        transaction[0] = share * place.pooled_gbp_m * (1 + scenario.contract.funding_growth)
    extra = investment + transaction  # carried by whoever holds the pooled budget (or the alliance)
    return Costs(
        with_levers=with_levers,
        no_change=no_change,
        lever_net=lever_net,
        place_lever_net=place_lever_net,
        investment=investment,
        transaction=transaction,
        pooled=with_levers["pool"] + extra if pooled else with_levers["pool"],
        aligned=with_levers["aligned"] if pooled else with_levers["aligned"] + extra,
    )


def _costs_by_part(scenario: Scenario, cat: Catalogue, place: Place, draws: Draws, years: np.ndarray):
    """Counterfactual cost of line l in year t: base_l x (1 + cost error) x (1 + growth_l + demand
    shift)^t. Lines that share a growth rate share that last factor, so it is computed once per
    distinct rate and one matmul gives every weighted sum. A lever's change is linear in the lines'
    cost, so each (part, lever) pair folds into one column too; parts with the same weights (scope
    and pool, when nothing is merely aligned) are costed once."""
    rates, group = np.unique(place.growth, return_inverse=True)
    sims, n_years = draws.demand_shift.shape[0], len(years)
    yearly = 1 + rates[:, None] + draws.demand_shift[None, :]  # (rates, sims)
    compound = np.empty((len(rates), n_years, sims))  # each rate's growth, year by year (see YEAR_MAJOR)
    np.multiply(yearly, (1 + draws.cost_error)[None, :], out=compound[:, 0])  # years count from 1: year 1 has grown once
    for t in range(1, n_years):
        np.multiply(compound[:, t - 1], yearly, out=compound[:, t])
    to_groups = np.zeros((len(place.line_ids), len(rates)))
    to_groups[np.arange(len(place.line_ids)), group] = place.baseline

    same_as = {}  # part -> the first part with the same weights
    for part, w in place.weights.items():
        same_as[part] = next((p for p in same_as.values() if np.array_equal(place.weights[p], w)), part)
    lever_rows = {row["id"]: row for row in cat.records["levers"]}
    ramps = {  # a lever aimed at a group reaches the group's share of the spend it acts on
        k: scenario.levers[k].effect
        * float(cat.group(scenario.levers[k].group)["spend_share"])
        * levers.ramp(years, scenario.levers[k].years_to_full)
        for k in draws.realisation
    }
    columns, blocks = [], {}
    for part in dict.fromkeys(same_as.values()):
        w = place.weights[part]
        chosen = list(draws.realisation) if w.any() else []  # a part with no lines has no lever effect
        blocks[part] = (len(columns), chosen)
        columns += [w, *(levers.cost_change(w, lever_rows[k], place.line_ids) for k in chosen)]
    group_weights = np.stack(columns) @ to_groups  # (columns, rates)
    flat = (group_weights @ compound.reshape(len(rates), -1)).reshape(len(columns), n_years, sims)

    with_levers: dict[str, np.ndarray] = {}
    no_change: dict[str, np.ndarray] = {}
    lever_net = {k: np.zeros(n_years) for k in draws.realisation}
    for part, first in same_as.items():
        if first != part:
            with_levers[part], no_change[part] = with_levers[first], no_change[first]
            continue
        start, chosen = blocks[part]
        for i, k in enumerate(chosen, start=start + 1):  # this lever's ramp in each year, realisation in each simulation
            flat[i] *= ramps[k][:, None]
            flat[i] *= draws.realisation[k][None, :]
            if part == same_as["scope"]:
                lever_net[k] = flat[i, :, 0].copy()  # the central case's net change of the cost in scope
        no_change[part] = flat[start].T
        with_levers[part] = flat[start : start + 1 + len(chosen)].sum(axis=0).T
    # The whole place, central case only: what the levers change in every service, pooled or not.
    everywhere = np.ones(len(place.line_ids))
    place_lever_net = sum(
        ((levers.cost_change(everywhere, lever_rows[k], place.line_ids) @ to_groups) @ compound[:, :, 0])
        * ramps[k]
        * draws.realisation[k][0]
        for k in draws.realisation
    ) + np.zeros(n_years)
    return with_levers, no_change, lever_net, place_lever_net


# ---- stage 3: outcomes ------------------------------------------------------------------------------


def project_outcomes(scenario: Scenario, cat: Catalogue, place: Place, draws: Draws, costs: Costs, years: np.ndarray):
    scope = place.weights["scope"]
    coverage = {r["id"]: levers.coverage(r, place.line_ids, place.baseline, scope) for r in cat.records["levers"]}
    return outcomes.project(
        years,
        cat.records["outcome_measures"],
        scenario.levers,
        {k: cat.group(lever.group) for k, lever in scenario.levers.items()},
        draws.realisation,
        coverage,
        draws.outcome_shift,
        draws.drift,
        (costs.with_levers["scope"], costs.with_levers["scope_hospital"]),
        (costs.no_change["scope"], costs.no_change["scope_hospital"]),
        (place.baseline @ scope, place.baseline @ place.weights["scope_hospital"]),
        scenario.outcome_baseline,
        scenario.outcome_growth,
    )


# ---- stage 4: budgets -------------------------------------------------------------------------------


def build_budgets(
    scenario: Scenario, place: Place, outcome_index: np.ndarray, years: np.ndarray, pooled_cost: np.ndarray | None = None
) -> Budgets:
    """Pooled funding (grown with the population too under a demographic adjustment) less bid
    discount and withhold, plus the withhold earned back by outcomes, re-priced by a re-opener
    against `pooled_cost`; aligned services keep their funding, and their providers earn the
    incentive pot."""
    c, risk = scenario.contract, scenario.risk
    yearly_growth = (1 + c.funding_growth) * (1 + c.population_growth if c.funding_follows_population else 1)
    funding_index = yearly_growth**years
    earned_share = outcomes.attainment(outcome_index, years, risk.withhold_target)
    contract_value = place.pooled_gbp_m * funding_index * (1 - c.bid_discount)
    withheld = risk.withhold * contract_value
    withhold_earned = earned_share * withheld
    pooled = contract_value - withheld + withhold_earned
    if pooled_cost is not None:
        pooled = settlement.reopen(pooled, pooled_cost, risk.reopener)
    aligned = np.broadcast_to(place.aligned_gbp_m * funding_index, outcome_index.shape)
    return Budgets(
        pooled=pooled,
        aligned=aligned,
        withhold_earned=withhold_earned,
        incentive_earned=earned_share * risk.incentive_pot * aligned,
        incentive_due=risk.incentive_pot * aligned * (1.0 if risk.incentive_at_stake else 0.0),
        funding=place.pooled_gbp_m * funding_index,
        withheld=withheld,
    )


# ---- assembly -----------------------------------------------------------------------------------------


def assemble(
    scenario: Scenario,
    place: Place,
    draws: Draws,
    costs: Costs,
    result: outcomes.OutcomeResult,
    budgets: Budgets,
    settled: settlement.Settlement,
) -> Simulation:
    """The money of both sides (the aligned services' variance stays with commissioners, less the
    incentive their providers earn, or plus what they fail to earn of an incentive at stake; and
    commissioners keep what they do not pay of their funding), each partner's share, and the
    central case's cost parts."""
    aligned_variance = budgets.aligned - costs.aligned
    incentive = budgets.incentive_earned - budgets.incentive_due  # at stake: what is not earned is lost
    provider = settled.provider + incentive
    commissioner = settled.commissioner + aligned_variance - incentive
    # What commissioners keep of their funding for the pool: a bid below it, a withhold not earned,
    # less what a re-opener adds. Their share of the variance alone would leave it credited to nobody.
    kept = budgets.funding[None, :] - budgets.pooled
    position = commissioner + kept
    budget = budgets.pooled + budgets.aligned
    stopped = 0.0 if settled.met_by_schemes is None else settled.met_by_schemes  # a pool's schemes not bought
    pooled_cost = costs.pooled - stopped
    cost = pooled_cost + costs.aligned
    money = {
        "budget": budget,
        "cost": cost,
        "counterfactual_cost": costs.no_change["pool"] + costs.no_change["aligned"],
        "variance": budget - cost,
        "provider": provider,
        "commissioner": commissioner,
        "reinvested": settled.reinvested,
        "provider_cumulative": settlement.cumulative(provider),
        "commissioner_kept": kept,
        "commissioner_cumulative": settlement.cumulative(position),
        "pooled_budget": budgets.pooled,
        "pooled_cost": pooled_cost,
        "aligned_budget": np.asarray(budgets.aligned),
        "withhold_earned": budgets.withhold_earned,
        "incentive_earned": budgets.incentive_earned,
        "recovered": settled.recovered,
        **{name: np.zeros_like(provider) if value is None else value for name, value in (
            ("met_by_risk_pool", settled.met_by_risk_pool), ("met_by_schemes", settled.met_by_schemes),
            ("beyond_caps", settled.beyond_caps))},  # fmt: skip
        "collar_hit": settled.collar_hit.astype(float),
        "active": settled.active.astype(float),
    }
    roles = [p.role for p in scenario.partners]
    weights = scenario.sharing_weights()  # without pool terms, the partners' weights
    years = costs.investment.shape[0]
    central_parts = {
        "baseline": np.full(years, float(place.baseline @ place.weights["scope"])),
        "counterfactual": costs.no_change["scope"][0],
        **{f"lever_{k}": v for k, v in costs.lever_net.items()},
        "investment": costs.investment,
        "transaction": costs.transaction,
        # what the failure drivers weigh (docs/model.md, "Why a deal fails")
        "pool_no_change": costs.no_change["pool"][0],
        "pool_funding": budgets.funding,
        "pool_bid_discount": budgets.funding * scenario.contract.bid_discount,
        "pool_withheld_unearned": budgets.withheld - budgets.withhold_earned[0],
        "pool_levers": costs.with_levers["pool"][0] - costs.no_change["pool"][0],
        "place_levers": costs.place_lever_net,
    }
    return Simulation(
        scenario=scenario,
        money=money,
        outcomes=result.values,
        year_0=result.year_0,
        partners=settlement.split_among_partners(provider, roles, weights)
        if settled.partners is None
        else settled.partners + settlement.split_among_partners(np.broadcast_to(incentive, provider.shape), roles, weights),
        partner_capacity_gbp_m=np.array(scenario.partner_capacities_gbp_m()),
        per_sim={
            "failed_in": settled.failed_in,
            "deficit_any_year": (money["variance"] < 0).any(axis=1),
            "collar_breach_any_year": settled.collar_hit.any(axis=1),
            "provider_end_gbp_m": money["provider_cumulative"][:, -1],
            "commissioner_end_gbp_m": money["commissioner_cumulative"][:, -1],
            "commissioner_short_in": short_in(position, budget * scenario.risk.commissioner_contingency),
            **draws.as_columns(),
        },
        central_parts=central_parts,
    )


def short_in(commissioner: np.ndarray, contingency: np.ndarray) -> np.ndarray:
    """The first contract year in which commissioners lose more on the deal than their contingency
    for that year (0 if never), per simulation: their side's counterpart of `failed_in`."""
    short = commissioner < -contingency
    return np.where(short.any(axis=1), short.argmax(axis=1) + 1, 0).astype(np.int16)


def central_case(scenario: Scenario) -> Scenario:
    """The same scenario reduced to its central case: one path, every input at its mid-point."""
    return scenario.with_value("sims", 1)
