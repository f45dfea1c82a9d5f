"""What leaves the app: the projection and its assumptions as CSV and Excel, and the board pack,
one HTML file that opens anywhere with no network (plotly.js is written into it).

Every table is written with its source beside each assumption. Text a user typed (a scenario's
or a partner's name) that a spreadsheet would read as a formula is written as text.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from collections.abc import Callable
from typing import Any

import pandas as pd
import plotly.io as pio
import plotly.offline

from lib import __version__, catalogue, charts, evidence, gallery, readings, stress, views, words
from lib.catalogue import Catalogue
from lib.results import Run, project
from lib.scenario import Scenario, field_spec, flatten

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, kept as text (a leading apostrophe)."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _is_number(value):
        return "'" + value
    return value


def _is_number(text: str) -> bool:
    try:
        float(text.replace("£", "").replace(",", "").replace("m", ""))
    except ValueError:
        return False
    return True


def _safe(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(safe_cell)
    return out


def shown_as(unit: str, names: dict[str, str], readable: bool) -> Callable[[Any], str]:
    """How a template's value is written in a note beside the design's: as the value column writes it."""
    return (lambda value: views.shown_value(value, unit, names)) if readable else str


def assumptions(scenario: Scenario, readable: bool = False) -> pd.DataFrame:
    """Every value of the scenario with what it means, its unit and its source (the template's, or
    changed from it). `readable`: as a board reads them (views.shown_value), without field paths;
    otherwise as the CSV and Excel keep them, field paths and plain values."""
    cat = catalogue.current()
    template = Scenario.from_template(scenario.template)
    sources = views.field_sources(cat, template)
    names, partners = views.value_names(cat), tuple(p.name for p in scenario.partners)
    rows = []
    for path, value in flatten(scenario.to_dict()):
        if path in ("template", "name"):
            continue
        try:
            spec = field_spec(path)
            unit, meaning = spec.unit, spec.help
        except KeyError:
            unit, meaning = "", ""
        was, source = views.template_value(template, sources, path)
        ids = {} if path.endswith(".name") else names  # a partner's name is typed text, never an id
        note = views.source_note(value, was, source, fmt=shown_as(unit, ids, readable))
        if readable:
            shown, unit = views.shown_value(value, unit, ids), views.unit_left(unit)
        elif isinstance(value, str):
            shown = ids.get(value, value)
        else:  # numbers stay numbers in a spreadsheet; a list (the aligned lines) as its text
            shown = str(value) if isinstance(value, list | dict) else value
        rows.append(
            {"field": path, "meaning": views.about(views.subject(cat, path, partners), meaning), "value": shown}
            | {"unit": unit, "source": note}
        )
    frame = pd.DataFrame(rows)
    return frame.drop(columns="field") if readable else frame


def tables(run: Run) -> dict[str, pd.DataFrame]:
    """The projection as tables, one per sheet: headline, yearly summaries, outcomes, partners,
    failure by year, and the assumptions with their sources."""
    scenario = run.scenario
    head = pd.DataFrame(
        [{"headline": label, "value": read(run.headline())} for label, read in readings.HEADLINE_ROWS]
        + [{"headline": "Expected shortfall, worst 10% (£m)", "value": run.expected_shortfall()}]
    )
    about = pd.DataFrame(
        [
            {"item": "Scenario", "value": scenario.name},
            {"item": "Template", "value": scenario.template},
            {"item": "Deal", "value": words.deal_summary(scenario)},
            {"item": "Simulations", "value": scenario.sims},
            {"item": "Seed", "value": scenario.seed},
            {"item": "App version", "value": __version__},
            {"item": "Reference data", "value": catalogue.current().stamp},
            {"item": "Written", "value": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")},
            {"item": "Units", "value": "money in £m; contract years count from 1"},
        ]
    )
    return {
        "about": about,
        "headline": head,
        "yearly": run.yearly(),
        "outcomes": views.outcome_table(run, catalogue.current()),
        "partners": run.partner_summary(),
        "failure_by_year": run.failure_by_year(),
        "assumptions": assumptions(scenario),
    }


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return _safe(frame).to_csv(index=False).encode("utf-8")


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def excel_bytes(sheets: dict[str, pd.DataFrame]) -> bytes:
    """One workbook, a sheet per table (names cut to Excel's 31 characters)."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            _safe(frame).to_excel(writer, sheet_name=name[:31], index=False)
    return buffer.getvalue()


# ---- the board pack ---------------------------------------------------------------------------


def stressed(run: Run) -> dict[str, Run]:
    """The design under each stress test alone, and under the UnitingCare replay, by stress id."""
    return {s.id: project(stress.apply(run.scenario, [s.id])) for s in [*stress.shocks().values(), stress.replay()]}


HEADLINE_READINGS = ("one_sided", "distribution", "failure", "commissioners")  # the board pack's headline, in order


def stress_table(run: Run, runs: dict[str, Run]) -> pd.DataFrame:
    """Each stress test alone (`runs`, as `stressed` gives them), before and after: each side's P50 and its
    chance of passing what it can bear."""
    named = stress.all_stresses()

    def row(test: str, h: dict) -> dict:
        return {
            "test": test, "provider P50 (£m)": h["provider"]["p50"], "chance of failure": h["failure"],
            "commissioners P50 (£m)": h["commissioner"]["p50"],
            "chance commissioners pass their contingency": h["commissioner_shortfall"],
        }  # fmt: skip

    rows = [row("This design", run.headline()) | {"what it changes": ""}]
    for sid, after in runs.items():
        same = row("", after.headline()) | {"test": ""} == row("", run.headline()) | {"test": ""}
        what = named[sid].what + (" It changes nothing in this design." if same else "")  # say why a row repeats the design's
        rows.append(row(named[sid].name, after.headline()) | {"what it changes": what, "source": named[sid].source})
    return pd.DataFrame(rows)


def _why_it_fails(run: Run) -> str:
    """What a pooled fund's sides stand for, what pushes the provider side to fail, and how a pool's
    overspends were met: the sentences the Projections page shows beside its tiles."""
    parts = [readings.sides_note(run)]
    if run.headline()["failure"] > readings.FAILURE_WORTH_EXPLAINING:
        drivers = "; ".join(f"{words.gbp_m(d['gbp_m'], 0)}: {d['why']}" for d in readings.failure_drivers(run))
        parts.append(f"What pushes the provider side towards failure, in £m over the contract: {drivers}.")
    parts.append(readings.pool_reading(run))
    return "".join(_para(p) for p in parts if p)


def board_pack(run: Run) -> str:
    """The board pack as one self-contained HTML page."""
    scenario, cat = run.scenario, catalogue.current()
    runs = stressed(run)
    replay_scenario, replayed = stress.apply(scenario, [stress.replay().id]), runs[stress.replay().id]
    kept: dict[str, Any] = {}
    d = gallery.Drawn(
        run, cat, lambda s: replayed if s == replay_scenario else project(s), lambda key, build: kept.setdefault(key, build())
    )
    figures = {c.id: c.draw(d) for c in gallery.on("pack")}  # the charts' one definition (lib/gallery.py)
    failing = ("tornado", "tornado-failure")
    bars = d.tornado()
    said = readings.risk_readings(run)
    compared = evidence.check(cat, {scenario.template: run})
    sections = [
        _header(scenario, cat),
        _section("Headline", _tiles(run) + "".join(_para(said[k]) for k in HEADLINE_READINGS) + _why_it_fails(run)),
        _section("Projections and risk", "".join(_chart(f) for cid, f in figures.items() if cid not in (*failing, "replay"))),
        _section("Risk", "".join(_para(said[k]) for k in ("shortfall", "partners"))),
        _section("Stress tests", _table(stress_table(run, runs))),
        _section("What would make it fail", "".join(_chart(figures[cid]) for cid in failing) + _table(bars)),
        _section("The UnitingCare replay", _replay(run, replayed, figures["replay"])),
        _section(
            "Evidence check",
            _para(evidence.coverage(compared))
            + _table(evidence.for_a_board(compared, cat))
            + "".join(_para(f"{f} ({src})") for f, src in dict(zip(compared["finding"], compared["source"], strict=True)).items())
            if len(compared)
            else _para("No published evaluation matches this design."),
        ),
        _section("Assumptions and their sources", _table(assumptions(scenario, readable=True))),
    ]
    script = f"<script>{plotly.offline.get_plotlyjs()}</script>"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Board pack: {html.escape(scenario.name)}</title><style>{PACK_STYLE}</style>{script}</head>"
        f"<body><main>{''.join(sections)}</main></body></html>"
    )


