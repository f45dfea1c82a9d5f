"""What a projection says in plain words: the headline tiles, the risk readings, what pushes
a deal to fail, the one-sided-deal warning, stress tests before and after, a sweep's reading."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lib import settlement
from lib.results import Run
from lib.words import gbp_m, minus, pct, unbroken


def failure_sentence(scenario: Any, failure: float) -> str:
    """The bold line of the failure warning, in the deal's own words."""
    who = "The pool's partners fail" if scenario.is_pooled_fund() else "The provider side fails"
    return f"**{who} in {pct(failure)} of simulations.**"


def partner_warning(scenario: Any, name: str, capacity_gbp_m: float, chance: float) -> str:
    """A partner that passes what it can bear in more than one simulation in ten, in the deal's words."""
    said = f"**{name}** loses more than it can bear ({gbp_m(capacity_gbp_m)}) in {chance:.0%} of simulations"
    if scenario.is_pooled_fund():
        return (
            f"{said}, with its share of the pool's overspends. A partner bears its share against its own capacity, so "
            "it can pass what it can bear in simulations where the partners as a whole still hold."
        )
    return (
        f"{said}: no provider should be allowed to topple (Northumberland). A partner bears its share of the side's "
        "losses against its own capacity, so it can pass what it can bear in simulations where the provider side as a "
        "whole still holds."
    )


def headline_tiles(run: Run) -> list[dict[str, str]]:
    """The six tiles, the provider side's three then the commissioners' three (id, label, value,
    detail, help): each side's position at contract end and its chance of passing what it can bear."""
    h = run.headline()
    scenario = run.scenario
    years = scenario.contract.years
    capacity = gbp_m(scenario.lead.loss_capacity_gbp_m)
    contingency = pct(scenario.risk.commissioner_contingency)
    pool = scenario.is_pooled_fund()
    provider, commissioners = ("Pool partners", "Outside the pool") if pool else ("Provider side", "Commissioners")

    def position(side: str, who: str) -> dict[str, str]:
        s = h[side]
        return {
            "id": side,
            "label": who,
            "value": gbp_m(s["p50"]),
            "detail": unbroken(f"cumulative after year {years}: P10 {gbp_m(s['p10'])} to P90 {gbp_m(s['p90'])}"),
            "help": f"{who}: cumulative gain (+) or loss (−) over the whole contract, median (P50) of the simulations.",
        }

    return [
        position("provider", provider),
        {
            "id": "failure",
            "label": "Partners fail" if pool else "Provider fails",
            "value": pct(h["failure"]) if scenario.pooled_lines else "nothing pooled",
            "detail": (f"chance their loss passes what they can bear ({capacity})" if pool
                       else f"chance its loss passes reserves + guarantees ({capacity})")
            if scenario.pooled_lines
            else "no pooled contract to fail; providers can still lose income at stake",
            "help": "Share of simulations in which the provider side's cumulative loss exceeds what it can absorb: "
            "the UnitingCare outcome. Later years are then carried by commissioners.",
        },
        {
            "id": "collar",
            "label": "Collar breached",
            "value": pct(h["collar_breach_any_year"]) if scenario.risk.collar is not None else "no collar",
            "detail": "chance the collar stops a provider loss",
            "help": "Share of simulations in which the collar limits the provider side's loss in any year; "
            "commissioners take the rest of that year's loss.",
        },
        position("commissioner", commissioners),
        {
            "id": "commissioner_shortfall",
            "label": f"{commissioners} short",
            "value": pct(h["commissioner_shortfall"]),
            "detail": f"chance that in some year their loss passes their contingency ({contingency} of its budget), "
            "even if they end ahead",
            "help": "Share of simulations in which, in at least one year, commissioners' side of the year's overspend "
            "(what the settlement leaves them, less what they keep of their funding) is more than they can find that year "
            "(Design › 4 · Risk split: commissioners' contingency). It counts overspend that would have come without the "
            "deal too.",
        },
        {
            "id": "deficit",
            "label": "Deficit year",
            "value": pct(h["deficit_any_year"]),
            "detail": "chance cost is above budget in at least one year, whoever carries it",
            "help": "Share of simulations in which cost exceeds the budget in any contract year, whoever carries it.",
        },
    ]


