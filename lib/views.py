"""Page-ready words, tables and sources: what the dashboard shows, computed here so tests can call it.

Pages read state, call these, and draw. Money is £m; contract years count from 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from lib.catalogue import Catalogue
from lib.results import Run
from lib.scenario import Scenario, flatten

APPROACH_NOTES = {
    "virtual": "nothing pooled: an alliance beside existing contracts",
    "partially integrated": "budgets pooled, core primary care outside",
    "fully integrated": "budgets pooled, core primary care inside",
}
ADDED = "added in this scenario"
MODEL_DEFAULT = "assumption: model default"


def pct(value: float | None, digits: int = 0) -> str:
    return "none" if value is None else f"{value * 100:.{digits}f}%"


def gbp_m(value: float, digits: int = 1) -> str:
    sign = "−" if value < 0 else ""
    return f"{sign}£{abs(value):,.{digits}f}m"


def approach_label(scenario: Scenario) -> str:
    name = scenario.approach()
    return f"{name} ({APPROACH_NOTES[name]})"


def risk_sentence(scenario: Scenario) -> str:
    """Who carries how much risk, in one line."""
    r = scenario.risk
    if not scenario.pooled_lines:
        how = "at stake on" if r.incentive_at_stake else "earned on"
        pot = f"; {pct(r.incentive_pot, 1)} of providers' income {how} shared outcomes" if r.incentive_pot else ""
        return f"commissioners keep every surplus and deficit{pot}"
    limits = []
    if r.cap is not None:
        limits.append(f"cap {pct(r.cap, 1)}")
    if r.collar is not None:
        limits.append(f"collar {pct(r.collar, 1)}")
    if r.withhold:
        limits.append(f"{pct(r.withhold)} withheld on outcomes")
    tail = f" ({', '.join(limits)})" if limits else ""
    return f"provider side takes {pct(r.gain_share)} of gains and {pct(r.loss_share)} of losses{tail}"


def deal_summary(scenario: Scenario) -> str:
    """The one-line summary the sidebar shows."""
    return (
        f"{gbp_m(scenario.pooled_budget_gbp_m(), 0)} pooled · {scenario.approach()} · "
        f"{scenario.contract.years} years · {risk_sentence(scenario)}"
    )


# ---- where each value comes from -------------------------------------------------------------


def field_sources(cat: Catalogue, template: Scenario) -> dict[str, str]:
    """The source of every field of a template's preset scenario: the seeds' fact, or the
    assumption it rests on."""
    tpl = cat.template(template.template)
    lines = {r["line_id"]: r for r in tpl.lines.to_dict("records")}
    growth = {r["id"]: r["demand_growth_basis"] for r in cat.records["service_lines"]}
    lever_evidence = {r["id"]: r["evidence"] for r in cat.records["levers"]}
    realisation = {r["id"]: r["realisation_basis"] for r in cat.records["levers"]}
    partners = tpl.preset_sources.get("partners", "assumption: a single full-risk lead provider")
    sources = {}
    for path, _ in flatten(template.to_dict()):
        head, _, rest = path.partition(".")
        key = rest.split(".")[0]
        if path in tpl.preset_sources:
            sources[path] = tpl.preset_sources[path]
        elif head == "baseline":
            sources[path] = lines[key]["baseline_source"]
        elif head == "pooling":
            sources[path] = lines[key]["scope_source"] if lines[key]["in_scope"] else "assumption: not in the template's scope"
        elif head == "population":
            sources[path] = tpl.info["population_source"]
        elif head == "levers":
            sources[path] = realisation[key] if ".realisation_" in path else lever_evidence[key]
        elif head == "demand_growth":
            sources[path] = growth[key]
        elif head == "partners":
            sources[path] = partners
        else:
            sources[path] = MODEL_DEFAULT
    return sources


def source_note(current: Any, template_value: Any, source: str, fmt: Callable[[Any], str] = str) -> str:
    """'Template value (KF2016 Table 1)', or says the value was changed from the template's."""
    if source == ADDED:
        return "Added in this scenario; the template has no such value"
    if current == template_value:
        return f"Template value ({source})"
    return f"Changed from the template's {fmt(template_value)} ({source})"


def template_value(template: Scenario, sources: dict[str, str], path: str) -> tuple[Any, str]:
    """The template's value of a field and its source ('added in this scenario' if it has none)."""
    try:
        return template.get(path), sources.get(path, MODEL_DEFAULT)
    except (IndexError, KeyError):
        return None, ADDED