PACK_STYLE = """
body { font-family: Arial, sans-serif; color: #0b0c0c;
  margin: 2rem auto; max-width: 1100px; padding: 0 1.5rem; line-height: 1.45; }
h1 { font-size: 2rem; } h2 { border-top: 2px solid #005eb8; padding-top: .8rem; margin-top: 2.2rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; width: 100%; }
th, td { border: 1px solid #b1b4b6; padding: .3rem .5rem; text-align: left; vertical-align: top; overflow-wrap: break-word; }
th { background: #e8edee; }
.tiles { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 1rem; }
.tile { border: 1px solid #b1b4b6; border-radius: .4rem; padding: .6rem 1rem; }
.tile .value { font-size: 1.8rem; font-weight: bold; }
.meta { color: #4c4c4c; }
figure { margin: 1.2rem 0; }
"""


def _replay(run: Run, replayed: Run, figure: charts.Figure) -> str:
    replay = stress.replay()
    return _para(f"{replay.what} ({replay.source})") + _chart(figure) + _table(views.replay_table(run, replayed))


def _header(scenario: Scenario, cat: Catalogue) -> str:
    written = dt.datetime.now(dt.UTC).strftime("%d %B %Y, %H:%M UTC")
    return (
        f"<h1>Board pack: {html.escape(scenario.name)}</h1>"
        f"<p><strong>{html.escape(words.deal_summary(scenario))}</strong>.</p>"
        f"<p class='meta'>Written {written} by Care Models Lab {__version__}; reference data version {cat.stamp}; "
        f"{scenario.sims:,} simulations, seed {scenario.seed}. Money in £m; contract years count from 1. "
        "Every figure is a projection under the assumptions listed at the end, not a forecast.</p>"
    )


