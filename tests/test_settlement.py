"""Settlement: hand-computed cases and the money invariants of docs/model.md ("Settlement")."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.scenario import Risk
from lib.settlement import pool_shares, reopen, settle, share_year, split_among_partners


def one(v, b=100.0, **terms):
    s = settle(np.array([[v]]), np.array([[b]]), Risk(**terms))
    return float(s.provider[0, 0]), float(s.commissioner[0, 0]), float(s.reinvested[0, 0]), s


# ---- hand-computed cases (budget 100) ---------------------------------------------------------


def test_gain_capped_goes_to_commissioner():
    # cost 90 -> variance 10; 50% of 10 = 5, capped at 3% of 100 = 3; the 2 cut off and the
    # commissioner's 5 both go to the commissioner: 7.
    p, c, r, _ = one(10, gain_share=0.5, cap=0.03)
    assert (p, c, r) == pytest.approx((3.0, 7.0, 0.0))


def test_gain_capped_reinvested():
    # Same, but what the cap cuts off (5 - 3 = 2) is reinvested: commissioner keeps 5.
    p, c, r, _ = one(10, gain_share=0.5, cap=0.03, beyond_cap="reinvest")
    assert (p, c, r) == pytest.approx((3.0, 5.0, 2.0))


def test_gain_without_cap_is_shared_from_first_pound():
    p, c, r, _ = one(10, gain_share=0.5)
    assert (p, c, r) == pytest.approx((5.0, 5.0, 0.0))


def test_loss_limited_by_collar():
    # cost 108 -> variance -8; 50% = -4, collar 2% of 100 = -2; commissioner absorbs -6.
    p, c, r, s = one(-8, loss_share=0.5, collar=0.02)
    assert (p, c, r) == pytest.approx((-2.0, -6.0, 0.0))
    assert bool(s.collar_hit[0, 0])


def test_loss_inside_collar_is_not_a_breach():
    p, c, _, s = one(-3, loss_share=0.5, collar=0.02)
    assert (p, c) == pytest.approx((-1.5, -1.5))
    assert not bool(s.collar_hit[0, 0])


@pytest.mark.parametrize("variance", [1.5, -1.9, 2.0, -2.0])
def test_inside_neutral_band_nothing_is_shared(variance):
    # band 2% of 100 = 2: the commissioner keeps or absorbs it all.
    p, c, r, _ = one(variance, gain_share=0.5, loss_share=0.5, neutral_band=0.02)
    assert (p, c, r) == pytest.approx((0.0, variance, 0.0))


def test_beyond_band_shared_from_first_pound():
    # 2.5 > band 2: 50% of the whole 2.5, not of the 0.5 above the band.
    p, c, _, _ = one(2.5, gain_share=0.5, neutral_band=0.02)
    assert (p, c) == pytest.approx((1.25, 1.25))


def test_quality_gate_blocks_gain():
    v, b = np.array([[10.0, 10.0]]), np.array([[100.0, 100.0]])
    s = settle(v, b, Risk(gain_share=0.5, quality_gate=102.0), outcome_index=np.array([[101.0, 103.0]]))
    assert s.provider[0].tolist() == pytest.approx([0.0, 5.0])
    assert s.commissioner[0].tolist() == pytest.approx([10.0, 5.0])


def test_quality_gate_does_not_touch_losses():
    v, b = np.array([[-10.0]]), np.array([[100.0]])
    s = settle(v, b, Risk(loss_share=0.5, quality_gate=102.0), outcome_index=np.array([[90.0]]))
    assert s.provider[0, 0] == pytest.approx(-5.0)


def test_salford_cover_and_carry_forward():
    # Year 1: -10, provider's half (-5) covered by the commissioner and owed.
    # Year 2: +6, provider's half (3) repays 3 of the 5 owed: provider 0, commissioner 6.
    # Year 3: +8, provider's half (4) repays the last 2: provider 2, commissioner 6.
    v, b = np.array([[-10.0, 6.0, 8.0]]), np.full((1, 3), 100.0)
    s = settle(v, b, Risk(gain_share=0.5, loss_share=0.5, glide_years=1, carry_forward=True))
    assert s.provider[0].tolist() == pytest.approx([0.0, 0.0, 2.0])
    assert s.commissioner[0].tolist() == pytest.approx([-10.0, 6.0, 6.0])
    assert s.recovered[0].tolist() == pytest.approx([0.0, 3.0, 2.0])


def test_cover_without_carry_forward_is_not_recovered():
    v, b = np.array([[-10.0, 6.0, 8.0]]), np.full((1, 3), 100.0)
    s = settle(v, b, Risk(gain_share=0.5, loss_share=0.5, glide_years=1, carry_forward=False))
    assert s.provider[0].tolist() == pytest.approx([0.0, 3.0, 4.0])
    assert s.recovered.sum() == 0.0


def test_failure_ends_the_contract_and_marks_later_years():
    # Capacity 5: the full-risk provider loses 6 in year 1 and fails; the commissioner carries
    # years 2-4, including the surplus of year 4.
    v, b = np.array([[-6.0, -6.0, -6.0, 10.0]]), np.full((1, 4), 100.0)
    s = settle(v, b, Risk(gain_share=1.0, loss_share=1.0), capacity_gbp_m=5.0)
    assert s.failed_in.tolist() == [1]
    assert s.active[0].tolist() == [True, False, False, False]
    assert s.provider[0].tolist() == pytest.approx([-6.0, 0.0, 0.0, 0.0])
    assert s.commissioner[0].tolist() == pytest.approx([0.0, -6.0, -6.0, 10.0])


def test_no_failure_within_capacity():
    v, b = np.array([[-2.0, -2.0, 5.0]]), np.full((1, 3), 100.0)
    s = settle(v, b, Risk(gain_share=1.0, loss_share=1.0), capacity_gbp_m=5.0)
    assert s.failed_in.tolist() == [0]
    assert s.active.all()


def test_partners_split_gains_and_losses():
    # Gains by weight among full-risk (0.6) and gain-share (0.3); losses on full risk only.
    provider = np.array([[10.0, -6.0]])
    split = split_among_partners(provider, ["full_risk", "gain_share", "consultative"], [0.6, 0.3, 0.1])
    assert split[:, 0, 0].tolist() == pytest.approx([20 / 3, 10 / 3, 0.0])
    assert split[:, 0, 1].tolist() == pytest.approx([-6.0, 0.0, 0.0])


# ---- properties ----------------------------------------------------------------------------

money = st.floats(min_value=-500, max_value=500, allow_nan=False, allow_infinity=False)
budgets = st.floats(min_value=1, max_value=1000, allow_nan=False, allow_infinity=False)
fractions = st.floats(min_value=0, max_value=1, allow_nan=False)
optional_limit = st.one_of(st.none(), st.floats(min_value=0, max_value=0.5, allow_nan=False))


@st.composite
def terms(draw, **fixed):
    values = {
        "gain_share": draw(fractions),
        "loss_share": draw(fractions),
        "neutral_band": draw(st.floats(min_value=0, max_value=0.1, allow_nan=False)),
        "cap": draw(optional_limit),
        "collar": draw(optional_limit),
        "beyond_cap": draw(st.sampled_from(["commissioner", "reinvest"])),
        "quality_gate": draw(st.one_of(st.none(), st.floats(min_value=95, max_value=110))),
        "carry_forward": draw(st.booleans()),
        "glide_years": draw(st.integers(min_value=0, max_value=3)),
        "glide_gain_share": draw(st.one_of(st.none(), fractions)),
        "glide_loss_share": draw(fractions),
    }
    values.update(fixed)
    return Risk(**values)


@st.composite
def paths(draw, years=5):
    variance = np.array([draw(st.lists(money, min_size=years, max_size=years))])
    budget = np.array([draw(st.lists(budgets, min_size=years, max_size=years))])
    index = np.array([draw(st.lists(st.floats(min_value=90, max_value=115), min_size=years, max_size=years))])
    return variance, budget, index


@settings(max_examples=300, deadline=None)
@given(paths(), terms(), st.one_of(st.none(), st.floats(min_value=0, max_value=50)))
def test_sides_add_up_to_variance(path, t, capacity):
    v, b, idx = path
    s = settle(v, b, t, idx, capacity_gbp_m=capacity)
    assert np.allclose(s.provider + s.commissioner + s.reinvested, v, rtol=0, atol=1e-9)


@settings(max_examples=300, deadline=None)
@given(paths(), terms())
def test_provider_within_cap_and_collar(path, t):
    v, b, idx = path
    s = settle(v, b, t, idx)
    if t.cap is not None:
        assert np.all(s.provider <= t.cap * b + 1e-9)
    if t.collar is not None:
        assert np.all(s.provider >= -t.collar * b - 1e-9)


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=-1, max_value=1, allow_nan=False), budgets, terms(glide_years=0))
def test_nothing_moves_inside_band(position, b, t):
    v = position * t.neutral_band * b  # a variance anywhere inside the band, its edges included
    p, r, _ = share_year(np.array([v]), np.array([b]), t, np.array([100.0]))
    assert p[0] == 0.0 and r[0] == 0.0


@settings(max_examples=300, deadline=None)
@given(paths(), terms(loss_share=0.0, glide_loss_share=0.0))
def test_loss_share_zero_never_loses(path, t):
    v, b, idx = path
    assert np.all(settle(v, b, t, idx).provider >= 0.0)


@settings(max_examples=200, deadline=None)
@given(paths())
def test_full_capitation_provider_bears_all(path):
    v, b, _ = path
    s = settle(v, b, Risk(gain_share=1.0, loss_share=1.0))
    assert np.array_equal(s.provider, v)
    assert np.allclose(s.commissioner, 0.0, atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(money, min_size=1, max_size=6),
    st.lists(
        st.tuples(st.sampled_from(["full_risk", "gain_share", "consultative", "subcontractor"]), fractions),
        min_size=1,
        max_size=5,
    ),
)
def test_partner_shares_sum_to_provider_side(values, partners):
    roles = ["full_risk"] + [r for r, _ in partners]  # there is always a full-risk partner
    weights = [1.0] + [w for _, w in partners]
    provider = np.array([values])
    split = split_among_partners(provider, roles, weights)
    assert np.allclose(split.sum(axis=0), provider, atol=1e-9)
    losers = [i for i, r in enumerate(roles) if r != "full_risk"]
    assert np.all(split[losers] >= 0.0)


@settings(max_examples=200, deadline=None)
@given(paths(), terms(), st.floats(min_value=0, max_value=30))
def test_after_failure_provider_is_zero(path, t, capacity):
    v, b, idx = path
    s = settle(v, b, t, idx, capacity_gbp_m=capacity)
    for sim, year in enumerate(s.failed_in):
        if year:
            assert np.all(s.provider[sim, year:] == 0.0)
            assert np.all(~s.active[sim, year:])
            assert np.cumsum(s.provider[sim])[year - 1] < -capacity


# ---- terms real deals carry: glide path, re-opener ----------------------------------------------


def test_an_alliance_year_shares_nothing_then_the_contract_shares_both_ways():
    # West Wakefield: a year as an alliance (nothing shared), then the MCP contract at 50/50.
    v, b = np.array([[-10.0, 6.0, 8.0]]), np.full((1, 3), 100.0)
    s = settle(v, b, Risk(gain_share=0.5, loss_share=0.5, glide_years=2, glide_gain_share=0.0, glide_loss_share=0.0))
    assert s.provider[0].tolist() == pytest.approx([0.0, 0.0, 4.0])
    assert s.commissioner[0].tolist() == pytest.approx([-10.0, 6.0, 4.0])


def test_a_glide_from_a_small_loss_share_recovers_what_commissioners_covered():
    # Year 1 at a 20% loss share: the provider bears 2 of the 10 lost, commissioners cover the 3 more
    # it would bear at 50%; carried forward, the 3 come back from the provider's half of year 2's 6.
    v, b = np.array([[-10.0, 6.0, 8.0]]), np.full((1, 3), 100.0)
    risk = Risk(gain_share=0.5, loss_share=0.5, glide_years=1, glide_loss_share=0.2, carry_forward=True)
    s = settle(v, b, risk)
    assert s.provider[0].tolist() == pytest.approx([-2.0, 0.0, 4.0])
    assert s.recovered[0].tolist() == pytest.approx([0.0, 3.0, 0.0])
    assert (s.provider + s.commissioner + s.reinvested)[0].tolist() == pytest.approx(v[0].tolist())


def test_reopener_reprices_the_years_after_a_large_variance():
    # Year 1 costs 110 against 100 (10% off, past a 5% threshold): later budgets x 1.1.
    budget = np.array([[100.0, 102.0, 104.0]])
    cost = np.array([[110.0, 112.0, 114.0]])
    assert reopen(budget, cost, 0.05)[0].tolist() == pytest.approx([100.0, 112.2, 114.4])
    assert reopen(budget, cost, 0.2)[0].tolist() == pytest.approx([100.0, 102.0, 104.0])  # never passed
    assert reopen(budget, cost, None) is budget


@settings(max_examples=200, deadline=None)
@given(paths(), st.lists(budgets, min_size=5, max_size=5), terms(), st.floats(min_value=0, max_value=0.5))
def test_money_is_conserved_with_a_reopener_and_every_other_term(path, costs, t, threshold):
    _, b, idx = path
    cost = np.array([costs])
    repriced = reopen(b, cost, threshold)
    s = settle(repriced - cost, repriced, t, idx, capacity_gbp_m=10.0)
    assert np.allclose(s.provider + s.commissioner + s.reinvested, repriced - cost, rtol=0, atol=1e-9)
    if t.collar is not None:
        assert np.all(s.provider >= -t.collar * repriced - 1e-9)


# ---- section 75 pools: shares by contribution, caps, a risk pool, the order an overspend is met --

ROLES = ["full_risk", "full_risk", "gain_share"]


def pool_settle(variance, risk: Risk, contributions=(30.0, 10.0, 5.0), weights=(1.0, 1.0, 1.0), capacity=None):
    v = np.array([variance], dtype=float)
    shares = pool_shares(ROLES, list(weights), list(contributions), risk)
    return settle(v, np.full_like(v, 100.0), risk, capacity_gbp_m=capacity, pool=shares)


def test_pro_rata_to_contributions_losses_to_full_risk_partners_gains_to_all_sharing():
    # all risk to the pool's partners; contributions 30 : 10 : 5 (the third shares gains only)
    s = pool_settle([-8.0, 9.0], Risk(gain_share=1, loss_share=1, partner_split="contribution"))
    assert s.partners[:, 0, 0].tolist() == pytest.approx([-6.0, -2.0, 0.0])  # 8 x 30/40, 8 x 10/40
    assert s.partners[:, 0, 1].tolist() == pytest.approx([6.0, 2.0, 1.0])  # 9 x 30/45, 10/45, 5/45
    assert s.commissioner[0].tolist() == pytest.approx([0.0, 0.0])


def test_each_partner_capped_at_its_contribution_and_the_rest_met_outside_the_pool():
    # a £60m overspend: pro rata 45 and 15, against contributions of 30 and 10
    s = pool_settle([-60.0], Risk(gain_share=1, loss_share=1, partner_split="contribution", cap_at_contribution=True))
    assert s.partners[:, 0, 0].tolist() == pytest.approx([-30.0, -10.0, 0.0])
    assert s.beyond_caps[0, 0] == pytest.approx(20.0)
    assert (s.provider[0, 0], s.commissioner[0, 0]) == pytest.approx((-40.0, -20.0))


def test_a_risk_pool_meets_the_overspend_first_and_its_funder_pays():
    risk = dict(gain_share=1, loss_share=1, risk_pool_gbp_m=4.0, uncommitted_gbp_m=3.0, partner_split="contribution")
    # funded by the commissioners: the £4m pool moves off the provider side, £3m of schemes are not
    # bought, and the partners share the last £3m 3:1
    s = pool_settle([-10.0], Risk(**risk, risk_pool_funder="commissioners"))
    assert s.met_by_risk_pool[0, 0] == pytest.approx(4.0) and s.met_by_schemes[0, 0] == pytest.approx(3.0)
    assert s.partners[:, 0, 0].tolist() == pytest.approx([-2.25, -0.75, 0.0])
    assert (s.provider[0, 0], s.commissioner[0, 0]) == pytest.approx((-3.0, -4.0))  # + 3 not spent = -10
    # funded by the host (the first partner carrying losses): it pays the pool's £4m and its share of the rest
    s = pool_settle([-10.0], Risk(**risk, risk_pool_funder="host"))
    assert s.partners[:, 0, 0].tolist() == pytest.approx([-6.25, -0.75, 0.0])
    assert s.commissioner[0, 0] == pytest.approx(0.0)
    # funded by the partners, as they share losses: the pool only says how much of the overspend it met
    s = pool_settle([-10.0], Risk(**risk, risk_pool_funder="partners"))
    assert s.partners[:, 0, 0].tolist() == pytest.approx([-5.25, -1.75, 0.0])


def test_the_order_decides_what_the_risk_pool_meets():
    risk = dict(gain_share=1, loss_share=1, risk_pool_gbp_m=4.0, uncommitted_gbp_m=3.0, risk_pool_funder="commissioners")
    pool_first = pool_settle([-5.0], Risk(**risk, overspend_order="risk_pool_first"))
    schemes_first = pool_settle([-5.0], Risk(**risk, overspend_order="schemes_first"))
    assert (pool_first.met_by_risk_pool[0, 0], pool_first.met_by_schemes[0, 0]) == pytest.approx((4.0, 1.0))
    assert (schemes_first.met_by_risk_pool[0, 0], schemes_first.met_by_schemes[0, 0]) == pytest.approx((2.0, 3.0))
    assert pool_first.commissioner[0, 0] == pytest.approx(-4.0) and schemes_first.commissioner[0, 0] == pytest.approx(-2.0)
    assert pool_first.provider[0, 0] == pytest.approx(0.0)  # 4 from the pool, 1 not spent: nothing left to share
    assert schemes_first.provider[0, 0] == pytest.approx(0.0)


def test_what_the_waterfall_moves_to_commissioners_does_not_count_towards_the_provider_side_failing():
    risk = Risk(gain_share=1, loss_share=1, partner_split="contribution", cap_at_contribution=True)
    capped = pool_settle([-60.0, -60.0], risk, capacity=50.0)  # 40 a year after the caps: 80 by year 2
    assert capped.failed_in[0] == 2 and capped.partners[:, 0, 1].tolist() == pytest.approx([-30.0, -10.0, 0.0])
    uncapped = pool_settle([-60.0, -60.0], risk.model_copy(update={"cap_at_contribution": False}), capacity=50.0)
    assert uncapped.failed_in[0] == 1 and np.all(uncapped.partners[:, 0, 1] == 0.0)  # 60 in year 1 passes 50


pool_money = st.floats(min_value=0, max_value=50, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(
    paths(), terms(), st.one_of(st.none(), st.floats(min_value=0, max_value=80)),
    st.sampled_from(["weight", "contribution"]), st.booleans(), st.one_of(st.none(), pool_money),
    st.sampled_from(["partners", "host", "commissioners"]), st.one_of(st.none(), pool_money),
    st.sampled_from(["risk_pool_first", "schemes_first"]),
    st.lists(st.tuples(st.sampled_from(["full_risk", "gain_share", "consultative"]), fractions, pool_money), max_size=4),
)  # fmt: skip
def test_a_pool_s_terms_conserve_money_and_hold_every_cap(path, t, capacity, split, capped, pool, funder, schemes, order,
                                                          others):  # fmt: skip
    v, b, idx = path
    risk = t.model_copy(update={"partner_split": split, "cap_at_contribution": capped, "risk_pool_gbp_m": pool,
                                "risk_pool_funder": funder, "uncommitted_gbp_m": schemes, "overspend_order": order})
    roles = ["full_risk"] + [r for r, _, _ in others]
    weights = [1.0] + [w for _, w, _ in others]
    contributions = [20.0] + [c for _, _, c in others]
    s = settle(v, b, risk, idx, capacity_gbp_m=capacity, pool=pool_shares(roles, weights, contributions, risk))
    stopped = 0.0 if s.met_by_schemes is None else s.met_by_schemes  # spending the pool no longer does
    assert np.allclose(s.provider + s.commissioner + s.reinvested, v + stopped, rtol=0, atol=1e-9)
    if s.partners is None:  # no pool term set: the partners split as before
        assert not (split == "contribution" or capped or pool or schemes)
        return
    assert np.allclose(s.partners.sum(axis=0), s.provider, rtol=0, atol=1e-9)  # gains always have a taker here
    if capped:
        assert np.all(s.partners >= -np.array(contributions)[:, None, None] - 1e-9)
    losers = [i for i, r in enumerate(roles) if r != "full_risk"]
    assert np.all(s.partners[losers] >= -1e-12)  # only full-risk partners (the host among them) lose
    assert np.all(s.met_by_risk_pool <= (pool or 0.0) + 1e-12) and np.all(s.met_by_schemes <= (schemes or 0.0) + 1e-12)


def test_the_host_is_the_first_partner_that_carries_a_share_of_losses():
    risk = Risk(gain_share=1, loss_share=1, risk_pool_gbp_m=4.0, risk_pool_funder="host")
    shares = pool_shares(["full_risk", "full_risk"], [0.0, 1.0], [None, None], risk)  # listed first, but weight 0
    assert shares.host == 1
    s = settle(np.array([[-3.0]]), np.array([[100.0]]), risk, pool=shares)
    assert s.partners[:, 0, 0].tolist() == pytest.approx([0.0, -3.0])
