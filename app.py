"""Care Models Lab: entry point (the dashboard pages come next)."""

import streamlit as st

from lib import catalogue

st.set_page_config(page_title="Care Models Lab", layout="wide")
st.title("Care Models Lab")
st.write("Pick a vanguard template, design the deal, and watch the money and outcomes play out.")
st.dataframe(catalogue.templates()[["name", "model", "population", "headline", "headline_source"]], hide_index=True)
