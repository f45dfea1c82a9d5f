"""Design the deal: the seeds' key choices, each control bound to one scenario field."""

import streamlit as st

from lib import charts, gallery, readings, words
from lib.scenario import field_spec
from pages import frame, parts, state, widgets

frame.ensure()

P = "design"
TAB_KEY = "design-tab"
cat = state.reference()
scenario = state.current_scenario()

head, keep, reset = st.columns([3.2, 1, 1.5], vertical_alignment="bottom")
head.title(f"Design the deal: {parts.design_name(scenario)}")  # the name it was saved under, once saved
if reset.button("Reset to template", icon=":material/restart_alt:", help="Back to the template's preset values"):
    state.start_from(scenario.template)
    st.rerun()
with keep.popover("Save", icon=":material/save:", help="Save this design under a name, in a group such as a table"):
    name = st.text_input("Name", value=scenario.name, max_chars=80, key="save-name")
    group = st.text_input("Group (optional)", max_chars=80, key="save-group", placeholder="e.g. Table 3")
    if st.button("Save the design", key="save-go", type="primary"):
        parts.save_design(name, group)
    parts.confirm_replace()  # asked here, where the person is looking, with the name field above to change
if note := st.session_state.pop("saved-note", None):
    st.success(parts.plain(note), icon=":material/check:")

parts.refused_input()
summary = st.columns([1, 1.9, 1.2, 0.8])
summary[0].metric("Pooled budget, year 0", words.gbp_m(scenario.pooled_budget_gbp_m(), 1), border=True)
summary[1].metric(
    "Contracting approach", scenario.approach().capitalize(), border=True, help=words.APPROACH_NOTES[scenario.approach()]
)
summary[2].metric(
    "Provider side: gain / loss share",
    f"{words.pct(scenario.risk.gain_share)} / {words.pct(scenario.risk.loss_share)}",
    border=True,
)
summary[3].metric("Contract", f"{scenario.contract.years} years", border=True)
st.caption(
    f"{words.deal_summary(scenario)}. {widgets.CHANGED_MARK.strip()} marks a value changed from the template; "
    "each control's :material/help: gives its unit, range and source."
)


def names(table: str) -> dict[str, str]:
    return {row["id"]: row["name"] for row in cat.records[table]}


def toggle_scope(line: str, key: str) -> None:
    scope = set(state.current_scenario().scope)
    state.change({"scope": sorted(scope | {line} if st.session_state[key] else scope - {line})})


# ---- 1. Which budgets to pool -------------------------------------------------------------------
def budgets() -> None:
    st.markdown(
        f"**Approach: {words.approach_label(scenario)}.** Pool a share of each service line into the contract; "
        "lines in the alliance but not pooled stay under their existing contracts and their variance stays with "
        "commissioners. Baselines are £m a year in year 0."
    )
    widgets.number("population", prefix=P, step=1_000)
    st.caption(f"{scenario.population:,} people")  # the box cannot group thousands; this line reads it back
    for row in cat.records["service_lines"]:
        name_col, pool_col, base_col, scope_col = st.columns([3, 3, 2, 2], vertical_alignment="center")
        name_col.markdown(f"**{row['name']}**  \n{row['setting']} · {row['commissioner']} · {row['payment']}")
        if row["poolable"]:
            with pool_col:
                widgets.slider(f"pooling.{row['id']}", "Pooled", prefix=P, step=5)
        else:
            pool_col.caption("Commissioned nationally: cannot be pooled locally")
        with base_col:
            widgets.number(f"baseline.{row['id']}", "Baseline", prefix=P, step=0.5)
        if row["poolable"]:
            key = f"{P}:scope:{row['id']}"
            widgets.bind(key, row["id"] in scenario.scope)
            scope_col.checkbox(
                "In the alliance",
                key=key,
                help="Aligned in an alliance without being pooled (the virtual approach).",
                on_change=toggle_scope,
                args=(row["id"], key),
            )
    box = st.expander("This place's outcome rates: year 0 and growth with no change", key="design-outcomes", on_change="rerun")
    if box.open:  # drawn only when opened: most moves never look at it
        with box:
            outcome_rates()


NATIONAL = "This template's are England's: national, not local."