# Each side in a one-sided warning: its name, its verb, and what to check (a pooled fund's, then a contract's)
SIDES = {
    True: (("the pool's partners", "lose", "Check that the pool's partners agreed to carry that."),
           ("money outside the pool", "loses", "Check that the budgets outside the pool can carry that.")),
    False: (("the provider side", "loses", "Check that the provider side agreed to carry that."),
            ("commissioners", "lose", "Check that commissioners agreed to carry that.")),
}  # fmt: skip
ONE_SIDED = 3.0  # one side's worst-tenth loss this many times the other's reads as a one-sided deal


def one_sided_reading(run: Run) -> str | None:
    """A plain sentence when one side's downside (its P10 end position) is several times the other's."""
    h = run.headline()
    provider, commissioners = -min(h["provider"]["p10"], 0.0), -min(h["commissioner"]["p10"], 0.0)
    material = 0.002 * float(run.measure("budget")["p50"].sum())  # 0.2% of the contract's budget: below it, noise
    heavy, light = max(provider, commissioners), min(provider, commissioners)
    if heavy < material or heavy < ONE_SIDED * max(light, material / ONE_SIDED):
        return None
    mine, theirs = SIDES[run.scenario.is_pooled_fund()]
    (who, loses, check), (other, other_loses, _) = (theirs, mine) if commissioners > provider else (mine, theirs)
    times = f"{heavy / light:.0f} times what" if light >= material / ONE_SIDED else "far more than"
    return (
        f"A one-sided deal: in the worst tenth of simulations {who} {loses} {gbp_m(heavy)} or more over the contract, "
        f"{times} {other} {other_loses} ({gbp_m(light)}). {check}"
    )


FAILURE_WORTH_EXPLAINING = 0.2


def sides_note(run: Run) -> str | None:
    """What the model's two sides and its failure stand for in a section 75 pooled fund, which has no
    provider contract (None for any other deal)."""
    scenario = run.scenario
    if not scenario.is_pooled_fund():
        return None
    names = " and ".join(p.name for p in scenario.partners if p.role == "full_risk")
    return (
        f"In this pooled fund the provider side is the pool's partners ({names}) and the commissioner side is "
        "money outside the pool. The provider side failing means the partners lose more than the "
        f"{gbp_m(scenario.lead.loss_capacity_gbp_m)} they are taken to bear over the agreement (an assumption), "
        "after which it is renegotiated or ended and money outside the pool carries the overspends."
    )


def pool_reading(run: Run) -> str | None:
    """How a pooled fund met its overspends over the contract, on average across simulations (None
    when the deal has no pool terms)."""
    if not settlement.pool_terms_on(run.scenario.risk):
        return None
    money = run.simulation.money
    total = {k: float(money[k].sum(axis=1).mean()) for k in ("met_by_risk_pool", "met_by_schemes", "beyond_caps")}
    ended = 1.0 - money["active"]  # years after the partners passed what they can bear
    after = float((np.maximum(-money["commissioner"], 0.0) * ended).sum(axis=1).mean())
    said = (
        f"Over the contract, on average across simulations, the risk pool met {gbp_m(total['met_by_risk_pool'])} of "
        f"overspends, stopping uncommitted schemes {gbp_m(total['met_by_schemes'])} (services not bought, so no one "
        f"pays it), and money outside the pool {gbp_m(total['beyond_caps'])} beyond the partners' caps; the partners "
        "met the rest while the agreement held."
    )
    failed = float(run.headline()["failure"])
    if failed > 0:
        said += (
            f" In {pct(failed)} of simulations the partners passed what they can bear, and money outside the pool "
            f"carried every later overspend: {gbp_m(after)} on average."
        )
    return said


