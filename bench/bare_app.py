"""The yardstick for bench/rerun.py: an app with one slider and nothing else."""

import streamlit as st

value = st.slider("Value", 0, 100, 50, key="value")
st.write(value)
