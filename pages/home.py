"""Home: what the tool is for, and where to start."""

import pandas as pd
import streamlit as st

from lib import catalogue, words
from lib.scenario import usable_templates
from pages import frame, parts, state

frame.ensure()

st.title("Care Models Lab")
st.markdown(
    "Design a whole-population contract or pooled budget for integrated health and care, starting from one "
    "of the 2015–17 vanguards or one of today's pooled arrangements. Choose which budgets to pool, who holds "
    "them and how surpluses and deficits are shared. The projections then show money and outcomes year by "
    "year, with the range that uncertainty puts around them."
)

usable, skipped = usable_templates()
templates = state.reference().tables["templates"]
templates = templates[templates["id"].isin(usable)]
custom = templates[templates["era"] == catalogue.ERA_OWN]


def cards(group: pd.DataFrame, key: str) -> None:
    """One card a template, four to a row (they wrap onto more rows on a narrow screen, frame.SCREEN_STYLE)."""
    holder = st.container(key=key)
    for start in range(0, len(group), 4):
        for column, row in zip(holder.columns(4), group.iloc[start : start + 4].itertuples(), strict=False):
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


for era, key in ((catalogue.ERA_VANGUARDS, "home-cards"), (catalogue.ERA_TODAY, "home-cards-today")):
    group = templates[(templates["era"] == era) & (templates["id"] != "blank")]
    if len(group):
        st.subheader(catalogue.ERA_NAMES[era], anchor=False)
        if era == catalogue.ERA_TODAY:
            st.caption(
                "Illustrative areas built from published national figures and agreements, each cited; "
                "Compare sets each beside the vanguard it resembles."
            )
        cards(group, key)

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
    st.subheader(catalogue.ERA_NAMES[catalogue.ERA_OWN], anchor=False)
    st.caption("Custom templates made from an uploaded baseline (Data page, *Your own baseline*).")
    for row in custom.itertuples():
        left, right = st.columns([4, 1], vertical_alignment="center")
        left.markdown(f"**{parts.plain(row.name)}** · {row.population:,} people · {parts.plain(row.headline)}")
        if right.button("Start from it", key=f"start-{row.id}"):
            state.start_from(row.id)
            st.switch_page("pages/design.py")

st.caption(
    "The vanguards' facts come from The King's Fund, *New care models: emerging innovations in governance and "
    "organisational form* (2016); today's from the Better Care Fund's policy papers, NHS England, Parliament's "
    "Public Accounts Committee and published section 75 agreements. Each is cited where it is used; everything "
    "else is a stated assumption."
)
