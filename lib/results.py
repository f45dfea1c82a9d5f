"""A projection's results: stored as tidy tables in DuckDB, summarised there with SQL.

Tables (in the run's own in-memory database):
  run_values(sim, year, measure, value)      money in £m, outcomes per 1,000 (or % / index)
  partner_values(sim, year, partner, value)  each partner's share of the provider side, £m
  partners(partner, name, role, weight, capacity_gbp_m)
  sims(sim, failed_in, <sampled inputs>)     failed_in = contract year of failure, 0 if none
  no_change(year, measure, value)            outcome paths without the levers
  central_parts(year, part, value)           the central case's cost components in scope, £m
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lib.store import RunStore

if TYPE_CHECKING:
    from lib.engine import Simulation
    from lib.scenario import Scenario

MONEY_MEASURES = ("budget", "cost", "variance", "provider", "commissioner", "reinvested", "provider_cumulative")


class Run:
    def __init__(self, simulation: Simulation) -> None:
        self.scenario: Scenario = simulation.scenario
        self.simulation = simulation
        self.store = RunStore()
        self._save(simulation)
        self._yearly: pd.DataFrame | None = None

    # ---- storing ---------------------------------------------------------------------------

    def _save(self, sim: Simulation) -> None:
        self.store.put_sim_year("run_values", {**sim.money, **sim.outcomes})
        partners = self.scenario.partners
        n_partners, sims, years = sim.partners.shape
        self.store.put_columns(
            "partner_values",
            {
                "sim": np.tile(np.repeat(np.arange(sims, dtype=np.int32), years), n_partners),
                "year": np.tile(np.arange(1, years + 1, dtype=np.int16), sims * n_partners),
                "partner": np.repeat(np.arange(n_partners, dtype=np.int16), sims * years),
                "value": sim.partners.ravel(),
                "cumulative": np.cumsum(sim.partners, axis=2).ravel(),
            },
        )
        self.store.put_columns(
            "partners",
            {
                "partner": np.arange(n_partners, dtype=np.int16),
                "name": [p.name for p in partners],
                "role": [p.role for p in partners],
                "weight": np.array([p.weight for p in partners], dtype=float),
                "capacity_gbp_m": sim.partner_capacity_gbp_m,
            },
        )
        self.store.put_columns("sims", {"sim": np.arange(sims), "failed_in": sim.failed_in, **sim.draws})
        year_col = np.arange(1, years + 1)
        for table, paths in (("no_change", sim.no_change), ("central_parts", sim.central_parts)):
            label = "measure" if table == "no_change" else "part"
            self.store.put_columns(
                table,
                {
                    "year": np.tile(year_col, len(paths)),
                    label: [name for name in paths for _ in year_col],
                    "value": np.concatenate([np.asarray(v, dtype=float) for v in paths.values()]),
                },
            )

    # ---- summaries (SQL) -------------------------------------------------------------------

    @property
    def years(self) -> int:
        return self.scenario.contract.years

    @property
    def sims(self) -> int:
        return self.scenario.sims

    def yearly(self) -> pd.DataFrame:
        """P10/P50/P90 and mean of every measure by contract year (long form)."""
        if self._yearly is None:
            self._yearly = self.store.query(
                """
                SELECT measure::VARCHAR AS measure, year::INTEGER AS year,
                       q[1] AS p10, q[2] AS p50, q[3] AS p90, mean
                FROM (SELECT measure, year, quantile_cont(value, [0.1, 0.5, 0.9]) AS q, avg(value) AS mean
                      FROM run_values GROUP BY measure, year)
                ORDER BY measure, year
                """
            )
        return self._yearly.copy()

    def measure(self, name: str) -> pd.DataFrame:
        """One measure's yearly summary: year, p10, p50, p90, mean."""
        frame = self.yearly()
        return frame[frame["measure"] == name].drop(columns="measure").reset_index(drop=True)

    def central(self) -> pd.DataFrame:
        """The central case (simulation 0), one column per measure, one row per year."""
        frame = self.store.query("SELECT year::INTEGER AS year, measure::VARCHAR AS measure, value FROM run_values WHERE sim = 0")
        return frame.pivot(index="year", columns="measure", values="value").reset_index()

    def no_change(self) -> pd.DataFrame:
        return self.store.query("SELECT year::INTEGER AS year, measure, value FROM no_change ORDER BY measure, year")

    def central_parts(self) -> pd.DataFrame:
        return self.store.query("SELECT year::INTEGER AS year, part, value FROM central_parts ORDER BY part, year")

    def probabilities(self) -> dict[str, float]:
        """Shares of simulations with a deficit year, a collar breach, or a failure."""
        row = self.store.query(
            """
            WITH per_sim AS (
                SELECT sim,
                       max(CASE WHEN measure = 'variance' AND value < 0 THEN 1 ELSE 0 END) AS deficit,
                       max(CASE WHEN measure = 'collar_hit' AND value > 0 THEN 1 ELSE 0 END) AS collar
                FROM run_values WHERE measure IN ('variance', 'collar_hit') GROUP BY sim)
            SELECT avg(deficit) AS deficit_any_year, avg(collar) AS collar_breach_any_year,
                   (SELECT avg(CASE WHEN failed_in > 0 THEN 1 ELSE 0 END) FROM sims) AS failure
            FROM per_sim
            """
        ).iloc[0]
        return {key: float(row[key]) for key in ("deficit_any_year", "collar_breach_any_year", "failure")}

    def end_position(self) -> pd.DataFrame:
        """Each simulation's cumulative provider and commissioner position at contract end (£m)."""
        return self.store.query(
            """
            SELECT sim,
                   max(CASE WHEN measure = 'provider_cumulative' THEN value END) AS provider_gbp_m,
                   max(CASE WHEN measure = 'commissioner_cumulative' THEN value END) AS commissioner_gbp_m
            FROM run_values WHERE year = ? AND measure IN ('provider_cumulative', 'commissioner_cumulative')
            GROUP BY sim ORDER BY sim
            """,
            [self.years],
        )

    def headline(self) -> dict[str, Any]:
        """The tiles: end-of-contract positions (P10/P50/P90, £m) and the probabilities."""
        yearly = self.yearly()  # summarised once per run
        last = yearly[yearly["year"] == self.years].set_index("measure")
        out: dict[str, Any] = {
            side: last.loc[f"{side}_cumulative", ["p10", "p50", "p90", "mean"]].astype(float).to_dict()
            for side in ("provider", "commissioner")
        }
        out.update(self.probabilities())
        return out

    def partner_summary(self) -> pd.DataFrame:
        """Per partner: end-of-contract cumulative position (P10/P50/P90, mean, £m) and the
        probability that its cumulative loss exceeds what it can bear."""
        return self.store.query(
            """
            WITH per_sim AS (
                SELECT v.sim, v.partner, max(CASE WHEN v.year = ? THEN v.cumulative END) AS end_cum,
                       max(CASE WHEN v.cumulative < -p.capacity_gbp_m THEN 1 ELSE 0 END) AS over
                FROM partner_values v JOIN partners p USING (partner) GROUP BY v.sim, v.partner)
            SELECT p.partner::INTEGER AS partner, p.name, p.role, p.weight, p.capacity_gbp_m,
                   q[1] AS p10, q[2] AS p50, q[3] AS p90, mean, p_over_capacity
            FROM (SELECT partner, quantile_cont(end_cum, [0.1, 0.5, 0.9]) AS q, avg(end_cum) AS mean,
                         avg(over) AS p_over_capacity
                  FROM per_sim GROUP BY partner) s
            JOIN partners p USING (partner)
            ORDER BY partner
            """,
            [self.years],
        )

    # ---- the CLI's JSON --------------------------------------------------------------------

    def to_report(self) -> dict[str, Any]:
        yearly = self.yearly()
        stats = {
            (m, y): {"p10": p10, "p50": p50, "p90": p90, "mean": mean}
            for m, y, p10, p50, p90, mean in yearly.itertuples(index=False)
        }
        outcome_ids = list(self.simulation.outcomes)
        years = [
            {
                "year": year,
                **{m: _clean(stats[(m, year)]) for m in MONEY_MEASURES},
                "active_share": _clean(stats[("active", year)])["mean"],
                "outcomes": {m: _clean(stats[(m, year)]) for m in outcome_ids},
            }
            for year in range(1, self.years + 1)
        ]
        return {"scenario": self.scenario.to_dict(), "years": years, "probabilities": self.probabilities()}


def _clean(stat: dict[str, float]) -> dict[str, float | None]:
    return {k: (None if v is None or (isinstance(v, float) and np.isnan(v)) else round(float(v), 6)) for k, v in stat.items()}
