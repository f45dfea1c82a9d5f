"""Plotly figures for the dashboard: one function a chart, fed by a run's summaries and lib.views.

A figure is a plain plotly spec, {"data": [...], "layout": {...}}, treated as read-only once made:
plotly's Figure objects validate every property and deep-copy on the way to the browser, which
cost more than the rest of a chart; these specs are fixed by this module and drawn by the page
and browser tests. plotly.io (to_html, to_json) takes them as they are.
Colours: the Okabe-Ito palette, safe for the common forms of colour blindness, used the same
way everywhere (provider side blue, commissioner side orange, reinvested green, cost red).
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
import pandas as pd

from lib.readings import collar_over_contract
from lib.results import Run
from lib.words import ROLE_NAMES, gbp_m, minus

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000"]
COLOURS = {
    "budget": "#0072B2",
    "cost": "#D55E00",
    "provider": "#0072B2",
    "commissioner": "#E69F00",
    "reinvested": "#009E73",
    "no_change": "#6B6B6B",
    "limit": "#CC79A7",
}
ROLE_COLOURS = {"full_risk": "#0072B2", "gain_share": "#56B4E9", "consultative": "#6B6B6B", "subcontractor": "#E69F00"}
FONT = "Source Sans Pro, Arial, sans-serif"
MONEY_HOVER = "%{y:,.1f} £m"  # d3 would write £-12.0m; the sign stays with the number
SPLIT = ("variance", "provider", "commissioner", "reinvested")  # the settlement chart draws their means
BUDGET_FANS = ("budget", "cost", "counterfactual_cost")
Trace = dict[str, Any]
Figure = dict[str, Any]  # {"data": [Trace, ...], "layout": {...}}


def _figure(traces: list[Trace], layout: dict[str, Any]) -> Figure:
    return {"data": traces, "layout": layout}


def narrow(figure: Figure) -> Figure:
    """The same chart for a narrow column: its title on as many lines as it needs, its legend below
    the plot with room to wrap."""
    layout = figure["layout"]
    title = layout["title"]
    lines = textwrap.wrap(title["text"], NARROW_TITLE_CHARS)
    above = sum(1 for a in layout.get("annotations", []) if a.get("yanchor") == "bottom" and a.get("y", 0) >= 1)
    top = 40 + 26 * len(lines) + LABEL_LINE * above  # a 17 px title line is ~24 px high; then the marks' labels
    legend = {"orientation": "v", "yanchor": "top", "y": -0.3, "x": 0}  # one entry a line: none runs off the side
    narrowed = {"legend": legend, "height": 520 + top, "margin": {"l": 50, "r": 10, "t": top, "b": 190}}
    narrowed["title"] = title | {"text": "<br>".join(lines)}
    x_title = layout.get("xaxis", {}).get("title", {})
    narrowed["xaxis"] = layout.get("xaxis", {}) | {"dtick": None, "nticks": 6, "tickangle": 0}  # 15 years do not pile up
    narrowed["xaxis"]["title"] = x_title | {"text": "<br>".join(textwrap.wrap(x_title.get("text", ""), NARROW_TITLE_CHARS))}
    narrowed["annotations"] = [a | {"font": {"size": 11}} for a in layout.get("annotations", [])]
    # A legend entry cannot wrap by itself: a long name is broken into lines that fit the column.
    wrapped = lambda name: "<br>".join(textwrap.wrap(name, NARROW_LEGEND_CHARS))  # noqa: E731
    data = [t | {"name": wrapped(t["name"])} if "name" in t else t for t in figure["data"]]
    return {"data": data, "layout": layout | narrowed}


NARROW_TITLE_CHARS = 24  # a preview column at 1024 px wide holds about this many characters of title
NARROW_LEGEND_CHARS = 26  # and about this many of a legend entry beside its swatch


TITLE_AT_TOP = {"yref": "container", "y": 1, "yanchor": "top", "pad": {"t": 14}}  # clear of labels above the plot
LABEL_LINE = 24  # px a label of a marked line takes above or below the next
TOP, BOTTOM = 60, 140  # px: the title above the plot; below it the x-axis title, then up to three rows of legend
AXIS_TITLE_DEPTH = 70  # px from the x axis to below its title (the board pack draws it lower than the app)


def _legend_below(height: int, bottom: int = BOTTOM) -> dict[str, Any]:
    """A legend that starts under the x-axis title and wraps downwards into the bottom margin: placed
    in the plot's own units, so its offset in pixels is worked out from the chart's height."""
    return {"orientation": "h", "yanchor": "top", "y": -AXIS_TITLE_DEPTH / (height - TOP - bottom), "x": 0}


def _layout(title: str, y_title: str, x_title: str = "Contract year", height: int = 420, **extra: Any) -> dict[str, Any]:
    """Title, units and legend."""
    return {
        "title": {"text": title, "font": {"size": 17}} | TITLE_AT_TOP,
        "font": {"family": FONT, "size": 14},
        "height": height,
        "margin": {"l": 60, "r": 20, "t": TOP, "b": BOTTOM},
        "legend": _legend_below(height),
        "hovermode": "x unified",
        "colorway": OKABE_ITO,
        "xaxis": {"title": {"text": x_title}, "dtick": 1 if x_title == "Contract year" else None},
        "yaxis": {"title": {"text": y_title}, "zeroline": True, "zerolinecolor": "#B0B0B0"},
        **extra,
    }


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    return f"rgba({int(h[0:2], 16)}, {int(h[2:4], 16)}, {int(h[4:6], 16)}, {alpha})"


def _fan(
    frame: pd.DataFrame, name: str, colour: str, hover=MONEY_HOVER, markers=True, legend=True, axes="", dash="solid"
) -> list[Trace]:
    """P10-P90 band and P50 line for one measure (frame: year, p10, p50, p90); `dash` tells lines
    apart in greyscale."""
    x = frame["year"].tolist()
    common = {"type": "scatter", "showlegend": legend} | ({"xaxis": f"x{axes}", "yaxis": f"y{axes}"} if axes else {})
    band = common | {"x": x + x[::-1], "y": frame["p90"].tolist() + frame["p10"].tolist()[::-1], "mode": "lines"}
    band |= {"fill": "toself", "fillcolor": _rgba(colour, 0.18), "line": {"width": 0}, "hoverinfo": "skip"}
    band |= {"name": f"{name} P10–P90", "legendgroup": f"{name} band"}
    line = common | {"x": x, "y": frame["p50"].tolist(), "mode": "lines+markers" if markers else "lines"}
    line |= {"line": {"color": colour, "width": 3, "dash": dash}, "name": f"{name} (P50)", "legendgroup": f"{name} line"}
    return [band, line | {"hovertemplate": f"{name} P50 {hover}<extra></extra>"}]


def _line(x, y, name: str, colour: str, dash: str, hover: str, **extra: Any) -> Trace:
    """A dashed or dotted line to read the fans against (no-change path, limits)."""
    style = {"mode": "lines", "line": {"color": colour, "dash": dash, "width": 2}, "hovertemplate": hover}
    return {"type": "scatter", "x": list(x), "y": list(y), "name": name, **style, **extra}


def budget_vs_cost(run: Run) -> Figure:
    run.summarise(fans=list(BUDGET_FANS))
    no_change = run.measure("counterfactual_cost")
    traces = [
        *_fan(run.measure("budget"), "Budget", COLOURS["budget"]),
        *_fan(run.measure("cost"), "Projected cost", COLOURS["cost"], dash="dash"),
    ]
    hover = f"No change {MONEY_HOVER}<extra></extra>"
    traces.append(_line(no_change["year"], no_change["p50"], "Cost with no change (P50)", COLOURS["no_change"], "dot", hover))
    return _figure(traces, _layout("Budget against projected cost, by contract year", "£m a year"))


def variance_split(run: Run) -> Figure:
    run.summarise(means=list(SPLIT))
    traces = []
    sides = (("provider", "Provider side", ""), ("commissioner", "Commissioner side", "/"), ("reinvested", "Reinvested", "."))
    for measure, label, pattern in sides:  # colour and fill pattern: the parts read in greyscale too
        frame = run.mean(measure)
        bar = {"type": "bar", "x": frame["year"].tolist(), "y": frame["mean"].tolist(), "name": label}
        marker = {"color": COLOURS[measure], "pattern": {"shape": pattern}}
        traces.append(bar | {"marker": marker, "hovertemplate": f"{label} {MONEY_HOVER}<extra></extra>"})
    variance = run.mean("variance")
    points = {"type": "scatter", "x": variance["year"].tolist(), "y": variance["mean"].tolist(), "mode": "markers"}
    points |= {"marker": {"symbol": "diamond", "size": 11, "color": "#000000"}, "name": "Variance (budget − cost)"}
    traces.append(points | {"hovertemplate": f"Variance {MONEY_HOVER}<extra></extra>"})
    layout = _layout("Who keeps each year's surplus or deficit (mean of simulations)", "£m a year", barmode="relative")
    return _figure(traces, layout)


def cumulative_provider(run: Run) -> Figure:
    s = run.scenario
    frame = run.measure("provider_cumulative")
    years = frame["year"].tolist()
    traces = _fan(frame, "Provider side, cumulative", COLOURS["provider"])
    failure = [-s.lead.loss_capacity_gbp_m] * len(years)
    traces.append(
        _line(
            years,
            failure,
            "Failure line: −(reserves + guarantees)",
            COLOURS["cost"],
            "dash",
            f"Failure line {MONEY_HOVER}<extra></extra>",
        )
    )
    if s.risk.collar is not None:
        collar = -s.risk.collar * run.measure("pooled_budget")["p50"].cumsum()
        traces.append(
            _line(years, collar, "Collar, summed over the years", COLOURS["limit"], "dot", f"Collar {MONEY_HOVER}<extra></extra>")
        )
    return _figure(traces, _layout("Provider side's cumulative position against what it can absorb", "£m, cumulative"))


def cumulative_commissioners(run: Run) -> Figure:
    """The commissioners' cumulative position on the deal (P10-P90 fan), beside the provider side's."""
    traces = _fan(run.measure("commissioner_cumulative"), "Commissioners, cumulative", COLOURS["commissioner"])
    return _figure(traces, _layout("Commissioners' cumulative position on the deal", "£m, cumulative"))


def partner_split(run: Run) -> Figure:
    """Each partner's cumulative position at contract end: P50 bar, P10-P90 whiskers, and the
    loss each full-risk partner can bear."""
    p = run.partner_summary().iloc[::-1]  # first partner on top
    bearers = p[p["role"] == "full_risk"]
    traces = []
    for role in dict.fromkeys(p["role"][::-1]):  # a trace per role, in partner order: its swatch is its bars colour
        q = p[p["role"] == role]
        whiskers = {"type": "data", "symmetric": False, "array": (q["p90"] - q["p50"]).tolist()}
        bars = {"type": "bar", "y": q["name"].tolist(), "x": q["p50"].tolist(), "orientation": "h"}
        bars |= {"marker": {"color": ROLE_COLOURS.get(role, "#6B6B6B")}, "name": f"{ROLE_NAMES.get(role, role)} (P50, P10–P90)"}
        bars |= {"error_x": whiskers | {"arrayminus": (q["p50"] - q["p10"]).tolist()}}
        bars["customdata"] = np.stack(
            [q["role"].map(ROLE_NAMES), q["p10"], q["p90"], q["p_over_capacity"] * 100], axis=1
        ).tolist()
        bars["hovertemplate"] = (
            "%{y}<br>role: %{customdata[0]}<br>P50 %{x:,.1f} £m (P10 %{customdata[1]:,.1f} £m, "
            "P90 %{customdata[2]:,.1f} £m)<br>chance of a loss beyond what it can bear: %{customdata[3]:.0f}%<extra></extra>"
        )
        traces.append(bars)
    limits = {"type": "scatter", "y": bearers["name"].tolist(), "x": (-bearers["capacity_gbp_m"]).tolist(), "mode": "markers"}
    limits |= {"marker": {"symbol": "line-ns-open", "size": 26, "color": COLOURS["cost"], "line": {"width": 3}}}
    limits |= {"name": "Most it can lose (−)", "hovertemplate": "can bear %{x:,.1f} £m<extra></extra>"}
    bottom = BOTTOM + 25 * len(traces)  # a legend row for each role and the limit: room for them all
    height = max(300, 140 + 60 * len(p)) + bottom - BOTTOM
    layout = _layout("Each partner's share at contract end", "", "£m, cumulative at contract end", height, hovermode="closest")
    layout |= {"legend": _legend_below(height, bottom), "margin": layout["margin"] | {"b": bottom}}
    layout["xaxis"] |= {"zeroline": True, "zerolinecolor": "#808080"}
    # partners in the order given, whole names beside their bars (the axis takes the room they need)
    layout["yaxis"] |= {"automargin": True, "categoryorder": "array", "categoryarray": p["name"].tolist()}
    return _figure([*traces, limits], layout)


def money_flow(flows: pd.DataFrame, title: str) -> Figure:
    labels = list(dict.fromkeys([*flows["source"], *flows["target"]]))
    index = {label: i for i, label in enumerate(labels)}
    colours = [OKABE_ITO[i % len(OKABE_ITO)] for i in range(len(labels))]
    link = {"source": [index[s] for s in flows["source"]], "target": [index[t] for t in flows["target"]]}
    link |= {"value": flows["value_gbp_m"].tolist(), "color": [_rgba(colours[index[s]], 0.35) for s in flows["source"]]}
    link["hovertemplate"] = "%{source.label} → %{target.label}: %{value:,.1f} £m<extra></extra>"
    into, out = flows.groupby("target")["value_gbp_m"].sum(), flows.groupby("source")["value_gbp_m"].sum()
    amounts = [gbp_m(max(into.get(label, 0.0), out.get(label, 0.0)), 0) for label in labels]  # what passes through
    node = {"label": [f"{label}: {amount}" for label, amount in zip(labels, amounts, strict=True)], "pad": 18}
    node |= {"thickness": 18, "color": colours, "hovertemplate": "%{label}<extra></extra>"}
    sankey = {"type": "sankey", "valueformat": ",.1f", "valuesuffix": "m", "node": node, "link": link}
    layout = {"title": {"text": title, "font": {"size": 17}}, "font": {"family": FONT, "size": 13}, "height": 420}
    return _figure([sankey], layout | {"margin": {"l": 20, "r": 20, "t": 60, "b": 20}})


def outcomes_grid(table: pd.DataFrame, labels: dict[str, tuple[str, str]], cols: int = 3) -> Figure:
    """One small chart per outcome measure, three to a row, each fan against its no-change path."""
    measures = list(dict.fromkeys(table["measure"]))
    rows = int(np.ceil(len(measures) / cols))
    gap_x, gap_y = 0.07, 0.16  # as fractions of the whole figure, between columns and between rows
    width, height = (1 - gap_x * (cols - 1)) / cols, (1 - gap_y * (rows - 1)) / rows
    title = {"text": "Outcomes by contract year, against the no-change path", "font": {"size": 17}}
    layout = {"title": title, "font": {"family": FONT, "size": 13}, "height": 330 * rows, "hovermode": "x unified"}
    layout |= {"margin": {"l": 50, "r": 20, "t": 90, "b": 40}, "legend": {"orientation": "h", "y": -0.08}, "annotations": []}
    dtick = 1 if table["year"].max() <= 10 else 2
    for i, measure in enumerate(measures):
        r, c = divmod(i, cols)
        axes = str(i + 1) if i else ""
        x0, y1 = c * (width + gap_x), 1 - r * (height + gap_y)
        layout[f"xaxis{axes}"] = {"domain": [x0, x0 + width], "anchor": f"y{axes}", "dtick": dtick}
        layout[f"yaxis{axes}"] = {"domain": [y1 - height, y1], "anchor": f"x{axes}"}
        name, unit = labels[measure]
        wrapped = "<br>".join(textwrap.wrap(name, 26))  # three small charts a row at 1024 px: a long name takes two lines
        note = {"text": f"{wrapped}<br><sup>{unit}</sup>", "x": x0 + width / 2, "y": y1, "xref": "paper", "yref": "paper"}
        layout["annotations"].append(note | {"xanchor": "center", "yanchor": "bottom", "showarrow": False, "font": {"size": 14}})
    traces: list[Trace] = []
    for i, measure in enumerate(measures):
        frame, axes, first = table[table["measure"] == measure], str(i + 1) if i else "", i == 0
        traces += _fan(frame, "With the design", COLOURS["reinvested"], "%{y:,.1f}", markers=False, legend=first, axes=axes)
        on_axes = {"showlegend": first, "legendgroup": "none", "xaxis": f"x{axes}", "yaxis": f"y{axes}"}
        hover = "%{y:,.1f}<extra>no change</extra>"
        traces.append(
            _line(frame["year"], frame["p50_no_change"], "No change (P50)", COLOURS["no_change"], "dot", hover, **on_axes)
        )
    return _figure(traces, layout)


def waterfall(steps: pd.DataFrame, years: int) -> Figure:
    bars = {
        "type": "waterfall",
        "x": steps["step"].tolist(),
        "y": steps["value_gbp_m"].tolist(),
        "measure": steps["kind"].tolist(),
    }
    bars |= {"increasing": {"marker": {"color": COLOURS["cost"]}}, "decreasing": {"marker": {"color": COLOURS["reinvested"]}}}
    bars |= {"totals": {"marker": {"color": COLOURS["budget"]}}, "connector": {"line": {"color": "#B0B0B0"}}}
    bars |= {"text": [gbp_m(v, 0) for v in steps["value_gbp_m"]], "textposition": "outside", "cliponaxis": False}
    bars["hovertemplate"] = "%{x}: %{y:,.1f} £m<extra></extra>"
    title = f"From baseline cost to projected cost over {years} years (central case)"
    layout = _layout(title, "£m over the contract", x_title="", hovermode="closest", showlegend=False)
    layout["xaxis"] |= {"automargin": True}  # the steps' names take the room they need, not cut
    return _figure([bars], layout)


def national_scale(scale: pd.DataFrame, area_gbp_m: float) -> Figure:
    """An arrangement's national size by year (`scale`: label "Scale, <year>", value_gbp_m: a template's
    facts), and what one area of the template pools, so a board sees its pool against the whole."""
    years = [str(label).removeprefix("Scale, ") for label in scale["label"]]
    bars = {"type": "bar", "x": years, "y": scale["value_gbp_m"].tolist(), "name": "England, minimum"}
    bars |= {"marker": {"color": COLOURS["budget"]}, "text": [gbp_m(v, 0) for v in scale["value_gbp_m"]]}
    bars |= {"textposition": "outside", "cliponaxis": False, "hovertemplate": "%{x}: %{y:,.0f} £m<extra></extra>"}
    share = area_gbp_m / float(scale["value_gbp_m"].iloc[-1])
    title = f"England's minimum by year; this area pools {gbp_m(area_gbp_m, 1)} ({share:.1%} of the latest)"
    layout = _layout(title, "£m a year", x_title="", hovermode="closest", showlegend=False)
    return _figure([bars], layout)


Mark = tuple[float, str, str, str]  # x, colour, dash, label ("" draws the line unlabelled)


def _limits(run: Run) -> list[Mark]:
    """The failure line and, if the deal has a collar, the most it lets the provider side lose
    over the contract: marked on both pictures of the end positions."""
    capacity = run.scenario.lead.loss_capacity_gbp_m
    limits = [(-capacity, COLOURS["cost"], "dash", f"Failure line {gbp_m(-capacity)}")]
    collar = collar_over_contract(run)
    if collar is not None:
        limits.append((-collar, COLOURS["limit"], "dashdot", f"Collar over the contract {gbp_m(-collar)}"))
    return limits


def _vertical(marks: list[Mark], above: bool, width: float | None = None) -> dict[str, list[dict]]:
    """Layout shapes and labels for vertical lines at the marks; labels stack down from the top
    of the plot, or up above it (`above`)."""
    line = {"type": "line", "xref": "x", "yref": "paper", "y0": 0, "y1": 1}
    style = {"width": width} if width else {}
    shapes = [line | {"x0": x, "x1": x, "line": {"color": c, "dash": d} | style} for x, c, d, _ in marks]
    note = {"xref": "x", "yref": "paper", "showarrow": False, "xanchor": "left", "yanchor": "bottom" if above else "top"}
    note |= {"bgcolor": "rgba(255, 255, 255, 0.9)"}  # a curve passing behind a label does not cross its text
    # Labels a line apart (in pixels, whatever the chart's height), so two marks close together do
    # not overwrite each other; above the plot they stack upwards into the top margin (LABEL_LINE each).
    step = LABEL_LINE if above else -LABEL_LINE
    labelled = [(x, text) for x, _, _, text in marks if text]
    return {
        "shapes": shapes,
        "annotations": [note | {"x": x, "y": 1, "yshift": step * i, "text": text} for i, (x, text) in enumerate(labelled)],
    }


def s_curve(run: Run) -> Figure:
    """The S-curve of a run's provider-side end positions: P10, P90, the failure line and (if the
    deal has one) the most the collar lets the provider side lose over the contract."""
    h = run.headline()["provider"]
    values = np.sort(run.end_positions()["provider_gbp_m"].to_numpy())
    share = np.arange(1, len(values) + 1) / len(values) * 100
    curve = {"type": "scatter", "x": values.tolist(), "y": share.tolist(), "mode": "lines", "showlegend": False}
    curve |= {"line": {"color": COLOURS["provider"], "width": 3}, "name": "Provider side at contract end"}
    curve["hovertemplate"] = "%{x:,.1f} £m or less in %{y:.0f}% of simulations<extra></extra>"
    marks = [(h[q], COLOURS["limit"], "dash", f"{q.upper()} {gbp_m(h[q])}") for q in ("p10", "p90")]
    marks += [(0.0, "#B0B0B0", "solid", ""), *_limits(run)]
    layout = _layout(
        "How likely each end position is for the provider side (S-curve)",
        "% of simulations at or below",
        "£m, cumulative at contract end",
        hovermode="closest",
        showlegend=False,
        **_vertical(marks, above=False),
    )
    return _figure([curve], layout)


DASHES = ["solid", "dash", "dot", "dashdot"]


def compare_lines(runs: dict[str, Run], measure: str, title: str, y_title: str, hover: str = MONEY_HOVER) -> Figure:
    """One measure's P50 path for each design, told apart by colour and line style (greyscale too)."""
    traces = []
    failure_lines: dict[float, Trace] = {}
    for i, (name, run) in enumerate(runs.items()):
        frame = run.measure(measure)
        line = {"color": OKABE_ITO[i % len(OKABE_ITO)], "dash": DASHES[i % len(DASHES)], "width": 3}
        trace = {"type": "scatter", "x": frame["year"].tolist(), "y": frame["p50"].tolist(), "mode": "lines+markers"}
        traces.append(trace | {"line": line, "name": f"{name} (P50)", "hovertemplate": f"{name} {hover}<extra></extra>"})
        if measure == "provider_cumulative":
            capacity = -run.scenario.lead.loss_capacity_gbp_m
            shared = failure_lines.get(capacity)
            if shared is not None:  # the same line for several designs: drawn once, named for all
                shared["name"] = shared["name"].replace(": failure line", f", {name}: failure line")
                continue
            limit = [capacity] * len(frame)
            hover_limit = f"{hover}<extra></extra>"
            failure_lines[capacity] = _line(frame["year"], limit, f"{name}: failure line", line["color"], "longdash", hover_limit)
            traces.append(failure_lines[capacity])
        elif measure.endswith(("admissions", "attendances", "bed_days", "days")):
            no_change = run.no_change([measure])
            traces.append(_line(no_change["year"], no_change["p50"], f"{name}: no change", line["color"], "dot", hover))
    return _figure(traces, _layout(title, y_title, height=420))


