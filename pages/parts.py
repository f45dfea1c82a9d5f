"""Drawing pieces the pages share: a chart with its caption and table, the last refused input."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from lib import catalogue, charts, gallery, readings, saved, views
from lib.results import Run
from lib.saved import SavedError
from lib.scenario import Scenario, ScenarioError
from pages import state

MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&])")


def plain(text: str) -> str:
    """Text that Markdown shows as it is: a name a user typed is never taken as markup."""
    return MARKDOWN.sub(r"\\\1", str(text))


def attempt(action: Callable[[], object]) -> None:
    """Do a change to the saved designs; say why if it is refused, else draw the page again."""
    try:
        action()
    except (SavedError, ScenarioError) as exc:
        st.error(plain(str(exc)), icon=":material/error:")
        return
    st.rerun()


PENDING_SAVE = "save-pending"  # (name, group) of a save that would replace a design, until the person answers


def save_design(name: str, group: str, replace: bool = False) -> None:
    """Save the design as it stands; a name already taken is asked about (confirm_replace), never overwritten."""
    st.session_state.pop(PENDING_SAVE, None)
    st.session_state["saved-note"] = ("Replaced " if replace else "Saved as ") + name.strip() + (
        f" in {group.strip()}" if group.strip() else ""
    )
    try:  # the design takes the name it is saved under: presentation, the board pack and file names use it
        named = state.current_scenario().with_value("name", name.strip() or state.current_scenario().name)
        saved.save(name, named, group or None, replace=replace)
    except saved.NameTaken:
        st.session_state.pop("saved-note", None)
        st.session_state[PENDING_SAVE] = (name.strip(), group)
        st.rerun()
    except (SavedError, ScenarioError) as exc:
        st.session_state.pop("saved-note", None)
        st.error(plain(str(exc)), icon=":material/error:")
        return
    state.set_scenario(named)
    st.rerun()


def ask(question: str, yes: tuple[str, str], no: tuple[str, str]) -> bool | None:
    """A question before something is replaced or removed: True for yes, False for no, None until
    answered. `yes` and `no` are (label, widget key)."""
    st.warning(question, icon=":material/warning:")
    answer = st.container(horizontal=True)
    if answer.button(yes[0], key=yes[1], type="primary"):
        return True
    if answer.button(no[0], key=no[1]):
        return False
    return None


def confirm(pending: str, question: str, yes: tuple[str, str], no: tuple[str, str], action: Callable[[], object]) -> None:
    """Ask `question` while `pending` is in the session; yes does `action` (as `attempt` does), no
    leaves everything as it was. Either answer ends the question."""
    said = ask(question, yes, no)
    if said is None:
        return
    st.session_state.pop(pending, None)
    if said:
        attempt(action)  # draws the page again, or says why not
    else:
        st.rerun()


def confirm_replace() -> None:
    """Ask before a save replaces a design already saved under its name."""
    if PENDING_SAVE not in st.session_state:
        return
    name, group = st.session_state[PENDING_SAVE]
    said = ask(
        f"A design is already saved as **{plain(name)}**. Replace it with this one? The one it replaces can be "
        f"restored for {saved.KEEP_DAYS} days from *Saved and compared*.",
        ("Replace it", "save-replace"), ("Choose another name", "save-cancel"),
    )  # fmt: skip
    if said:
        save_design(name, group, replace=True)
    elif said is False:
        st.session_state.pop(PENDING_SAVE, None)
        st.rerun()


def refused_input() -> None:
    """Say why the last change was refused (the scenario kept its earlier value)."""
    if state.error():
        st.error(state.error(), icon=":material/error:")


class _AsDrawn(go.Figure):
    """A chart spec from lib.charts, handed to Streamlit as it is. Given a plotly Figure,
    st.plotly_chart deep-copies it into a dict; given a dict, it validates every property:
    either costs more than building the chart. The specs are plain and read-only, so Streamlit
    gets the dict itself (it reads `to_dict()` and nothing else of the figure)."""

    def __init__(self, spec: charts.Figure) -> None:  # no plotly Figure is built
        self._spec = spec

    def to_dict(self) -> charts.Figure:
        return self._spec


def in_words(table: pd.DataFrame) -> pd.DataFrame:
    """A table of a run as a person reads it (lib/gallery.py: names, units, chances as %, roles by name)."""
    return gallery.in_words(table, state.reference())


def template_name(template_id: str) -> str:
    """A template by its name (an id no longer in the reference data stays as it is)."""
    try:
        return state.reference().template(template_id).info["name"]
    except catalogue.UnknownTemplateError:  # a design saved from a place since removed
        return template_id


def design_name(scenario: Scenario) -> str:
    """The design as a page's title names it: the name it was saved under (and its template), or its template's."""
    template = state.reference().template(scenario.template).info["name"]
    return plain(template if scenario.name == template else f"{scenario.name} (from {template})")


def one_tile(where: Any, tile: dict[str, str]) -> None:
    """A headline tile with its detail said inside it, beside the number (in a room nobody opens the
    help; one element, not two, a move), as tall as the others in its row."""
    where.metric(tile["label"], tile["value"], help=tile["help"], border=True, delta_description=tile["detail"], height="stretch")


def tiles(run: Run, explain_sides: bool = True) -> None:
    """The six headline tiles: the provider side's three in a row, the commissioners' three beneath,
    each with its P10-P90 or meaning; then a plain word if the deal is one-sided, and, if asked, what a
    pooled fund's sides stand for (the tiles' own names say it where room is short)."""
    shown = readings.headline_tiles(run)
    for row in (shown[:3], shown[3:]):
        for column, tile in zip(st.columns(3), row, strict=True):
            one_tile(column, tile)
    if warning := readings.one_sided_reading(run):
        st.warning(plain(warning), icon=":material/balance:")
    if explain_sides and (note := readings.sides_note(run)):
        st.info(plain(note), icon=":material/handshake:")


def plot(figure: charts.Figure, key: str, toolbar: bool = True) -> None:
    """Draw one chart spec from lib.charts, named for screen readers by a summary of what it shows."""
    summary = charts.describe(figure)
    config = {"displaylogo": False} | ({} if toolbar else {"displayModeBar": False})
    st.plotly_chart(_AsDrawn(figure), width="stretch", key=key, config=config, alt=summary)


def chart(figure: charts.Figure, table: Callable[[], pd.DataFrame], caption: str, key: str, query: str | None = None) -> None:
    """A chart with its assumptions and a table alternative (`table` builds it, when it is shown),
    and the query behind that table, which opens in the Data page's SQL console."""
    plot(figure, f"chart-{key}")
    st.caption(caption)
    # The table is sent only while its expander is open: most moves never look at it.
    box = st.expander("Show as table", key=f"table-open-{key}", on_change="rerun")
    if box.open:
        box.dataframe(table(), hide_index=True, width="stretch", key=f"table-{key}")
        if query:
            box.code(query, language="sql")
            if box.button("Open this query in the SQL console", key=f"query-{key}", icon=":material/database:"):
                open_query(query)


