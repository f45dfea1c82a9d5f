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

Section 75 pools (today's arrangements) add how the provider side's partners meet a loss, each
year, after underspends elsewhere in the pool (already netted in V): a risk pool of a set size,
then uncommitted schemes stopped (or those first), then money outside the pool; the partners share
each step pro rata (to their contributions, or their weights), except a risk pool paid by its host
or by the commissioners; each partner's loss may be capped at its contribution, and what the caps
cut off is met outside the pool by the commissioner side (`waterfall`).

provider + commissioner + reinvested = V, always (with stopped schemes, V is the variance after
the pool stops them: provider + commissioner + reinvested = V + met_by_schemes of the V before);
the partners' shares add up to the provider side.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from lib.scenario import Risk, sharing_weights


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
    partners: np.ndarray | None = None  # (partners, sims, years) when a pool's terms split the side
    met_by_risk_pool: np.ndarray | None = None  # what the risk pool met of the provider side's loss
    met_by_schemes: np.ndarray | None = None  # what stopping uncommitted schemes met
    beyond_caps: np.ndarray | None = None  # what partners' caps passed to the commissioner side


@dataclass(frozen=True)
class PoolShares:
    """How a pool's partners share the provider side: gain and loss weights (each summing to 1, or
    all 0), each partner's cap a year (its contribution; None: no caps) and the host's index."""

    gain: np.ndarray
    loss: np.ndarray
    cap_gbp_m: np.ndarray | None
    host: int


@dataclass(frozen=True)
class Waterfall:
    """A pool's split of the provider side, (sims, years) arrays and partners (partners, sims, years)."""

    partners: np.ndarray
    to_commissioner: np.ndarray  # moved off the provider side: caps, and a risk pool commissioners fund
    met_by_risk_pool: np.ndarray
    met_by_schemes: np.ndarray
    beyond_caps: np.ndarray


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


def pool_terms_on(risk: Risk) -> bool:
    """Whether any of a section 75 pool's terms is set (if none is, the partners split as before)."""
    return bool(risk.partner_split == "contribution" or risk.cap_at_contribution or risk.risk_pool_gbp_m
                or risk.uncommitted_gbp_m)  # fmt: skip


def waterfall(provider: np.ndarray, risk: Risk, shares: PoolShares) -> Waterfall:
    """Meet each year's provider-side loss in the pool's order, and share gains by the gain weights.
    Σ partners + to_commissioner = provider + met_by_schemes, exactly (gains with no partner to take
    them aside): what stopped schemes meet is spending that does not happen."""
    loss = np.maximum(-provider, 0.0)
    first, second = (risk.risk_pool_gbp_m or 0.0, risk.uncommitted_gbp_m or 0.0)
    if risk.overspend_order == "schemes_first":
        second, first = first, second
    met_first = np.minimum(loss, first)
    met_second = np.minimum(loss - met_first, second)
    pool, schemes = (met_first, met_second) if risk.overspend_order == "risk_pool_first" else (met_second, met_first)
    # Stopped schemes are money the pool no longer spends: no one pays them (the engine takes them off
    # the pool's cost). A risk pool the partners fund is theirs to share as they share losses.
    shared = loss - schemes - (pool if risk.risk_pool_funder != "partners" else 0.0)
    partner_loss = shares.loss[:, None, None] * shared[None]
    to_commissioner = pool.copy() if risk.risk_pool_funder == "commissioners" else np.zeros_like(loss)
    if risk.risk_pool_funder == "host":
        partner_loss[shares.host] += pool
    beyond = np.zeros_like(loss)
    if shares.cap_gbp_m is not None:
        excess = np.maximum(partner_loss - shares.cap_gbp_m[:, None, None], 0.0)
        partner_loss -= excess
        beyond = excess.sum(axis=0)
        to_commissioner += beyond
    partners = shares.gain[:, None, None] * np.maximum(provider, 0.0)[None] - partner_loss
    return Waterfall(partners, to_commissioner, pool, schemes, beyond)


def settle(
    variance: np.ndarray,
    budget: np.ndarray,
    risk: Risk,
    outcome_index: np.ndarray | None = None,
    capacity_gbp_m: float | None = None,
    pool: PoolShares | None = None,
) -> Settlement:
    """Settle every year of every simulation; inputs are (sims, years) arrays in £m. With `pool`
    (and any pool term set), the pool's waterfall splits the provider side among its partners,
    before the failure test: what it moves to commissioners is not the provider side's loss."""
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
    split = waterfall(provider, risk, pool) if pool is not None and pool_terms_on(risk) else None
    if split is not None:
        provider = provider + split.to_commissioner + split.met_by_schemes
    active, failed_in = _failure(provider, capacity_gbp_m)
    # After a failure the contract has ended: the commissioner carries everything.
    for ended_to_zero in (provider, reinvested, recovered):
        np.multiply(ended_to_zero, active, out=ended_to_zero)
    commissioner = v - provider - reinvested
    settled = Settlement(provider, commissioner, reinvested, recovered, collar_hit & active, active, failed_in)
    if split is None:
        return settled
    stopped, pool_met, beyond = (a * active for a in (split.met_by_schemes, split.met_by_risk_pool, split.beyond_caps))
    commissioner += stopped  # the pool spends less by what it stopped
    return replace(settled, partners=split.partners * active[None], met_by_risk_pool=pool_met, met_by_schemes=stopped,
                   beyond_caps=beyond)  # fmt: skip


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


def partner_weights(roles: list[str], weights: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """(gain weights, loss weights): gains to full-risk and gain-share partners, losses to full-risk
    partners only, each normalised to sum to 1 (or all 0 when no partner takes that side)."""
    w = np.asarray(weights, dtype=float)
    gain_w = np.where(np.isin(roles, ["full_risk", "gain_share"]), w, 0.0)
    loss_w = np.where(np.asarray(roles) == "full_risk", w, 0.0)
    return (gain_w / gain_w.sum() if gain_w.sum() > 0 else gain_w), (loss_w / loss_w.sum() if loss_w.sum() > 0 else loss_w)


def pool_shares(roles: list[str], weights: list[float], contributions: list[float | None], risk: Risk) -> PoolShares:
    """A pool's sharing: by weight or pro rata to contributions; caps at contributions if set; the
    host is the first partner listed that carries a share of losses."""
    gain, loss = partner_weights(roles, sharing_weights(weights, contributions, risk))
    caps = np.array([np.inf if c is None else c for c in contributions]) if risk.cap_at_contribution else None
    carrying = np.flatnonzero(loss > 0)  # the host: the first partner listed that carries a share of losses
    return PoolShares(gain, loss, caps, host=int(carrying[0]) if len(carrying) else roles.index("full_risk"))


def split_among_partners(provider: np.ndarray, roles: list[str], weights: list[float]) -> np.ndarray:
    """Split the provider side, (sims, years), among partners: gains to full-risk and gain-share
    partners by weight, losses to full-risk partners only. Returns (partners, sims, years), each
    partner's array laid out as `provider` is."""
    w = np.asarray(weights, dtype=float)
    gain_w, loss_w = partner_weights(roles, weights)
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
