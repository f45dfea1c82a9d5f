"""Design the deal: the seeds' key choices, each control bound to one scenario field."""

import streamlit as st

from lib import catalogue, views
from pages import common
from pages.common import (
    change,
    choice,
    current_scenario,
    int_slider,
    interval_percent,
    number,
    optional_number,
    optional_percent,
    percent_slider,
    text,
    toggle,
)

common.ensure_app_frame()

P = "design"
scenario = current_scenario()
info = catalogue.template(scenario.template).info

head, reset = st.columns([5, 1], vertical_alignment="bottom")
head.title(f"Design the deal: {info['name']}")
if reset.button("Reset to template", icon=":material/restart_alt:", help="Back to the template's preset values"):
    common.start_from(scenario.template)
    st.rerun()

common.show_error()
summary = st.columns([1, 1.5, 1.2, 0.8])
summary[0].metric("Pooled budget, year 0", views.gbp_m(scenario.pooled_budget_gbp_m(), 1), border=True)
summary[1].metric(
    "Contracting approach", scenario.approach().capitalize(), border=True, help=views.APPROACH_NOTES[scenario.approach()]
)
summary[2].metric(
    "Provider side: gain / loss share",
    f"{views.pct(scenario.risk.gain_share)} / {views.pct(scenario.risk.loss_share)}",
    border=True,
)
summary[3].metric("Contract", f"{scenario.contract.years} years", border=True)
st.caption(
    f"{views.deal_summary(scenario)}. {common.CHANGED_MARK.strip()} marks a value changed from the template; "
    "each control's ⓘ gives its unit, range and source."
)

tabs = st.tabs(
    ["1 · Budgets to pool", "2 · Who holds the budget", "3 · Contract", "4 · Risk split", "5 · Levers", "6 · Uncertainty"]
)

# ---- 1. Which budgets to pool -------------------------------------------------------------------
with tabs[0]:
    st.markdown(
        f"**Approach: {views.approach_label(scenario)}.** Pool a share of each service line into the contract; "
        "lines in the alliance but not pooled stay under their existing contracts and their variance stays with "
        "commissioners. Baselines are £m a year in year 0."
    )
    number(
        "Population",
        "population",
        1_000,
        20_000_000,
        1_000,
        prefix=P,
        help="People the model covers. Outcome rates are per 1,000 of them; budgets do not change with it.",
    )
    lines = catalogue.service_lines()
    for row in lines.itertuples():
        name_col, pool_col, base_col, scope_col = st.columns([3, 3, 2, 2], vertical_alignment="center")
        name_col.markdown(f"**{row.name}**  \n{row.setting} · {row.commissioner} · {row.payment}")
        if row.poolable:
            with pool_col:
                percent_slider("Pooled", f"pooling.{row.id}", 0, 100, 5, prefix=P)
        else:
            pool_col.caption("Commissioned nationally: cannot be pooled locally")
        with base_col:
            number("Baseline £m", f"baseline.{row.id}", 0, 100_000, 0.5, prefix=P)
        if row.poolable:
            in_scope = row.id in scenario.scope
            key = f"{P}:scope:{row.id}"
            common._bind(key, in_scope)
            scope_col.checkbox(
                "In the alliance",
                key=key,
                help="Aligned in an alliance without being pooled (the virtual approach).",
                on_change=lambda line=row.id, k=key: change(
                    "scope",
                    sorted(set(current_scenario().scope) | {line})
                    if st.session_state[k]
                    else [x for x in current_scenario().scope if x != line],
                ),
            )

