"""What every page shares: the scenario in session state, the cached projection, the sidebar,
and widgets bound to scenario field paths. Not a page itself (app.py lists the pages)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import pandas as pd
import streamlit as st

from lib import catalogue, store, views
from lib.scenario import Scenario, ScenarioError

SCENARIO = "scenario_json"
ERROR = "input_error"
DEFAULT_TEMPLATE = "salford"


# ---- the scenario ---------------------------------------------------------------------------


def current_scenario() -> Scenario:
    if SCENARIO not in st.session_state:
        st.session_state[SCENARIO] = Scenario.from_template(DEFAULT_TEMPLATE).to_json()
    return _parsed(st.session_state[SCENARIO])


@lru_cache(maxsize=256)
def _parsed(scenario_json: str) -> Scenario:
    """Scenarios are immutable, so one parsed copy per JSON text serves every rerun."""
    return Scenario.from_json(scenario_json)


def set_scenario(scenario: Scenario) -> None:
    st.session_state[SCENARIO] = scenario.to_json()


def start_from(template_id: str) -> None:
    set_scenario(Scenario.from_template(template_id))
    st.session_state.pop(ERROR, None)


def change(path: str, value: Any) -> bool:
    """Apply one change; a refused value leaves the scenario as it was and says why."""
    try:
        set_scenario(current_scenario().with_value(path, value))
    except ScenarioError as exc:
        st.session_state[ERROR] = str(exc)
        return False
    st.session_state.pop(ERROR, None)
    return True


@st.cache_resource(max_entries=24, show_spinner=False)
def cached_views(scenario_json: str) -> views.ProjectionViews:
    """The projection, computed once per distinct scenario (keyed by its canonical JSON) and
    shared read-only: its summaries are read from DuckDB only when a page first asks for them."""
    return views.projection_views(Scenario.from_json(scenario_json))


def projection(scenario: Scenario) -> views.ProjectionViews:
    return cached_views(scenario.to_json())


def catalogue_stamp() -> str:
    return store.data_stamp()


# ---- layout pieces --------------------------------------------------------------------------


def sidebar() -> None:
    scenario = current_scenario()
    info = catalogue.template(scenario.template).info
    with st.sidebar:
        st.markdown(f"**Template:** {info['name']}  \n*{info['model']}*")
        st.caption(
            views.deal_summary(scenario),
            help="Pooled budget in year 0, NHS England's contracting approach, contract length and who carries the risk.",
        )


def show_error() -> None:
    if st.session_state.get(ERROR):
        st.error(st.session_state[ERROR], icon=":material/error:")


def chart(figure, table: pd.DataFrame, caption: str, key: str) -> None:
    """A chart with its assumptions and a table alternative."""
    st.plotly_chart(figure, width="stretch", key=f"chart-{key}", config={"displaylogo": False})
    st.caption(caption)
    with st.expander("Show as table"):
        st.dataframe(table, hide_index=True, width="stretch", key=f"table-{key}")


# ---- widgets bound to scenario paths ----------------------------------------------------------
# Each widget's state is set from the scenario before it is drawn, and its on_change callback
# writes back through Scenario.with_value, so the scenario is the one source of truth.


def _bind(key: str, shown: Any) -> None:
    if st.session_state.get(key) != shown:
        st.session_state[key] = shown


def _on_change(key: str, path: str, to_model: Callable[[Any], Any]) -> None:
    change(path, to_model(st.session_state[key]))


def _percent(value: float | None) -> float:
    return round((value or 0.0) * 100, 4)


def _fraction(value: float) -> float:
    return round(float(value) / 100, 6)


def _bound_widget(
    widget: Callable,
    label: str,
    path: str,
    *,
    prefix: str,
    shown: Callable[[Any], Any],
    to_model: Callable[[Any], Any],
    help: str | None,
    fmt: Callable[[Any], str],
    **options: Any,
) -> None:
    """Draw one widget bound to a scenario path: its state set from the scenario (`shown`
    converts to the widget's units), its changes written back (`to_model` converts back)."""
    scenario = current_scenario()
    key = f"{prefix}:{path}"
    _bind(key, shown(scenario.get(path)))
    widget(
        _label(scenario, path, label),
        key=key,
        help=_help(scenario, path, help, fmt),
        on_change=_on_change,
        args=(key, path, to_model),
        **options,
    )


def percent_slider(label: str, path: str, low: float, high: float, step: float, *, prefix: str, help: str | None = None) -> None:
    _bound_widget(
        st.slider,
        f"{label} (%)",
        path,
        prefix=prefix,
        shown=_percent,
        to_model=_fraction,
        help=help,
        fmt=lambda v: views.pct(v, 1),
        min_value=float(low),
        max_value=float(high),
        step=float(step),
        format="%.1f%%" if step < 1 else "%.0f%%",
    )


def optional_percent(
    label: str, path: str, high: float, step: float, *, prefix: str, default: float, help: str | None = None
) -> None:
    """A limit that may be switched off (null): a checkbox and a slider."""
    scenario = current_scenario()
    value = scenario.get(path)
    on_key = f"{prefix}:{path}:on"
    _bind(on_key, value is not None)
    st.checkbox(
        f"Set a {label.lower()}",
        key=on_key,
        on_change=lambda: change(path, default if st.session_state[on_key] else None),
        help=_help(scenario, path, help, lambda v: views.pct(v, 1)),
    )
    if value is not None:
        percent_slider(label, path, 0.0, high, step, prefix=prefix)


def number(
    label: str, path: str, low: float, high: float, step: float, *, prefix: str, fmt: str = "%.1f", help: str | None = None
) -> None:
    integer = isinstance(current_scenario().get(path), int) and float(step).is_integer()
    kind = int if integer else float
    allowed = f"Allowed: {low:,g} to {high:,g}."
    _bound_widget(
        st.number_input,
        label,
        path,
        prefix=prefix,
        shown=kind,
        to_model=kind,
        help=f"{help} {allowed}" if help else allowed,
        fmt=str,
        min_value=kind(low),
        max_value=kind(high),
        step=kind(step),
        format="%d" if integer else fmt,
    )


def int_slider(label: str, path: str, low: int, high: int, *, prefix: str, help: str | None = None) -> None:
    _bound_widget(
        st.slider, label, path, prefix=prefix, shown=int, to_model=int, help=help, fmt=str, min_value=low, max_value=high, step=1
    )


def choice(
    label: str,
    path: str,
    options: Sequence[Any],
    names: dict[Any, str],
    *,
    prefix: str,
    help: str | None = None,
    widget: Callable = st.selectbox,
    to_model: Callable[[Any], Any] = str,
) -> None:
    _bound_widget(
        widget,
        label,
        path,
        prefix=prefix,
        shown=lambda v: v,
        to_model=to_model,
        help=help,
        fmt=lambda v: names.get(v, str(v)),
        options=list(options),
        format_func=lambda o: names.get(o, f"{o:,}" if isinstance(o, int) else str(o)),
    )


def toggle(label: str, path: str, *, prefix: str, help: str | None = None) -> None:
    _bound_widget(st.checkbox, label, path, prefix=prefix, shown=bool, to_model=bool, help=help, fmt=str)


CHANGED_MARK = " ✎"


def _help(scenario: Scenario, path: str, help: str | None, fmt: Callable[[Any], str]) -> str:
    note = views.source_note(scenario, path, fmt)
    return f"{help}\n\n{note}" if help else note


def _label(scenario: Scenario, path: str, label: str) -> str:
    """The label, marked when the value is no longer the template's."""
    template_value, _ = views.template_value(scenario, path)
    return label + CHANGED_MARK if scenario.get(path) != template_value else label


def interval_percent(
    label: str, low_path: str, high_path: str, low: float, high: float, step: float, *, prefix: str, help: str | None = None
) -> None:
    """An 80% interval (low, high) as a two-handled percent slider."""
    scenario = current_scenario()
    key = f"{prefix}:{low_path}:{high_path}"
    _bind(key, (_percent(scenario.get(low_path)), _percent(scenario.get(high_path))))

    def write_back() -> None:
        lo, hi = st.session_state[key]
        try:
            set_scenario(current_scenario().with_values({low_path: _fraction(lo), high_path: _fraction(hi)}))
            st.session_state.pop(ERROR, None)
        except ScenarioError as exc:
            st.session_state[ERROR] = str(exc)

    st.slider(
        f"{label} (%)",
        min_value=float(low),
        max_value=float(high),
        step=float(step),
        format="%.1f%%",
        key=key,
        help=_help(scenario, low_path, help, lambda v: views.pct(v, 1)),
        on_change=write_back,
    )


def optional_number(
    label: str, path: str, low: float, high: float, step: float, *, prefix: str, default: float, help: str | None = None
) -> None:
    """A threshold that may be switched off (null): a checkbox and a number."""
    scenario = current_scenario()
    on_key = f"{prefix}:{path}:on"
    _bind(on_key, scenario.get(path) is not None)
    st.checkbox(
        f"Set a {label.lower()}",
        key=on_key,
        help=_help(scenario, path, help, str),
        on_change=lambda: change(path, default if st.session_state[on_key] else None),
    )
    if scenario.get(path) is not None:
        number(label, path, low, high, step, prefix=prefix)


def text(label: str, path: str, *, prefix: str, help: str | None = None) -> None:
    scenario = current_scenario()
    key = f"{prefix}:{path}"
    _bind(key, scenario.get(path))
    st.text_input(label, key=key, help=help, on_change=_on_change, args=(key, path, str))


def ensure_app_frame() -> None:
    """Run every page inside app.py's frame (navigation, sidebar).

    While Streamlit has not yet seen app.py call st.navigation, it falls back to its old
    pages-folder mode and runs a page on its own: on a freshly started server that happens to
    a first visit straight to a page's link (and AppTest starts every run that way). Switch
    that mode off; on a fresh session rerun so app.py frames the page, otherwise (a rerun that
    carries a click) draw the sidebar here rather than lose the click.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        if SCENARIO not in st.session_state:
            st.rerun()
        sidebar()
