"""The sidebar every page shares: the template and a one-line summary of the deal."""

from __future__ import annotations

import streamlit as st

from lib import export, words
from lib.results import Run
from pages import parts, state


def draw() -> None:
    scenario = state.current_scenario()
    info = state.reference().template(scenario.template).info
    with st.sidebar:
        st.markdown(f"**Template:** {parts.plain(info['name'])}  \n*{parts.plain(info['model'])}*")
        st.caption(
            words.deal_summary(scenario),
            help="Pooled budget in year 0, NHS England's contracting approach, contract length and who carries the risk.",
        )
        st.button(
            "Present to the room",
            icon=":material/slideshow:",
            key="present-on",
            on_click=state.present,
            args=(True,),
            help="Large type, one chart a screen, no controls; arrow keys step through. Also opens with ?present=1.",
        )
        terms = st.expander("Words used here", icon=":material/menu_book:", key="glossary", on_change="rerun")
        if terms.open:  # the glossary, one source (data/glossary.yaml), reachable from every page
            with terms:
                glossary()
        box = st.popover("Download", icon=":material/download:", key="downloads", on_change="rerun")
        if box.open:  # the files are written only when asked for (on the click)
            with box:
                downloads(state.projection(scenario).run)


def glossary() -> None:
    for group, terms in state.reference().tables["glossary"].groupby("group", sort=False):
        st.markdown(f"**{group}**")
        for row in terms.itertuples():
            st.markdown(f"- **{row.term}**: {row.meaning} *({row.source})*")


def downloads(run: Run) -> None:
    """The projection and its assumptions as CSV and Excel, and the board pack (the session's
    cached projection, so a click only writes the file)."""
    scenario = run.scenario
    stem = "".join(c if c.isalnum() else "-" for c in scenario.name.lower()).strip("-") or "scenario"
    files = [
        ("Projections (CSV)", f"{stem}-projections.csv", "text/csv",
         lambda: export.csv_bytes(run.yearly())),
        ("Assumptions and sources (CSV)", f"{stem}-assumptions.csv", "text/csv",
         lambda: export.csv_bytes(export.assumptions(scenario))),
        ("Projections and assumptions (Excel)", f"{stem}.xlsx",
         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         lambda: export.excel_bytes(export.tables(run))),
        ("Board pack (HTML, opens offline)", f"{stem}-board-pack.html", "text/html",
         lambda: export.board_pack(run)),
    ]  # fmt: skip
    for label, name, mime, build in files:
        st.download_button(label, build, file_name=name, mime=mime, key=f"download-{name.rsplit('.', 1)[-1]}-{label[:5]}")
