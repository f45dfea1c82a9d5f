"""Care Models Lab: the entry point frames every page (navigation, sidebar, theme)."""

import streamlit as st

from pages import common

st.set_page_config(page_title="Care Models Lab", page_icon=":material/hub:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", url_path="home", default=True),
    st.Page("pages/design.py", title="Design the deal", icon=":material/tune:", url_path="design"),
    st.Page("pages/projections.py", title="Projections", icon=":material/monitoring:", url_path="projections"),
    st.Page("pages/evidence.py", title="Evidence", icon=":material/menu_book:", url_path="evidence"),
]

page = st.navigation(PAGES)
common.current_scenario()  # every page starts with a scenario, Salford's unless one was chosen
common.sidebar()
page.run()