def outcome_rates() -> None:
    own = [p.split(".", 1)[1] for p in cat.template(scenario.template).presets if p.startswith("outcome_")]
    st.caption(
        "England's unless the place's own are given (the Data page takes them with a baseline upload). "
        + (f"This template sets its own for {', '.join(sorted(set(own)))}." if own else NATIONAL)
    )
    for m in cat.records["outcome_measures"]:
        rate, growth = st.columns(2)
        with rate:
            widgets.number(f"outcome_baseline.{m['id']}", f"{m['name']}, per 1,000 in year 0", prefix=P, step=1.0)
        with growth:
            widgets.slider(f"outcome_growth.{m['id']}", "Yearly growth with no change", prefix=P, step=0.1)


# ---- 2. Who holds the budget ------------------------------------------------------------------
def holder() -> None:
    left, right = st.columns(2)
    with left:
        widgets.choice("lead.type", None, names("lead_types"), prefix=P)
        forms = cat.tables["org_forms"].sort_values("closeness")
        widgets.choice(
            "lead.form",
            None,
            names("org_forms"),
            prefix=P,
            options=list(forms["id"]),
            widget=st.select_slider,
        )
        form = forms.set_index("id").loc[scenario.lead.form]
        st.caption(f"{form['description']} ({form['source']})")
    with right:
        widgets.number("lead.reserves_gbp_m", prefix=P, step=0.5)
        widgets.number("lead.guarantee_gbp_m", prefix=P, step=0.5)
    basis = "contribution" if scenario.risk.partner_split == "contribution" else "weight"
    st.markdown(
        f"**Partners inside the provider side.** Gains go to full-risk and gain-share partners by {basis}; "
        "losses fall on full-risk partners only. *Can bear* is a partner's own loss capacity in £m (empty: "
        f"its {basis}'s share of the lead's reserves and guarantees). *Puts in* is what it pays into a pooled "
        "fund a year (section 75 terms, 4 · Risk split)."
    )
    roles = words.ROLE_NAMES
    capacities = scenario.partner_capacities_gbp_m()
    for i, partner in enumerate(scenario.partners):
        # Two rows a partner: its name and role read whole in the Design column, even at 1024 px.
        box = st.container(border=True)
        c1, c2 = box.columns([5, 4], vertical_alignment="bottom")
        c3, c4, c6, c5 = box.columns([3, 3, 3, 1], vertical_alignment="bottom")
        with c1:
            widgets.text(f"partners.{i}.name", f"Partner {i + 1}", prefix=P)
        with c2:
            widgets.choice(f"partners.{i}.role", "Role", roles, prefix=P)
        with c3:
            widgets.number(f"partners.{i}.weight", "Weight", prefix=P, step=0.05, fmt="%.2f")
        with c4:
            key = f"{P}:partners.{i}.capacity"
            full_risk = partner.role == "full_risk"
            own = partner.capacity_gbp_m
            widgets.bind(key, (own if own is not None else round(capacities[i], 2)) if full_risk else 0.0)
            bounds = field_spec(f"partners.{i}.capacity_gbp_m")
            st.number_input(
                "Can bear (£m)",
                min_value=float(bounds.low),
                max_value=float(bounds.high),
                step=0.5,
                key=key,
                disabled=not full_risk,
                help="Loss this partner can absorb." if full_risk else "Only full-risk partners carry losses.",
                on_change=lambda i=i, k=key: state.change({f"partners.{i}.capacity_gbp_m": st.session_state[k]}),
            )
        with c6:
            contribution(i, partner.contribution_gbp_m)
        if c5.button(
            "", icon=":material/delete:", key=f"{P}:remove-{i}", help="Remove this partner", disabled=len(scenario.partners) == 1
        ):
            state.change({"partners": [p.model_dump() for j, p in enumerate(scenario.partners) if j != i]})
            st.rerun()
    if st.button("Add a partner", icon=":material/add:", disabled=len(scenario.partners) >= 12):
        added = {"name": f"Partner {len(scenario.partners) + 1}", "role": "gain_share", "weight": 0.1}
        state.change({"partners": [*[p.model_dump() for p in scenario.partners], added]})
        st.rerun()


def contribution(i: int, value: float | None) -> None:
    """What partner i puts into the pool a year (empty: not a pool's partner)."""
    key, bounds = f"{P}:partners.{i}.contribution", field_spec(f"partners.{i}.contribution_gbp_m")
    widgets.bind(key, value)
    st.number_input(
        "Puts in (£m a year)", min_value=float(bounds.low), max_value=float(bounds.high), value=None, step=0.5,
        key=key, help=bounds.help, placeholder="not set",
        on_change=lambda: state.change({f"partners.{i}.contribution_gbp_m": st.session_state[key]}),
    )  # fmt: skip


