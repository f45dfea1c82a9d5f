"""Read the reference text in data/ into tidy tables (one fact, one place).

Per-head spend is a stated assumption; a template's baseline for a line is population x per-head
spend, except where the seeds give the pooled budget, when the pooled lines are scaled to it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

CSV_TABLES = ("service_lines", "outcome_measures", "levers", "routes", "lead_types", "org_forms")


def load_tables(data_dir: Path) -> dict[str, pd.DataFrame]:
    tables = {name: pd.read_csv(data_dir / f"{name}.csv") for name in CSV_TABLES}
    tables["service_lines"]["poolable"] = tables["service_lines"]["poolable"].astype(bool)
    raw = yaml.safe_load((data_dir / "templates.yaml").read_text(encoding="utf-8"))
    tables.update(_template_tables(raw, tables["service_lines"]))
    tables["glossary"] = _glossary(data_dir)
    return tables


def _glossary(data_dir: Path) -> pd.DataFrame:
    path = data_dir / "glossary.yaml"
    rows = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else []
    return pd.DataFrame(rows, columns=["term", "group", "meaning", "source"])


def _template_tables(raw: list[dict], lines: pd.DataFrame) -> dict[str, pd.DataFrame]:
    known_lines = set(lines["id"])
    per_head = dict(zip(lines["id"], lines["spend_per_head_gbp"], strict=True))
    templates, template_lines, facts, presets = [], [], [], []
    for order, tpl in enumerate(raw):
        tid = tpl["id"]
        unknown = set(tpl["lines"]) - known_lines
        if unknown:
            raise ValueError(f"template {tid}: unknown service lines {sorted(unknown)}")
        population = int(tpl["population"]["value"])
        budget = tpl.get("pooled_budget") or {}
        scale = _scale_to_pooled_budget(tpl["lines"], per_head, population, budget.get("gbp_m"))
        templates.append(
            {
                "id": tid,
                "ordering": order,
                "name": tpl["name"],
                "site": tpl["site"],
                "model": tpl["model"],
                "care_model": tpl["care_model"],
                "population": population,
                "population_source": tpl["population"]["source"],
                "pooled_budget_gbp_m": budget.get("gbp_m"),
                "pooled_budget_year": budget.get("year"),
                "pooled_budget_source": budget.get("source"),
                "lines_source": tpl["lines_source"],
                "headline": tpl["headline"]["text"],
                "headline_source": tpl["headline"]["source"],
            }
        )
        for line_id, head_gbp in per_head.items():
            share = tpl["lines"].get(line_id)
            line_scale = scale if share else 1.0
            basis = f"assumption: £{head_gbp:g} a head x {population:,} people"
            if line_scale != 1.0:
                basis = f"scaled to the seeds' pooled budget (x{line_scale:.3f}): {budget['source']}"
            template_lines.append(
                {
                    "template_id": tid,
                    "line_id": line_id,
                    "in_scope": share is not None,
                    "pooled_share": float(share or 0.0),
                    "baseline_gbp_m": round(head_gbp * population / 1e6 * line_scale, 3),
                    "baseline_source": basis,
                    "scope_source": tpl["lines_source"] if share is not None else "not in the template's scope",
                }
            )
        for forder, fact in enumerate(tpl["facts"]):
            facts.append(
                {
                    "template_id": tid,
                    "ordering": forder,
                    "fact_id": fact["id"],
                    "label": fact["label"],
                    "value": str(fact["value"]),
                    "value_num": fact.get("value_num"),
                    "value_gbp_m": fact.get("value_gbp_m"),
                    "source": fact["source"],
                }
            )
        for path, entry in tpl.get("preset", {}).items():
            presets.append(
                {"template_id": tid, "path": path, "value_json": json.dumps(entry["value"]), "source": entry["source"]}
            )
    return {
        "templates": pd.DataFrame(templates),
        "template_lines": pd.DataFrame(template_lines),
        "template_facts": pd.DataFrame(facts),
        "template_presets": pd.DataFrame(presets),
    }


def _scale_to_pooled_budget(
    shares: dict[str, float], per_head: dict[str, float], population: int, target_gbp_m: float | None
) -> float:
    if target_gbp_m is None:
        return 1.0
    pooled = sum(share * per_head[line] * population / 1e6 for line, share in shares.items())
    return float(target_gbp_m) / pooled if pooled else 1.0
