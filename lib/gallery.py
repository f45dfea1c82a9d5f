"""Every chart, defined once: its figure, its table, the query behind that table, its caption,
and the places that show it (a page's tab, a presentation slide, the board pack, the Design
preview). Projections, Risk, the Design preview, presentation mode, the board pack and the chart
tests all read this list, so a chart's title, words and numbers are the same wherever it appears.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from lib import charts, sensitivity, stress, views, words
from lib.catalogue import Catalogue
from lib.results import Run
from lib.scenario import Scenario
from lib.words import gbp_m, pct


class Drawn:
    """What a chart is drawn from: the run, the runs derived from it (`derive` projects a scenario,
    through the caller's cache) and tables kept by the caller (`keep(key, build)`)."""

    def __init__(
        self,
        run: Run,
        cat: Catalogue,
        derive: Callable[[Scenario], Run],
        keep: Callable[[str, Callable[[], Any]], Any] | None = None,
        year: int | None = None,
    ) -> None:
        self.run, self.cat, self.year = run, cat, year
        self._derive = derive
        self._keep = keep or (lambda key, build: build())

    @property
    def scenario(self) -> Scenario:
        return self.run.scenario

    def kept(self, key: str, build: Callable[[], Any]) -> Any:
        return self._keep(f"data:{key}", build)  # a table a chart is drawn from, apart from the charts' own keys

    def replayed(self) -> Run:
        """The same place on UnitingCare's terms."""
        return self._derive(stress.apply(self.scenario, [stress.replay().id]))

    def tornado(self) -> pd.DataFrame:
        return self.kept("tornado", lambda: sensitivity.tornado(self.scenario))

    def outcome_table(self) -> pd.DataFrame:
        return self.kept("outcome-table", lambda: views.outcome_table(self.run, self.cat))

    def steps(self) -> pd.DataFrame:
        return self.kept("waterfall-steps", lambda: views.waterfall_steps(self.run, self.cat))

    def flows(self) -> pd.DataFrame:
        return self.kept(f"flows-{self.year}", lambda: views.money_flows(self.run, self.year))


@dataclass(frozen=True)
class Chart:
    id: str
    draw: Callable[[Drawn], charts.Figure]
    table: Callable[[Drawn], pd.DataFrame]
    caption: Callable[[Drawn], str]
    query: Callable[[Drawn], str | None]
    places: tuple[str, ...]  # "<page>:<tab>", "slide", "pack", "preview:<Design tab>"

    def key(self, d: Drawn) -> str:
        """The chart's name in the caller's cache: a money flow differs by the year it shows."""
        return f"{self.id}-{d.year}" if self.id == "money-flow" else self.id

    def shown_table(self, d: Drawn) -> pd.DataFrame:
        """The chart's table as a person reads it: "Projected cost (£m) P10", not "cost P10"."""
        return in_words(self.table(d), d.cat)


def in_words(table: pd.DataFrame, cat: Catalogue) -> pd.DataFrame:
    """A chart's table as a person reads it: columns named in words ("<measure> <statistic>" by the
    measure's name and unit), chances as %, roles and measures by name, no plotting ids."""
    names = dict(words.MEASURE_NAMES)
    for m in cat.records["outcome_measures"]:
        unit = words.unit(m["unit"]).replace(" population", "")
        names |= {m["id"]: f"{m['name']} ({unit})", f"{m['id']}_no_change": f"{m['name']}, no change ({unit})"}
    names["year"] = "Contract year"
    table = table.drop(columns=[c for c in ("partner", "kind", "id") if c in table.columns])
    chances = [c for c in words.CHANCE_COLUMNS if c in table.columns]
    table = table.assign(**{c: (table[c] * 100).round(1) for c in chances})
    if "role" in table.columns:
        table = table.assign(role=table["role"].map(words.ROLE_NAMES).fillna(table["role"]))
    if "measure" in table.columns:
        table = table.assign(measure=table["measure"].map(names).fillna(table["measure"]))

    def named(column: str) -> str:
        if column in words.COLUMN_NAMES:
            return words.COLUMN_NAMES[column]
        measure, _, statistic = column.partition(" ")
        return f"{names[measure]} {statistic}".strip() if measure in names else column

    return table.rename(columns=named)


def _budget_caption(d: Drawn) -> str:
    r, c = d.scenario.risk, d.scenario.contract
    less = [f"a {pct(c.bid_discount, 1)} bid discount"] if c.bid_discount else []
    less += [f"a {pct(r.withhold)} withhold earned back by outcomes"] if r.withhold else []
    return (
        f"Budget: year-0 spend in scope grown {pct(c.funding_growth, 1)} a year"
        + (f", less {' and '.join(less)}" if less else " (no bid discount, no withhold)")
        + ". Cost: each line's demand growth (Design, tab 6) less the levers (tab 5), plus investment and year-1 "
        "procurement cost."
    )


def _split_caption(d: Drawn) -> str:
    r = d.scenario.risk
    return (
        f"Settlement each year: {words.risk_sentence(d.scenario)}; neutral band {pct(r.neutral_band, 1)}"
        + (f"; the first {'year' if r.glide_years == 1 else f'{r.glide_years} years'} on a glide path" if r.glide_years else "")
        + ("; covered deficits recovered from later surpluses" if r.carry_forward and r.glide_years else "")
        + ". The three parts add up to the variance in every simulation. Bars are means over the simulations; the "
        "tiles give medians (P50), which can differ, even in sign, when a few simulations lose heavily."
    )


def _admissions(d: Drawn) -> charts.Figure:
    return charts.compare_lines(
        {"This design": d.run}, "emergency_admissions", "Emergency admissions against no change", "per 1,000", "%{y:,.1f}"
    )


def _replay(d: Drawn) -> charts.Figure:
    return charts.compare_lines(
        {"This design": d.run, "UnitingCare's terms": d.replayed()},
        "provider_cumulative",
        "The provider side's cumulative position: this design and UnitingCare's terms",
        "£m, cumulative",
    )


def _replay_caption(d: Drawn) -> str:
    return (
        f"On UnitingCare's terms this place's provider side fails in {pct(d.replayed().headline()['failure'])} of "
        f"simulations (this design: {pct(d.run.headline()['failure'])}). A line that goes flat is a contract that has "
        "ended: once the provider side fails, its position stays where it stood and commissioners carry the later years."
    )


def _flow_title(d: Drawn) -> str:
    span = f"over {d.scenario.contract.years} years" if d.year is None else f"in contract year {d.year}"
    return f"Where the money goes {span} (central case, £m)"


def _tornado_table(d: Drawn) -> pd.DataFrame:
    """Both tornado charts read the same runs: one table, without its ids."""
    return d.tornado().drop(columns="id").round(3)


OUTCOME_FANS = lambda d: [m for o in d.run.outcome_measures for m in (o, o + "_no_change")]  # noqa: E731
END_POSITIONS = "Each simulation's cumulative provider position at contract end, sorted: read off how likely any result is."

CHARTS: dict[str, Chart] = {
    c.id: c
    for c in [
        Chart(
            "budget-cost",
            lambda d: charts.budget_vs_cost(d.run),
            lambda d: d.run.table(fans=charts.BUDGET_FANS),
            _budget_caption,
            lambda d: d.run.sql_of("yearly", fans=list(charts.BUDGET_FANS)),
            ("projections:Money", "slide", "pack", "preview:1 · Budgets to pool", "preview:3 · Contract"),
        ),
        Chart(
            "variance-split",
            lambda d: charts.variance_split(d.run),
            lambda d: d.run.table(means=charts.SPLIT),
            _split_caption,
            lambda d: d.run.sql_of("yearly", means=list(charts.SPLIT)),
            ("projections:Money", "pack", "preview:4 · Risk split"),
        ),
        Chart(
            "cumulative",
            lambda d: charts.cumulative_provider(d.run),
            lambda d: d.run.table(fans=["provider_cumulative", "pooled_budget"]),
            lambda d: (
                f"The provider side fails when its cumulative loss passes its reserves "
                f"({gbp_m(d.scenario.lead.reserves_gbp_m)}) plus guarantees ({gbp_m(d.scenario.lead.guarantee_gbp_m)}); "
                "commissioners then carry the later years."
            ),
            lambda d: d.run.sql_of("yearly", fans=["provider_cumulative", "pooled_budget"]),
            ("projections:Both sides' risk", "slide", "pack", "preview:2 · Who holds the budget"),
        ),
        Chart(
            "commissioners",
            lambda d: charts.cumulative_commissioners(d.run),
            lambda d: d.run.table(fans=["commissioner_cumulative"]),
            lambda d: (
                "The commissioners' side of the same deal: what they keep or cover each year, summed. They hold a "
                f"contingency of {pct(d.scenario.risk.commissioner_contingency)} of a year's budget (Design › 4 · Risk "
                "split); the *Commissioners short* tile gives the chance a year's loss passes it."
            ),
            lambda d: d.run.sql_of("yearly", fans=["commissioner_cumulative"]),
            ("projections:Both sides' risk", "pack"),
        ),
        Chart(
            "end-distribution",
            lambda d: charts.end_distribution(d.run),
            lambda d: d.run.end_positions().round(2),
            lambda d: (
                "Each bar counts the simulations that end the contract in that range. The provider side fails when its "
                "cumulative loss passes its reserves and guarantees; a collar limits each year's loss."
            ),
            lambda d: d.run.sql_of("end_positions"),
            ("risk:Distribution", "slide", "pack"),
        ),
        Chart(
            "s-curve",
            lambda d: charts.s_curve(d.run),
            lambda d: d.run.end_positions().round(2),
            lambda d: END_POSITIONS,
            lambda d: d.run.sql_of("end_positions"),
            ("projections:Both sides' risk", "risk:Distribution", "pack", "preview:6 · Uncertainty"),
        ),
        Chart(
            "failure-over-time",
            lambda d: charts.failure_over_time(d.run.failure_by_year()),
            lambda d: d.run.failure_by_year().round(3),
            lambda d: (
                "Cumulative: a simulation counts from the year the provider side's loss first passes its reserves and "
                "guarantees (commissioners then carry the later years), or from the first year commissioners lose more "
                "on the deal than their contingency for that year."
            ),
            lambda d: d.run.sql_of("failure_by_year"),
            ("risk:Over time and partners", "slide", "pack"),
        ),
        Chart(
            "partners",
            lambda d: charts.partner_split(d.run),
            lambda d: d.run.partner_summary().round(3),
            lambda d: (
                "Gains go to full-risk and gain-share partners by weight; losses to full-risk partners only. "
                "Consultative partners and sub-contractors carry no risk."
            ),
            lambda d: d.run.sql_of("partners"),
            ("projections:Partners and money flow", "pack"),
        ),
        Chart(
            "money-flow",
            lambda d: charts.money_flow(d.flows(), _flow_title(d)),
            lambda d: d.flows().round(2),
            lambda d: (
                "Central case. Partners' delivery shares follow their weights (an assumption); the settlement at the "
                "end follows the risk terms."
            ),
            lambda d: d.run.sql_of("central"),
            ("projections:Partners and money flow", "pack"),
        ),
        Chart(
            "outcomes",
            lambda d: charts.outcomes_grid(d.outcome_table(), views.outcome_labels(d.cat)),
            lambda d: d.outcome_table().round(2),
            lambda d: (
                "Per 1,000 population, against each measure's no-change path (England 2016/17 rates unless the place's "
                "own are given). Levers cut activity as they ramp in; population health responds two years later. The "
                "outcome index is the mean of four domains (population health, quality of life, quality of care, "
                "effectiveness); 100 = no change. Long-term admissions to care homes (the Better Care Fund's metric) are "
                "per 1,000 people aged 65 and over, from England's 2014-15 rate (today's arrangements: 2019-20's, the "
                "latest found, taken as their year 0), falling 2.4% a year as they did to 2019-20, a fall that may "
                "reflect less council-funded care as much as better care. They are shown beside the index, not counted "
                "in it, and no lever reaches them (no evaluation we hold measured an effect): the design's line lies on "
                "the no-change line."
            ),
            lambda d: d.run.sql_of("yearly", fans=OUTCOME_FANS(d)),
            ("projections:Outcomes", "pack"),
        ),
        Chart(
            "admissions",
            _admissions,
            lambda d: d.run.table(fans=["emergency_admissions", "emergency_admissions_no_change"]),
            lambda d: "Emergency admissions per 1,000 people with the design (P50, P10–P90) and with no change.",
            lambda d: d.run.sql_of("yearly", fans=["emergency_admissions", "emergency_admissions_no_change"]),
            ("slide", "preview:5 · Levers"),
        ),
        Chart(
            "waterfall",
            lambda d: charts.waterfall(d.steps(), d.scenario.contract.years),
            lambda d: d.steps().round(2),
            lambda d: (
                "Central case, summed over the contract, for the services in scope: what demand growth adds, what each "
                "lever saves (or costs, where care moves into a pooled line from one outside the pool), and the "
                "investment and procurement costs."
            ),
            lambda d: d.run.sql_of("central_totals"),
            ("projections:Cost bridge", "pack"),
        ),
        Chart(
            "tornado",
            lambda d: charts.tornado(d.tornado(), d.run.headline()["provider"]["p50"]),
            _tornado_table,
            lambda d: (
                "Each assumption moved from the low to the high end of its range, everything else as designed, on the "
                "same random numbers (so a bar is the assumption's effect, not noise). The table gives the chance of "
                "failure at each end and each range's reasoning."
            ),
            lambda d: None,
            ("risk:What would make it fail", "slide", "pack"),
        ),
        Chart(
            "tornado-failure",
            lambda d: charts.tornado(d.tornado(), d.run.headline()["failure"], "failure"),
            _tornado_table,
            lambda d: "The same runs, read for the chance that the provider side's loss passes its reserves and guarantees.",
            lambda d: None,
            ("risk:What would make it fail", "pack"),
        ),
        Chart(
            "replay",
            _replay,
            lambda d: views.replay_table(d.run, d.replayed()),
            _replay_caption,
            lambda d: None,  # its table joins two runs, which no single query over this run gives
            ("risk:UnitingCare replay", "slide", "pack"),
        ),
    ]
}
SLIDES = ["budget-cost", "cumulative", "end-distribution", "failure-over-time", "tornado", "admissions", "replay"]
SLIDE_TITLES = {  # a slide's heading, above the chart's own title
    "budget-cost": "Budget against cost",
    "cumulative": "Provider side against what it can absorb",
    "end-distribution": "Where the provider side ends",
    "failure-over-time": "Chance of failure by year",
    "tornado": "What would make it fail",
    "admissions": "Emergency admissions against no change",
    "replay": "The UnitingCare replay",
}


def on(place: str) -> list[Chart]:
    """The charts a place shows, in order: "projections:Money", "pack", "slide", "preview:<tab>"."""
    if place == "slide":
        return [CHARTS[c] for c in SLIDES]
    return [c for c in CHARTS.values() if place in c.places]
