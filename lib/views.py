"""Page-ready figures: everything the dashboard shows, computed here so tests can call it.

Pages read state, call these, and draw. Money is £m; contract years count from 1.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cached_property, lru_cache
from typing import Any

import pandas as pd

from lib import catalogue, engine, store
from lib.scenario import Scenario

APPROACH_NOTES = {
    "virtual": "nothing pooled: an alliance beside existing contracts",
    "partially integrated": "budgets pooled, core primary care outside",
    "fully integrated": "budgets pooled, core primary care inside",
}


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
        pot = f"; {pct(r.incentive_pot, 1)} of income earned on shared outcomes" if r.incentive_pot else ""
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


@lru_cache(maxsize=32)
def template_scenario(template_id: str, stamp: str) -> Scenario:
    """A template's preset scenario (immutable, so one copy serves every caller)."""
    return Scenario.from_template(template_id)


def template_value(scenario: Scenario, path: str) -> tuple[Any, str]:
    """The template's value of a field and where it comes from."""
    return _template_value(scenario.template, path, store.data_stamp())


@lru_cache(maxsize=4096)
def _template_value(template_id: str, path: str, stamp: str) -> tuple[Any, str]:
    tpl = catalogue.template(template_id)
    base = template_scenario(template_id, stamp)
    if path in tpl.preset_sources:
        return base.get(path), tpl.preset_sources[path]
    head, _, line = path.partition(".")
    if head == "baseline":
        row = tpl.lines.set_index("line_id").loc[line]
        return base.get(path), str(row["baseline_source"])
    if head == "pooling":
        row = tpl.lines.set_index("line_id").loc[line]
        return base.get(path), str(row["scope_source"]) if row["in_scope"] else "assumption: not in the template's scope"
    if head == "population":
        return base.population, str(tpl.info["population_source"])
    if head == "levers":
        lever = catalogue.levers().set_index("id").loc[path.split(".")[1]]
        return base.get(path), str(lever["evidence"])
    if head == "demand_growth":
        row = catalogue.service_lines().set_index("id").loc[line]
        return base.get(path), str(row["demand_growth_basis"])
    if head == "partners":
        source = tpl.preset_sources.get("partners", "assumption: a single full-risk lead provider")
        try:
            return base.get(path), source
        except (IndexError, KeyError):
            return None, "added in this scenario"
    return base.get(path), "assumption: model default"


def source_note(scenario: Scenario, path: str, fmt=str) -> str:
    """'Template: 10% (KF2016 Table 1)', or says the value was changed from the template's."""
    value, source = template_value(scenario, path)
    current = scenario.get(path)
    if current == value:
        return f"Template value ({source})"
    return f"Changed from the template's {fmt(value)} ({source})"


# ---- projection views -------------------------------------------------------------------------


class ProjectionViews:
    """What the Projections page draws, each part read from the run's DuckDB tables the first
    time it is asked for (a tab that is not open costs nothing)."""

    def __init__(self, run: engine.Run) -> None:
        self.run = run
        self.scenario: Scenario = run.scenario
        self.scenario_json = run.scenario.to_json()
        self._memo: dict[str, Any] = {}
        self._memo_lock = threading.Lock()

    def memo(self, key: str, build: Callable[[], Any]) -> Any:
        """Build something from this run once (a figure, a table) and hand out the same object
        after that; callers must treat it as read-only."""
        with self._memo_lock:
            if key not in self._memo:
                self._memo[key] = build()
            return self._memo[key]

    @cached_property
    def yearly(self) -> pd.DataFrame:  # measure, year, p10, p50, p90, mean
        return self.run.yearly()

    @cached_property
    def by_measure(self) -> dict[str, pd.DataFrame]:
        # yearly comes sorted by measure then year: slice each measure's block (cheaper than groupby)
        names = self.yearly["measure"].to_numpy(dtype=object)
        values = self.yearly.drop(columns="measure")
        starts = [0, *[i for i in range(1, len(names)) if names[i] != names[i - 1]], len(names)]
        return {str(names[a]): values.iloc[a:b].reset_index(drop=True) for a, b in zip(starts[:-1], starts[1:], strict=True)}

    def measure(self, name: str) -> pd.DataFrame:
        """One measure's yearly summary: year, p10, p50, p90, mean."""
        return self.by_measure[name]

    @cached_property
    def headline(self) -> dict[str, Any]:
        return self.run.headline()

    @cached_property
    def partners(self) -> pd.DataFrame:
        return self.run.partner_summary()

    @cached_property
    def central(self) -> pd.DataFrame:
        return self.run.central()

    @cached_property
    def no_change(self) -> pd.DataFrame:
        return self.run.no_change()

    @cached_property
    def parts(self) -> pd.DataFrame:
        return self.run.central_parts()

    @cached_property
    def end_positions(self) -> pd.DataFrame:
        return self.run.end_position()


