"""The Monte Carlo projection (pure numpy): from a scenario to simulated money and outcomes.

Contract years run 1..N; year 0 is the baseline year whose spend the scenario holds.
Simulation 0 is always the central case (every uncertain input at its mid-point); the others
sample each 80% interval (low, high) as a normal with mean (low+high)/2 and sd (high-low)/2.563,
clipped to the valid range (as in The Strategy Unit's NHP model).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lib import catalogue, outcomes, settlement
from lib.memory import keep_freed_memory
from lib.results import Run
from lib.scenario import Scenario

keep_freed_memory()

Z80 = 2.563  # width of an 80% interval of a standard normal (2 x 1.2816)
DEMAND_RANGE = (-0.05, 0.1)
COST_ERROR_RANGE = (-0.5, 1.0)
REALISATION_RANGE = (0.0, 1.5)


@dataclass(frozen=True)
class Simulation:
    """Everything the engine computed, as (sims, years) arrays unless said otherwise."""

    scenario: Scenario
    money: dict[str, np.ndarray]
    outcomes: dict[str, np.ndarray]
    no_change: dict[str, np.ndarray]  # (years,) per outcome measure: the path without levers
    partners: np.ndarray  # (partners, sims, years)
    partner_capacity_gbp_m: np.ndarray  # (partners,)
    failed_in: np.ndarray  # (sims,) year of failure, 0 if none
    draws: dict[str, np.ndarray]  # (sims,) sampled inputs
    central_parts: dict[str, np.ndarray]  # (years,) central-case cost components in scope


def sample_interval(rng: np.random.Generator, sims: int, low: float, high: float, valid: tuple[float, float]) -> np.ndarray:
    """Draws for an 80% interval; draw 0 is the mid-point (the central case)."""
    mid, sd = (low + high) / 2, (high - low) / Z80
    draws = rng.normal(mid, sd, size=sims) if sd > 0 else np.full(sims, mid)
    draws[0] = mid
    return np.clip(draws, *valid)


def ramp(years: np.ndarray, years_to_full: int) -> np.ndarray:
    """Share of a lever's full effect reached by each year: slow start, S-shaped (smoothstep)."""
    x = np.clip(np.asarray(years, dtype=float) / years_to_full, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def simulate(scenario: Scenario) -> Simulation:
    lines = catalogue.records("service_lines")
    levers = {row["id"]: row for row in catalogue.records("levers")}
    line_ids = [row["id"] for row in lines]
    n_years, n_sims = scenario.contract.years, scenario.sims
    years = np.arange(1, n_years + 1)
    rng = np.random.default_rng(scenario.seed)

    base = np.array([scenario.baseline.get(line, 0.0) for line in line_ids])
    growth = np.array([scenario.demand_growth.get(row["id"], row["demand_growth"]) for row in lines])
    pool = np.array([scenario.pooling.get(line, 0.0) for line in line_ids])
    in_scope = np.array([line in scenario.scope for line in line_ids], dtype=float)
    scope = np.maximum(pool, in_scope)
    aligned = scope - pool
    hospital = np.array([row["setting"] == "hospital" for row in lines], dtype=float)

    unc = scenario.uncertainty
    delta = sample_interval(rng, n_sims, unc.demand_growth_low, unc.demand_growth_high, DEMAND_RANGE)
    cost_error = sample_interval(rng, n_sims, unc.cost_error_low, unc.cost_error_high, COST_ERROR_RANGE)
    lever_ids = [k for k in levers if k in scenario.levers]
    realisation = {
        k: sample_interval(
            rng, n_sims, scenario.levers[k].realisation_low, scenario.levers[k].realisation_high, REALISATION_RANGE
        )
        for k in lever_ids
    }

    # Each lever's realised share of full effect, (sims, years).
    factor = {
        k: scenario.levers[k].effect * ramp(years, scenario.levers[k].years_to_full)[None, :] * realisation[k][:, None]
        for k in lever_ids
    }
    weights = {"pool": pool, "aligned": aligned, "scope": scope, "scope_hospital": scope * hospital}
    totals, lever_net = _totals_with_levers(base, growth, delta, cost_error, years, weights, factor, levers, line_ids)

    investment = sum(
        (scenario.levers[k].investment_gbp_m * (years <= scenario.levers[k].years_to_full) for k in lever_ids),
        np.zeros(n_years),
    )
    pooled = bool(pool.sum() > 0)
    transaction = np.zeros(n_years)
    funding_index = (1 + scenario.contract.funding_growth) ** years
    pooled_funding = float(base @ pool) * funding_index
    if pooled:
        share = scenario.contract.transaction_cost
        if share is None:
            share = catalogue.route_transaction_share(scenario.contract.route)
        transaction[0] = share * pooled_funding[0]
    extra = investment + transaction  # carried by whoever holds the pooled budget (or the alliance)
    pooled_cost = totals["pool"] + (extra if pooled else 0.0)
    aligned_cost = totals["aligned"] + (0.0 if pooled else extra)

    # Outcomes follow the same lever draws, with their lags.
    result = outcomes.project(years, scenario, realisation, totals, weights)
    index = result.index

    # Pooled budget: funding less bid discount and withhold, plus the withhold earned back.
    attainment = outcomes.attainment(index, years, scenario.risk.withhold_target)
    contract_value = pooled_funding * (1 - scenario.contract.bid_discount)
    withheld = scenario.risk.withhold * contract_value
    withhold_earned = attainment * withheld
    pooled_budget = contract_value - withheld + withhold_earned
    aligned_budget = np.broadcast_to(float(base @ aligned) * funding_index, (n_sims, n_years))
    incentive_earned = attainment * scenario.risk.incentive_pot * aligned_budget

    r = scenario.risk
    terms = settlement.Terms(
        gain_share=r.gain_share,
        loss_share=r.loss_share,
        neutral_band=r.neutral_band,
        cap=r.cap,
        collar=r.collar,
        reinvest_beyond_cap=r.beyond_cap == "reinvest",
        quality_gate=r.quality_gate,
        carry_forward=r.carry_forward,
        cover_years=r.cover_years,
    )
    capacity = scenario.lead.loss_capacity_gbp_m
    pooled_variance = pooled_budget - pooled_cost
    settled = settlement.settle(pooled_variance, pooled_budget, terms, index, capacity_gbp_m=capacity if pooled else None)

    aligned_variance = aligned_budget - aligned_cost
    provider = settled.provider + incentive_earned
    commissioner = settled.commissioner + aligned_variance - incentive_earned
    variance = pooled_variance + aligned_variance
    money = {
        "budget": pooled_budget + aligned_budget,
        "cost": pooled_cost + aligned_cost,
        "counterfactual_cost": totals["cf_pool"] + totals["cf_aligned"],
        "variance": variance,
        "provider": provider,
        "commissioner": commissioner,
        "reinvested": settled.reinvested,
        "provider_cumulative": np.cumsum(provider, axis=1),
        "commissioner_cumulative": np.cumsum(commissioner, axis=1),
        "pooled_budget": pooled_budget,
        "pooled_cost": pooled_cost,
        "aligned_budget": np.array(aligned_budget),
        "withhold_earned": withhold_earned,
        "incentive_earned": incentive_earned,
        "recovered": settled.recovered,
        "collar_hit": settled.collar_hit.astype(float),
        "active": settled.active.astype(float),
    }

    roles = [p.role for p in scenario.partners]
    weights_ = [p.weight for p in scenario.partners]
    partner_values = settlement.split_among_partners(provider, roles, weights_)
    partner_capacity = np.array(scenario.partner_capacities_gbp_m())

    central_parts = {
        "baseline": np.full(n_years, float(base @ scope)),
        "counterfactual": totals["cf_scope"][0],
        **{f"lever_{k}": lever_net[k][0] for k in lever_ids},
        "investment": investment,
        "transaction": transaction,
    }
    draws = {"demand_growth_shift": delta, "cost_error": cost_error, **{f"realisation_{k}": v for k, v in realisation.items()}}
    return Simulation(
        scenario=scenario,
        money=money,
        outcomes=result.values,
        no_change=result.no_change,
        partners=partner_values,
        partner_capacity_gbp_m=partner_capacity,
        failed_in=settled.failed_in,
        draws=draws,
        central_parts=central_parts,
    )


def _totals_with_levers(base, growth, delta, cost_error, years, weights, factor, levers, line_ids):
    """Cost in £m for each weight vector over the lines, with and without the levers.

    Counterfactual cost of line l in year t for a simulation: base_l x (1 + cost error) x
    (1 + growth_l + demand shift)^t. Lines that share a growth rate share that last factor, so
    it is computed once per distinct rate (sims, years, rates) and one matmul gives every
    weighted sum. A lever removes `activity_share x realised effect` of its source lines' cost
    and adds back `cost_ratio` of it on its target line (or on the same lines for "same"); that
    is linear in the lines' cost, so each (weights, lever) pair folds into one column too.
    """
    rates, group = np.unique(growth, return_inverse=True)
    sims, n_years = delta.shape[0], years.shape[0]
    yearly = np.broadcast_to((1 + rates[None, :] + delta[:, None])[:, None, :], (sims, n_years, len(rates)))
    compound = np.cumprod(yearly, axis=1)  # years count from 1: year 1 has grown once
    compound *= (1 + cost_error)[:, None, None]  # (sims, years, rates)
    to_groups = np.zeros((len(line_ids), len(rates)))
    to_groups[np.arange(len(line_ids)), group] = base  # line weight vector -> rate-group weights

    line_index = {line: i for i, line in enumerate(line_ids)}
    sources = {
        k: np.array([line in levers[k]["source_lines"].split(";") for line in line_ids], dtype=float)
        * float(levers[k]["activity_share"])
        for k in factor
    }

    def lever_column(w: np.ndarray, k: str) -> np.ndarray:
        removed = w * sources[k]
        target, ratio = levers[k]["target_line"], float(levers[k]["cost_ratio"])
        added = ratio * removed if target == "same" else ratio * w[line_index[target]] * sources[k]
        return added - removed  # net change in cost per unit of realised effect

    columns, keys = [], []
    for name, w in weights.items():
        columns.append(w)
        keys.append((name, ""))
        for k in factor:
            columns.append(lever_column(w, k) if w.any() else w)
            keys.append((name, k))
    group_weights = to_groups.T @ np.stack(columns, axis=1)  # (rates, columns)
    flat = (group_weights.T @ compound.reshape(sims * n_years, len(rates)).T).reshape(len(columns), sims, n_years)
    slot = {key: i for i, key in enumerate(keys)}

    totals: dict[str, np.ndarray] = {}
    lever_net: dict[str, np.ndarray] = {}
    scratch = np.empty((sims, n_years))
    done: list[tuple[np.ndarray, str]] = []
    for name, w in weights.items():
        counterfactual = flat[slot[(name, "")]]
        twin = next((other for vector, other in done if np.array_equal(vector, w)), None)
        if twin is not None:  # e.g. scope = pool when nothing is merely aligned
            total = totals[twin]
        else:
            total = counterfactual.copy()
            if w.any():  # a weight vector of zeros (nothing aligned, say) costs nothing
                for k, f in factor.items():
                    total += np.multiply(f, flat[slot[(name, k)]], out=scratch)
            done.append((w, name))
        totals[f"cf_{name}"] = counterfactual
        totals[name] = total
    for k, f in factor.items():
        lever_net[k] = f * flat[slot[("scope", k)]]
    return totals, lever_net


def project(scenario: Scenario) -> Run:
    """Simulate a scenario and store its results in DuckDB for summarising."""
    return Run(simulate(scenario))


def central_case(scenario: Scenario) -> Scenario:
    """The same scenario reduced to its central case: one path, every input at its mid-point."""
    return scenario.with_value("sims", 1)