# ---- 2. Who holds the budget ------------------------------------------------------------------
with tabs[1]:
    left, right = st.columns(2)
    with left:
        lead_types = catalogue.table("lead_types")
        choice(
            "Lead entity", "lead.type", lead_types["id"], dict(zip(lead_types["id"], lead_types["name"], strict=True)), prefix=P
        )
        forms = catalogue.table("org_forms").sort_values("closeness")
        choice(
            "Organisational form (loosest → closest)",
            "lead.form",
            forms["id"],
            dict(zip(forms["id"], forms["name"], strict=True)),
            prefix=P,
            widget=st.select_slider,
            help="Closer forms pool more sovereignty, risk and reward, and are harder to exit (KF2016, Figure 1).",
        )
        form = forms.set_index("id").loc[scenario.lead.form]
        st.caption(f"{form['description']} ({form['source']})")
    with right:
        number(
            "Lead's reserves (£m)",
            "lead.reserves_gbp_m",
            0,
            10_000,
            0.5,
            prefix=P,
            help="What the provider side can lose before it fails.",
        )
        number(
            "Parent guarantees (£m)",
            "lead.guarantee_gbp_m",
            0,
            10_000,
            0.5,
            prefix=P,
            help="Losses the partners' parent bodies will cover; UnitingCare had none.",
        )
    st.markdown(
        "**Partners inside the provider side.** Gains go to full-risk and gain-share partners by weight; "
        "losses fall on full-risk partners only. *Can bear* is a partner's own loss capacity in £m (empty: "
        "its weight's share of the lead's reserves and guarantees)."
    )
    roles = {
        "full_risk": "Full risk",
        "gain_share": "Gain share only",
        "consultative": "Consultative",
        "subcontractor": "Sub-contractor",
    }
    capacities = scenario.partner_capacities_gbp_m()
    for i, partner in enumerate(scenario.partners):
        c1, c2, c3, c4, c5 = st.columns([4, 2, 2, 2, 1], vertical_alignment="bottom")
        with c1:
            text(f"Partner {i + 1}", f"partners.{i}.name", prefix=P)
        with c2:
            choice("Role", f"partners.{i}.role", list(roles), roles, prefix=P)
        with c3:
            number("Weight", f"partners.{i}.weight", 0, 1000, 0.05, prefix=P, fmt="%.2f")
        with c4:
            key = f"{P}:partners.{i}.capacity"
            full_risk = partner.role == "full_risk"
            own = partner.capacity_gbp_m
            common._bind(key, (own if own is not None else round(capacities[i], 2)) if full_risk else 0.0)
            st.number_input(
                "Can bear (£m)",
                min_value=0.0,
                max_value=10_000.0,
                step=0.5,
                key=key,
                disabled=not full_risk,
                help="Only full-risk partners carry losses." if not full_risk else "Loss this partner can absorb.",
                on_change=lambda i=i, k=key: change(f"partners.{i}.capacity_gbp_m", st.session_state[k]),
            )
        if c5.button(
            "", icon=":material/delete:", key=f"{P}:remove-{i}", help="Remove this partner", disabled=len(scenario.partners) == 1
        ):
            change("partners", [p.model_dump() for j, p in enumerate(scenario.partners) if j != i])
            st.rerun()
    if st.button("Add a partner", icon=":material/add:", disabled=len(scenario.partners) >= 12):
        change(
            "partners",
            [
                *[p.model_dump() for p in scenario.partners],
                {"name": f"Partner {len(scenario.partners) + 1}", "role": "gain_share", "weight": 0.1},
            ],
        )
        st.rerun()

# ---- 3. Contract and procurement -----------------------------------------------------------------
with tabs[2]:
    left, right = st.columns(2)
    with left:
        int_slider(
            "Contract length (years)",
            "contract.years",
            1,
            15,
            prefix=P,
            help="Longer contracts let early losses be recouped later (KF2016).",
        )
        number("First contract year (calendar)", "contract.start_year", 2010, 2040, 1, prefix=P)
        percent_slider(
            "Funding growth a year",
            "contract.funding_growth",
            -5,
            15,
            0.5,
            prefix=P,
            help="Yearly growth of commissioners' funding, in cash.",
        )
    with right:
        routes = catalogue.routes()
        choice(
            "Procurement route", "contract.route", routes["id"], dict(zip(routes["id"], routes["name"], strict=True)), prefix=P
        )
        percent_slider(
            "Bid below the maximum price",
            "contract.bid_discount",
            0,
            50,
            0.5,
            prefix=P,
            help="UnitingCare bid £726m against a £752m maximum: about 3.5%.",
        )
        route_share = catalogue.route_transaction_share(scenario.contract.route)
        key = f"{P}:transaction-default"
        common._bind(key, scenario.contract.transaction_cost is None)
        st.checkbox(
            f"Route's usual procurement cost ({views.pct(route_share, 1)} of a year's pooled budget)",
            key=key,
            on_change=lambda: change("contract.transaction_cost", None if st.session_state[key] else route_share),
        )
        if scenario.contract.transaction_cost is not None:
            percent_slider("Procurement cost, year 1", "contract.transaction_cost", 0, 20, 0.1, prefix=P)

