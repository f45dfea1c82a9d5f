"""Evidence: every template's facts with their sources, and the ideas behind them."""

import streamlit as st

from lib import baseline, charts, evidence, views, words
from lib.scenario import usable_templates
from pages import frame, parts, state

frame.ensure()

st.title("Evidence")
cat = state.reference()
names = {tid: cat.template(tid).info["name"] for tid in usable_templates()[0]}
current = state.current_scenario().template
chosen = st.selectbox("Template", list(names), index=list(names).index(current), format_func=names.get, key="evidence-template")
info = cat.template(chosen).info
tables = evidence.template_tables(cat, chosen)

st.subheader(f"{parts.plain(info['name'])}: {parts.plain(info['model'])}", anchor=False)
shown = parts.plain if chosen.startswith(baseline.PREFIX) else str  # a custom template's text was typed by a user
st.markdown(f"Population **{info['population']:,}** ({shown(info['population_source'])})")
for fact in tables["facts"].itertuples():
    st.markdown(f"- **{fact.label}:** {shown(fact.value)} *({shown(fact.source)})*")
if len(tables["scale"]) > 1:  # a national arrangement's size by year, beside what this area pools
    area_gbp_m = state.template(chosen).scenario.pooled_budget_gbp_m()
    parts.plot(charts.national_scale(tables["scale"], area_gbp_m), "evidence-scale", toolbar=False)
    st.caption(
        "The minimum each year's rules required across England's 151 areas (2015-16: areas agreed to pool £5.3bn, more "
        "than the £3.8bn minimum), from the facts above; this area's pool is the template's, in year 0."
    )
with st.expander("Facts as a table"):
    st.dataframe(tables["facts"].rename(columns=str.capitalize), hide_index=True, width="stretch", key="evidence-facts")

st.markdown("**What the template sets in the model**")
st.dataframe(
    views.readable_presets(cat, tables["presets"]).rename(columns=str.capitalize),
    hide_index=True,
    width="stretch",
    key="evidence-presets",
)
st.markdown(f"**Services in scope** ({shown(info['lines_source'])})")
line_names = {r["id"]: r["name"] for r in cat.records["service_lines"]}
lines = tables["lines"].assign(line=tables["lines"]["line"].map(line_names).fillna(tables["lines"]["line"]))
lines = lines.rename(columns={"line": "Line", "pooled_share": "Pooled share", "baseline_gbp_m": "Baseline £m"})
st.dataframe(
    lines.rename(columns={"basis": "Basis"}), hide_index=True, width="stretch", key="evidence-lines",
    column_config={"Pooled share": st.column_config.NumberColumn(format="percent")},
)  # fmt: skip
local = sorted(p.split(".", 1)[1] for p in cat.template(chosen).presets if p.startswith("outcome_baseline."))
if local:
    st.caption(f"Outcomes start from this place's own rates for {', '.join(local)}; England's for the others.")
else:
    st.caption(
        "Outcomes start from England's rates, **national, not local**: no citable local figure was found for this place, "
        "so its year-0 rates and no-change trend are England's, and the band's spread between places (Modelling "
        "assumptions, below) stands in for what is not known about its trend. Its level may differ far more: emergency "
        "admissions ran from 73 to 155 per 1,000 across CCGs in 2016-17 (Public Accounts Committee, 2018). Enter the "
        "place's own rates on the Data page."
    )

st.subheader("How the model compares with what the vanguards achieved", anchor=False)
st.markdown(
    "Each published figure beside the model's projection of it (P50, with the P10–P90 band of the simulations), "
    "over the figure's own years: for a finding against a comparison area, how many percentage points less the "
    "measure grew with the design than without it; for a site's own figure, how much its rate grew (emergency "
    "admissions, bed days or A&E attendances). A site's figure is held against its own template, or, for a site with "
    "no template, against its care model's templates pooled; a national finding against each template of its care "
    "model. *role* says whether the figure calibrated the model, was seen before it changed, or is held out as a test."
)
runs = {tid: state.projection(evidence.scenario_for(cat, state.template(tid).scenario)).run for tid in names}
check = evidence.check(cat, runs)
st.markdown(f"**{evidence.coverage(check)}**")
st.dataframe(evidence.for_a_board(check, cat), hide_index=True, width="stretch", key="evidence-check")
with st.expander("Every column: each figure's finding, source, the parameters it set and how it was compared"):
    st.dataframe(check, hide_index=True, width="stretch", key="evidence-check-all")
with st.expander("Which figure set which parameter (the calibration register)", key="evidence-register"):
    st.dataframe(cat.tables["calibration"], hide_index=True, width="stretch", key="evidence-calibration")
mine = evidence.check(cat, {current: state.projection(state.current_scenario()).run})
if not mine.empty:
    st.markdown("**Your design, as it stands**")
    st.dataframe(evidence.for_a_board(mine, cat), hide_index=True, width="stretch", key="evidence-check-design")
for row in cat.records["evidence"]:
    if not isinstance(row["measure"], str):
        st.caption(f"{row['finding']} ({row['source']}): {row['note']}.")

st.subheader("Ideas the templates are built from", anchor=False)
for group, terms in cat.tables["glossary"].groupby("group", sort=False):
    with st.expander(group, expanded=group == "Contracting approaches"):
        for row in terms.itertuples():
            st.markdown(f"**{row.term}**: {row.meaning} *({row.source})*")

st.subheader("Modelling assumptions", anchor=False)
st.dataframe(
    cat.tables["service_lines"][
        ["name", "spend_per_head_gbp", "spend_year", "spend_basis", "demand_growth", "demand_growth_basis"]
    ],
    hide_index=True,
    width="stretch",
    key="evidence-lines-assumptions",
    column_config={
        "name": "Service line", "spend_per_head_gbp": st.column_config.NumberColumn("£ a head a year", format="%.0f"),
        "spend_year": "Year", "spend_basis": "Where the spend comes from",
        "demand_growth": st.column_config.NumberColumn("Demand growth a year", format="percent"),
        "demand_growth_basis": "Where the growth comes from",
    },
)  # fmt: skip
measures = cat.tables["outcome_measures"][["name", "domain", "unit", "baseline_per_1000", "counterfactual_growth", "source"]]
st.dataframe(
    measures.assign(
        domain=measures["domain"].str.replace("_", " ").str.capitalize(),
        unit=measures["unit"].map(words.unit),
    ),
    hide_index=True,
    width="stretch",
    key="evidence-measures",
    column_config={
        "name": "Outcome", "domain": "Domain", "unit": "Unit",
        "baseline_per_1000": st.column_config.NumberColumn("England, year 0", format="%.0f"),
        "counterfactual_growth": st.column_config.NumberColumn("Growth a year with no change", format="percent"),
        "source": "Source",
    },
)  # fmt: skip