def failure_drivers(run: Run, most: int = 3) -> list[dict[str, Any]]:
    """What pushes the provider side towards failure, in the central case: the largest of the
    pressures below, each in £m over the contract, with the control that changes it."""
    parts = run.central_totals()
    setting_up = ""  # what it costs to set the deal up, if anything
    if parts["transaction"] > 0:
        pooled_fund = run.scenario.is_pooled_fund()
        setting_up = ", and the agreement's drafting, governance and audit" if pooled_fund else ", and procurement costs"
    pressures = [
        (
            float(parts["pool_no_change"] - parts["pool_funding"]),
            "costs in the pool grow faster than its funding",
            "Design › 3 · Contract: funding growth, or funding that follows population",
        ),
        (
            float(parts["pool_levers"]),
            f"the levers add cost to the pooled services while their savings ({gbp_m(-parts['place_levers'], 0)} "
            "across the place) fall in services outside the pool",
            "Design › 1 · Budgets to pool: pool the services where the savings fall; or 5 · Levers",
        ),
        (
            float(parts["pool_withheld_unearned"]),
            "the outcome withhold is not earned back: the index falls short of its target",
            "Design › 4 · Risk split: the withhold and the index that earns it",
        ),
        (
            float(parts["investment"] + parts["transaction"]),
            "investment while the levers ramp up" + setting_up,
            "Design › 5 · Levers: investment" + ("; 3 · Contract: procurement route" if setting_up else ""),
        ),
        (
            float(parts["pool_bid_discount"]),
            "the winning bid is below the maximum price",
            "Design › 3 · Contract: bid below the maximum price",
        ),
    ]
    spread = run.measure("cost")
    pressures.append(
        (
            float((spread["p90"] - spread["p50"]).sum()),
            "uncertain costs: in one simulation in ten the costs in scope run this far above the median",
            "Design › 2 · Who holds the budget: reserves and guarantees; 4 · Risk split: a collar or a lower loss share",
        )
    )
    ranked = sorted((p for p in pressures if p[0] > 0.5), key=lambda p: -p[0])[:most]  # shown to the £m: none at £0m
    return [{"gbp_m": amount, "why": why, "control": control} for amount, why, control in ranked]


def collar_over_contract(run: Run) -> float | None:
    """The most the collar lets the provider side lose over the whole contract (£m, central budget)."""
    collar = run.scenario.risk.collar
    return None if collar is None else float(collar * run.measure("pooled_budget")["p50"].sum())


def risk_readings(run: Run) -> dict[str, str]:
    """One plain sentence for each part of the Risk page."""
    h, years = run.headline(), run.years
    provider, capacity = h["provider"], run.scenario.lead.loss_capacity_gbp_m
    by_year = run.failure_by_year()
    first = by_year[by_year["failed_by"] >= 0.1]
    shortfall = run.expected_shortfall()
    partners = run.partner_summary()
    at_risk = partners[partners["role"] == "full_risk"]
    worst = at_risk.sort_values("p_over_capacity").iloc[-1] if len(at_risk) else None
    when = "never one in ten in any year"
    if len(first):
        when = (
            f"it first passes one in ten by year {int(first['year'].iloc[0])}, when {pct(first['failed_by'].iloc[0])} "
            "of simulations have failed"
        )
    short_by = by_year[by_year["commissioners_short_by"] >= 0.1]
    short_when = "never one in ten by any year"
    if len(short_by):
        short_when = (
            f"that first passes one in ten by year {int(short_by['year'].iloc[0])}, when "
            f"{pct(short_by['commissioners_short_by'].iloc[0])} of simulations have had such a year"
        )
    contingency = pct(run.scenario.risk.commissioner_contingency)
    return {
        "commissioners": f"Commissioners end the contract at {gbp_m(h['commissioner']['p50'])} (P50; one in ten at "
        f"{gbp_m(h['commissioner']['p10'])} or worse). In {pct(h['commissioner_shortfall'])} of simulations they lose more in "
        f"some year than their contingency ({contingency} of that year's budget), counting overspend that would have come "
        f"without the deal too; {short_when}.",
        "one_sided": one_sided_reading(run) or "Neither side's downside is several times the other's.",
        "distribution": f"Half the simulations end the contract with the provider side at {gbp_m(provider['p50'])} or "
        f"better; one in ten ends at {gbp_m(provider['p10'])} or worse. It fails below {gbp_m(-capacity)}.",
        "failure": f"By the end of year {years} the provider side has failed in {pct(h['failure'])} of simulations; {when}.",
        "shortfall": f"In the worst tenth of simulations the provider side ends, on average, at {gbp_m(shortfall)}: "
        + (
            ("more than it can absorb" if shortfall < -capacity else "within what it can absorb")
            + f" ({gbp_m(capacity)} of reserves and guarantees)."
            if run.scenario.pooled_lines
            else "income at stake that it did not earn; with nothing pooled there is no contract to fail."
        ),
        "partners": _partner_reading(worst),
    }


