"""Settlement: how each year's variance is split between the provider and commissioner sides.

The rule of docs/model.md ("Settlement"), per simulation and year, with B the pooled budget as reported and
V = B - cost (fractions for shares and limits):

* |V| <= band x B: nothing is shared; the commissioner keeps the surplus or absorbs the deficit.
* V > band x B: provider = min(gain_share x V, cap x B) from the first pound; nothing if a
  quality gate is set and the year's outcome index is below it. What the cap cuts off is
  reinvested when the terms say so; the rest goes to the commissioner.
* V < -band x B: provider = max(loss_share x V, -collar x B); the commissioner absorbs the rest.
* In the opening `cover_years` the commissioner covers the provider's loss; with carry-forward
  that cover is recovered from the provider's next surpluses (Salford).
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


def share_year(
    variance: np.ndarray, budget: np.ndarray, risk: Risk, outcome_index: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One year's split, before cover, carry-forward and failure: (provider, reinvested, collar_hit)."""
    v = np.asarray(variance, dtype=float)
    b = np.asarray(budget, dtype=float)
    band = risk.neutral_band * np.abs(b)
    gain = v > band
    loss = v < -band

    raw_gain = risk.gain_share * v
    capped_gain = np.minimum(raw_gain, risk.cap * b) if risk.cap is not None else raw_gain
    if risk.quality_gate is not None and outcome_index is not None:
        gate_open = np.asarray(outcome_index) >= risk.quality_gate
        capped_gain = np.where(gate_open, capped_gain, 0.0)
        raw_gain = np.where(gate_open, raw_gain, 0.0)
    raw_loss = risk.loss_share * v
    floor = -risk.collar * b if risk.collar is not None else np.full_like(v, -np.inf)
    collared_loss = np.maximum(raw_loss, floor)

    provider = np.where(gain, capped_gain, np.where(loss, collared_loss, 0.0))
    cut_by_cap = np.where(gain, raw_gain - capped_gain, 0.0)
    reinvested = cut_by_cap if risk.beyond_cap == "reinvest" else np.zeros_like(v)
    collar_hit = loss & (raw_loss < floor)
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
    provider, reinvested, collar_hit = share_year(v, b, risk, idx)
    recovered = np.zeros_like(v)
    if risk.cover_years > 0:
        provider, recovered, collar_hit = _cover_and_recover(provider, collar_hit, risk)
    active, failed_in = _failure(provider, capacity_gbp_m)
    # After a failure the contract has ended: the commissioner carries everything.
    provider = np.where(active, provider, 0.0)
    reinvested = np.where(active, reinvested, 0.0)
    recovered = np.where(active, recovered, 0.0)
    commissioner = v - provider - reinvested
    return Settlement(provider, commissioner, reinvested, recovered, collar_hit & active, active, failed_in)


def _cover_and_recover(provider: np.ndarray, collar_hit: np.ndarray, risk: Risk):
    """The commissioner covers the provider's loss in the opening years; with carry-forward it
    recovers that cover from the provider's next surpluses, year by year."""
    provider = provider.copy()
    collar_hit = collar_hit.copy()
    recovered = np.zeros_like(provider)
    owed = np.zeros(provider.shape[0])
    for t in range(provider.shape[1]):
        p = provider[:, t]
        if t < risk.cover_years:
            if risk.carry_forward:
                owed += np.maximum(-p, 0.0)
            p = np.maximum(p, 0.0)
            collar_hit[:, t] = False
        payback = np.minimum(np.maximum(p, 0.0), owed)
        owed -= payback
        provider[:, t] = p - payback
        recovered[:, t] = payback
    return provider, recovered, collar_hit


def _failure(provider: np.ndarray, capacity_gbp_m: float | None) -> tuple[np.ndarray, np.ndarray]:
    """(active, failed_in): the contract runs until the year the provider side's cumulative loss
    first passes its capacity; that year still counts, the later ones do not."""
    sims, years = provider.shape
    if capacity_gbp_m is None:
        return np.ones(provider.shape, dtype=bool), np.zeros(sims, dtype=np.int16)
    below = np.cumsum(provider, axis=1) < -capacity_gbp_m
    failed = below.any(axis=1)
    first = np.where(failed, below.argmax(axis=1), years)
    active = np.arange(years)[None, :] <= first[:, None]
    return active, np.where(failed, first + 1, 0).astype(np.int16)


def split_among_partners(provider: np.ndarray, roles: list[str], weights: list[float]) -> np.ndarray:
    """Split the provider side among partners: gains to full-risk and gain-share partners by
    weight, losses to full-risk partners only. Returns (partners, *provider.shape)."""
    w = np.asarray(weights, dtype=float)
    gain_w = np.where(np.isin(roles, ["full_risk", "gain_share"]), w, 0.0)
    loss_w = np.where(np.asarray(roles) == "full_risk", w, 0.0)
    gain_w = gain_w / gain_w.sum() if gain_w.sum() > 0 else gain_w
    loss_w = loss_w / loss_w.sum() if loss_w.sum() > 0 else loss_w
    positive = np.maximum(provider, 0.0)
    negative = np.minimum(provider, 0.0)
    shape = (len(w),) + (1,) * np.ndim(provider)
    return gain_w.reshape(shape) * positive + loss_w.reshape(shape) * negative
