"""A projection's results: stored in DuckDB, summarised there with SQL.

Tables (registered on the run's own cursor of the in-memory results database; money in £m,
outcomes per 1,000 or as an index or %, contract years from 1):
  sim_year(sim, year, <one column per money and outcome measure>)
  partner_year(sim, year, partner, value, cumulative)  each partner's share of the provider side
  partners(partner, name, role, weight, capacity_gbp_m)
  sims(sim, failed_in, commissioner_short_in, deficit_any_year, collar_breach_any_year, provider_end_gbp_m,
       commissioner_end_gbp_m, <sampled inputs>)           failed_in, commissioner_short_in = contract year, 0 if none
  year_0(measure, value)                              each outcome measure in the baseline year
  central_parts(year, part, value)                    the central case's cost components in scope

A run is immutable; each summary is asked of DuckDB the first time it is wanted and kept with
the run, so a chart that is not drawn costs nothing.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from lib import engine, outcomes, settlement, store
from lib.scenario import Scenario

END_POSITIONS_SQL = (
    "SELECT sim, provider_end_gbp_m AS provider_gbp_m, commissioner_end_gbp_m AS commissioner_gbp_m FROM sims ORDER BY sim"
)
CENTRAL_SQL = "SELECT * EXCLUDE (sim) FROM sim_year WHERE sim = 0 ORDER BY year"
CENTRAL_TOTALS_SQL = "SELECT part, sum(value) AS total FROM central_parts GROUP BY part ORDER BY part"
FAILURE_BY_YEAR_SQL = (
    "SELECT y.year::INTEGER AS year, avg((s.failed_in BETWEEN 1 AND y.year)::DOUBLE) AS failed_by, "
    "avg((s.commissioner_short_in BETWEEN 1 AND y.year)::DOUBLE) AS commissioners_short_by "
    "FROM sims s CROSS JOIN range(1, {years} + 1) AS y(year) GROUP BY y.year ORDER BY y.year"
)
PARTNER_SUMMARY_SQL = """
WITH per_sim AS (
    SELECT v.sim, v.partner, max(CASE WHEN v.year = {years} THEN v.cumulative END) AS end_cum,
           max(CASE WHEN v.cumulative < -p.capacity_gbp_m THEN 1 ELSE 0 END) AS over
    FROM partner_year v JOIN partners p USING (partner) GROUP BY v.sim, v.partner)
SELECT p.partner::INTEGER AS partner, p.name, p.role, p.weight, p.capacity_gbp_m,
       q[1] AS p10, q[2] AS p50, q[3] AS p90, mean, p_over_capacity
FROM (SELECT partner, quantile_cont(end_cum, [0.1, 0.5, 0.9]) AS q, avg(end_cum) AS mean,
             avg(over) AS p_over_capacity
      FROM per_sim GROUP BY partner) s
