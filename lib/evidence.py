"""The evidence check: each published figure beside the model's projection of it, over the
figure's own years, with its role (calibrated the model, seen before a change, or a held-out test),
a verdict flagged both ways, an interval score, and the coverage of the held-out tests
(docs/model.md, "The evidence check")."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib import store
from lib.catalogue import Catalogue
from lib.results import Run
from lib.scenario import Scenario


def verdict(published: float, model: dict[str, float], higher_is_better: bool = True) -> str:
    """A plain reading of a published figure against the model's P10-P90 band of it, flagged in
    both directions: outside the band, or inside it with a median twice or half what happened. An
    effect (points of growth saved) is better higher; a site's own growth in emergency admissions
    is better lower, so a figure above that band means the model was too hopeful."""
    above, below = ("optimistic", "pessimistic") if higher_is_better else ("pessimistic", "optimistic")
    if model["p10"] > published:  # the model's band sits above what happened
        return f"the model is more {above} than what happened"
    if model["p90"] < published:
        return f"the model is more {below} than what happened"
    if published > 0 and model["p50"] > 2 * published:
        return f"what happened is inside the model's band, but its median is more {above}"
    if published > 0 and model["p50"] < published / 2:
        return f"what happened is inside the model's band, but its median is more {below}"
    return "what happened is inside the model's band"


ALPHA = 0.2  # the band is the central 80%


def interval_score(published: float, p10: float, p90: float, alpha: float = ALPHA) -> float:
    """The interval score of an 80% band against what happened (Gneiting and Raftery 2007): its
    width, plus a penalty of 2/alpha for each point what happened falls outside it. Lower is better."""
    below = max(p10 - published, 0.0)
    above = max(published - p90, 0.0)
    return (p90 - p10) + (2 / alpha) * (below + above)


def calibrating_figures(cat: Catalogue, column: str = "set_by") -> dict[str, list[str]]:
    """Each figure that calibrated the model (`set_by`), or that was seen before a change to it
    (`informed_by`), and the parameters concerned (data/calibration.yaml)."""
    found: dict[str, list[str]] = {}
    for row in cat.records["calibration"]:
        for figure in str(row[column] or "").split(";"):
            if figure:
                found.setdefault(figure, []).append(str(row["parameter"]))
    return found


ROLES = {
    "set": "calibrated the model: not a test",
    "seen": "seen before the model changed: not a clean test",
    "held": "held out: a test",
}


def figures(cat: Catalogue) -> list[dict]:
    """The published figures that the model can be held against (others are context)."""
    return [row for row in cat.records["evidence"] if isinstance(row["measure"], str)]


def matching_templates(cat: Catalogue, figure: dict) -> list[str]:
    """The templates a figure is held against: its own site's, or every template of its care models."""
    if isinstance(figure.get("template"), str) and figure["template"]:
        return [figure["template"]] if figure["template"] in cat.template_ids else []
    models = figure["care_model"].split(";")
    return [tid for tid in cat.template_ids if cat.template(tid).info["care_model"] in models]


def _published(figure: dict) -> float:
    """The published figure in percentage points: an effect (growth elsewhere less the vanguards'),
    or a site's own growth."""
    if figure["kind"] == "growth":
        return float(figure["vanguard_growth_pct"])
    return float(figure["comparison_growth_pct"]) - float(figure["vanguard_growth_pct"])


def _model_band(run: Run, figure: dict, span: tuple[int, int]) -> dict[str, float]:
    if figure["kind"] == "growth":  # the period straddles the last two contract years: their mean
        return run.growth(figure["measure"], [span[1] - 1, span[1]])
    return run.effect(figure["measure"], *span)


def _model_draws(run: Run, figure: dict, span: tuple[int, int]) -> np.ndarray:
    """Each simulation's value of what `_model_band` summarises, to pool several templates' runs."""
    if figure["kind"] == "growth":
        return run.growth_draws(figure["measure"], [span[1] - 1, span[1]])
    return run.effect_draws(figure["measure"], *span)


POOLED = "{models} templates pooled"
COMPARED = {
    "effect": "points less growth than elsewhere",
    "growth": "the site's own growth, %",
}


def check(cat: Catalogue, runs: dict[str, Run]) -> pd.DataFrame:
    """Each published effect beside the model's projection of it (`runs`: template id -> its run):
    P50 and P10-P90 in percentage points of growth, a verdict and the interval score. A finding
    about one care model is held against each of its templates; a pooled finding (several care
    models) against the pooled simulations of all their templates. `role` says whether the figure
    calibrated the model (shown, not a test) or is held out (a test)."""
    calibrated, informed = calibrating_figures(cat), calibrating_figures(cat, "informed_by")
    rows = []
    for figure in figures(cat):
        published = _published(figure)
        span = (int(figure["from_year"]), int(figure["to_year"]))
        matching = [tid for tid in matching_templates(cat, figure) if tid in runs and runs[tid].years >= span[1]]
        if not matching:
            continue
        sets = calibrated.get(str(figure["id"]), []) + informed.get(str(figure["id"]), [])
        role = ROLES["set"] if str(figure["id"]) in calibrated else ROLES["seen"] if sets else ROLES["held"]
        own_site = isinstance(figure.get("template"), str) and bool(figure["template"])
        if ";" in str(figure["care_model"]) or (figure["kind"] == "growth" and not own_site):
            # a pooled finding, or a site with no template of its own: the pooled model of its care models
            draws = np.concatenate([_model_draws(runs[t], figure, span) for t in matching])
            p10, p50, p90 = np.quantile(draws, [0.1, 0.5, 0.9])
            models = " and ".join(figure["care_model"].split(";"))
            pooled = POOLED.format(models=models)
            if len(matching) == 1:  # one design against a pooled finding: say so, it is not the pooled model
                pooled = f"{cat.template(matching[0]).info['name']} alone, against a finding pooled over {models}"
            bands = [(pooled, {"p10": p10, "p50": p50, "p90": p90})]
        else:
            bands = [(cat.template(t).info["name"], _model_band(runs[t], figure, span)) for t in matching]
        for template, model in bands:
            rows.append(  # what a reader needs first on the left: where, what, the two numbers, the verdict
                {"template": template, "measure": figure["measure"], "years": f"{span[0]}→{span[1]}"}
                | {"compared": COMPARED[figure["kind"]], "published_points": round(published, 2)}
                | {f"model_{k}": round(float(v), 2) for k, v in model.items()}
                | {"verdict": verdict(published, model, higher_is_better=figure["kind"] == "effect"), "role": role}
                | {"interval_score": round(interval_score(published, model["p10"], model["p90"]), 2)}
                | {"source": figure["source"], "finding": figure["finding"], "parameters_it_set": "; ".join(sets)}
                | {"how_compared": figure["note"]}
            )
    return pd.DataFrame(rows)


