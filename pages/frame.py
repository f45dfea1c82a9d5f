"""The frame around every page: navigation, page settings, the session's scenario, the sidebar.

app.py runs the frame. A page opened without it (on a server's first visit straight to a page's
link, Streamlit may run the page file alone, as in its older pages-folder mode) hands itself to
the frame, so every page is always drawn inside it.
"""

from __future__ import annotations

import threading

import streamlit as st

from pages import sidebar, state

PAGES = [
    ("pages/home.py", "Home", ":material/home:", "home"),
    ("pages/design.py", "Design the deal", ":material/tune:", "design"),
    ("pages/projections.py", "Projections", ":material/monitoring:", "projections"),
    ("pages/evidence.py", "Evidence", ":material/menu_book:", "evidence"),
]
_inside = threading.local()  # set while the frame runs a page (each script run has its own thread)


def run() -> None:
    """Draw the frame and run the chosen page inside it."""
    st.set_page_config(page_title="Care Models Lab", page_icon=":material/hub:", layout="wide")
    pages = [
        st.Page(path, title=title, icon=icon, url_path=url, default=i == 0) for i, (path, title, icon, url) in enumerate(PAGES)
    ]
    page = st.navigation(pages)
    state.current_scenario()  # every page starts with a scenario, Salford's unless one was chosen
    sidebar.draw()
    _inside.active = True
    try:
        page.run()
    finally:
        _inside.active = False


def ensure() -> None:
    """First line of every page: run inside the frame, or hand over to it and stop."""
    if not getattr(_inside, "active", False):
        run()
        st.stop()