def end_distribution(run: Run) -> Figure:
    """Histogram of the provider side's cumulative position at contract end, with the failure
    line, the mean of the worst 10% and the most the collar lets it lose marked."""
    values = run.end_positions()["provider_gbp_m"].to_numpy()
    bars = {"type": "histogram", "x": values.tolist(), "nbinsx": 40, "name": "Simulations", "showlegend": False}
    bars |= {"marker": {"color": _rgba(COLOURS["provider"], 0.75), "line": {"color": "#FFFFFF", "width": 0.5}}}
    bars["hovertemplate"] = "%{x} £m: %{y} simulations<extra></extra>"
    shortfall = run.expected_shortfall()
    failure, *collar = _limits(run)
    marks = [failure, (shortfall, "#000000", "dot", f"Worst 10% average {gbp_m(shortfall)}"), *collar]
    layout = _layout(
        "Where the provider side ends the contract, across the simulations",
        "Simulations",
        "£m, cumulative at contract end",
        hovermode="closest",
        showlegend=False,
        bargap=0.02,
        margin={"l": 60, "r": 20, "t": TOP + LABEL_LINE * sum(1 for m in marks if m[3]), "b": 50},
        **_vertical(marks, above=True, width=2),  # labels above the bars, under the title
    )
    return _figure([bars], layout)


