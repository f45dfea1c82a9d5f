"""The sidebar every page shares: the template and a one-line summary of the deal."""

from __future__ import annotations

import streamlit as st

from lib import views
from pages import state


def draw() -> None:
    scenario = state.current_scenario()
    info = state.reference().template(scenario.template).info
    with st.sidebar:
        st.markdown(f"**Template:** {info['name']}  \n*{info['model']}*")
        st.caption(
            views.deal_summary(scenario),
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