JOIN partners p USING (partner)
ORDER BY partner
"""
HEADLINE_SQL = (  # the tiles, as DuckDB computes them from the per-simulation table (Run.headline gives the same)
    "SELECT quantile_cont(provider_end_gbp_m, [0.1, 0.5, 0.9]) AS provider_q, avg(provider_end_gbp_m) AS provider_mean, "
    "quantile_cont(commissioner_end_gbp_m, [0.1, 0.5, 0.9]) AS commissioner_q, avg(commissioner_end_gbp_m) AS commissioner_mean, "
    "avg(deficit_any_year::DOUBLE) AS deficit_any_year, avg(collar_breach_any_year::DOUBLE) AS collar_breach_any_year, "
    "avg((failed_in > 0)::DOUBLE) AS failure, avg((commissioner_short_in > 0)::DOUBLE) AS commissioner_shortfall FROM sims"
)
QUERIES = {  # the SQL behind a run's tables ({years}: the contract's length), named as Run.sql_of takes them
    "headline": HEADLINE_SQL,
    "end_positions": END_POSITIONS_SQL,
    "failure_by_year": FAILURE_BY_YEAR_SQL,
    "partners": PARTNER_SUMMARY_SQL,
    "central": CENTRAL_SQL,
    "central_totals": CENTRAL_TOTALS_SQL,
}
MONEY_MEASURES = (
    "budget", "cost", "variance", "provider", "commissioner", "reinvested", "provider_cumulative", "commissioner_kept",
    "commissioner_cumulative",
)
SUMMARY = ["year", "p10", "p50", "p90", "mean"]
PROBABILITIES = ("deficit_any_year", "collar_breach_any_year", "failure", "commissioner_shortfall")


def project(scenario: Scenario) -> Run:
    """Simulate a scenario and store its results for summarising."""
    return Run(engine.simulate(scenario))


PERCENTILES = (("P10", 0.1), ("P50", 0.5), ("P90", 0.9))
QUANTILES = tuple(q for _, q in PERCENTILES)


def _frame(years: np.ndarray, columns: list[str], *values: np.ndarray) -> pd.DataFrame:
    """A yearly summary as a DataFrame over the arrays as they are (not copied: a third cheaper)."""
    return pd.DataFrame(dict(zip(columns, (years.copy(), *values), strict=True)), copy=False)  # years: its own


class Run:
    def __init__(self, simulation: engine.Simulation) -> None:
        self.scenario: Scenario = simulation.scenario
        self.simulation = simulation
        self._cursor = store.results_cursor()
        weakref.finalize(self, self._cursor.close)
        self._lock = threading.RLock()
        self._kept: dict[Any, Any] = {}
        self._tables: dict[str, pa.Table] = {}  # DuckDB scans the Arrow data in place: kept alive with the run
        self._unregistered: dict[str, Any] = {}
        self._on_cursor: set[str] = set()
        self._save(simulation)

    @property
    def years(self) -> int:
        return self.scenario.contract.years

    @property
    def measures(self) -> list[str]:
        return [*self.simulation.money, *self.simulation.outcomes]

    # ---- storing ---------------------------------------------------------------------------

    def _register(self, name: str, columns: dict[str, Any] | Callable[[], dict[str, Any]]) -> None:
        """Hand a table (its columns, or what builds them) to DuckDB when a query first names it:
        registering costs ~0.4 ms a table, and a tab that is not open need not pay it."""
        self._unregistered[name] = columns

    def _registered(self, sql: str) -> None:
        for name in [n for n in (*self._unregistered, *self._tables) if n in sql and n not in self._on_cursor]:
            self._cursor.register(name, self._table(name))
            self._on_cursor.add(name)

    def _table(self, name: str) -> pa.Table:
        if name not in self._tables:
            columns = self._unregistered.pop(name)
            columns = columns() if callable(columns) else columns
            self._tables[name] = pa.table({k: v if isinstance(v, list) else np.ascontiguousarray(v) for k, v in columns.items()})
        return self._tables[name]

    def arrow_tables(self) -> dict[str, pa.Table]:
        """Every table of this run (see the module's docstring), as Arrow tables."""
        with self._lock:
            return {name: self._table(name) for name in [*self._tables, *self._unregistered]}

    def _save(self, sim: engine.Simulation) -> None:
        # Rows go year by year, as the engine lays its arrays out (engine.YEAR_MAJOR): no copies.
        sims, years = next(iter(sim.money.values())).shape
        year_col = np.repeat(np.arange(1, years + 1, dtype=np.int16), sims)
        sim_col = np.tile(np.arange(sims, dtype=np.int32), years)
        values = {m: np.asarray(v, dtype=float).T.ravel() for m, v in {**sim.money, **sim.outcomes}.items()}
        self._register("sim_year", {"sim": sim_col, "year": year_col, **values})
        n_partners = sim.partners.shape[0]
        self._register(
            "partner_year",
            lambda: {
                "sim": np.tile(sim_col, n_partners),
                "year": np.tile(year_col, n_partners),
                "partner": np.repeat(np.arange(n_partners, dtype=np.int16), sims * years),
                "value": np.swapaxes(sim.partners, 1, 2).ravel(),
                "cumulative": np.swapaxes(settlement.cumulative(sim.partners), 1, 2).ravel(),
            },
        )
        partners = self.scenario.partners
        self._register(
            "partners",
            {
                "partner": np.arange(n_partners, dtype=np.int16),
                "name": [p.name for p in partners],
                "role": [p.role for p in partners],
                "weight": np.array([p.weight for p in partners], dtype=float),
                "capacity_gbp_m": sim.partner_capacity_gbp_m,
            },
        )
        self._register("sims", {"sim": np.arange(sims, dtype=np.int32), **sim.per_sim})
        parts = sim.central_parts
        self._register(
            "central_parts",
            {
                "year": np.tile(np.arange(1, years + 1, dtype=np.int16), len(parts)),
                "part": [name for name in parts for _ in range(years)],
                "value": np.concatenate([np.asarray(v, dtype=float) for v in parts.values()]),
            },
        )
        self._register("year_0", {"measure": list(sim.year_0), "value": np.array(list(sim.year_0.values()))})

    # ---- querying --------------------------------------------------------------------------

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        """Run one read query on this run's tables and return its whole result."""
        with self._lock:
            self._registered(sql)
            return self._cursor.execute(sql, params or []).df()

    def _columns(self, sql: str, params: list | None = None) -> dict[str, np.ndarray]:
        """A query's whole result as numpy columns (no DataFrame to build)."""
        with self._lock:
            self._registered(sql)
            return self._cursor.execute(sql, params or []).fetchnumpy()

    def _kept_or(self, key: Any, build) -> Any:
        """A summary asked of DuckDB once and kept with the run (callers treat it as read-only)."""
        with self._lock:
            if key not in self._kept:
                self._kept[key] = build()
            return self._kept[key]

    def summarise(self, fans: list[str] = (), means: list[str] = (), headline: bool = False) -> None:
        """The yearly P10/P50/P90 and mean of the `fans`, the yearly mean of the `means`, and, if
        asked, the headline, kept with the run. They are computed from the engine's arrays, the
        same rows the tables hand DuckDB: numpy's linear quantile is DuckDB's `quantile_cont`, so
        the query behind each chart (`sql_of`) returns these figures (tests/test_engine.py holds
        them equal). A move's first view pays no query: one was ~6 ms of ~35 ms a move."""
        with self._lock:
            fans = [m for m in dict.fromkeys(fans) if ("fan", m) not in self._kept]
            means = [m for m in dict.fromkeys(means) if ("mean", m) not in self._kept and m not in fans]
            unknown = set(fans + means) - set(self.measures)
            if unknown:
                raise KeyError(f"no such measure: {', '.join(sorted(unknown))}")
            years = np.arange(1, self.years + 1, dtype=np.int32)
            if fans:  # one sort for every fan: numpy's per-call cost outweighs the sorting itself
                stacked = np.stack([self._by_year(m) for m in fans])
                q, mean = np.quantile(stacked, QUANTILES, axis=1), stacked.mean(axis=1)
                for i, m in enumerate(fans):
                    self._kept[("fan", m)] = self._kept[("mean", m)] = _frame(years, SUMMARY, q[0, i], q[1, i], q[2, i], mean[i])
            if means:
                mean = np.stack([self._by_year(m) for m in means]).mean(axis=1)
                for i, m in enumerate(means):
                    self._kept[("mean", m)] = _frame(years, ["year", "mean"], mean[i])
            if headline and "headline" not in self._kept:
                self._kept["headline"] = self._headline()

    def _by_year(self, measure: str) -> np.ndarray:
        """A measure's values, one row per simulation and a column per contract year."""
        found = self.simulation.money.get(measure)
        return np.asarray(found if found is not None else self.simulation.outcomes[measure], dtype=float)

    def _headline(self) -> dict[str, Any]:
        per_sim = self.simulation.per_sim
        out: dict[str, Any] = {}
        sides = ("provider", "commissioner")
        ends = np.stack([np.asarray(per_sim[f"{side}_end_gbp_m"], dtype=float) for side in sides])
        q, mean = np.quantile(ends, QUANTILES, axis=1), ends.mean(axis=1)
        for i, side in enumerate(sides):
            out[side] = {"p10": float(q[0, i]), "p50": float(q[1, i]), "p90": float(q[2, i]), "mean": float(mean[i])}
        return out | {
            "deficit_any_year": float(np.mean(per_sim["deficit_any_year"])),
            "collar_breach_any_year": float(np.mean(per_sim["collar_breach_any_year"])),
            "failure": float(np.mean(np.asarray(per_sim["failed_in"]) > 0)),
            "commissioner_shortfall": float(np.mean(np.asarray(per_sim["commissioner_short_in"]) > 0)),
        }

    def sql_of(self, table: str, fans: list[str] = (), means: list[str] = ()) -> str:
        """The query behind one of this run's tables, as an analyst can run it in the SQL console:
        `yearly` (the `fans` and `means` by year), or a name in QUERIES, whose text the run itself runs."""
        if table == "yearly":
            unknown = (set(fans) | set(means)) - set(self.measures)
            if unknown:
                raise KeyError(f"no such measure: {', '.join(sorted(unknown))}")
            # one column per figure, rounded as the chart's own table is: no lists of 14-decimal numbers
            parts = [f'round(quantile_cont("{m}", {q}), 2) AS "{m} {name}"' for m in fans for name, q in PERCENTILES]
            parts += [f'round(avg("{m}"), 2) AS "{m} mean"' for m in means]
            return f"SELECT year, {', '.join(parts)}\nFROM sim_year GROUP BY year ORDER BY year"
        return " ".join(QUERIES[table].format(years=int(self.years)).split())

    def measure(self, name: str) -> pd.DataFrame:
        """One measure's yearly summary: year, p10, p50, p90, mean (callers treat it as read-only)."""
        self.summarise(fans=[name])
        return self._kept[("fan", name)]

    def mean(self, name: str) -> pd.DataFrame:
        """One measure's yearly mean: year, mean, and its fan's columns if it has one (callers treat
        it as read-only)."""
        self.summarise(means=[name])
        return self._kept[("mean", name)]

    def yearly(self, measures: list[str] | None = None) -> pd.DataFrame:
        """P10/P50/P90 and mean of the measures (all by default) by contract year, long form."""
        wanted = list(measures or self.measures)
        self.summarise(fans=wanted)
        return _long(wanted, [self._kept[("fan", m)] for m in wanted], SUMMARY)

    def table(self, fans: list[str] = (), means: list[str] = ()) -> pd.DataFrame:
        """The yearly summaries as one wide table, a column per measure and statistic (rounded):
        what a chart's "Show as table" lists."""
        self.summarise(fans=list(fans), means=list(means))
        columns = {"year": self._kept[("mean", (list(fans) or list(means))[0])]["year"].to_numpy()}
        for m in fans:
            columns |= {f"{m} {k.upper()}": self._kept[("fan", m)][k].to_numpy().round(2) for k in ("p10", "p50", "p90")}
        for m in means:
            columns[f"{m} mean"] = self._kept[("mean", m)]["mean"].to_numpy().round(2)
        return pd.DataFrame(columns)

    def central(self) -> pd.DataFrame:
        """The central case (simulation 0), one column per measure, one row per year."""
        return self._kept_or("central", lambda: self.query(self.sql_of("central")))

    @property
    def outcome_measures(self) -> list[str]:
        return [m for m in self.simulation.outcomes if not m.endswith(outcomes.NO_CHANGE)]

    def no_change(self, measures: list[str]) -> pd.DataFrame:
        """Each outcome measure's path without the levers by year (P10/P50/P90, mean), long form."""
        frame = self.yearly([m + outcomes.NO_CHANGE for m in measures])
        return frame.assign(measure=frame["measure"].str.removesuffix(outcomes.NO_CHANGE))

    def effect(self, measure: str, from_year: int, to_year: int) -> dict[str, float]:
        """P10/P50/P90 of what the levers did to a measure's growth, in percentage points: how much
        less it grew from `from_year` (0 = the baseline year) to `to_year` than without them."""
        sql, params = self._effect_sql(measure, from_year, to_year)
        quantiles = f"SELECT quantile_cont(e, [0.1, 0.5, 0.9]) AS q FROM ({sql})"
        row = self._columns(f"SELECT q[1] AS p10, q[2] AS p50, q[3] AS p90 FROM ({quantiles})", params)
        return {k: float(row[k][0]) for k in ("p10", "p50", "p90")}

    def effect_draws(self, measure: str, from_year: int, to_year: int) -> np.ndarray:
        """Each simulation's effect, as `effect` summarises it (to pool several templates' runs)."""
        sql, params = self._effect_sql(measure, from_year, to_year)
        return np.asarray(self._columns(f"SELECT e FROM ({sql}) ORDER BY sim", params)["e"], dtype=float)

    def _effect_sql(self, measure: str, from_year: int, to_year: int) -> tuple[str, list | None]:
        design, no_change = f'"{measure}"', f'"{measure}{outcomes.NO_CHANGE}"'
        base = self.year_0()[measure]
        start = ("?", "?") if from_year == 0 else (f"d{from_year}", f"n{from_year}")
        pick = ", ".join(
            f"max(CASE WHEN year = {y} THEN {design} END) AS d{y}, max(CASE WHEN year = {y} THEN {no_change} END) AS n{y}"
            for y in {from_year, to_year} - {0}
        )
        per_sim = f"SELECT sim, {pick} FROM sim_year GROUP BY sim"
        sql = f"SELECT sim, 100 * (n{to_year} / {start[1]} - d{to_year} / {start[0]}) AS e FROM ({per_sim})"
        return sql, ([base, base] if from_year == 0 else None)

    def growth(self, measure: str, end_years: list[int]) -> dict[str, float]:
        """P10/P50/P90 of how much a measure grew with the design, in %: its mean over `end_years`
        (a period that straddles contract years) against the baseline year."""
        sql, params = self._growth_sql(measure, end_years)
        quantiles = f"SELECT quantile_cont(g, [0.1, 0.5, 0.9]) AS q FROM ({sql})"
        row = self._columns(f"SELECT q[1] AS p10, q[2] AS p50, q[3] AS p90 FROM ({quantiles})", params)
        return {k: float(row[k][0]) for k in ("p10", "p50", "p90")}

    def growth_draws(self, measure: str, end_years: list[int]) -> np.ndarray:
        """Each simulation's growth, as `growth` summarises it (to pool several templates' runs)."""
        sql, params = self._growth_sql(measure, end_years)
        return np.asarray(self._columns(f"SELECT g FROM ({sql}) ORDER BY sim", params)["g"], dtype=float)

    def _growth_sql(self, measure: str, end_years: list[int]) -> tuple[str, list]:
        cols = ", ".join(f'max(CASE WHEN year = {int(y)} THEN "{measure}" END) AS y{int(y)}' for y in end_years)
        mean = " + ".join(f"y{int(y)}" for y in end_years)
        per_sim = f"SELECT sim, {cols} FROM sim_year GROUP BY sim"
        return f"SELECT sim, 100 * (({mean}) / {len(end_years)} / ? - 1) AS g FROM ({per_sim})", [self.year_0()[measure]]

    def year_0(self) -> dict[str, float]:
        """Each outcome measure in the baseline year."""
        return self._kept_or("year_0", lambda: dict(self.query("SELECT measure, value FROM year_0").itertuples(index=False)))

    def central_totals(self) -> dict[str, float]:
        """The central case's cost parts in scope summed over the contract, £m: from the engine's
        arrays, as `sql_of("central_totals")` sums them (tests/test_engine.py holds them equal)."""
        parts = self.simulation.central_parts
        return self._kept_or("totals", lambda: {part: float(np.sum(parts[part])) for part in sorted(parts)})

    def end_positions(self) -> pd.DataFrame:
        """Each simulation's cumulative provider and commissioner position at contract end (£m)."""
        return self._kept_or(
            "ends",
            lambda: self.query(self.sql_of("end_positions")),
        )

    def failure_by_year(self) -> pd.DataFrame:
        """By the end of each contract year (cumulative): the chance the provider side has failed
        (`failed_by`) and the chance commissioners have had a year past their contingency
        (`commissioners_short_by`)."""
        return self._kept_or(
            "failure_by_year",
            lambda: self.query(self.sql_of("failure_by_year")),
        )

    def expected_shortfall(self, worst: float = 0.1) -> float:
        """Mean provider-side end position (£m) over the worst `worst` share of simulations."""
        return self._kept_or(
            ("shortfall", worst),
            lambda: float(
                self._columns(
                    "SELECT avg(v) AS v FROM (SELECT provider_end_gbp_m AS v, "
                    "row_number() OVER (ORDER BY provider_end_gbp_m) AS r, count(*) OVER () AS n FROM sims) "
                    "WHERE r <= greatest(1, ceil(n * ?))",
                    [worst],
                )["v"][0]
            ),
        )

    def headline(self) -> dict[str, Any]:
        """The tiles: end-of-contract positions (P10/P50/P90, mean, £m) and the chances of a
        deficit year, a collar breach and a failure."""
        self.summarise(headline=True)
        return self._kept["headline"]

    def probabilities(self) -> dict[str, float]:
        """Shares of simulations with a deficit year, a collar breach, a failure of the provider side,
        or a year in which commissioners lose more than their contingency."""
        h = self.headline()
        return {k: h[k] for k in PROBABILITIES}

    def partner_summary(self) -> pd.DataFrame:
        """Per partner: end-of-contract cumulative position (P10/P50/P90, mean, £m) and the
        chance that its cumulative loss passes what it can bear."""
        return self._kept_or("partners", self._partner_summary).copy()  # a few rows: no caller can change the run's own

    def _partner_summary(self) -> pd.DataFrame:
        return self.query(self.sql_of("partners"))

    # ---- the CLI's JSON --------------------------------------------------------------------

    def to_report(self) -> dict[str, Any]:
        outcome_ids = self.outcome_measures
        yearly = self.yearly([*MONEY_MEASURES, "active", *outcome_ids, *(m + outcomes.NO_CHANGE for m in outcome_ids)])
        stats = {
            (m, y): {"p10": p10, "p50": p50, "p90": p90, "mean": mean}
            for m, y, p10, p50, p90, mean in yearly.itertuples(index=False)
        }
        year_0 = self.year_0()

        def outcome(m: str, year: int) -> dict[str, Any]:
            no_change = _clean(stats[(m + outcomes.NO_CHANGE, year)])
            return _clean(stats[(m, year)]) | {"no_change": no_change, "year_0": round(year_0[m], 6)}

        years = [
            {
                "year": year,
                **{m: _clean(stats[(m, year)]) for m in MONEY_MEASURES},
                "active_share": _clean(stats[("active", year)])["mean"],
                "outcomes": {m: outcome(m, year) for m in outcome_ids},
            }
            for year in range(1, self.years + 1)
        ]
        return {"scenario": self.scenario.to_dict(), "years": years, "probabilities": self.probabilities()}


def _long(measures: list[str], frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """Per-measure frames stacked into one, with the measure named on each row."""
    rows = [len(f) for f in frames]
    stacked = {c: np.concatenate([f[c].to_numpy() for f in frames]) for c in columns}
    return pd.DataFrame({"measure": np.repeat(np.array(measures, dtype=object), rows), **stacked})


def _clean(stat: dict[str, float]) -> dict[str, float | None]:
    return {k: (None if v is None or (isinstance(v, float) and np.isnan(v)) else round(float(v), 6)) for k, v in stat.items()}