def failure_over_time(frame: pd.DataFrame) -> Figure:
    """By each contract year: the chance the provider side has failed, and the chance commissioners
    have had a year past their contingency (both sides, told apart by dash as well as colour)."""
    provider = {"type": "scatter", "x": frame["year"].tolist(), "y": (frame["failed_by"] * 100).tolist()}
    provider |= {"mode": "lines+markers", "name": "Provider side failed", "line": {"color": COLOURS["provider"], "width": 3}}
    provider["hovertemplate"] = "Year %{x}: the provider side has failed in %{y:.0f}% of simulations<extra></extra>"
    commissioners = {"type": "scatter", "x": frame["year"].tolist(), "y": (frame["commissioners_short_by"] * 100).tolist()}
    commissioners |= {
        "mode": "lines+markers", "name": "Commissioners past their contingency",
        "line": {"color": COLOURS["commissioner"], "width": 3, "dash": "dash"}, "marker": {"symbol": "square"},
    }  # fmt: skip
    commissioners["hovertemplate"] = (
        "Year %{x}: commissioners have had a year past their contingency in %{y:.0f}% of simulations<extra></extra>"
    )
    layout = _layout("Chance each side has passed what it can bear, by contract year", "% of simulations")
    layout["yaxis"] |= {"range": [0, 100]}
    return _figure([provider, commissioners], layout)


