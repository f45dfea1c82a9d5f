"""Settlement: how each year's variance is split between the provider and commissioner sides.

The rule of docs/model.md ("Settlement"), per simulation and year, with B the pooled budget as reported and
V = B - cost (fractions for shares and limits):

* |V| <= band x B: nothing is shared; the commissioner keeps the surplus or absorbs the deficit.
* V > band x B: provider = min(gain_share x V, cap x B) from the first pound; nothing if a
  quality gate is set and the year's outcome index is below it. What the cap cuts off is
  reinvested when the terms say so; the rest goes to the commissioner.
* V < -band x B: provider = max(loss_share x V, -collar x B); the commissioner absorbs the rest.
* In the opening `glide_years` the glide shares apply (0 loss share: commissioners cover the
  provider's loss, as Salford's CCG does in year 1); with carry-forward what they covered is
  recovered from the provider's next surpluses.
* A re-opener re-prices the budgets after a year whose variance passed its share of the budget
  (`reopen`, applied to the budgets before they are settled).
* Once the provider side's cumulative loss passes its capacity (reserves + guarantees) the
  contract fails: from the next year the commissioner takes the whole variance.

provider + commissioner + reinvested = V, always.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lib.scenario import Risk


@dataclass(frozen=True)
class Settlement:
    """Arrays shaped (sims, years)."""

    provider: np.ndarray
    commissioner: np.ndarray
    reinvested: np.ndarray
    recovered: np.ndarray  # carried-forward cover paid back to the commissioner that year
    collar_hit: np.ndarray  # the collar limited the provider's loss
    active: np.ndarray  # the contract was still running that year
    failed_in: np.ndarray  # the year (1-based) the provider side failed; 0 if it never did


def shares_by_year(risk: Risk, years: int) -> tuple[np.ndarray, np.ndarray]:
    """(gain share, loss share) in each contract year: the glide shares, then the full ones."""
    glide = np.arange(years) < risk.glide_years
    glide_gain = risk.gain_share if risk.glide_gain_share is None else risk.glide_gain_share
    return np.where(glide, glide_gain, risk.gain_share), np.where(glide, risk.glide_loss_share, risk.loss_share)


def share_year(
    variance: np.ndarray,
    budget: np.ndarray,
    risk: Risk,
    outcome_index: np.ndarray | None = None,
    shares: tuple[np.ndarray | float, np.ndarray | float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each year's split, before carry-forward and failure: (provider, reinvested, collar_hit).
    `shares` are the (gain, loss) shares by year (the last axis); the full ones by default.
    Terms that are off (no band, cap, collar or gate) cost no work."""
    v = np.asarray(variance, dtype=float)
    b = np.asarray(budget, dtype=float)
    gain_share, loss_share = shares or (risk.gain_share, risk.loss_share)
    band = risk.neutral_band * np.abs(b) if risk.neutral_band else 0.0
    gain = v > band
    shared_gain = gain_share * v
    if risk.quality_gate is not None and outcome_index is not None:
        shared_gain *= np.asarray(outcome_index) >= risk.quality_gate  # gate shut: no gain is paid
    kept_gain = np.minimum(shared_gain, risk.cap * b) if risk.cap is not None else shared_gain
    shared_loss = loss_share * v
    collar_hit = np.zeros_like(v, dtype=bool)
    if risk.collar is not None:
        floor = -risk.collar * b
        collar_hit = (v < -band) & (shared_loss < floor)
        shared_loss = np.maximum(shared_loss, floor)
    if risk.neutral_band:
        shared_loss = np.where(v < -band, shared_loss, 0.0)  # inside the band nothing is shared
    provider = np.where(gain, kept_gain, shared_loss)  # no band: a variance of 0 shares 0 either way
    reinvested = np.zeros_like(v)
    if risk.cap is not None and risk.beyond_cap == "reinvest":
        reinvested = np.where(gain, shared_gain - kept_gain, 0.0)
    return provider, reinvested, collar_hit


def settle(
    variance: np.ndarray,
    budget: np.ndarray,
    risk: Risk,
    outcome_index: np.ndarray | None = None,
    capacity_gbp_m: float | None = None,
) -> Settlement:
    """Settle every year of every simulation; inputs are (sims, years) arrays in £m."""
    v = np.atleast_2d(np.asarray(variance, dtype=float))
    b = np.broadcast_to(np.asarray(budget, dtype=float), v.shape)
    idx = None if outcome_index is None else np.broadcast_to(np.asarray(outcome_index, dtype=float), v.shape)
    years = v.shape[1]
    provider, reinvested, collar_hit = share_year(v, b, risk, idx, shares_by_year(risk, years))
    recovered = np.zeros_like(v)
    if risk.glide_years and risk.carry_forward:
        full_terms, _, _ = share_year(v, b, risk, idx)
        covered = np.maximum(provider - full_terms, 0.0) * (np.arange(years) < risk.glide_years)
        provider, recovered = _recover(provider, covered)
    active, failed_in = _failure(provider, capacity_gbp_m)
    # After a failure the contract has ended: the commissioner carries everything.
    for ended_to_zero in (provider, reinvested, recovered):
        np.multiply(ended_to_zero, active, out=ended_to_zero)
    commissioner = v - provider - reinvested
    return Settlement(provider, commissioner, reinvested, recovered, collar_hit & active, active, failed_in)