# ---- 3. Contract and procurement -----------------------------------------------------------------
def contract() -> None:
    left, right = st.columns(2)
    with left:
        widgets.slider("contract.years", prefix=P)
        widgets.number("contract.start_year", prefix=P)
        widgets.slider("contract.funding_growth", prefix=P)
        widgets.slider("contract.population_growth", prefix=P, step=0.1)
        widgets.toggle("contract.funding_follows_population", prefix=P)
    with right:
        widgets.choice("contract.route", None, names("routes"), prefix=P)
        widgets.slider("contract.bid_discount", prefix=P)
        route_share = cat.route_transaction_share(scenario.contract.route)
        key = f"{P}:transaction-default"
        widgets.bind(key, scenario.contract.transaction_cost is None)
        st.checkbox(
            f"Route's usual procurement cost ({words.pct(route_share, 1)} of a year's pooled budget)",
            key=key,
            on_change=lambda: state.change({"contract.transaction_cost": None if st.session_state[key] else route_share}),
        )
        if scenario.contract.transaction_cost is not None:
            widgets.slider("contract.transaction_cost", prefix=P, step=0.1)


# ---- 4. Risk split ------------------------------------------------------------------------------
def risk_split() -> None:
    left, right = st.columns(2)
    with left:
        widgets.slider("risk.gain_share", prefix=P, step=5)
        widgets.slider("risk.loss_share", prefix=P, step=5)
        widgets.slider("risk.neutral_band", prefix=P)
        widgets.optional("risk.cap", prefix=P, default=0.03)
        if scenario.risk.cap is not None:
            beyond = {"commissioner": "returned to commissioners", "reinvest": "reinvested in services"}
            widgets.choice("risk.beyond_cap", None, beyond, prefix=P, widget=st.radio)
        widgets.optional("risk.collar", prefix=P, default=0.02)
        widgets.optional("risk.reopener", prefix=P, default=0.03)
    with right:
        widgets.slider("risk.withhold", prefix=P, step=1)
        widgets.number("risk.withhold_target", prefix=P, step=0.5)
        widgets.optional("risk.quality_gate", prefix=P, default=101.0, as_number=True)
        widgets.slider("risk.glide_years", prefix=P)
        if scenario.risk.glide_years:
            widgets.optional("risk.glide_gain_share", prefix=P, default=0.0, step=5)
            widgets.slider("risk.glide_loss_share", prefix=P, step=5)
        widgets.toggle("risk.carry_forward", prefix=P)
        widgets.slider("risk.commissioner_contingency", prefix=P, step=0.1)  # what a year's shortfall is measured against
        widgets.slider("risk.incentive_pot", prefix=P, step=0.1)
        if scenario.risk.incentive_pot:
            widgets.toggle("risk.incentive_at_stake", prefix=P)
    pool_terms()


def pool_terms() -> None:
    """A section 75 pool's terms: how its partners share, their caps, the risk pool and the order."""
    st.markdown(
        "**Pooled fund terms (section 75).** How the provider side's partners meet an overspend: underspends "
        "elsewhere in the pool first (already netted), then a risk pool and uncommitted schemes in the order "
        "chosen, then money outside the pool, shared as set below (each partner's contribution is in its box above)."
    )
    left, right = st.columns(2)
    with left:
        split = {"weight": "by the weights given", "contribution": "pro rata to their contributions"}
        widgets.choice("risk.partner_split", None, split, prefix=P, widget=st.radio)
        widgets.toggle("risk.cap_at_contribution", prefix=P)
        order = {
            "risk_pool_first": "the risk pool, then uncommitted schemes",
            "schemes_first": "uncommitted schemes, then the risk pool",
        }
        widgets.choice("risk.overspend_order", None, order, prefix=P, widget=st.radio)
    with right:
        widgets.optional("risk.risk_pool_gbp_m", prefix=P, default=0.5, as_number=True)
        if scenario.risk.risk_pool_gbp_m is not None:
            funders = {"partners": "the partners, as they share losses", "host": "the host partner alone",
                       "commissioners": "the commissioners"}  # fmt: skip
            widgets.choice("risk.risk_pool_funder", None, funders, prefix=P, widget=st.radio)
        widgets.optional("risk.uncommitted_gbp_m", prefix=P, default=1.0, as_number=True)