def tornado(bars: pd.DataFrame, base: float, measure: str = "provider_p50") -> Figure:
    """Each assumption's low and high end against the design (largest swing on top): the provider
    side's end position (`provider_p50`, £m) or the chance of failure (`failure`, %).
    The two ends differ by colour and by fill pattern, so the chart reads in greyscale."""
    failure = measure == "failure"
    order = bars.sort_values("failure_swing" if failure else "swing_gbp_m", kind="stable").reset_index(drop=True)
    labels = order["label"].tolist()  # plotly draws the first category at the bottom: smallest first
    scale, base = (100.0, base * 100) if failure else (1.0, base)
    traces = []
    for end, colour, pattern in (("low", "#0072B2", ""), ("high", "#D55E00", "/")):
        column = f"failure_{end}" if failure else f"provider_p50_{end}_gbp_m"
        values = order[column].to_numpy() * scale
        trace = {"type": "bar", "orientation": "h", "y": labels, "x": (values - base).tolist(), "base": base}
        trace |= {"name": f"At the {end} end", "marker": {"color": colour, "pattern": {"shape": pattern}}}
        trace["customdata"] = np.column_stack([order[end], values]).tolist()
        unit = "%{customdata[1]:.0f}% fail" if failure else "P50 %{customdata[1]:,.1f} £m"
        trace["hovertemplate"] = f"{end} end (%{{customdata[0]}}): {unit}<extra></extra>"
        traces.append(trace)
    shape = {"type": "line", "xref": "x", "yref": "paper", "x0": base, "x1": base, "y0": 0, "y1": 1}
    if failure:
        title, axis = "What moves the chance of failure most", f"% of simulations that fail (the design: {base:.0f}%)"
    else:
        title = "What moves the provider side's end position most (P50, £m)"
        axis = f"£m, cumulative at contract end (the design: {gbp_m(base)})"
    layout = _layout(
        title,
        "",
        axis,
        height=120 + 38 * len(labels),
        hovermode="closest",
        barmode="overlay",
        shapes=[shape | {"line": {"color": "#000000", "width": 2}}],
        margin={"l": 330, "r": 20, "t": 60, "b": 90},
    )
    layout["xaxis"].pop("dtick", None)
    layout["yaxis"] = {"automargin": True}
    return _figure(traces, layout)