SQL_KEY, SQL_RAN, DATA_TAB = "data-sql", "data-sql-ran", "data-tab"  # the Data page's console


def open_query(query: str) -> None:
    """Show a query, run, in the Data page's SQL console."""
    st.session_state[SQL_KEY] = st.session_state[SQL_RAN] = query
    st.session_state[DATA_TAB] = "SQL console"
    st.switch_page("pages/data.py")


def headline_table(table: pd.DataFrame, key: str) -> None:
    """The compare table as a person reads it: plain column names, chances as %, money to £0.1m."""
    if "template" in table.columns:  # a template by its name, not its id
        names = {tid: template_name(tid) for tid in set(table["template"])}
        table = table.assign(template=table["template"].map(names))
    config: dict[str, Any] = {}
    for column in table.columns:
        label = views.COMPARE_LABELS.get(column, column.capitalize())
        if column.endswith("_chance"):
            config[column] = st.column_config.NumberColumn(label, format="percent")
        elif column.endswith("_gbp_m") or column.endswith("_p50"):
            config[column] = st.column_config.NumberColumn(label, format="%.1f")
        else:
            config[column] = st.column_config.Column(label)
    st.dataframe(table, hide_index=True, width="stretch", key=key, column_config=config)


TAB_PARAM = "tab"  # the open tab travels in the link, so a reload or leaving presentation mode keeps it


def tabs(labels: list[str], key: str) -> Sequence[Any]:
    """A page's tabs, drawing only the open one's content; the open tab is kept in the URL, and
    kept for the session, so going to another page and back returns to it."""
    asked = st.query_params.get(TAB_PARAM)
    kept = f"{key}-kept"  # not a widget's key: Streamlit forgets a widget's state on a page not shown
    if key in st.session_state:
        st.session_state[kept] = st.session_state[key]
    else:
        opened = asked if asked in labels else st.session_state.get(kept)
        if opened in labels:
            st.session_state[key] = st.session_state[kept] = opened  # a reload, a copied link, a return here
    if st.session_state.get(key) in labels and asked != st.session_state[key]:
        st.query_params[TAB_PARAM] = st.session_state[key]  # the link says the tab shown, after a return too

    def remember() -> None:
        if st.session_state.get(key) in labels:
            st.query_params[TAB_PARAM] = st.session_state[kept] = st.session_state[key]

    return st.tabs(labels, key=key, on_change=remember)


def drawn(projection: state.Projection, year: int | None = None) -> gallery.Drawn:
    """What the gallery's charts are drawn from, through the session's caches."""
    return gallery.Drawn(projection.run, state.reference(), lambda s: state.projection(s).run, projection.figure, year)


def show(place: str, projection: state.Projection, year: int | None = None) -> None:
    """Every chart the gallery puts at a place ("projections:Money"), each with its table, caption
    and query: one definition, wherever it is shown."""
    for item in gallery.on(place):
        show_one(item.id, projection, year)


def show_one(chart_id: str, projection: state.Projection, year: int | None = None) -> None:
    item, d = gallery.CHARTS[chart_id], drawn(projection, year)
    figure = projection.figure(item.key(d), lambda: item.draw(d))
    chart(figure, lambda: item.shown_table(d), item.caption(d), item.id, item.query(d))