def projection_views(scenario: Scenario) -> ProjectionViews:
    return ProjectionViews(engine.project(scenario))


def headline_tiles(views: ProjectionViews) -> list[dict[str, str]]:
    """The five tiles: label, value, detail, help."""
    h = views.headline
    years = views.scenario.contract.years
    lead = views.scenario.lead
    capacity = gbp_m(lead.loss_capacity_gbp_m)

    def position(side: str, who: str) -> dict[str, str]:
        s = h[side]
        return {
            "label": who,
            "value": gbp_m(s["p50"]),
            "detail": f"cumulative after year {years}: P10 {gbp_m(s['p10'])} to P90 {gbp_m(s['p90'])}",
            "help": f"{who}: cumulative gain (+) or loss (−) over the whole contract, median (P50) of the simulations.",
        }

    return [
        position("provider", "Provider side"),
        position("commissioner", "Commissioners"),
        {
            "label": "Deficit year",
            "value": pct(h["deficit_any_year"]),
            "detail": "chance cost is above budget in at least one year",
            "help": "Share of simulations in which cost exceeds the budget in any contract year.",
        },
        {
            "label": "Collar breached",
            "value": pct(h["collar_breach_any_year"]) if views.scenario.risk.collar is not None else "no collar",
            "detail": "chance the collar stops a provider loss",
            "help": "Share of simulations in which the collar limits the provider side's loss in any year.",
        },
        {
            "label": "Provider fails",
            "value": pct(h["failure"]),
            "detail": f"chance its loss passes reserves + guarantees ({capacity})",
            "help": "Share of simulations in which the provider side's cumulative loss exceeds what it can absorb: "
            "the UnitingCare outcome. Later years are then carried by commissioners.",
        },
    ]


def money_flows(views: ProjectionViews, year: int | None = None) -> pd.DataFrame:
    """Where the money goes in the central case, £m over the whole contract (or one contract
    year): commissioners -> lead -> partners -> sub-contractors, and the settlement."""
    s = views.scenario
    central = views.central if year is None else views.central[views.central["year"] == year]
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
    subcontract = [p for p in deliverers if p.role == "subcontractor"]
    for p in deliverers:
        if p.role != "subcontractor":
            rows.append((lead, p.name, pooled_cost * p.weight / total_weight))
    for p in subcontract:
        rows.append((lead, f"Sub-contractor: {p.name}", pooled_cost * p.weight / total_weight))
    if pooled_budget > 0 and not deliverers:
        rows.append((lead, "Services", pooled_cost))
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


def waterfall_steps(views: ProjectionViews) -> pd.DataFrame:
    """Central case, contract total in scope: from the baseline cost to the projected cost."""
    parts = views.parts.pivot(index="year", columns="part", values="value").sum()
    levers = catalogue.levers().set_index("id")["name"]
    steps = [("Baseline cost × years", float(parts["baseline"]), "absolute")]
    steps.append(("Demand growth", float(parts["counterfactual"] - parts["baseline"]), "relative"))
    for key in parts.index:
        if key.startswith("lever_"):
            steps.append((levers.get(key[6:], key[6:]), float(parts[key]), "relative"))
    steps.append(("Investment while levers ramp", float(parts["investment"]), "relative"))
    steps.append(("Procurement (transaction) costs", float(parts["transaction"]), "relative"))
    total = sum(v for _, v, kind in steps)
    steps.append(("Projected cost", total, "total"))
    return pd.DataFrame(steps, columns=["step", "value_gbp_m", "kind"])


def outcome_table(views: ProjectionViews) -> pd.DataFrame:
    """Each outcome measure by year: P10/P50/P90 with the projection and the no-change path."""
    measures = catalogue.outcome_measures().set_index("id")
    rows = []
    for measure in [*measures.index, "outcome_index", "outside_hospital_share"]:
        frame = views.measure(measure)
        base = views.no_change[views.no_change["measure"] == measure].set_index("year")["value"]
        for r in frame.itertuples():
            rows.append((measure, r.year, r.p10, r.p50, r.p90, float(base.get(r.year, float("nan")))))
    return pd.DataFrame(rows, columns=["measure", "year", "p10", "p50", "p90", "no_change"])


OUTCOME_LABELS = {
    "outcome_index": ("Four-domain outcome index", "index (100 = no change)"),
    "outside_hospital_share": ("Spend outside hospital", "% of spend in scope"),
}


def outcome_label(measure: str) -> tuple[str, str]:
    if measure in OUTCOME_LABELS:
        return OUTCOME_LABELS[measure]
    row = catalogue.outcome_measures().set_index("id").loc[measure]
    return str(row["name"]), str(row["unit"])