def for_screen(figure: Figure) -> Figure:
    """The same chart for presentation mode: large type and a taller plot, read across a room."""
    layout = figure["layout"]
    # The title sits at the top of the figure, clear of labels drawn above the plot (a histogram's marks).
    title = layout.get("title", {}) | TITLE_AT_TOP | {"font": {"size": 28}, "pad": {"t": 6}}
    height = min(max(int(layout.get("height", 420) * 1.2), 500), 520)  # fits under a slide's heading at 720 px high
    big = {"font": {"family": FONT, "size": 19}, "title": title, "height": height}
    margin = layout.get("margin", {})
    top = margin.get("t", TOP) + (30 if margin.get("t", TOP) > TOP else 10)  # labels above the plot: room for the larger title
    big["margin"] = margin | {"t": top}
    if "legend" in layout and layout["legend"].get("yanchor") == "top" and layout.get("showlegend", True):
        bottom = margin.get("b", BOTTOM) + 35  # the legend below: room for larger type
        big["margin"] |= {"b": bottom}
        big["legend"] = layout["legend"] | {"y": -(AXIS_TITLE_DEPTH + 18) / (height - top - bottom)}
    for axis in ("xaxis", "yaxis"):
        named = layout.get(axis, {})
        big[axis] = named | {"tickfont": {"size": 18}, "title": named.get("title", {}) | {"font": {"size": 20}}}
    if "legend" in layout:
        big["legend"] = big.get("legend", layout["legend"]) | {"font": {"size": 17}}
    return {"data": figure["data"], "layout": layout | big}


