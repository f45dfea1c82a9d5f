"""Outcome measures per 1,000 population and the four-domain outcome index (docs/model.md, "Outcomes").

Each measure's no-change path grows at its own yearly rate plus the simulation's local growth
shift (drawn with the demand growth that drives costs), so it is as uncertain as the place, and
its measured level takes a one-off step each year (changes in what is counted) that stays.
The levers cut it by `sum(weight x effect x ramp x realisation x coverage)`, with the ramp taken
`lag_years` later for measures that respond late; a lever realised below zero adds activity.
The outcome index is the mean over the four domains of Mid-Nottinghamshire's framework of
100 x (1 + the domain's mean improvement on the expected path, the central no-change path):
100 means no better than what doing nothing was expected to give, as targets are set in practice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lib.levers import ramp
from lib.scenario import Lever

DOMAINS = ("population_health", "quality_of_life", "quality_of_care", "effectiveness")
# A measure of another domain ("outside_index": the Better Care Fund's care-home admissions) is projected
# and shown, with a weight of 0 in the index: adding it moves no other figure.
MAX_CHANGE = 0.9  # the levers move no more than 90% of the activity they reach, either way
TARGET_RAMP_YEARS = 5  # outcome targets ramp up over five years (KF2016: three to five years)
NO_CHANGE = "_no_change"  # suffix of each measure's path without the levers


@dataclass(frozen=True)
class OutcomeResult:
    values: dict[str, np.ndarray]  # (sims, years) per measure and per `<measure>_no_change`, index included
    index: np.ndarray  # (sims, years)
    year_0: dict[str, float]  # each measure in the baseline year


def project(
    years: np.ndarray,
    measures: tuple[dict, ...],
    levers: dict[str, Lever],
    groups: dict[str, dict],
    realisation: dict[str, np.ndarray],
    coverage: dict[str, float],
    growth_shift: np.ndarray,
    drift: np.ndarray,
    scope_cost: tuple[np.ndarray, np.ndarray],
    no_change_scope_cost: tuple[np.ndarray, np.ndarray],
    year_0_scope_cost: tuple[float, float],
    year_0_rates: dict[str, float] | None = None,
    yearly_growth: dict[str, float] | None = None,
) -> OutcomeResult:
    """Outcomes for every simulation. `groups` holds the row of the group each lever reaches
    (its share of each measure's activity: the lever moves only that share); `realisation` holds each lever's (sims,) draws and
    `coverage` the share of its services in the model's scope; `growth_shift` (sims,) moves every
    measure's yearly growth; `drift` (years, sims) is the measured level against the trend: the
    product of each year's one-off step in what is counted (a random walk about it); the cost pairs are
    (all spend in scope, hospital spend in scope) with the levers, without them, and in year 0;
    `year_0_rates` the place's own rates per 1,000 and `yearly_growth` its own no-change growth
    per person, where it has them (England's otherwise)."""
    lever_ids = list(realisation)
    sims = growth_shift.shape[0]
    rho = np.stack([realisation[k] * coverage[k] for k in lever_ids]) if lever_ids else np.zeros((0, sims))
    # weights[m, k, t] = measure m's weight on lever k x the share of m's activity lever k reaches x effect_k x ramp_k(t - lag_m)
    weights = np.array(
        [
            [
                float(m[f"lever_{k}"])
                * float(groups[k][m["id"]])
                * levers[k].effect
                * ramp(years - m["lag_years"], levers[k].years_to_full)
                for k in lever_ids
            ]
            for m in measures
        ]
    ).reshape(len(measures), len(lever_ids), len(years))
    # cut[m, t, s] = sum_k weights[m, k, t] x rho[k, s], in one matmul, laid out year by year
    cut = (weights.transpose(0, 2, 1).reshape(-1, len(lever_ids)) @ rho).reshape(len(measures), len(years), sims)
    # no lever moves more than 90% of the activity its groups hold: aimed at older people, at most 90% of their share
    reach = np.array(
        [
            max((float(groups[k][m["id"]]) for k in lever_ids if float(m[f"lever_{k}"]) * levers[k].effect > 0), default=1.0)
            for m in measures
        ]
    )
    limit = (MAX_CHANGE * reach)[:, None, None]
    np.clip(cut, -limit, limit, out=cut)

    rates_0 = {m["id"]: float(m["baseline_per_1000"]) for m in measures} | (year_0_rates or {})  # a place's own, else England's
    base = np.array([rates_0[m["id"]] for m in measures], dtype=float)
    growth_0 = {m["id"]: float(m["counterfactual_growth"]) for m in measures} | (yearly_growth or {})
    growth = np.array([growth_0[m["id"]] for m in measures], dtype=float)
    expected = base[:, None] * (1 + growth[:, None]) ** years[None, :]  # (measures, years): the central path
    yearly = 1 + growth[:, None] + growth_shift[None, :]  # (measures, sims)
    no_change = np.empty((len(measures), len(years), sims))
    no_change[:, 0] = base[:, None] * yearly
    for t in range(1, len(years)):
        np.multiply(no_change[:, t - 1], yearly, out=no_change[:, t])
    no_change *= drift[None, :, :]  # measured levels: each year's step stays once taken
    rates = np.subtract(1.0, cut, out=cut)
    rates *= no_change

    share_of_index = np.zeros(len(measures))  # each measure's weight in the index
    domains = [rows for d in DOMAINS if (rows := [i for i, m in enumerate(measures) if m["domain"] == d])]
    for rows in domains:
        share_of_index[rows] = 1 / (len(rows) * len(domains))

    # (measures, years): each measure's weight over its expected path; a rate of 0 (given, or grown down
    # to nothing) has nothing to improve and weighs nothing, where 0 / 0 would make the whole index NaN
    scaled = np.divide(share_of_index[:, None], expected, out=np.zeros_like(expected), where=expected > 0)

    def index_of(paths: np.ndarray) -> np.ndarray:
        # 100 + 100 x sum of weight x (1 - path / expected), without building the (measures, years, sims) ratio
        return (100 * (1 + share_of_index.sum()) - 100 * np.einsum("mt,mts->ts", scaled, paths)).T

    values: dict[str, np.ndarray] = {}
    for m, rate, path in zip(measures, rates, no_change, strict=True):
        values[m["id"]], values[m["id"] + NO_CHANGE] = rate.T, path.T
    index = index_of(rates)
    values |= {"outcome_index": index, "outcome_index" + NO_CHANGE: index_of(no_change)}
    values["outside_hospital_share"] = outside_hospital(*scope_cost)
    values["outside_hospital_share" + NO_CHANGE] = outside_hospital(*no_change_scope_cost)
    year_0 = {m["id"]: rates_0[m["id"]] for m in measures} | {"outcome_index": 100.0}
    year_0["outside_hospital_share"] = float(outside_hospital(*np.array(year_0_scope_cost, dtype=float)))
    return OutcomeResult(values=values, index=index, year_0=year_0)


def outside_hospital(total: np.ndarray, hospital: np.ndarray) -> np.ndarray:
    """Share of spend in scope that is outside hospital, in %."""
    with np.errstate(invalid="ignore", divide="ignore"):  # no spend in scope: 0 / 0, not a number
        share = np.subtract(total, hospital)
        share /= total
        share *= 100
        return share


def attainment(index: np.ndarray, years: np.ndarray, target_index: float) -> np.ndarray:
    """Share of outcome targets met each year (0-1): the index against a target that ramps from
    100 to `target_index` over five years."""
    target = 100 + (target_index - 100) * np.minimum(1.0, years / TARGET_RAMP_YEARS)
    return np.clip((index - 100) / (target - 100)[None, :], 0.0, 1.0)
