"""The session's scenario and the one cache of projections.

The scenario lives in `st.session_state` as the immutable `Scenario` object; every change goes
through `Scenario.with_value`, so a refused value leaves the scenario as it was and says why.
A projection is computed once per (scenario, reference data) and shared by every page, tab and
chart; figures built from it are kept with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from lib import catalogue, links, results, views
from lib.catalogue import Catalogue
from lib.scenario import Scenario, ScenarioError

SCENARIO = "scenario"
ERROR = "input_error"
TEMPLATE = "template_reference"
LINK = "s"  # the query parameter that holds the scenario (lib/links.py)
LINK_WARNINGS = "link_warnings"
LINKED = "linked"  # (scenario, its link)
DEFAULT_TEMPLATE = "salford"


def reference() -> Catalogue:
    return catalogue.current()


def current_scenario() -> Scenario:
    """The session's scenario: on a new session, the one its link holds, else Salford's."""
    if SCENARIO not in st.session_state:
        if LINK in st.query_params:
            scenario, warnings = links.decode(st.query_params[LINK])
            st.session_state[LINK_WARNINGS] = warnings
        else:
            scenario = template(DEFAULT_TEMPLATE).scenario
        st.session_state[SCENARIO] = scenario
    return st.session_state[SCENARIO]


def set_scenario(scenario: Scenario) -> None:
    st.session_state[SCENARIO] = scenario
    mirror_in_url()


def mirror_in_url() -> None:
    """Keep the scenario in the URL, so a reload or a copied link opens it again. The browser
    keeps each change's link in its history: when back or forward (or a pasted link) brings
    another link than the one this session last wrote, that link's design is opened."""
    scenario = current_scenario()
    held = st.session_state.get(LINKED)
    in_url = st.query_params.get(LINK)
    if held is not None and held[0] is scenario and in_url and in_url != held[1]:
        scenario, warnings = links.decode(in_url)
        st.session_state[SCENARIO], st.session_state[LINK_WARNINGS] = scenario, warnings
        st.session_state[LINKED] = (scenario, in_url)
        return
    if held is None or held[0] is not scenario:  # scenarios are immutable: encode each one once
        held = (scenario, links.encode(scenario, template(scenario.template).scenario))
        st.session_state[LINKED] = held
    if st.query_params.get(LINK) != held[1]:
        st.query_params[LINK] = held[1]


PRESENT = "present"  # the query parameter (and session key) of presentation mode


def presenting() -> bool:
    """Presentation mode: `?present=1` in the link, or the sidebar's toggle."""
    if PRESENT not in st.session_state:
        st.session_state[PRESENT] = st.query_params.get(PRESENT) == "1"
    return bool(st.session_state[PRESENT])


def present(on: bool) -> None:
    """Enter or leave presentation mode; the link says which, so a reload keeps it."""
    st.session_state[PRESENT] = on
    if on:
        st.query_params[PRESENT] = "1"
    else:
        st.query_params.pop(PRESENT, None)


def link_warnings() -> list[str]:
    """What the link this session opened with could not hold (said once)."""
    return st.session_state.pop(LINK_WARNINGS, [])


def start_from(template_id: str) -> None:
    set_scenario(template(template_id).scenario)
    st.session_state.pop(ERROR, None)


def change(values: dict[str, Any]) -> bool:
    """Apply changes at field paths; a refused value leaves the scenario as it was and says why."""
    try:
        set_scenario(current_scenario().with_values(values))
    except ScenarioError as exc:
        st.session_state[ERROR] = str(exc)
        return False
    st.session_state.pop(ERROR, None)
    return True


def error() -> str | None:
    return st.session_state.get(ERROR)


@dataclass(frozen=True)
class TemplateReference:
    """A template's preset scenario and the source of each of its values."""

    scenario: Scenario
    sources: dict[str, str]


@st.cache_resource(max_entries=16, show_spinner=False)
def _template(template_id: str, stamp: str) -> TemplateReference:
    scenario = Scenario.from_template(template_id)
    return TemplateReference(scenario, views.field_sources(reference(), scenario))


def template(template_id: str) -> TemplateReference:
    """The template's reference, held in the session too: every widget asks for it on every rerun."""
    key = (template_id, reference().stamp)
    held = st.session_state.get(TEMPLATE)
    if held is None or held[0] != key:
        held = (key, _template(*key))
        st.session_state[TEMPLATE] = held
    return held[1]


@dataclass
class Projection:
    """A run and the figures drawn from it (built once, shared read-only)."""

    run: results.Run
    figures: dict[str, Any] = field(default_factory=dict)

    def figure(self, name: str, build: Callable[[], Any]) -> Any:
        if name not in self.figures:
            self.figures[name] = build()
        return self.figures[name]


@st.cache_resource(max_entries=24, show_spinner=False)
def _projection(scenario_json: str, stamp: str, _scenario: Scenario) -> Projection:
    return Projection(results.project(_scenario))


def projection(scenario: Scenario) -> Projection:
    """The projection of a scenario, computed once per scenario and reference data."""
    return _projection(scenario.to_json(), reference().stamp, scenario)
