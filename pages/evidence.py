"""Evidence: every template's facts with their sources, and the ideas behind them."""

import streamlit as st

from lib import catalogue
from pages import common

common.ensure_app_frame()


st.title("Evidence")
templates = catalogue.templates()
names = dict(zip(templates["id"], templates["name"], strict=True))
current = common.current_scenario().template
chosen = st.selectbox("Template", list(names), index=list(names).index(current), format_func=names.get, key="evidence-template")
tpl = catalogue.template(chosen)

st.subheader(f"{tpl.info['name']}: {tpl.info['model']}", anchor=False)
st.markdown(f"Population **{tpl.info['population']:,}** ({tpl.info['population_source']})")
for fact in tpl.facts.itertuples():
    st.markdown(f"- **{fact.label}:** {fact.value} *({fact.source})*")
with st.expander("Facts as a table"):
    facts = tpl.facts[["label", "value", "source"]].rename(columns=str.capitalize)
    st.dataframe(facts, hide_index=True, width="stretch", key="evidence-facts")

st.markdown("**What the template sets in the model**")
presets = [{"Field": path, "Value": str(value), "Source": tpl.preset_sources[path]} for path, value in tpl.presets.items()]
st.dataframe(presets, hide_index=True, width="stretch", key="evidence-presets")
lines = tpl.lines[tpl.lines["in_scope"]][["line_id", "pooled_share", "baseline_gbp_m", "baseline_source"]]
st.markdown(f"**Services in scope** ({tpl.info['lines_source']})")
st.dataframe(
    lines.rename(
        columns={"line_id": "Line", "pooled_share": "Pooled share", "baseline_gbp_m": "Baseline £m", "baseline_source": "Basis"}
    ),
    hide_index=True,
    width="stretch",
    key="evidence-lines",
)

st.subheader("Ideas the templates are built from", anchor=False)
glossary = catalogue.table("glossary")
for group, terms in glossary.groupby("group", sort=False):
    with st.expander(group, expanded=group == "Contracting approaches"):
        for row in terms.itertuples():
            st.markdown(f"**{row.term}**: {row.meaning} *({row.source})*")

st.subheader("Modelling assumptions", anchor=False)
st.dataframe(
    catalogue.service_lines()[
        ["name", "spend_per_head_gbp", "spend_year", "spend_basis", "demand_growth", "demand_growth_basis"]
    ],
    hide_index=True,
    width="stretch",
    key="evidence-lines-assumptions",
)
st.dataframe(
    catalogue.outcome_measures()[["name", "domain", "unit", "baseline_per_1000", "counterfactual_growth", "source"]],
    hide_index=True,
    width="stretch",
    key="evidence-measures",
)