# ---- 5. Transformation levers -------------------------------------------------------------------
def lever_controls() -> None:
    st.markdown(
        "The four improvement opportunities. Effects ramp in slowly: evaluations of integrated care found "
        "little measurable change in the first two years (Improvement Analytics Unit, 2021)."
    )
    sources = cat.template(scenario.template).preset_sources
    groups = names("target_groups")  # each group's shares are in the control's help (lib/scenario.py)
    for lever in cat.records["levers"]:
        k = lever["id"]
        with st.container(border=True):
            st.markdown(f"**{lever['name']}** · *{lever['opportunity']}*")
            c1, c2, c3, c4 = st.columns(4)
            with c1:
                said = lever["effect_label"]
                widgets.slider(f"levers.{k}.effect", said[:1].upper() + said[1:], prefix=P, step=1)  # "GP" stays "GP"
            with c2:
                widgets.slider(f"levers.{k}.years_to_full", prefix=P)
            with c3:
                widgets.number(f"levers.{k}.investment_gbp_m", prefix=P, step=0.1)
            with c4:
                widgets.interval(
                    f"levers.{k}.realisation_low", f"levers.{k}.realisation_high", "Realisation, 80% interval", prefix=P, step=5
                )
            widgets.choice(f"levers.{k}.group", None, groups, prefix=P)
            mine = {p.rsplit(".", 1)[1]: src for p, src in sources.items() if p.startswith(f"levers.{k}.")}
            site = [f"{field.replace('_', ' ')}: {src}" for field, src in mine.items()]
            st.caption(parts.plain("; ".join(site)) if site else lever["evidence"])  # the site's own reason, where it has one


# ---- 6. Uncertainty ------------------------------------------------------------------------------
def uncertainty() -> None:
    st.markdown(
        "Enter each uncertain input as an **80% interval**: simulations draw from a normal with that "
        "interval, clipped to the valid range; the central case uses the mid-points."
    )
    left, right = st.columns(2)
    with left:
        widgets.interval(
            "uncertainty.demand_growth_low",
            "uncertainty.demand_growth_high",
            "Demand growth above or below each line's default, points a year",
            prefix=P,
        )
        widgets.interval(
            "uncertainty.cost_error_low",
            "uncertainty.cost_error_high",
            "Baseline cost error (true cost above the baseline)",
            prefix=P,
            step=1,
        )
    with right:
        widgets.choice("sims", None, {}, prefix=P, options=[200, 500, 1000, 2000, 5000, 10000], widget=st.select_slider)
        widgets.number("seed", "Random seed", prefix=P)
    with st.expander("Demand growth by service line (% a year)"):
        for row in cat.records["service_lines"]:
            widgets.slider(f"demand_growth.{row['id']}", row["name"], prefix=P)


TABS = {
    "1 · Budgets to pool": budgets,
    "2 · Who holds the budget": holder,
    "3 · Contract": contract,
    "4 · Risk split": risk_split,
    "5 · Levers": lever_controls,
    "6 · Uncertainty": uncertainty,
}
def preview(tab: str) -> None:
    """The headline and the open tab's chart, for the design as it stands."""
    projection = state.projection(state.current_scenario())
    run = projection.run
    tiles = {t["id"]: t for t in readings.headline_tiles(run)}
    for row in ([tiles["provider"], tiles["commissioner"]], [tiles["failure"], tiles["commissioner_shortfall"]]):
        for column, tile in zip(st.columns(2), row, strict=True):
            parts.one_tile(column, tile)
    (shown,) = gallery.on(f"preview:{tab}")  # the chart that answers the tab's question (lib/gallery.py)
    figure = projection.figure(f"preview-{tab}", lambda: charts.narrow(shown.draw(parts.drawn(projection))))
    parts.plot(figure, "design-preview")
    st.caption(f"{shown.caption(parts.drawn(projection))} Live: the Projections page has every chart, with its table.")


controls, live = st.columns([3, 2], gap="large")
opened = next(iter(TABS))
with controls:
    for (label, draw), tab in zip(TABS.items(), parts.tabs(list(TABS), TAB_KEY), strict=True):
        with tab:
            if tab.open:  # only the open tab's controls are drawn: a rerun costs what one tab shows
                draw()
                opened = label
with live, st.container(key="design-live"):  # kept in view while the controls beside it scroll (frame.SCREEN_STYLE)
    preview(opened)
