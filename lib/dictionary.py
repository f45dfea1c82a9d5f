"""The data dictionary: every column of every table the SQL console sees, with its type (from
DuckDB), unit, meaning and source (data/dictionary.yaml; outcome and lever columns described from
data/outcome_measures.csv and data/levers.csv, where they are defined)."""

from __future__ import annotations

import pandas as pd

from lib import catalogue, sql
from lib.results import Run

GROUPS = {"reference": "Reference data", "results": "This projection", "saved": "Saved scenarios"}


def _described() -> dict[str, tuple[str, list[str]]]:
    """(table, column) -> (group, [meaning, unit, source]) from the dictionary file and the catalogue."""
    cat = catalogue.current()
    found = {
        (table, column): (group, entry)
        for group, tables in cat.dictionary.items()
        for table, columns in tables.items()
        for column, entry in columns.items()
    }
    for m in cat.records["outcome_measures"]:
        unit = "index (100 = no change)" if m["id"] == "outcome_index" else str(m["unit"])
        found[("sim_year", m["id"])] = ("results", [f"{m['name']}, with the design", unit, "model; data/outcome_measures.csv"])
        found[("sim_year", f"{m['id']}_no_change")] = (
            "results", [f"{m['name']}, with no change (this simulation's path)", unit, "model; data/outcome_measures.csv"]
        )  # fmt: skip
    for lever in cat.records["levers"]:
        found[("sims", f"realisation_{lever['id']}")] = (
            "results", [f"sampled share of {lever['name'].lower()}'s effect realised", "fraction", "model; data/levers.csv"]
        )  # fmt: skip
    return found


def dictionary(run: Run | None) -> pd.DataFrame:
    """One row per column of every table: table, group, column, type, unit, meaning, source
    (meaning empty where the dictionary has no entry)."""
    con = sql.tables_connection(run)
    try:
        columns = con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog <> 'reference' ORDER BY table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    described = _described()
    rows = []
    for table, column, kind in columns:
        group, (meaning, unit, source) = described.get((table, column), ("", ["", "", ""]))
        group = group or next((g for (t, _), (g, _) in described.items() if t == table), "")
        rows.append({"table": table, "group": GROUPS.get(group, ""), "column": column, "type": kind}
                    | {"unit": unit, "meaning": meaning, "source": source})  # fmt: skip
    frame = pd.DataFrame(rows)
    # This projection's tables first, then the reference data, then saved scenarios; each group in the file's order.
    order = [t for g in ("results", "reference", "saved") for t in catalogue.current().dictionary.get(g, {})]
    rank = frame["table"].map({t: i for i, t in enumerate(order)}).fillna(len(order))
    return frame.assign(rank=rank).sort_values("rank", kind="stable").drop(columns="rank").reset_index(drop=True)
