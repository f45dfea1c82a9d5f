"""The four transformation levers: how each ramps in over its years, and what it does to costs.

A lever reaches `effect x ramp(year) x realisation` of its full effect in a contract year (years
count from 1). It removes `activity_share` of that share of its source lines' cost and adds back
`cost_ratio` of what it removed, on its target line (or on the same lines for "same"): the care
that replaces what was avoided. See docs/model.md, "Cost".
"""

from __future__ import annotations

import numpy as np


def ramp(years: np.ndarray, years_to_full: int) -> np.ndarray:
    """Share of a lever's full effect reached by each year: slow start, S-shaped (smoothstep)."""
    x = np.clip(np.asarray(years, dtype=float) / years_to_full, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def cost_change(weights: np.ndarray, lever: dict, line_ids: list[str]) -> np.ndarray:
    """Per line, the net change in cost per unit of realised effect, for lines weighted by
    `weights` (a pooled share, say): what is removed from the source lines plus what is added
    back on the target line."""
    sources = np.array([line in lever["source_lines"].split(";") for line in line_ids], dtype=float)
    removed = weights * sources * float(lever["activity_share"])
    ratio = float(lever["cost_ratio"])
    if lever["target_line"] == "same":
        return (ratio - 1.0) * removed
    target_weight = weights[line_ids.index(lever["target_line"])]
    return ratio * target_weight * sources * float(lever["activity_share"]) - removed


def coverage(lever: dict, line_ids: list[str], baseline: np.ndarray, scope: np.ndarray) -> float:
    """How much of a lever the alliance runs (0-1): half through the services whose activity it
    avoids (its source lines), half through those that deliver what replaces it (its target line),
    each half the in-scope share of those services' year-0 spend. An assumption, stated in
    docs/model.md: an MCP without hospital care still reaches part of the admissions it prevents."""
    sources = lever["source_lines"].split(";")
    target = sources if lever["target_line"] == "same" else [lever["target_line"]]

    def in_scope(lines: list[str]) -> float:
        spend = baseline * np.array([line in lines for line in line_ids], dtype=float)
        return float(spend @ scope / spend.sum()) if spend.sum() > 0 else 0.0

    return (in_scope(sources) + in_scope(target)) / 2