def years_for(cat: Catalogue, template_id: str) -> int:
    """The longest span of the published figures held against a template: its projection for the
    evidence check runs at least that long, so a figure is compared over its own years."""
    spans = [int(f["to_year"]) for f in figures(cat) if template_id in matching_templates(cat, f)]
    return max(spans, default=0)


def scenario_for(cat: Catalogue, scenario: Scenario) -> Scenario:
    """The design, run for long enough to meet every figure held against its template."""
    years = max(scenario.contract.years, years_for(cat, scenario.template))
    return scenario if years == scenario.contract.years else scenario.with_value("contract.years", years)


def coverage(rows: pd.DataFrame) -> str:
    """One paragraph: how many clean held-out comparisons fall inside the 80% band (against 80%
    expected), and what the others are."""
    if rows.empty:
        return "No published figure can be held against this projection."
    inside = rows["verdict"].str.startswith("what happened is inside")
    parts = []
    tests = rows["role"] == ROLES["held"]
    if tests.any():
        k, n = int((inside & tests).sum()), int(tests.sum())
        width = (rows.loc[tests, "model_p90"] - rows.loc[tests, "model_p10"]).mean()
        parts.append(
            f"Out of sample: {k} of {n} held-out comparisons fall inside the model's 80% band ({k / n:.0%}, against 80% "
            f"expected); mean interval score {rows.loc[tests, 'interval_score'].mean():.1f} points (the band's width, "
            f"on average {width:.1f} points, plus ten times any miss: lower is better)"
            + ("; too few to say how often it holds." if n < 10 else ".")
            + (" A band that holds more than expected may be too wide to say much." if n >= 10 and k / n > 0.9 else "")
        )
    else:
        parts.append("Out of sample: no clean held-out figure yet.")
    seen = rows["role"] == ROLES["seen"]
    if seen.any():
        parts.append(
            f"{_count(int(seen.sum()), 'comparison was', 'comparisons were')} seen before a change to the model, so "
            f"{'it is not a clean test' if seen.sum() == 1 else 'they are not clean tests'} "
            f"({int((inside & seen).sum())} inside the band now)."
        )
    fitted = rows["role"] == ROLES["set"]
    if fitted.any():
        used = _count(int(fitted.sum()), "comparison uses a figure", "comparisons use figures")
        parts.append(f"{used} that calibrated the model: {'it shows' if fitted.sum() == 1 else 'they show'} its fit, not a test.")
    return " ".join(parts)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def for_a_board(rows: pd.DataFrame, cat: Catalogue) -> pd.DataFrame:
    """The comparison table as a board reads it on a page: where, what, the two numbers, the verdict
    and the role, in words (the finding and its source are listed beside it)."""
    names = {m["id"]: m["name"] for m in cat.records["outcome_measures"]}
    out = rows.assign(measure=rows["measure"].map(names).fillna(rows["measure"]))
    keep = ["template", "measure", "years", "compared", "published_points", "model_p10", "model_p50", "model_p90"]
    keep += ["verdict", "role"]
    return out[keep].rename(
        columns={"published_points": "published", "model_p10": "model P10", "model_p50": "model P50", "model_p90": "model P90"}
    )


def template_tables(cat: Catalogue, template_id: str) -> dict[str, pd.DataFrame]:
    """A template's facts, presets and services in scope, read from the reference database."""
    where = [template_id]
    return store.query_reference(
        cat,
        {
            "facts": ("SELECT label, value, source FROM template_facts WHERE template_id = ? ORDER BY ordering", where),
            # the arrangement's national size by year (facts `scale_<year>`, in £m): drawn where a template has them
            "scale": (
                "SELECT label, value_gbp_m FROM template_facts WHERE template_id = ? AND fact_id LIKE 'scale\\_%' ESCAPE '\\' "
                "AND value_gbp_m IS NOT NULL ORDER BY fact_id",
                where,
            ),
            "presets": ("SELECT path AS field, value_json AS value, source FROM template_presets WHERE template_id = ?", where),
            "lines": (
                "SELECT line_id AS line, pooled_share, baseline_gbp_m, baseline_source AS basis "
                "FROM template_lines WHERE template_id = ? AND in_scope",
                where,
            ),
        },
    )


