"""Drawing pieces the pages share: a chart with its caption and table, the last refused input."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages import state


def refused_input() -> None:
    """Say why the last change was refused (the scenario kept its earlier value)."""
    if state.error():
        st.error(state.error(), icon=":material/error:")


def chart(figure, table: pd.DataFrame, caption: str, key: str) -> None:
    """A chart with its assumptions and a table alternative."""
    st.plotly_chart(figure, width="stretch", key=f"chart-{key}", config={"displaylogo": False})
    st.caption(caption)
    with st.expander("Show as table"):
        st.dataframe(table, hide_index=True, width="stretch", key=f"table-{key}")
