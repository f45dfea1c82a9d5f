"""Stress tests: named shocks (data/stresses.yaml) applied on top of a design, alone or together.

A stress is a list of changes to the scenario's fields, each with its source or reasoning in the
data file. Applying one gives an ordinary scenario, projected like any other, so a stressed
design's numbers come from the same engine with the same random numbers (same seed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lib import catalogue
from lib.scenario import Scenario, expand, within


class StressError(ValueError):
    """An unknown stress id."""


@dataclass(frozen=True)
class Stress:
    id: str
    name: str
    what: str
    source: str
    changes: tuple[dict[str, Any], ...]
    replay: bool = False


def all_stresses() -> dict[str, Stress]:
    """Every stress in data/stresses.yaml, the UnitingCare replay included, by id."""
    return {
        s["id"]: Stress(s["id"], s["name"], s["what"], s["source"], tuple(s["changes"]), bool(s.get("replay")))
        for s in catalogue.current().stresses
    }


def shocks() -> dict[str, Stress]:
    """The combinable shocks (everything but the replay)."""
    return {sid: s for sid, s in all_stresses().items() if not s.replay}


def replay() -> Stress:
    return next(s for s in all_stresses().values() if s.replay)


def parse(text: str) -> list[str]:
    """Comma-separated stress ids, checked: `costs_understated,demand_surge`."""
    known = all_stresses()
    ids = [part.strip() for part in text.split(",") if part.strip()]
    for sid in ids:
        if sid not in known:
            raise StressError(f"stress: unknown id {sid!r}; allowed: {', '.join(known)}")
    return ids


def apply(scenario: Scenario, ids: Sequence[str]) -> Scenario:
    """The scenario with each named stress applied in turn."""
    known = all_stresses()
    for sid in ids:
        if sid not in known:
            raise StressError(f"stress: unknown id {sid!r}; allowed: {', '.join(known)}")
        scenario = _apply_one(scenario, known[sid])
    return scenario


def _apply_one(scenario: Scenario, stress: Stress) -> Scenario:
    values: dict[str, Any] = {}
    for change in stress.changes:
        if change.get("partner_exit"):
            values |= _partner_exit(scenario)
            continue
        if change.get("pool_scope"):
            pooled = [line for line in scenario.scope if line in scenario.pooling]
            values |= {f"pooling.{line}": 1.0 for line in pooled}
            values["scope"] = [line for line in scenario.scope if line not in pooled]
            continue
        for path in expand(scenario, change["path"]):
            values[path] = _changed(scenario, path, change)
    return scenario.with_values(values) if values else scenario


def _changed(scenario: Scenario, path: str, change: dict[str, Any]) -> Any:
    if "from_template" in change:
        return Scenario.from_template(change["from_template"]).get(path)
    if "set" in change:
        return change["set"]
    current = scenario.get(path)
    return within(path, current + change["add"] if "add" in change else current * change["scale"])


def _partner_exit(scenario: Scenario) -> dict[str, Any]:
    """The largest risk-bearing partner leaves with its share of reserves and guarantees."""
    partners = scenario.get("partners")
    share = {i: w for i, (p, w) in enumerate(zip(partners, scenario.sharing_weights(), strict=True)) if p["role"] == "full_risk"}
    if len(share) < 2:
        return {}
    leaving = max(share, key=share.get)
    if not any(v > 0 for i, v in share.items() if i != leaving):
        return {}  # no partner would be left to carry losses: the stress cannot be applied, and changes nothing
    total = sum(share.values())
    stays = 1 - share[leaving] / total if total else 0.5
    return {
        "partners": [p for i, p in enumerate(partners) if i != leaving],
        "lead.reserves_gbp_m": scenario.lead.reserves_gbp_m * stays,
        "lead.guarantee_gbp_m": scenario.lead.guarantee_gbp_m * stays,
    }