def _recover(provider: np.ndarray, covered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Carry-forward: what commissioners covered is owed, and paid back from the provider's next
    surpluses, year by year. Returns (provider after paying back, paid back each year)."""
    provider = provider.copy(order="K")
    recovered = np.zeros_like(provider)
    owed = np.zeros(provider.shape[0])
    for t in range(provider.shape[1]):
        owed += covered[:, t]
        payback = np.minimum(np.maximum(provider[:, t], 0.0), owed)
        owed -= payback
        provider[:, t] -= payback
        recovered[:, t] = payback
    return provider, recovered


def reopen(budget: np.ndarray, cost: np.ndarray, threshold: float | None) -> np.ndarray:
    """Budgets after a re-opener: once a year's variance passes `threshold` x that year's budget,
    the later years' budgets are re-priced by that year's cost / budget. (sims, years) in £m."""
    if threshold is None:
        return budget
    out = np.array(budget, dtype=float, order="K", copy=True)
    factor = np.ones(out.shape[0])
    for t in range(out.shape[1]):
        out[:, t] *= factor
        tripped = np.abs(out[:, t] - cost[:, t]) > threshold * np.abs(out[:, t])
        factor = np.where(tripped & (out[:, t] != 0), factor * cost[:, t] / np.where(out[:, t] != 0, out[:, t], 1.0), factor)
    return out


def _failure(provider: np.ndarray, capacity_gbp_m: float | None) -> tuple[np.ndarray, np.ndarray]:
    """(active, failed_in): the contract runs until the year the provider side's cumulative loss
    first passes its capacity; that year still counts, the later ones do not."""
    sims, years = provider.shape
    if capacity_gbp_m is None:
        return np.ones(provider.shape, dtype=bool), np.zeros(sims, dtype=np.int16)
    below = cumulative(provider) < -capacity_gbp_m
    failed = below.any(axis=1)
    first = np.where(failed, below.argmax(axis=1), years)
    active = (np.arange(years)[:, None] <= first[None, :]).T  # laid out year by year, as the engine's arrays
    return active, np.where(failed, first + 1, 0).astype(np.int16)


def cumulative(values: np.ndarray) -> np.ndarray:
    """Running total over the last axis (contract years), added year by year: each step is one
    vectorised add over all simulations, where np.cumsum would walk each simulation's years."""
    out = np.empty_like(values)
    by_year, out_by_year = np.moveaxis(values, -1, 0), np.moveaxis(out, -1, 0)
    out_by_year[0] = by_year[0]
    for t in range(1, by_year.shape[0]):
        np.add(out_by_year[t - 1], by_year[t], out=out_by_year[t])
    return out


def split_among_partners(provider: np.ndarray, roles: list[str], weights: list[float]) -> np.ndarray:
    """Split the provider side, (sims, years), among partners: gains to full-risk and gain-share
    partners by weight, losses to full-risk partners only. Returns (partners, sims, years), each
    partner's array laid out as `provider` is."""
    w = np.asarray(weights, dtype=float)
    gain_w = np.where(np.isin(roles, ["full_risk", "gain_share"]), w, 0.0)
    loss_w = np.where(np.asarray(roles) == "full_risk", w, 0.0)
    gain_w = gain_w / gain_w.sum() if gain_w.sum() > 0 else gain_w
    loss_w = loss_w / loss_w.sum() if loss_w.sum() > 0 else loss_w
    sims, years = provider.shape
    out = np.zeros((len(w), years, sims)).transpose(0, 2, 1)  # year by year, as the engine's arrays
    positive = negative = None
    for share, gain, loss in zip(out, gain_w, loss_w, strict=True):
        if gain == loss:  # a full-risk partner alone, or one that takes nothing: one product
            if gain:
                np.multiply(provider, gain, out=share)
            continue
        if positive is None:
            positive, negative = np.maximum(provider, 0.0), np.minimum(provider, 0.0)
        np.multiply(positive, gain, out=share)
        share += loss * negative
    return out
