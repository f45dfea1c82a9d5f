"""Projections: money and outcomes over the contract, redrawn on every change."""

import streamlit as st

from lib import charts, readings, words
from pages import frame, parts, state, widgets

frame.ensure()

P = "proj"
TAB_KEY = "projections-tab"
TABS = ["Money", "Both sides' risk", "Partners and money flow", "Outcomes", "Cost bridge"]

cat = state.reference()
scenario = state.current_scenario()
st.title(f"Projections: {parts.design_name(scenario)}")
parts.refused_input()

with st.expander("Adjust the deal here (the Design page has every choice)", expanded=True):
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        widgets.slider("risk.gain_share", prefix=P, step=5)
    with c2:
        widgets.slider("risk.loss_share", prefix=P, step=5)
    with c3:
        widgets.slider("contract.funding_growth", prefix=P)
    with c4:
        widgets.optional("risk.collar", prefix=P, default=0.02)
if st.toggle("Pooled share by service line", key="proj-pooling-open"):  # drawn only when asked for
    poolable = [row for row in cat.records["service_lines"] if row["poolable"]]
    for start in range(0, len(poolable), 4):
        for column, row in zip(st.columns(4), poolable[start : start + 4], strict=False):
            with column:
                widgets.slider(f"pooling.{row['id']}", row["name"], prefix=P, step=5)

scenario = state.current_scenario()
projection = state.projection(scenario)
run = projection.run
# What the page first shows, in one query: the tiles and the Money tab's figures.
run.summarise(fans=list(charts.BUDGET_FANS), means=list(charts.SPLIT), headline=True)
parts.tiles(run)
failure = run.headline()["failure"]
if failure > readings.FAILURE_WORTH_EXPLAINING:
    lines = [f"- {words.gbp_m(d['gbp_m'], 0)}: {d['why']} ({d['control']})" for d in readings.failure_drivers(run)]
    capacity = words.gbp_m(scenario.lead.loss_capacity_gbp_m)
    st.warning(
        f"{readings.failure_sentence(scenario, failure)} What pushes it there, in £m over the "
        f"contract before the risk split, against the {capacity} it can bear:\n" + "\n".join(lines),
        icon=":material/warning:",
    )
st.caption(
    f"{scenario.sims:,} simulations (seed {scenario.seed}); bands show P10–P90 and lines the median (P50). "
    f"Money in £m; contract years count from 1, starting {scenario.contract.start_year}. {words.deal_summary(scenario)}."
)


@st.fragment
def money_flow_panel(projection: state.Projection) -> None:
    """Only this chart redraws when its period changes (a fragment rerun)."""
    run = projection.run
    years = run.scenario.contract.years
    options = ["Whole contract", *[f"Year {y}" for y in range(1, years + 1)]]
    period = st.select_slider("Period", options, value="Whole contract", key="money-flow-period")
    year = None if period == options[0] else int(period.split()[1])
    parts.show_one("money-flow", projection, year)


tabs = parts.tabs(TABS, TAB_KEY)

with tabs[0]:
    if tabs[0].open:
        parts.show("projections:Money", projection)

with tabs[1]:
    if tabs[1].open:
        parts.show("projections:Both sides' risk", projection)

with tabs[2]:
    if tabs[2].open:
        partners = run.partner_summary()
        for row in partners[partners["p_over_capacity"] > 0.1].itertuples():
            said = readings.partner_warning(scenario, row.name, row.capacity_gbp_m, row.p_over_capacity)
            st.warning(said, icon=":material/warning:")
        parts.show_one("partners", projection)
        if said := readings.pool_reading(run):
            st.markdown(said)
        money_flow_panel(projection)

with tabs[3]:
    if tabs[3].open:
        parts.show("projections:Outcomes", projection)

with tabs[4]:
    if tabs[4].open:
        parts.show("projections:Cost bridge", projection)
