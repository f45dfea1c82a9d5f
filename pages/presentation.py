"""Presentation mode: no controls, large type, one chart a screen, stepped with the buttons or
the arrow keys. The frame shows it instead of a page while `?present=1` (or the toggle) is on."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from lib import charts, gallery, readings, words
from lib.results import Run
from pages import parts, state

SLIDE = "present-slide"
LARGE_TYPE = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stExpandSidebarButton"],
[data-testid="stHeader"] { display: none; }
.stApp, .stApp p, .stApp li { font-size: 1.4rem; line-height: 1.45; }
.stApp h1 { font-size: 2.3rem; padding: 0; }
.stApp [data-testid="stMetricValue"] p { font-size: clamp(1.6rem, 16cqi, 2.8rem); line-height: 1.15; }
[data-testid="stMetricLabel"] p { font-size: 1.35rem; }
[data-testid="stCaptionContainer"] p { font-size: 1.05rem; }
[data-testid="stMainBlockContainer"] { padding-top: 1.25rem; padding-bottom: 1rem; }
/* The step buttons keep their words whole; on a narrow screen they move under the heading instead. */
[data-testid="stColumn"]:has([class*="st-key-present-"]) { min-width: fit-content; }
[data-testid="stHorizontalBlock"]:has([class*="st-key-present-"]) { flex-wrap: wrap; }
[class*="st-key-present-"] button p { white-space: nowrap; }
</style>"""  # sized so that a slide and its chart fit a 1280x720 laptop and a 1024x768 projector


def _tiles(run: Run) -> None:
    parts.tiles(run, explain_sides=False)  # a slide fits a 1024x768 projector; the tiles name a pool's sides
    if not readings.one_sided_reading(run):  # a one-sided deal's warning takes the last lines a projector has
        st.markdown(parts.plain(readings.risk_readings(run)["failure"]))


def _slides(projection: state.Projection) -> list[tuple[str, Callable[[], None] | Callable[[], charts.Figure]]]:
    """(title, a figure builder or a drawing function) for each screen, in the order shown: the
    headline tiles, then the gallery's slides (lib/gallery.py, the charts' one definition)."""
    d = parts.drawn(projection)
    slides: list[tuple[str, Callable[[], None] | Callable[[], charts.Figure]]] = [
        ("Both sides of the deal in six numbers", lambda: _tiles(projection.run))
    ]
    return slides + [(gallery.SLIDE_TITLES[c.id], lambda c=c: c.draw(d)) for c in gallery.on("slide")]


SLIDE_PARAM = "slide"  # the slide shown travels in the link (from 1), so a reload stays on it


def _step(by: int, count: int) -> None:
    st.session_state[SLIDE] = min(max(st.session_state.get(SLIDE, 0) + by, 0), count - 1)
    st.query_params[SLIDE_PARAM] = str(st.session_state[SLIDE] + 1)


def _leave() -> None:
    st.query_params.pop(SLIDE_PARAM, None)
    state.present(False)


def _opened_on(count: int) -> int:
    """The slide to show: this session's, or the link's on a reload or a copied link."""
    if SLIDE not in st.session_state:
        asked = st.query_params.get(SLIDE_PARAM, "1")
        number = asked.isascii() and asked.isdigit()  # "²" and "①" are digits to str.isdigit, not to int()
        st.session_state[SLIDE] = min(max(int(asked) - 1, 0), count - 1) if number else 0
    return min(st.session_state[SLIDE], count - 1)


def show() -> None:
    scenario = state.current_scenario()
    projection = state.projection(scenario)
    slides = _slides(projection)
    index = _opened_on(len(slides))
    st.html(LARGE_TYPE)
    st.title(parts.plain(scenario.name))
    st.caption(words.deal_summary(scenario))
    title, build = slides[index]
    heading, back, forward, leave = st.columns([3, 1.3, 1.1, 2.1], vertical_alignment="center")
    heading.subheader(f"{index + 1} of {len(slides)} · {title}")
    back.button(
        "Previous", icon=":material/arrow_back:", key="present-back", shortcut="Left",
        on_click=_step, args=(-1, len(slides)), disabled=index == 0,
    )  # fmt: skip
    forward.button(
        "Next", icon=":material/arrow_forward:", key="present-next", shortcut="Right", type="primary",
        on_click=_step, args=(1, len(slides)), disabled=index == len(slides) - 1,
    )  # fmt: skip
    leave.button("Leave presentation", key="present-off", shortcut="Esc", on_click=_leave)
    if index == 0:
        build()
    else:
        figure = projection.figure(f"present-{index}", lambda: charts.for_screen(build()))
        parts.plot(figure, f"present-chart-{index}", toolbar=False)  # no zoom and camera buttons in front of a room
