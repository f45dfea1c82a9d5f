"""The sensitivity tornado: what would make this deal fail?

Each assumption in data/sensitivities.yaml is moved from the low to the high end of its range,
everything else as designed. Every run keeps the design's seed, so every bar is projected on the
same random numbers (common random numbers): a bar's length is the assumption's effect, not noise,
and an assumption whose range is a point has a bar of exactly zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from lib import catalogue, results, settlement
from lib.scenario import Scenario, expand, field_spec, within
from lib.words import gbp_m, minus, pct

COLUMNS = [
    "id", "label", "low", "high", "reasoning",
    "provider_p50_low_gbp_m", "provider_p50_high_gbp_m", "failure_low", "failure_high",
    "swing_gbp_m", "failure_swing",
]  # fmt: skip


@dataclass(frozen=True)
class Assumption:
    """One bar: the field changes at each end of the range, and how to read them."""

    id: str
    label: str
    reasoning: str
    low: dict[str, Any]
    high: dict[str, Any]
    low_text: str
    high_text: str


def assumptions(scenario: Scenario, entries: tuple[dict, ...] | None = None) -> list[Assumption]:
    """The bars for this design, from data/sensitivities.yaml (or the `entries` given)."""
    cat = catalogue.current()
    found: list[Assumption] = []
    pooled = settlement.pool_terms_on(scenario.risk)
    for entry in cat.sensitivities if entries is None else entries:
        if entry.get("pool_terms") and not pooled:  # a pooled fund's own terms: no bar where the deal has none
            continue
        if entry.get("contract_terms") and scenario.is_pooled_fund():  # nor a contract's terms where there is none
            continue
        if entry["kind"] == "each_lever":
            for lever in cat.records["levers"]:
                paths = (f"levers.{lever['id']}.realisation_low", f"levers.{lever['id']}.realisation_high")
                label = entry["label"].format(name=lever["name"].lower())
                found.append(_interval(scenario, entry | {"id": lever["id"], "label": label}, *paths))
        elif entry["kind"] == "interval":
            found.append(_interval(scenario, entry, entry["low_path"], entry["high_path"]))
        else:
            found.append(_moved(scenario, entry))
    return found


def _interval(scenario: Scenario, entry: dict, low_path: str, high_path: str) -> Assumption:
    """Every simulation at the interval's low end, then at its high end."""
    low, high = scenario.get(low_path), scenario.get(high_path)
    return Assumption(
        entry["id"], entry["label"], entry["reasoning"],
        {low_path: low, high_path: low}, {low_path: high, high_path: high},
        _text(low_path, low), _text(low_path, high),
    )  # fmt: skip


def _moved(scenario: Scenario, entry: dict) -> Assumption:
    paths = expand(scenario, entry["path"])

    def at(end: float) -> dict[str, Any]:
        if entry["kind"] == "span":
            return {p: within(p, end) for p in paths}
        if entry["kind"] == "shift":
            return {p: within(p, scenario.get(p) + end) for p in paths}
        if entry["kind"] == "scale":  # an empty amount (a risk pool not set) is none, at either end
            return {p: within(p, (scenario.get(p) or 0.0) * end) for p in paths}
        raise ValueError(f"sensitivity {entry['id']}: unknown kind {entry['kind']!r}")

    low, high = at(entry["low"]), at(entry["high"])
    if len(paths) > 1:  # a shift of every line: say the shift
        texts = [minus(f"{end * 100:+.1f} points") for end in (entry["low"], entry["high"])]
    else:
        texts = [_text(paths[0], low[paths[0]]), _text(paths[0], high[paths[0]])]
    return Assumption(entry["id"], entry["label"], entry["reasoning"], low, high, *texts)


def _text(path: str, value: float) -> str:
    unit = field_spec(path).unit
    if unit.startswith("fraction"):
        return pct(value, 1) + (" a year" if "year" in unit else "")
    if unit.startswith("£m"):
        return gbp_m(value)
    return f"{value:g}"


def tornado(scenario: Scenario, entries: tuple[dict, ...] | None = None) -> pd.DataFrame:
    """One row per assumption, largest swing in the provider's end position (P50) first:
    P50 (£m) and chance of failure at each end, and the swings between them."""
    rows = []
    for a in assumptions(scenario, entries):
        low, high = (results.project(scenario.with_values(changes)).headline() for changes in (a.low, a.high))
        rows.append(
            {
                "id": a.id, "label": a.label, "low": a.low_text, "high": a.high_text, "reasoning": a.reasoning,
                "provider_p50_low_gbp_m": low["provider"]["p50"], "provider_p50_high_gbp_m": high["provider"]["p50"],
                "failure_low": low["failure"], "failure_high": high["failure"],
            }
        )  # fmt: skip
    frame = pd.DataFrame(rows, columns=COLUMNS[:-2])
    frame["swing_gbp_m"] = (frame["provider_p50_high_gbp_m"] - frame["provider_p50_low_gbp_m"]).abs()
    frame["failure_swing"] = (frame["failure_high"] - frame["failure_low"]).abs()
    return frame.sort_values(["swing_gbp_m", "failure_swing"], ascending=False, kind="stable").reset_index(drop=True)