def _in_unit(value: float, unit: str) -> str:
    """A value as the axis that carries it reads: money as −£12.0m, shares as 25%, else 1,234.5."""
    if "£m" in unit:
        return gbp_m(value)
    return minus(f"{value:,.0f}%" if "%" in unit else f"{value:,.1f}")


def _axis_title(layout: dict, trace: Trace, axis: str) -> str:
    named = layout.get(f"{axis}axis{str(trace.get(axis + 'axis', axis))[1:]}", {})
    return str(named.get("title", {}).get("text") or "")


def _subplot_name(layout: dict, trace: Trace) -> str:
    """The small chart a series belongs to, in a grid of them (its heading), or ""."""
    axis = str(trace.get("xaxis", "x"))[1:]
    notes = layout.get("annotations", [])
    index = int(axis) - 1 if axis else 0
    if "xaxis2" not in layout or index >= len(notes):
        return ""
    return str(notes[index].get("text", "")).split("<br><sup>")[0].replace("<br>", " ") + ": "


def describe(figure: Figure) -> str:
    """A short text account of a chart for screen readers and the board pack: its title and, for
    each series, where it starts and ends (lines), its range (histograms) or its largest bars, in
    the axes' units and in words ("25% in year 5", "−£12.0m")."""
    layout = figure["layout"]
    parts = [str(layout.get("title", {}).get("text", "Chart"))]
    for trace in figure["data"]:
        name = trace.get("name", "")
        x_unit, y_unit = _axis_title(layout, trace, "x"), _axis_title(layout, trace, "y")
        if trace.get("type") == "histogram":
            xs = trace["x"]
            parts.append(f"{len(xs):,} simulations, from {_in_unit(min(xs), x_unit)} to {_in_unit(max(xs), x_unit)}")
        elif trace.get("type") == "bar" and trace.get("orientation") == "h":
            pairs = list(zip(trace["y"], trace["x"], strict=False))[::-1][:4]
            listed = ", ".join(f"{label} {_in_unit(value, x_unit)}" for label, value in pairs)
            parts.append(f"{name}: {listed}" + (" and others" if len(trace["y"]) > 4 else ""))
        elif trace.get("type") in ("scatter", "bar", "waterfall") and trace.get("hoverinfo") != "skip" and trace.get("x"):
            x, y = list(trace["x"]), list(trace.get("y") or [])
            if not y or not isinstance(y[0], int | float):
                continue
            label = _subplot_name(layout, trace) + (f"{name}: " if name else "")
            if isinstance(x[0], str):  # categories: the three largest
                largest = sorted(zip(x, y, strict=False), key=lambda pair: -abs(pair[1]))[:3]
                parts.append(label + "the largest: " + ", ".join(f"{c} {_in_unit(v, y_unit)}" for c, v in largest))
            elif x_unit == "Contract year" or (not x_unit and all(float(v).is_integer() for v in x)):  # a grid's years
                parts.append(label + f"{_in_unit(y[0], y_unit)} in year {x[0]:g}, {_in_unit(y[-1], y_unit)} in year {x[-1]:g}")
            else:
                first, last = (f"{_in_unit(y[i], y_unit)} at {_in_unit(x[i], x_unit)}" for i in (0, -1))
                parts.append(label + f"{first}, {last}")
        elif trace.get("type") == "sankey":
            parts.append(f"money flowing between {len(trace['node']['label'])} parts: {', '.join(trace['node']['label'])}")
    return ". ".join(p for p in parts if p)[:1200]


