"""Drawing pieces the pages share: a chart with its caption and table, the last refused input."""

from __future__ import annotations

import re
from collections.abc import Callable

import pandas as pd
import streamlit as st

from lib.saved import SavedError
from lib.scenario import ScenarioError
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