def _section(title: str, body: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{body}</section>"


def _para(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def _tiles(run: Run) -> str:
    """The six tiles as the app lays them out: the provider side's three in a row, the commissioners' beneath."""
    tiles = [
        f"<div class='tile'><div>{html.escape(t['label'])}</div><div class='value'>{html.escape(t['value'])}</div>"
        f"<div class='meta'>{html.escape(t['detail'])}</div></div>"
        for t in readings.headline_tiles(run)
    ]
    rows = (("The provider side", tiles[:3]), ("The commissioners", tiles[3:]))
    return "".join(f"<h3>{side}</h3><div class='tiles'>{''.join(row)}</div>" for side, row in rows)


def _chart(figure: charts.Figure) -> str:
    drawn = pio.to_html(figure, include_plotlyjs=False, full_html=False, validate=False, config={"displaylogo": False})
    summary = html.escape(charts.describe(figure))
    return f"<figure role='img' aria-label='{summary}'>{drawn}<figcaption>{summary}</figcaption></figure>"


def _table(frame: pd.DataFrame) -> str:
    return _readable(frame).to_html(index=False, na_rep="", escape=True, border=0)


def _readable(frame: pd.DataFrame) -> pd.DataFrame:
    """A table as a board reads it: chances as %, money as −£12.0m, other numbers to two places,
    column names in words, no ids."""
    out = frame.drop(columns=[c for c in ("id",) if c in frame.columns])
    for column in out.columns:
        name = str(column)
        if out[column].dtype.kind != "f":
            continue
        if "chance" in name or name.startswith("failure") or name.startswith("p_"):
            shown = lambda v: words.pct(v, 1)  # noqa: E731
        elif name.endswith("_gbp_m") or "£m" in name:
            shown = words.gbp_m
        else:
            shown = lambda v: words.minus(f"{v:,.2f}")  # noqa: E731
        out[column] = [shown(v) if pd.notna(v) else "" for v in out[column]]
    names = {c: views.COMPARE_LABELS.get(str(c), str(c).replace("_gbp_m", " (£m)").replace("_", " ")) for c in out.columns}
    return out.rename(columns=names)