def sweep_heatmap(ends: pd.DataFrame, x_path: str, y_path: str, measure: str, labels: tuple[str, str]) -> Figure:
    """A sweep's two terms against one end-of-contract result, a cell per combination."""
    table = ends.pivot_table(index=y_path, columns=x_path, values=measure, aggfunc="first").sort_index()
    failure = measure == "failure"
    z = (table.to_numpy() * (100 if failure else 1)).round(1)
    cell = {"type": "heatmap", "x": [f"{v:g}" for v in table.columns], "y": [f"{v:g}" for v in table.index], "z": z.tolist()}
    cell |= {"colorscale": "Cividis", "reversescale": failure, "text": z.tolist(), "texttemplate": "%{text}"}
    unit = "% of simulations that fail" if failure else "£m, provider side at contract end (P50)"
    cell["colorbar"] = {"title": {"text": unit}}
    cell["hovertemplate"] = f"{labels[0]} %{{x}}, {labels[1]} %{{y}}: %{{z}}<extra></extra>"
    title = "Chance of failure" if failure else "Provider side's end position (P50)"
    layout = _layout(f"{title} across the sweep", labels[1], labels[0], hovermode="closest", height=460)
    layout["xaxis"] |= {"type": "category", "dtick": None}
    layout["yaxis"] |= {"type": "category"}
    return _figure([cell], layout)


