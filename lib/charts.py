"""Plotly figures for the dashboard: one function a chart, fed by a run's summaries and lib.views.

Colours: the Okabe-Ito palette, safe for the common forms of colour blindness, used the same
way everywhere (provider side blue, commissioner side orange, reinvested green, cost red).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lib.results import Run
from lib.views import gbp_m

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
MONEY_HOVER = "£%{y:,.1f}m"


def _layout(fig: go.Figure, title: str, y_title: str, x_title: str = "Contract year", height: int = 380) -> go.Figure:
    """Title, units and legend, set in one update (each plotly update re-validates)."""
    fig.update_layout(
        {
            "title": {"text": title, "font": {"size": 17}},
            "font": {"family": FONT, "size": 14},
            "height": height,
            "margin": {"l": 60, "r": 20, "t": 60, "b": 50},
            "legend": {"orientation": "h", "yanchor": "bottom", "y": -0.32, "x": 0},
            "hovermode": "x unified",
            "colorway": OKABE_ITO,
            "xaxis": {"title": {"text": x_title}, "dtick": 1 if x_title == "Contract year" else None},
            "yaxis": {"title": {"text": y_title}, "zeroline": True, "zerolinecolor": "#B0B0B0"},
        }
    )
    return fig


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    return f"rgba({int(h[0:2], 16)}, {int(h[2:4], 16)}, {int(h[4:6], 16)}, {alpha})"


def _fan_traces(
    frame: pd.DataFrame, name: str, colour: str, hover: str = MONEY_HOVER, markers: bool = True, legend: bool = True
) -> list[go.Scatter]:
    """P10-P90 band and P50 line for one measure (frame: year, p10, p50, p90)."""
    x = frame["year"].tolist()
    band = go.Scatter(
        x=x + x[::-1],
        y=frame["p90"].tolist() + frame["p10"].tolist()[::-1],
        fill="toself",
        fillcolor=_rgba(colour, 0.18),
        line={"width": 0},
        mode="lines",
        name=f"{name} P10–P90",
        legendgroup=f"{name} band",
        showlegend=legend,
        hoverinfo="skip",
    )
    line = go.Scatter(
        x=x,
        y=frame["p50"],
        mode="lines+markers" if markers else "lines",
        line={"color": colour, "width": 3},
        name=f"{name} (P50)",
        legendgroup=f"{name} line",
        showlegend=legend,
        hovertemplate=f"{name} P50 {hover}<extra></extra>",
    )
    return [band, line]


def _reference_line(x, y, name: str, colour: str, dash: str, hover_label: str) -> go.Scatter:
    """A dashed or dotted line to read the fans against (no-change path, limits)."""
    return go.Scatter(
        x=x,
        y=y,
        mode="lines",
        line={"color": colour, "dash": dash, "width": 2},
        name=name,
        hovertemplate=f"{hover_label} {MONEY_HOVER}<extra></extra>",
    )


def _fan(fig: go.Figure, frame: pd.DataFrame, name: str, colour: str, hover: str = MONEY_HOVER) -> None:
    fig.add_traces(_fan_traces(frame, name, colour, hover))


def budget_vs_cost(run: Run) -> go.Figure:
    fig = go.Figure()
    _fan(fig, run.measure("budget"), "Budget", COLOURS["budget"])
    _fan(fig, run.measure("cost"), "Projected cost", COLOURS["cost"])
    no_change = run.measure("counterfactual_cost")
    fig.add_trace(
        _reference_line(
            no_change["year"], no_change["p50"], "Cost with no change (P50)", COLOURS["no_change"], "dot", "No change"
        )
    )
    return _layout(fig, "Budget against projected cost, by contract year", "£m a year")


def variance_split(run: Run) -> go.Figure:
    fig = go.Figure()
    for measure, label in (("provider", "Provider side"), ("commissioner", "Commissioner side"), ("reinvested", "Reinvested")):
        frame = run.measure(measure)
        fig.add_trace(
            go.Bar(
                x=frame["year"],
                y=frame["mean"],
                name=label,
                marker_color=COLOURS[measure],
                hovertemplate=f"{label} {MONEY_HOVER}<extra></extra>",
            )
        )
    variance = run.measure("variance")
    fig.add_trace(
        go.Scatter(
            x=variance["year"],
            y=variance["mean"],
            mode="markers",
            marker={"symbol": "diamond", "size": 11, "color": "#000000"},
            name="Variance (budget − cost)",
            hovertemplate=f"Variance {MONEY_HOVER}<extra></extra>",
        )
    )
    fig.update_layout(barmode="relative")
    return _layout(fig, "Who keeps each year's surplus or deficit (mean of simulations)", "£m a year")


def cumulative_provider(run: Run) -> go.Figure:
    s = run.scenario
    fig = go.Figure()
    _fan(fig, run.measure("provider_cumulative"), "Provider side, cumulative", COLOURS["provider"])
    years = run.measure("provider_cumulative")["year"]
    capacity = s.lead.loss_capacity_gbp_m
    fig.add_trace(
        _reference_line(
            years, [-capacity] * len(years), "Failure line: −(reserves + guarantees)", COLOURS["cost"], "dash", "Failure line"
        )
    )
    if s.risk.collar is not None:
        budget = run.measure("pooled_budget")
        collar_path = -s.risk.collar * budget["p50"].cumsum()
        fig.add_trace(
            _reference_line(budget["year"], collar_path, "Collar, summed over the years", COLOURS["limit"], "dot", "Collar")
        )
    return _layout(fig, "Provider side's cumulative position against what it can absorb", "£m, cumulative")


def partner_split(run: Run) -> go.Figure:
    """Each partner's cumulative position at contract end: P50 bar, P10-P90 whiskers, and the
    loss each full-risk partner can bear."""
    p = run.partner_summary().iloc[::-1]  # first partner on top
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            y=p["name"],
            x=p["p50"],
            orientation="h",
            marker_color=[ROLE_COLOURS.get(r, "#6B6B6B") for r in p["role"]],
            error_x={"type": "data", "symmetric": False, "array": p["p90"] - p["p50"], "arrayminus": p["p50"] - p["p10"]},
            customdata=np.stack([p["role"].str.replace("_", " "), p["p10"], p["p90"], p["p_over_capacity"] * 100], axis=1),
            hovertemplate="%{y}<br>role: %{customdata[0]}<br>P50 £%{x:,.1f}m (P10 £%{customdata[1]:,.1f}m, "
            "P90 £%{customdata[2]:,.1f}m)<br>chance of a loss beyond what it can bear: %{customdata[3]:.0f}%<extra></extra>",
            name="End-of-contract position (P50, whiskers P10–P90)",
        )
    )
    bearers = p[p["role"] == "full_risk"]
    fig.add_trace(
        go.Scatter(
            y=bearers["name"],
            x=-bearers["capacity_gbp_m"],
            mode="markers",
            marker={"symbol": "line-ns-open", "size": 26, "color": COLOURS["cost"], "line": {"width": 3}},
            name="Most it can lose (−)",
            hovertemplate="can bear £%{x:,.1f}m<extra></extra>",
        )
    )
    fig = _layout(
        fig,
        "Each partner's share at contract end",
        "",
        x_title="£m, cumulative at contract end",
        height=max(260, 90 + 60 * len(p)),
    )
    fig.update_layout(hovermode="closest")
    fig.update_xaxes(zeroline=True, zerolinecolor="#808080")
    return fig


def money_flow(flows: pd.DataFrame, title: str) -> go.Figure:
    labels = list(dict.fromkeys([*flows["source"], *flows["target"]]))
    index = {label: i for i, label in enumerate(labels)}
    node_colours = [OKABE_ITO[i % len(OKABE_ITO)] for i in range(len(labels))]
    fig = go.Figure(
        go.Sankey(
            valueformat=",.1f",
            valuesuffix="m",
            node={"label": labels, "pad": 18, "thickness": 18, "color": node_colours},
            link={
                "source": [index[s] for s in flows["source"]],
                "target": [index[t] for t in flows["target"]],
                "value": flows["value_gbp_m"],
                "color": [_rgba(node_colours[index[s]], 0.35) for s in flows["source"]],
                "hovertemplate": "%{source.label} → %{target.label}: £%{value:,.1f}m<extra></extra>",
            },
        )
    )
    fig.update_layout(title={"text": title, "font": {"size": 17}}, font={"family": FONT, "size": 13}, height=420)
    fig.update_layout(margin={"l": 20, "r": 20, "t": 60, "b": 20})
    return fig


def outcomes_grid(table: pd.DataFrame, labels: dict[str, tuple[str, str]]) -> go.Figure:
    measures = list(dict.fromkeys(table["measure"]))
    cols = 3
    rows = int(np.ceil(len(measures) / cols))
    titles = [f"{labels[m][0]}<br><sup>{labels[m][1]}</sup>" for m in measures]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, vertical_spacing=0.16, horizontal_spacing=0.07)
    for i, measure in enumerate(measures):
        frame = table[table["measure"] == measure]
        r, c = i // cols + 1, i % cols + 1
        first = i == 0
        x = frame["year"].tolist()
        for trace in _fan_traces(frame, "With the design", COLOURS["reinvested"], "%{y:,.1f}", markers=False, legend=first):
            fig.add_trace(trace, row=r, col=c)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=frame["no_change"],
                mode="lines",
                line={"color": COLOURS["no_change"], "dash": "dot", "width": 2},
                name="No change",
                showlegend=first,
                legendgroup="none",
                hovertemplate="%{y:,.1f}<extra>no change</extra>",
            ),
            row=r,
            col=c,
        )
    fig.update_layout(
        title={"text": "Outcomes by contract year, against the no-change path", "font": {"size": 17}},
        font={"family": FONT, "size": 13},
        height=330 * rows,
        margin={"l": 50, "r": 20, "t": 90, "b": 40},
        legend={"orientation": "h", "y": -0.08},
        hovermode="x unified",
    )
    fig.update_annotations(font_size=14)
    fig.update_xaxes(dtick=1 if table["year"].max() <= 10 else 2)
    return fig


def waterfall(steps: pd.DataFrame, years: int) -> go.Figure:
    measure = steps["kind"].tolist()
    fig = go.Figure(
        go.Waterfall(
            x=steps["step"],
            y=steps["value_gbp_m"],
            measure=measure,
            increasing={"marker": {"color": COLOURS["cost"]}},
            decreasing={"marker": {"color": COLOURS["reinvested"]}},
            totals={"marker": {"color": COLOURS["budget"]}},
            connector={"line": {"color": "#B0B0B0"}},
            hovertemplate="%{x}: £%{y:,.1f}m<extra></extra>",
            text=[gbp_m(v, 0) for v in steps["value_gbp_m"]],
            textposition="outside",
        )
    )
    fig = _layout(
        fig, f"From baseline cost to projected cost over {years} years (central case)", "£m over the contract", x_title=""
    )
    fig.update_layout(hovermode="closest", showlegend=False)
    return fig


def s_curve(ends: pd.DataFrame, p10: float, p90: float) -> go.Figure:
    values = np.sort(ends["provider_gbp_m"].to_numpy())
    share = np.arange(1, len(values) + 1) / len(values)
    fig = go.Figure(
        go.Scatter(
            x=values,
            y=share * 100,
            mode="lines",
            line={"color": COLOURS["provider"], "width": 3},
            name="Provider side at contract end",
            hovertemplate="£%{x:,.1f}m or less in %{y:.0f}% of simulations<extra></extra>",
        )
    )
    for value, label in ((p10, "P10"), (p90, "P90")):
        fig.add_vline(x=value, line={"color": COLOURS["limit"], "dash": "dash"}, annotation_text=f"{label} £{value:,.1f}m")
    fig.add_vline(x=0, line={"color": "#B0B0B0"})
    fig = _layout(
        fig,
        "How likely each end position is for the provider side (S-curve)",
        "% of simulations at or below",
        x_title="£m, cumulative at contract end",
    )
    fig.update_layout(hovermode="closest", showlegend=False)
    return fig