def _partner_reading(worst: Any) -> str:
    if worst is None:
        return "No partner carries losses."
    if worst["p_over_capacity"] == 0:
        return "No partner loses more than it can bear in any simulation."
    if worst["capacity_gbp_m"] <= 0:  # nothing set aside: any loss at all counts (an alliance's income at stake, say)
        return (
            f"{worst['name']} has nothing set aside to bear losses (no reserves or guarantees of its own, £0.0m), so "
            f"any loss counts: it loses money in {pct(worst['p_over_capacity'])} of simulations (in an alliance, part of "
            "the income it puts at stake on shared outcomes). Set what it can bear on Design, tab 2."
        )
    return (
        f"{worst['name']} is the partner most at risk: it loses more than it can bear "
        f"({gbp_m(worst['capacity_gbp_m'])}) in {pct(worst['p_over_capacity'])} of simulations. That can be more "
        "often than the provider side fails: a partner carries its share of the losses against its own capacity, "
        "the side its whole loss against all its reserves and guarantees."
    )


HEADLINE_ROWS = [  # a headline number's label ("£m" marks money) and where it is in Run.headline()
    ("Provider side, P50 (£m)", lambda h: h["provider"]["p50"]),
    ("Provider side, P10 (£m)", lambda h: h["provider"]["p10"]),
    ("Chance the provider side fails", lambda h: h["failure"]),
    ("Chance the collar is breached", lambda h: h["collar_breach_any_year"]),
    ("Commissioners, P50 (£m)", lambda h: h["commissioner"]["p50"]),
    ("Commissioners, P10 (£m)", lambda h: h["commissioner"]["p10"]),
    ("Chance commissioners pass their contingency", lambda h: h["commissioner_shortfall"]),
    ("Chance of a deficit year", lambda h: h["deficit_any_year"]),
]


TILE_ROWS = (0, 2, 3, 4, 6, 7)  # the row of HEADLINE_ROWS behind each of headline_tiles' six tiles


def _change(was: float, now: float, money: bool) -> str:
    """The change between two shown values, from the values as shown (94% against 25% is +69 points),
    with a sign and the minus sign text uses."""
    if money:
        change = round(now, 1) - round(was, 1)
        return ("+" if change > 0 else "") + gbp_m(change)
    points = round(now * 100) - round(was * 100)
    return minus(f"{points:+d} points")


def before_after(before: Run, after: Run) -> pd.DataFrame:
    """The headline of a design and of the same design under stress, side by side."""
    rows = []
    for label, read in HEADLINE_ROWS:
        b, a, money = read(before.headline()), read(after.headline()), "£m" in label
        show = gbp_m if money else pct
        if "collar" in label and before.scenario.risk.collar is None and after.scenario.risk.collar is None:
            rows.append({"headline": label, "this design": "no collar", "under the stresses": "no collar", "change": ""})
            continue
        rows.append({"headline": label, "this design": show(b), "under the stresses": show(a), "change": _change(b, a, money)})
    return pd.DataFrame(rows)


def stressed_tiles(before: Run, after: Run) -> list[dict[str, str]]:
    """The headline tiles under the stresses, each with the design's value and the change."""
    tiles = []
    for stressed, design, row in zip(headline_tiles(after), headline_tiles(before), TILE_ROWS, strict=True):
        label, read = HEADLINE_ROWS[row]
        was, now, money = read(before.headline()), read(after.headline()), "£m" in label
        change = _change(was, now, money) if abs(now - was) > 1e-9 else ""
        worse = now < was if money else now > was  # less money, or a likelier deficit, breach or failure
        tiles.append(stressed | {"before": design["value"], "change": change, "worse": worse})
    return tiles


NO_EFFECT_ON_FAILURE = {  # why a term cannot move the chance of failure, where that is the reason
    "risk.gain_share": "a gain share divides surpluses only, and the provider side fails on its losses",
    "risk.cap": "a cap limits gains only, and the provider side fails on its losses",
    "risk.glide_gain_share": "it divides the opening years' surpluses only",
}


def sweep_reading(ends: pd.DataFrame, paths: tuple[str, str], labels: tuple[str, str]) -> str:
    """A plain reading of a sweep: a term that leaves the chance of failure where it was is named,
    with the reason where one is known, so a flat row or column is not taken for a fault."""
    said = []
    for path, other, label in ((paths[0], paths[1], labels[0]), (paths[1], paths[0], labels[1])):
        spread = ends.groupby(other)["failure"].agg(lambda f: f.max() - f.min()).max()
        if spread < 0.005:
            why = NO_EFFECT_ON_FAILURE.get(path, "over this range it changes no simulation's fate")
            said.append(f"{label} does not move the chance of failure: {why}.")
    return " ".join(said)