def sweep_frontier(ends: pd.DataFrame, best: pd.DataFrame, max_failure: float) -> Figure:
    """Every combination by its chance of failure and provider end position; the frontier of
    designs under the chosen failure level joined up."""
    every = {"type": "scatter", "mode": "markers", "x": (ends["failure"] * 100).tolist()}
    every["y"] = ends["provider_end_p50_gbp_m"].tolist()
    every |= {"name": "Every combination", "marker": {"color": "#6B6B6B", "size": 9, "symbol": "circle-open"}}
    every["hovertemplate"] = "%{x:.0f}% fail, P50 %{y:,.1f} £m<extra></extra>"
    line = {"type": "scatter", "mode": "lines+markers", "x": (best["failure"] * 100).tolist()}
    line["y"] = best["provider_end_p50_gbp_m"].tolist()
    line |= {"name": "Frontier under the level", "line": {"color": COLOURS["provider"], "width": 3}, "marker": {"size": 11}}
    line["hovertemplate"] = "%{x:.0f}% fail, P50 %{y:,.1f} £m<extra></extra>"
    level = {"type": "line", "xref": "x", "yref": "paper", "x0": max_failure * 100, "x1": max_failure * 100, "y0": 0, "y1": 1}
    layout = _layout(
        "Designs that keep the chance of failure under the level",
        "£m, provider side at contract end (P50)",
        "% of simulations that fail",
        hovermode="closest",
        shapes=[level | {"line": {"color": COLOURS["cost"], "dash": "dash", "width": 2}}],
    )
    layout["xaxis"].pop("dtick", None)
    return _figure([every, line], layout)