# ---- 4. Risk split ------------------------------------------------------------------------------
with tabs[3]:
    left, right = st.columns(2)
    with left:
        percent_slider("Provider share of a surplus (gain share)", "risk.gain_share", 0, 100, 5, prefix=P)
        percent_slider(
            "Provider share of a deficit (loss share)",
            "risk.loss_share",
            0,
            100,
            5,
            prefix=P,
            help="0% is upside only; 100% with 100% gain share is full capitation: the pot is the pot.",
        )
        percent_slider(
            "Neutral band around break-even",
            "risk.neutral_band",
            0,
            20,
            0.5,
            prefix=P,
            help="Inside it nothing is shared (the MSSP minimum savings and loss rate).",
        )
        optional_percent(
            "Cap on provider gain",
            "risk.cap",
            20,
            0.5,
            prefix=P,
            default=0.03,
            help="Most the provider side keeps in a year, as % of the budget.",
        )
        if scenario.risk.cap is not None:
            choice(
                "Beyond the cap, the money is",
                "risk.beyond_cap",
                ["commissioner", "reinvest"],
                {"commissioner": "returned to commissioners", "reinvest": "reinvested in services"},
                prefix=P,
                widget=st.radio,
            )
        optional_percent(
            "Collar on provider loss",
            "risk.collar",
            20,
            0.5,
            prefix=P,
            default=0.02,
            help="Most the provider side loses in a year, as % of the budget; commissioners take the rest.",
        )
    with right:
        percent_slider(
            "Outcome withhold",
            "risk.withhold",
            0,
            50,
            1,
            prefix=P,
            help="Share of payment held back and earned by outcome attainment (Dudley: 10%).",
        )
        number(
            "Outcome index that earns the whole withhold",
            "risk.withhold_target",
            100.5,
            150,
            0.5,
            prefix=P,
            help="100 = no better than doing nothing; the target ramps up over five years.",
        )
        optional_number(
            "Quality gate (outcome index)",
            "risk.quality_gate",
            50,
            150,
            0.5,
            prefix=P,
            default=101.0,
            help="No shared saving is paid in a year whose outcome index is below it.",
        )
        int_slider(
            "Years the commissioner covers deficits",
            "risk.cover_years",
            0,
            15,
            prefix=P,
            help="Salford: the CCG covers year-1 deficits.",
        )
        toggle("Recover covered deficits from later surpluses (carry-forward)", "risk.carry_forward", prefix=P)
        percent_slider(
            "Incentive pot on aligned services (CQUIN-style)",
            "risk.incentive_pot",
            0,
            10,
            0.1,
            prefix=P,
            help="Mid-Nottinghamshire: about 1.8% of providers' income on shared goals.",
        )

# ---- 5. Transformation levers -------------------------------------------------------------------
with tabs[4]:
    st.markdown(
        "The four improvement opportunities. Effects ramp in slowly: evaluations of integrated care found "
        "little measurable change in the first two years (Improvement Analytics Unit, 2021)."
    )
    for lever in catalogue.levers().itertuples():
        with st.container(border=True):
            st.markdown(f"**{lever.name}** · *{lever.opportunity}*")
            c1, c2, c3, c4 = st.columns(4)
            with c1:
                percent_slider(
                    lever.effect_label[0].upper() + lever.effect_label[1:],
                    f"levers.{lever.id}.effect",
                    0,
                    lever.effect_max * 100,
                    1,
                    prefix=P,
                )
            with c2:
                int_slider("Years to full effect", f"levers.{lever.id}.years_to_full", 1, 15, prefix=P)
            with c3:
                number("Investment while ramping (£m a year)", f"levers.{lever.id}.investment_gbp_m", 0, 10_000, 0.1, prefix=P)
            with c4:
                interval_percent(
                    "Realisation, 80% interval",
                    f"levers.{lever.id}.realisation_low",
                    f"levers.{lever.id}.realisation_high",
                    0,
                    150,
                    5,
                    prefix=P,
                )
            st.caption(lever.evidence)

# ---- 6. Uncertainty ------------------------------------------------------------------------------
with tabs[5]:
    st.markdown(
        "Enter each uncertain input as an **80% interval**: simulations draw from a normal with that "
        "interval, clipped to the valid range; the central case uses the mid-points."
    )
    left, right = st.columns(2)
    with left:
        interval_percent(
            "Demand growth above or below each line's default, points a year",
            "uncertainty.demand_growth_low",
            "uncertainty.demand_growth_high",
            -5,
            10,
            0.5,
            prefix=P,
        )
        interval_percent(
            "Baseline cost error (true cost above the baseline)",
            "uncertainty.cost_error_low",
            "uncertainty.cost_error_high",
            -50,
            100,
            1,
            prefix=P,
            help="UnitingCare: the block price was not the true cost.",
        )
    with right:
        choice(
            "Simulations",
            "sims",
            [200, 500, 1000, 2000, 5000, 10000],
            {},
            prefix=P,
            to_model=int,
            widget=st.select_slider,
            help="More simulations give steadier percentiles and take longer.",
        )
        number("Random seed", "seed", 0, 2**32 - 1, 1, prefix=P, help="Same seed, same answer.")
    with st.expander("Demand growth by service line (% a year)"):
        for row in catalogue.service_lines().itertuples():
            percent_slider(row.name, f"demand_growth.{row.id}", -10, 20, 0.5, prefix=P, help=row.demand_growth_basis)
