"""Read-only access to the reference data (as built into DuckDB from data/)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from lib import store


class UnknownTemplateError(ValueError):
    pass


@lru_cache(maxsize=4)
def _tables_for(path: str, stamp: str) -> dict[str, pd.DataFrame]:
    return store.read_reference_tables(store.database_path())


def tables() -> dict[str, pd.DataFrame]:
    """All reference tables, re-read when the text in data/ changes."""
    return _tables_for(str(store.database_path()), store.data_stamp())


def table(name: str) -> pd.DataFrame:
    return tables()[name].copy()


@lru_cache(maxsize=64)
def _records_for(path: str, stamp: str, name: str) -> tuple[dict, ...]:
    return tuple(_tables_for(path, stamp)[name].to_dict("records"))


def records(name: str) -> tuple[dict, ...]:
    """A reference table as plain dicts (cheap to read in the engine's hot path)."""
    return _records_for(str(store.database_path()), store.data_stamp(), name)


def service_lines() -> pd.DataFrame:
    return table("service_lines")


def line_ids() -> list[str]:
    return [row["id"] for row in records("service_lines")]


def poolable_line_ids() -> list[str]:
    return [row["id"] for row in records("service_lines") if row["poolable"]]


def levers() -> pd.DataFrame:
    return table("levers")


def lever_ids() -> list[str]:
    return [row["id"] for row in records("levers")]


def outcome_measures() -> pd.DataFrame:
    return table("outcome_measures")


def routes() -> pd.DataFrame:
    return table("routes")


def route_transaction_share(route_id: str) -> float:
    return next(float(r["transaction_cost_share"]) for r in records("routes") if r["id"] == route_id)


def templates() -> pd.DataFrame:
    return table("templates").sort_values("ordering").reset_index(drop=True)


def template_ids() -> list[str]:
    return [row["id"] for row in sorted(records("templates"), key=lambda r: r["ordering"])]


@dataclass(frozen=True)
class Template:
    id: str
    info: dict
    lines: pd.DataFrame
    facts: pd.DataFrame
    presets: dict[str, object]
    preset_sources: dict[str, str]


def template(template_id: str) -> Template:
    return _template_for(str(store.database_path()), store.data_stamp(), template_id)


@lru_cache(maxsize=32)
def _template_for(path: str, stamp: str, template_id: str) -> Template:
    all_ = _tables_for(path, stamp)
    rows = all_["templates"][all_["templates"]["id"] == template_id]
    if rows.empty:
        raise UnknownTemplateError(f"template: unknown id {template_id!r}; allowed: {', '.join(template_ids())}")
    presets = all_["template_presets"][all_["template_presets"]["template_id"] == template_id]
    facts = all_["template_facts"][all_["template_facts"]["template_id"] == template_id]
    lines = all_["template_lines"][all_["template_lines"]["template_id"] == template_id]
    return Template(
        id=template_id,
        info=rows.iloc[0].to_dict(),
        lines=lines.reset_index(drop=True),
        facts=facts.sort_values("ordering").reset_index(drop=True),
        presets={p: json.loads(v) for p, v in zip(presets["path"], presets["value_json"], strict=True)},
        preset_sources=dict(zip(presets["path"], presets["source"], strict=True)),
    )