# ---- projections ------------------------------------------------------------------------------


def headline_tiles(run: Run) -> list[dict[str, str]]:
    """The six tiles, the provider side's three then the commissioners' three (id, label, value,
    detail, help): each side's position at contract end and its chance of passing what it can bear."""
    h = run.headline()
    scenario = run.scenario
    years = scenario.contract.years
    capacity = gbp_m(scenario.lead.loss_capacity_gbp_m)
    contingency = pct(scenario.risk.commissioner_contingency)

    def position(side: str, who: str) -> dict[str, str]:
        s = h[side]
        return {
            "id": side,
            "label": who,
            "value": gbp_m(s["p50"]),
            "detail": f"cumulative after year {years}: P10 {gbp_m(s['p10'])} to P90 {gbp_m(s['p90'])}",
            "help": f"{who}: cumulative gain (+) or loss (−) over the whole contract, median (P50) of the simulations.",
        }

    return [
        position("provider", "Provider side"),
        {
            "id": "failure",
            "label": "Provider fails",
            "value": pct(h["failure"]) if scenario.pooled_lines else "nothing pooled",
            "detail": f"chance its loss passes reserves + guarantees ({capacity})"
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
        position("commissioner", "Commissioners"),
        {
            "id": "commissioner_shortfall",
            "label": "Commissioners short",
            "value": pct(h["commissioner_shortfall"]),
            "detail": f"chance a year's loss to them passes their contingency ({contingency} of its budget)",
            "help": "Share of simulations in which, in at least one year, commissioners' side of the year's overspend "
            "(what the settlement leaves them, less what they keep of their funding) is more than they can find that year "
            "(Design › 4 · Risk split: commissioners' contingency). It counts overspend that would have come without the "
            "deal too.",
        },
        {
            "id": "deficit",
            "label": "Deficit year",
            "value": pct(h["deficit_any_year"]),
            "detail": "chance cost is above budget in at least one year",
            "help": "Share of simulations in which cost exceeds the budget in any contract year, whoever carries it.",
        },
    ]


ONE_SIDED = 3.0  # one side's worst-tenth loss this many times the other's reads as a one-sided deal


def one_sided_reading(run: Run) -> str | None:
    """A plain sentence when one side's downside (its P10 end position) is several times the other's."""
    h = run.headline()
    provider, commissioners = -min(h["provider"]["p10"], 0.0), -min(h["commissioner"]["p10"], 0.0)
    material = 0.002 * float(run.measure("budget")["p50"].sum())  # 0.2% of the contract's budget: below it, noise
    heavy, light = max(provider, commissioners), min(provider, commissioners)
    if heavy < material or heavy < ONE_SIDED * max(light, material / ONE_SIDED):
        return None
    if commissioners > provider:
        who, loses, other, other_loses = "commissioners", "lose", "the provider side", "loses"
    else:
        who, loses, other, other_loses = "the provider side", "loses", "commissioners", "lose"
    times = f"{heavy / light:.0f} times what" if light >= material / ONE_SIDED else "far more than"
    return (
        f"A one-sided deal: in the worst tenth of simulations {who} {loses} {gbp_m(heavy)} or more over the contract, "
        f"{times} {other} {other_loses} ({gbp_m(light)}). Check that {who} agreed to carry that."
    )


FAILURE_WORTH_EXPLAINING = 0.2


def failure_drivers(run: Run, most: int = 3) -> list[dict[str, Any]]:
    """What pushes the provider side towards failure, in the central case: the largest of the
    pressures below, each in £m over the contract, with the control that changes it."""
    parts = run.central_totals()
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
            "investment while the levers ramp up, and procurement costs",
            "Design › 5 · Levers: investment; 3 · Contract: procurement route",
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
    ranked = sorted((p for p in pressures if p[0] > 0.05), key=lambda p: -p[0])[:most]
    return [{"gbp_m": amount, "why": why, "control": control} for amount, why, control in ranked]


def money_flows(run: Run, year: int | None = None) -> pd.DataFrame:
    """Where the money goes in the central case, £m over the whole contract (or one contract
    year): commissioners -> lead -> partners -> sub-contractors, and the settlement."""
    s = run.scenario
    central = run.central() if year is None else run.central()[run.central()["year"] == year]
    c = central.drop(columns="year").sum(numeric_only=True)
    lead = f"Lead: {s.lead.type.replace('_', ' ')}"
    rows: list[tuple[str, str, float]] = []
    pooled_budget = float(c.get("pooled_budget", 0.0))
    aligned_budget = float(c.get("aligned_budget", 0.0))
    if pooled_budget > 0:
        rows.append(("Commissioners", lead, pooled_budget))
    if aligned_budget > 0:
        rows.append(("Commissioners", "Alliance services (existing contracts)", aligned_budget))
    pooled_cost = float(c.get("pooled_cost", 0.0))
    deliverers = [p for p in s.partners if p.weight > 0]
    total_weight = sum(p.weight for p in deliverers) or 1.0
    for p in deliverers:
        name = f"Sub-contractor: {p.name}" if p.role == "subcontractor" else p.name
        rows.append((lead, name, pooled_cost * p.weight / total_weight))
    variance = pooled_budget - pooled_cost
    provider = float(c.get("provider", 0.0)) - float(c.get("incentive_earned", 0.0))
    reinvested = float(c.get("reinvested", 0.0))
    if variance > 0:
        if provider > 0:
            rows.append((lead, "Surplus kept by the provider side", provider))
        if reinvested > 0:
            rows.append((lead, "Reinvested in services", reinvested))
        back = variance - max(provider, 0) - reinvested
        if back > 1e-9:
            rows.append((lead, "Surplus returned to commissioners", back))
    elif variance < 0:
        rows.append(("Deficit met by the provider side", lead, max(-provider, 0.0)))
        rows.append(("Deficit met by commissioners", lead, -variance - max(-provider, 0.0)))
    incentive = float(c.get("incentive_earned", 0.0))
    if incentive > 0:
        rows.append(("Commissioners", "Outcome incentive earned by providers", incentive))
    frame = pd.DataFrame(rows, columns=["source", "target", "value_gbp_m"])
    return frame[frame["value_gbp_m"] > 1e-9].reset_index(drop=True)


def waterfall_steps(run: Run, cat: Catalogue) -> pd.DataFrame:
    """Central case, contract total in scope: from the baseline cost to the projected cost."""
    parts = run.central_totals()
    steps = [("Baseline cost × years", float(parts["baseline"]), "absolute")]
    steps.append(("Demand growth", float(parts["counterfactual"] - parts["baseline"]), "relative"))
    for lever in cat.records["levers"]:  # in the catalogue's order
        if f"lever_{lever['id']}" in parts:
            steps.append((lever["name"], float(parts[f"lever_{lever['id']}"]), "relative"))
    steps.append(("Investment while levers ramp", float(parts["investment"]), "relative"))
    steps.append(("Procurement (transaction) costs", float(parts["transaction"]), "relative"))
    steps.append(("Projected cost", sum(v for _, v, _ in steps), "total"))
    return pd.DataFrame(steps, columns=["step", "value_gbp_m", "kind"])


OUTCOME_LABELS = {
    "outcome_index": ("Four-domain outcome index", "index (100 = no change)"),
    "outside_hospital_share": ("Spend outside hospital", "% of spend in scope"),
}


def outcome_labels(cat: Catalogue) -> dict[str, tuple[str, str]]:
    """Each outcome measure's name and unit, in the order the charts show them."""
    measured = {r["id"]: (str(r["name"]), str(r["unit"])) for r in cat.records["outcome_measures"]}
    return measured | OUTCOME_LABELS


def outcome_table(run: Run, cat: Catalogue) -> pd.DataFrame:
    """Each outcome measure by year: P10/P50/P90 with the design, and without it (no change)."""
    measures = list(outcome_labels(cat))
    frame = run.yearly(measures)
    base = run.no_change(measures)[["measure", "year", "p10", "p50", "p90"]]
    table = frame.merge(base, on=["measure", "year"], suffixes=("", "_no_change"))
    return table[["measure", "year", "p10", "p50", "p90", "p10_no_change", "p50_no_change", "p90_no_change"]]


# ---- comparing designs -------------------------------------------------------------------------


def compare_table(runs: dict[str, Run]) -> pd.DataFrame:
    """The headline of each design: positions at contract end (P50, P10, P90, £m), the chances of a
    deficit year, of the provider side failing and of commissioners passing their contingency, and
    the outcome index at contract end (P50)."""
    rows = []
    for name, run in runs.items():
        h = run.headline()
        index = run.measure("outcome_index")
        row = {"scenario": name, "template": run.scenario.template, "years": run.years}
        for side in ("provider", "commissioner"):
            row |= {f"{side}_{k}_gbp_m": round(h[side][k], 2) for k in ("p50", "p10", "p90")}
        row |= {"deficit_year_chance": round(h["deficit_any_year"], 4), "failure_chance": round(h["failure"], 4)}
        row |= {"commissioners_short_chance": round(h["commissioner_shortfall"], 4)}
        rows.append(row | {"outcome_index_p50": round(float(index["p50"].iloc[-1]), 2)})
    return pd.DataFrame(rows)


ROLE_NAMES = {  # a partner's role in words (KF2016: South Somerset's partner roles)
    "full_risk": "Full risk",
    "gain_share": "Gain share only",
    "consultative": "Consultative",
    "subcontractor": "Sub-contractor",
}
COMPARE_LABELS = {  # the headline table's columns in plain words (the command line keeps the ids)
    "scenario": "Design",
    "template": "Template",
    "years": "Years",
    "provider_p50_gbp_m": "Provider side at the end, P50 (£m)",
    "provider_p10_gbp_m": "Provider side, P10 (£m)",
    "provider_p90_gbp_m": "Provider side, P90 (£m)",
    "commissioner_p50_gbp_m": "Commissioners at the end, P50 (£m)",
    "commissioner_p10_gbp_m": "Commissioners, P10 (£m)",
    "commissioner_p90_gbp_m": "Commissioners, P90 (£m)",
    "deficit_year_chance": "Chance of a deficit year",
    "failure_chance": "Chance the provider side fails",
    "commissioners_short_chance": "Chance commissioners pass their contingency",
    "outcome_index_p50": "Outcome index at the end, P50",
}


def yearly_side_by_side(runs: dict[str, Run], measure: str) -> pd.DataFrame:
    """One measure's P50 by contract year, a column per design (the compare charts' table)."""
    columns = {name: run.measure(measure).set_index("year")["p50"].round(2) for name, run in runs.items()}
    return pd.DataFrame(columns).rename_axis("year").reset_index()


def differing_assumptions(scenarios: dict[str, Scenario]) -> pd.DataFrame:
    """Only the assumptions that differ between the designs: one row per field, one column each."""
    values = {name: dict(flatten(s.to_dict())) for name, s in scenarios.items()}
    paths = sorted({p for v in values.values() for p in v} - {"name"})
    missing = object()
    rows = [
        {"field": p, **{name: v.get(p) for name, v in values.items()}}
        for p in paths
        if len({repr(v.get(p, missing)) for v in values.values()}) > 1
    ]
    return pd.DataFrame(rows, columns=["field", *scenarios])


# ---- the Risk page ---------------------------------------------------------------------------


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
        when = f"one in ten or more ({pct(first['failed_by'].iloc[0])}) has failed by year {int(first['year'].iloc[0])}"
    short_by = by_year[by_year["commissioners_short_by"] >= 0.1]
    short_when = "never one in ten by any year"
    if len(short_by):
        short_when = (
            f"one in ten or more ({pct(short_by['commissioners_short_by'].iloc[0])}) has had such a year by year "
            f"{int(short_by['year'].iloc[0])}"
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
    return gbp_m(now - was) if money else f"{(now - was) * 100:+.0f} points"


def before_after(before: Run, after: Run) -> pd.DataFrame:
    """The headline of a design and of the same design under stress, side by side."""
    rows = []
    for label, read in HEADLINE_ROWS:
        b, a, money = read(before.headline()), read(after.headline()), "£m" in label
        show = gbp_m if money else pct
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


def replay_table(design: Run, replayed: Run) -> pd.DataFrame:
    """Year by year: the design's provider position beside the same place on UnitingCare's terms."""
    mine = design.measure("provider_cumulative").set_index("year")
    theirs = replayed.measure("provider_cumulative").set_index("year")
    failed = replayed.failure_by_year().set_index("year")["failed_by"]
    frame = pd.DataFrame(
        {
            "this design, P50 (£m)": mine["p50"].round(2),
            "UnitingCare's terms, P50 (£m)": theirs["p50"].round(2),
            "UnitingCare's terms, P10 (£m)": theirs["p10"].round(2),
            "UnitingCare's terms, failed by this year": failed.round(3),
        }
    )
    return frame.rename_axis("year").reset_index()


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
