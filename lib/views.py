"""Page-ready tables and sources: where each value comes from, money flows, the cost bridge,
outcomes by year, designs side by side, the replay year by year. Words and numbers are written by
lib/words, readings of a projection by lib/readings, the evidence check by lib/evidence. Pages read
state, call these, and draw. Money is £m; contract years count from 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd

from lib import settlement, words
from lib.catalogue import Catalogue
from lib.results import Run
from lib.scenario import Scenario, field_spec, flatten

ADDED = "added in this scenario"
MODEL_DEFAULT = "assumption: model default"


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


def money_flows(run: Run, year: int | None = None) -> pd.DataFrame:
    """Where the money goes in the central case, £m over the whole contract (or one contract
    year): commissioners (or, into a pooled fund, each partner) -> lead -> partners and
    sub-contractors, and the settlement. The whole contract is the sum of its years, each of which
    balances: a year of surplus and a year of deficit are both shown, not netted."""
    if year is None:
        years = [_year_flows(run, y) for y in range(1, run.scenario.contract.years + 1)]
        whole = pd.concat(years).groupby(["source", "target"], sort=False, as_index=False)["value_gbp_m"].sum()
        return whole[whole["value_gbp_m"] > 1e-9].reset_index(drop=True)
    return _year_flows(run, year)


def _year_flows(run: Run, year: int) -> pd.DataFrame:
    s = run.scenario
    central = run.central()
    c = central[central["year"] == year].drop(columns="year").sum(numeric_only=True)
    put_in = sum(p.contribution_gbp_m or 0.0 for p in s.partners)
    pool = settlement.pool_terms_on(s.risk) and put_in > 0  # a pooled fund: each partner pays in, a host holds it
    lead = f"Pooled fund (host: {s.lead.type.replace('_', ' ')})" if pool else f"Lead: {s.lead.type.replace('_', ' ')}"
    paying, delivering = _partner_nodes(s, lead)
    rows: list[tuple[str, str, float]] = []
    pooled_budget = float(c.get("pooled_budget", 0.0))
    aligned_budget = float(c.get("aligned_budget", 0.0))
    if pooled_budget > 0 and pool:
        rows += [(paying[i], lead, pooled_budget * (p.contribution_gbp_m or 0.0) / put_in) for i, p in enumerate(s.partners)]
    elif pooled_budget > 0:
        rows.append(("Commissioners", lead, pooled_budget))
    if aligned_budget > 0:
        rows.append(("Commissioners", "Alliance services (existing contracts)", aligned_budget))
    pooled_cost = float(c.get("pooled_cost", 0.0))
    total_weight = sum(p.weight for p in s.partners if p.weight > 0) or 1.0
    rows += [(lead, delivering[i], pooled_cost * p.weight / total_weight) for i, p in enumerate(s.partners) if p.weight > 0]
    variance = pooled_budget - pooled_cost
    # the provider side's share of the pool's variance: its position less the outcome incentive (earned,
    # less the pot at stake that it did not earn), which is money for aligned services, outside the pool
    due = s.risk.incentive_pot * aligned_budget * (1.0 if s.risk.incentive_at_stake else 0.0)
    provider = float(c.get("provider", 0.0)) - float(c.get("incentive_earned", 0.0)) + due
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


SETTLEMENT_NODES = (
    "Commissioners", "Alliance services (existing contracts)", "Surplus kept by the provider side", "Reinvested in services",
    "Surplus returned to commissioners", "Deficit met by the provider side", "Deficit met by commissioners",
    "Outcome incentive earned by providers",
)  # fmt: skip


def _partner_nodes(scenario: Scenario, lead: str) -> tuple[list[str], list[str]]:
    """Each partner's node paying into a pooled fund and its node delivering, by position: a name a
    user typed that is another node's, or another partner's, is told apart ("(partner 2)"), so money
    never merges into the wrong node or runs in a loop."""
    taken = {lead, *SETTLEMENT_NODES}
    paying, delivering = [], []
    for i, p in enumerate(scenario.partners):
        name = p.name
        if name in taken or f"Puts in: {name}" in taken or any(name == f"Puts in: {q.name}" for q in scenario.partners):
            name = f"{p.name} (partner {i + 1})"
        shown = f"Sub-contractor: {name}" if p.role == "subcontractor" else name
        paying.append(f"Puts in: {name}")
        delivering.append(shown)
        taken |= {paying[-1], shown, name}
    return paying, delivering


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
    measured = {r["id"]: (str(r["name"]), words.unit(r["unit"])) for r in cat.records["outcome_measures"]}
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


def differing_assumptions(scenarios: dict[str, Scenario], cat: Catalogue | None = None) -> pd.DataFrame:
    """Only the assumptions that differ between the designs: one row per setting (by its label),
    one column each, values as a board reads them; with no catalogue, the raw field paths and values."""
    values = {name: dict(flatten(s.to_dict())) for name, s in scenarios.items()}
    paths = sorted({p for v in values.values() for p in v} - {"name"})
    missing = object()
    differing = [p for p in paths if len({repr(v.get(p, missing)) for v in values.values()}) > 1]
    if cat is None:
        rows = [{"field": p, **{name: v.get(p) for name, v in values.items()}} for p in differing]
        return pd.DataFrame(rows, columns=["field", *scenarios])
    names = value_names(cat)
    rows = []
    for p in differing:
        try:
            unit = field_spec(p).unit
        except KeyError:
            unit = ""
        shown = {name: shown_value(v.get(p), unit, {} if p.endswith(".name") else names) or "none" for name, v in values.items()}
        rows.append({"setting": setting_label(cat, p), **shown})
    return pd.DataFrame(rows, columns=["setting", *scenarios])


# ---- the Risk page ---------------------------------------------------------------------------


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
            "UnitingCare's terms, failed by this year (%)": (failed * 100).round(1),
        }
    )
    return frame.rename_axis("year").reset_index()


def value_names(cat: Catalogue) -> dict[str, str]:
    """Every id a setting's value can be (a route, a lead type, a form, a group, a role, where money
    beyond a cap goes) and its name: one table for every page and file that shows settings."""
    names = {r["id"]: r["name"] for t in ("routes", "lead_types", "org_forms", "target_groups") for r in cat.records[t]}
    return names | words.ROLE_NAMES | {"commissioner": "Commissioners", "reinvest": "Reinvested in services"}


def subject(cat: Catalogue, path: str, partners: tuple[str, ...] = ()) -> str:
    """Whose value a keyed field path holds: the lever, service line, outcome measure or partner
    (`partners`: the design's partner names), or "" for a path that is not keyed."""
    keyed = path.split(".")
    if len(keyed) < 2:
        return ""
    if keyed[0] == "partners":
        return partners[int(keyed[1])] if keyed[1].isdigit() and int(keyed[1]) < len(partners) else ""
    keyed_tables = ("levers", "service_lines", "outcome_measures")
    return next((r["name"] for t in keyed_tables for r in cat.records[t] if r["id"] == keyed[1]), "")


def about(who: str, words_: str) -> str:
    """Words about one lever, line, measure or partner, led by its name."""
    return f"{who}: {words_[:1].lower()}{words_[1:]}" if who else words_


def setting_label(cat: Catalogue, path: str) -> str:
    """A field path in words: its label (or its help), with the lever, line or measure it is for."""
    try:
        spec = field_spec(path)
    except KeyError:
        return path
    return about(subject(cat, path), spec.label or spec.help.rstrip("."))


def shown_value(value: Any, unit: str, names: dict[str, str]) -> str:
    """A setting's value as a board reads it: yes/no, shares as %, money as −£12.0m, ids as names,
    a partners list by name and role (`names`: value_names)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float) and unit.startswith("fraction"):
        return f"{value * 100:.4g}%" + (" a year" if "year" in unit else "")
    if isinstance(value, int | float) and unit.startswith("£m"):
        return words.gbp_m(value, 2 if abs(value) < 10 else 1) + (" a year" if "year" in unit else "")
    if isinstance(value, str):  # a typed name is not an id: callers pass names={} for it
        return names.get(value, value)
    if isinstance(value, list):  # the partners (by name and role), or a list of ids such as the aligned lines
        roles = words.ROLE_NAMES
        return "; ".join(
            f"{p.get('name')} ({roles.get(p.get('role'), p.get('role'))})" if isinstance(p, dict) else names.get(p, str(p))
            for p in value
        )
    if isinstance(value, int | float) and unit in ("seed", "calendar year"):  # a label, not a quantity: 2017, not 2,017
        return f"{value:g}"
    return words.minus(f"{value:,}") if isinstance(value, int | float) else str(value)


def unit_left(unit: str) -> str:
    """What of a unit shown_value has not already written into the value ("years", "per 1,000")."""
    return "" if unit.startswith(("fraction", "£m")) else unit


def readable_presets(cat: Catalogue, presets: pd.DataFrame) -> pd.DataFrame:
    """A template's preset values as a board reads them: each field by its label (or its help), ids
    as names, shares as %; the field path kept last for analysts."""
    names = value_names(cat)
    rows = []
    for row in presets.itertuples():
        value = json.loads(row.value) if isinstance(row.value, str) else row.value
        try:
            unit = field_spec(row.field).unit
        except KeyError:
            unit = ""
        rows.append(
            {"setting": setting_label(cat, row.field), "value": shown_value(value, unit, names)}
            | {"source": row.source, "field": row.field}
        )
    return pd.DataFrame(rows, columns=["setting", "value", "source", "field"])
