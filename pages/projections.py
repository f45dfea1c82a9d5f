"""Projections: money and outcomes over the contract, redrawn on every change."""

import streamlit as st

from lib import charts, views
from pages import frame, parts, state, widgets

frame.ensure()

P = "proj"
TAB_KEY = "projections-tab"
TABS = ["Money", "Both sides' risk", "Partners and money flow", "Outcomes", "Cost bridge"]

cat = state.reference()
scenario = state.current_scenario()
st.title(f"Projections: {parts.plain(cat.template(scenario.template).info['name'])}")
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
if failure > views.FAILURE_WORTH_EXPLAINING:
    lines = [f"- {views.gbp_m(d['gbp_m'], 0)}: {d['why']} ({d['control']})" for d in views.failure_drivers(run)]
    capacity = views.gbp_m(scenario.lead.loss_capacity_gbp_m)
    st.warning(
        f"**The provider side fails in {views.pct(failure)} of simulations.** What pushes it there, in £m over the "
        f"contract before the risk split, against the {capacity} it can bear:\n" + "\n".join(lines),
        icon=":material/warning:",
    )
st.caption(
    f"{scenario.sims:,} simulations (seed {scenario.seed}); bands show P10–P90 and lines the median (P50). "
    f"Money in £m; contract years count from 1, starting {scenario.contract.start_year}. {views.deal_summary(scenario)}."
)


@st.fragment
def money_flow_panel(projection: state.Projection) -> None:
    """Only this chart redraws when its period changes (a fragment rerun)."""
    run = projection.run
    years = run.scenario.contract.years
    options = ["Whole contract", *[f"Year {y}" for y in range(1, years + 1)]]
    period = st.select_slider("Period", options, value="Whole contract", key="money-flow-period")
    year = None if period == options[0] else int(period.split()[1])
    flows = projection.figure(f"flows-{year}", lambda: views.money_flows(run, year))
    label = f"over {years} years" if year is None else f"in contract year {year}"
    parts.chart(
        projection.figure(
            f"flow-chart-{year}", lambda: charts.money_flow(flows, f"Where the money goes {label} (central case, £m)")
        ),
        lambda: flows.round(2),
        "Central case. Partners' delivery shares follow their weights (an assumption); the settlement at the end "
        "follows the risk terms.",
        "money-flow",
        run.sql_of("central"),
    )


r, c = scenario.risk, scenario.contract
tabs = parts.tabs(TABS, TAB_KEY)

with tabs[0]:
    if tabs[0].open:
        parts.chart(
            projection.figure("budget-cost", lambda: charts.budget_vs_cost(run)),
            lambda: run.table(fans=charts.BUDGET_FANS),
            f"Budget: year-0 spend in scope grown {views.pct(c.funding_growth, 1)} a year, less a {views.pct(c.bid_discount, 1)} "
            f"bid discount and a {views.pct(r.withhold)} withhold earned back by outcomes. Cost: each line's demand growth "
            "(Design, tab 6) less the levers (tab 5), plus investment and year-1 procurement cost.",
            "budget-cost",
            run.sql_of("yearly", fans=list(charts.BUDGET_FANS)),
        )
        parts.chart(
            projection.figure("variance-split", lambda: charts.variance_split(run)),
            lambda: run.table(means=charts.SPLIT),
            f"Settlement each year: {views.risk_sentence(scenario)}; neutral band {views.pct(r.neutral_band, 1)}"
            + (f"; the first {r.glide_years} year(s) on a glide path" if r.glide_years else "")
            + ("; covered deficits recovered from later surpluses" if r.carry_forward and r.glide_years else "")
            + ". The three parts add up to the variance in every simulation.",
            "variance-split",
            run.sql_of("yearly", means=list(charts.SPLIT)),
        )

with tabs[1]:
    if tabs[1].open:
        parts.chart(
            projection.figure("cumulative", lambda: charts.cumulative_provider(run)),
            lambda: run.table(fans=["provider_cumulative", "pooled_budget"]),
            f"The provider side fails when its cumulative loss passes its reserves ({views.gbp_m(scenario.lead.reserves_gbp_m)}) "
            f"plus guarantees ({views.gbp_m(scenario.lead.guarantee_gbp_m)}); commissioners then carry the later years.",
            "cumulative",
            run.sql_of("yearly", fans=["provider_cumulative", "pooled_budget"]),
        )
        parts.chart(
            projection.figure("commissioners", lambda: charts.cumulative_commissioners(run)),
            lambda: run.table(fans=["commissioner_cumulative"]),
            f"The commissioners' side of the same deal: what they keep or cover each year, summed. They hold a contingency "
            f"of {views.pct(scenario.risk.commissioner_contingency)} of a year's budget (Design › 4 · Risk split); the "
            f"*Commissioners short* tile gives the chance a year's loss passes it.",
            "commissioners",
            run.sql_of("yearly", fans=["commissioner_cumulative"]),
        )
        parts.chart(
            projection.figure("s-curve", lambda: charts.s_curve(run)),
            lambda: run.end_positions().round(2),
            "Each simulation's cumulative provider position at contract end, sorted: read off how likely any result is.",
            "s-curve",
            run.sql_of("end_positions"),
        )

with tabs[2]:
    if tabs[2].open:
        partners = run.partner_summary()
        for row in partners[partners["p_over_capacity"] > 0.1].itertuples():
            st.warning(
                f"**{row.name}** loses more than it can bear ({views.gbp_m(row.capacity_gbp_m)}) in "
                f"{row.p_over_capacity:.0%} of simulations: no provider should be allowed to topple (Northumberland). "
                "A partner bears its share of the side's losses against its own capacity, so it can pass what it "
                "can bear in simulations where the provider side as a whole still holds.",
                icon=":material/warning:",
            )
        parts.chart(
            projection.figure("partners", lambda: charts.partner_split(run)),
            lambda: partners.round(3),
            "Gains go to full-risk and gain-share partners by weight; losses to full-risk partners only. "
            "Consultative partners and sub-contractors carry no risk.",
            "partners",
            run.sql_of("partners"),
        )
        money_flow_panel(projection)

with tabs[3]:
    if tabs[3].open:
        table = projection.figure("outcome-table", lambda: views.outcome_table(run, cat))
        parts.chart(
            projection.figure("outcomes", lambda: charts.outcomes_grid(table, views.outcome_labels(cat))),
            lambda: table.round(2),
            "Per 1,000 population, against each measure's no-change path (England 2016/17 rates, assumptions). "
            "Levers cut activity as they ramp in; population health responds two years later. The outcome index is the "
            "mean of four domains (population health, quality of life, quality of care, effectiveness); 100 = no change.",
            "outcomes",
            run.sql_of("yearly", fans=[m for o in run.outcome_measures for m in (o, o + "_no_change")]),
        )

with tabs[4]:
    if tabs[4].open:
        steps = projection.figure("waterfall-steps", lambda: views.waterfall_steps(run, cat))
        parts.chart(
            projection.figure("waterfall", lambda: charts.waterfall(steps, c.years)),
            lambda: steps.round(2),
            "Central case, summed over the contract, for the services in scope: what demand growth adds, "
            "what each lever saves (or costs, where care moves into a pooled line from one outside the pool), "
            "and the investment and procurement costs.",
            "waterfall",
            run.sql_of("central_totals"),
        )
