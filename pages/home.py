"""Home: what the tool is for, and where to start."""

import streamlit as st

from lib import baseline, words
from lib.scenario import usable_templates
from pages import frame, parts, state

frame.ensure()

st.title("Care Models Lab")
st.markdown(
    "Design a whole-population contract for integrated health and care, starting from one of the "
    "2015–17 vanguards. Choose which budgets to pool, who holds them and how surpluses and deficits "
    "are shared. The projections then show money and outcomes year by year, with the range that "
    "uncertainty puts around them."
)

usable, skipped = usable_templates()
templates = state.reference().tables["templates"]
templates = templates[templates["id"].isin(usable)]
custom = templates[templates["id"].str.startswith(baseline.PREFIX)]
vanguards = templates[(templates["id"] != "blank") & ~templates["id"].isin(custom["id"])]
cards = st.container(key="home-cards")  # cards wrap onto more rows on a narrow screen (frame.SCREEN_STYLE)
for start in range(0, len(vanguards), 4):
    for column, row in zip(cards.columns(4), vanguards.iloc[start : start + 4].itertuples(), strict=False):
        with column.container(border=True, height="stretch"):
            st.subheader(row.name, anchor=False)
            scenario = state.template(row.id).scenario
            st.markdown(
                f"**{row.model}** · {scenario.population:,} people · {scenario.contract.years}-year contract  \n"
                f"{words.gbp_m(scenario.pooled_budget_gbp_m(), 0)} pooled ({scenario.approach()})"
            )
            st.markdown(f"> {row.headline}")
            st.caption(f"Source: {row.headline_source}")
            if st.button(f"Start from {row.name}", key=f"start-{row.id}", type="primary", width="stretch"):
                state.start_from(row.id)
                st.switch_page("pages/design.py")

st.caption(
    "PACS: primary and acute care system (one organisation runs primary, community, mental health and hospital care); "
    "MCP: multispecialty community provider (GP-led); ICO, ACO: integrated or accountable care organisation. "
    "Every term is in *Words used here*, in the sidebar."
)
with st.container(border=True):
    st.subheader("A blank place", anchor=False)
    st.markdown(
        "Type your own population and budgets, starting from national per-head averages "
        "(2016/17, stated assumptions you can change)."
    )
    if st.button("Start from a blank place", key="start-blank"):
        state.start_from("blank")
        st.switch_page("pages/design.py")

for note in skipped:
    st.warning(f"One of your own places could not be opened, and is left out: {parts.plain(note)}", icon=":material/warning:")
if len(custom):
    st.subheader("Your own places", anchor=False)
    st.caption("Custom templates made from an uploaded baseline (Data page, *Your own baseline*).")
    for row in custom.itertuples():
        left, right = st.columns([4, 1], vertical_alignment="center")
        left.markdown(f"**{parts.plain(row.name)}** · {row.population:,} people · {parts.plain(row.headline)}")
        if right.button("Start from it", key=f"start-{row.id}"):
            state.start_from(row.id)
            st.switch_page("pages/design.py")

st.caption(
    "Facts come from The King's Fund, *New care models: emerging innovations in governance and "
    "organisational form* (2016), and are cited where they are used; everything else is a stated assumption."
)
