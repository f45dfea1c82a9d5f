"""Risk: how likely the deal is to hurt the provider side, what would make it fail, and the
UnitingCare replay. Every part reads the same projection as the Projections page."""

import streamlit as st

from lib import readings, stress, words
from pages import frame, parts, state

frame.ensure()

TAB_KEY = "risk-tab"
TABS = ["Distribution", "Over time and partners", "Stress tests", "UnitingCare replay", "What would make it fail"]

cat = state.reference()
scenario = state.current_scenario()
st.title(f"Risk: {parts.design_name(scenario)}")
st.caption(f"{words.deal_summary(scenario)}. {scenario.sims:,} simulations (seed {scenario.seed}); money in £m.")
projection = state.projection(scenario)
run = projection.run
said = projection.figure("risk-readings", lambda: readings.risk_readings(run))
tabs = parts.tabs(TABS, TAB_KEY)

with tabs[0]:
    if tabs[0].open:
        st.markdown(parts.plain(said["distribution"]))
        parts.show_one("end-distribution", projection)
        st.markdown(parts.plain(said["shortfall"]))
        parts.show_one("s-curve", projection)

with tabs[1]:
    if tabs[1].open:
        st.markdown(parts.plain(said["failure"]))
        st.markdown(parts.plain(said["commissioners"]))
        st.markdown(parts.plain(said["one_sided"]))
        parts.show_one("failure-over-time", projection)
        st.markdown(parts.plain(said["partners"]))  # partner names are typed text
        # The run's own summary is shared by every page that shows this design: read, never changed here.
        partners = run.partner_summary()[["name", "role", "capacity_gbp_m", "p10", "p50", "p_over_capacity"]]
        st.dataframe(parts.in_words(partners).round(1), hide_index=True, width="stretch", key="risk-partners")

with tabs[2]:
    if tabs[2].open:
        shocks = stress.shocks()
        picked = st.multiselect(
            "Apply these shocks to the design (together)",
            list(shocks),
            default=["costs_understated"],
            format_func=lambda sid: shocks[sid].name,
            key="risk-stresses",
        )
        for sid in picked:
            st.markdown(f"- **{shocks[sid].name}**: {shocks[sid].what} *({shocks[sid].source})*")
        if picked:
            stressed = state.projection(stress.apply(scenario, picked)).run
            st.markdown("**Under the stresses**, against the design as it stands:")
            after = readings.stressed_tiles(run, stressed)
            for row in (after[:3], after[3:]):  # the provider side's three, then the commissioners'
                for column, tile in zip(st.columns(3), row, strict=True):
                    colour = "inverse" if tile["worse"] else "normal"
                    column.metric(
                        tile["label"], tile["value"], tile["change"] or None, delta_color=colour, delta_arrow="off",
                        help=tile["help"], border=True,
                    )  # fmt: skip
                    column.caption(f"was {tile['before']}")
            st.dataframe(readings.before_after(run, stressed), hide_index=True, width="stretch", key="risk-before-after")
        else:
            st.info("Pick one or more shocks to see the design under them.", icon=":material/info:")

with tabs[3]:
    if tabs[3].open:
        replay = stress.replay()
        st.markdown(f"**{replay.name}.** {replay.what} *({replay.source})*")
        parts.show_one("replay", projection)
        facts = cat.template("uniting_care").facts.set_index("fact_id")
        st.markdown("**What happened to UnitingCare** (KF2016):")
        for fact_id in ("bid", "top_up", "baseline", "terminated"):
            st.markdown(f"- {facts.loc[fact_id, 'label']}: {facts.loc[fact_id, 'value']}")

with tabs[4]:
    if tabs[4].open:
        bars = parts.drawn(projection).tornado()  # the same runs the charts below read
        top = bars.iloc[0]
        st.markdown(
            f"**{top['label']}** moves the provider side's end position most: from {words.gbp_m(top['provider_p50_low_gbp_m'])} "
            f"at {top['low']} to {words.gbp_m(top['provider_p50_high_gbp_m'])} at {top['high']} (P50)."
        )
        parts.show("risk:What would make it fail", projection)
