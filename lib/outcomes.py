"""Outcome measures per 1,000 population and the four-domain outcome index (docs/model.md, "Outcomes").

Each measure follows its own no-change path (baseline rate x its yearly growth). The levers cut
it by `sum(weight x effect x ramp x realisation)`, with the ramp taken `lag_years` later for
measures that respond late (population health: two years, since the seeds expect measurable
improvement to take three to five years). The outcome index is the mean over the four domains of
Mid-Nottinghamshire's framework of 100 x (1 + the domain's mean improvement on its no-change
path): 100 means no better than doing nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lib.levers import ramp
from lib.scenario import Lever

DOMAINS = ("population_health", "quality_of_life", "quality_of_care", "effectiveness")
MAX_REDUCTION = 0.9
TARGET_RAMP_YEARS = 5  # outcome targets ramp up over five years (KF2016: three to five years)


@dataclass(frozen=True)
class OutcomeResult:
    values: dict[str, np.ndarray]  # (sims, years) per measure, plus outcome_index and outside_hospital_share
    no_change: dict[str, np.ndarray]  # (years,) per measure
    index: np.ndarray  # (sims, years)


def project(
    years: np.ndarray,
    measures: tuple[dict, ...],
    levers: dict[str, Lever],
    realisation: dict[str, np.ndarray],
    scope_cost: tuple[np.ndarray, np.ndarray],
    no_change_scope_cost: tuple[np.ndarray, np.ndarray],
) -> OutcomeResult:
    """Outcomes for every simulation. `realisation` holds each lever's (sims,) draws; the cost
    pairs are (all spend in scope, hospital spend in scope), with and without the levers."""
    lever_ids = list(realisation)
    sims = scope_cost[0].shape[0]
    rho = np.stack([realisation[k] for k in lever_ids]) if lever_ids else np.zeros((0, sims))  # (levers, sims)
    # weights[m, t, k] = measure m's weight on lever k x effect_k x ramp_k(t - lag_m)
    weights = np.array(
        [
            [float(m[f"lever_{k}"]) * levers[k].effect * ramp(years - m["lag_years"], levers[k].years_to_full) for k in lever_ids]
            for m in measures
        ]
    ).reshape(len(measures), len(lever_ids), len(years))
    # reduction[m, t, s] = sum_k weights[m, t, k] x realisation[k, s], in one matmul, laid out year by year
    reductions = (weights.transpose(0, 2, 1).reshape(-1, len(lever_ids)) @ rho).reshape(len(measures), len(years), sims)
    np.clip(reductions, 0.0, MAX_REDUCTION, out=reductions)
    # The index: per domain, the mean reduction of its measures; then the mean over the domains.
    share_of_index = np.zeros(len(measures))  # each measure's weight in the index
    domains = [[i for i, m in enumerate(measures) if m["domain"] == d] for d in DOMAINS]
    for rows in (rows for rows in domains if rows):
        share_of_index[rows] = 1 / (len(rows) * sum(1 for r in domains if r))
    index = (100 + 100 * (share_of_index @ reductions.reshape(len(measures), -1))).reshape(len(years), sims).T
    # Then each measure's rate: its no-change path less its reduction (in place: no copies).
    paths = np.array([m["baseline_per_1000"] * (1 + m["counterfactual_growth"]) ** years for m in measures])
    rates = np.subtract(1.0, reductions, out=reductions)
    rates *= paths[:, :, None]
    values = {m["id"]: rate.T for m, rate in zip(measures, rates, strict=True)}
    no_change = {m["id"]: path for m, path in zip(measures, paths, strict=True)}
    values["outcome_index"] = index
    no_change["outcome_index"] = np.full(len(years), 100.0)
    values["outside_hospital_share"] = outside_hospital(*scope_cost)
    no_change["outside_hospital_share"] = outside_hospital(*no_change_scope_cost)[0]
    return OutcomeResult(values=values, no_change=no_change, index=index)


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
