"""How the app writes numbers and deals in words: money (−£12.0m), shares, the contracting
approach, who carries the risk, a partner's role. One formatter for each, used by every page,
chart and file."""

from __future__ import annotations

from lib.scenario import Scenario

APPROACH_NOTES = {
    "virtual": "nothing pooled: an alliance beside existing contracts",
    "partially integrated": "budgets pooled, core primary care outside",
    "fully integrated": "budgets pooled, core primary care inside",
    "section 75 pooled fund": "NHS and council budgets pooled under a partnership agreement, no provider contract",
}


def minus(text: str) -> str:
    """A number's text with the minus sign (−) that money and the rest of the text use, not a hyphen."""
    return text.replace("-", "−")


def pct(value: float | None, digits: int = 0) -> str:
    return "none" if value is None else minus(f"{value * 100:.{digits}f}%")


def gbp_m(value: float, digits: int = 1) -> str:
    sign = "−" if value < 0 else ""
    return f"{sign}£{abs(value):,.{digits}f}m"


def unit(text: str) -> str:
    """A unit as text reads it: "per 1,000 population", thousands grouped as everywhere else."""
    return str(text).replace("per 1000", "per 1,000")


def approach_label(scenario: Scenario) -> str:
    name = scenario.approach()
    return f"{name} ({APPROACH_NOTES[name]})"


def risk_sentence(scenario: Scenario) -> str:
    """Who carries how much risk, in one line."""
    r = scenario.risk
    if not scenario.pooled_lines:
        how = "at stake on" if r.incentive_at_stake else "earned on"
        pot = f"; {pct(r.incentive_pot, 1)} of providers' income {how} shared outcomes" if r.incentive_pot else ""
        return f"commissioners keep every surplus and deficit{pot}"
    limits = []
    if r.cap is not None:
        limits.append(f"cap {pct(r.cap, 1)}")
    if r.collar is not None:
        limits.append(f"collar {pct(r.collar, 1)}")
    if r.withhold:
        limits.append(f"{pct(r.withhold)} withheld on outcomes")
    tail = f" ({', '.join(limits)})" if limits else ""
    who = "the pool's partners take" if scenario.is_pooled_fund() else "provider side takes"
    return f"{who} {pct(r.gain_share)} of gains and {pct(r.loss_share)} of losses{tail}"


def deal_summary(scenario: Scenario) -> str:
    """The one-line summary the sidebar shows."""
    return (
        f"{gbp_m(scenario.pooled_budget_gbp_m(), 0)} pooled · {scenario.approach()} · "
        f"{scenario.contract.years} years · {risk_sentence(scenario)}"
    )


MEASURE_NAMES = {  # a money measure's name in a table (the data dictionary gives its full meaning)
    "budget": "Budget (£m)",
    "cost": "Projected cost (£m)",
    "counterfactual_cost": "Cost with no change (£m)",
    "variance": "Budget less cost (£m)",
    "provider": "Provider side's gain or loss (£m)",
    "commissioner": "Commissioners' gain or loss (£m)",
    "reinvested": "Reinvested beyond the cap (£m)",
    "provider_cumulative": "Provider side, cumulative (£m)",
    "commissioner_cumulative": "Commissioners, cumulative (£m)",
    "pooled_budget": "Pooled budget (£m)",
    "sim": "Simulation",
    "provider_gbp_m": "Provider side at contract end (£m)",
    "commissioner_gbp_m": "Commissioners at contract end (£m)",
}

COLUMN_NAMES = {  # other columns of the charts' tables, in words
    "failed_by": "Provider side failed by this year (%)",
    "commissioners_short_by": "Commissioners short by this year (%)",
    "name": "Partner",
    "role": "Role",
    "weight": "Share of the provider side's risk (%)",
    "capacity_gbp_m": "What it can bear (£m)",
    "p_over_capacity": "Chance it loses more than it can bear (%)",
    "source": "From",
    "target": "To",
    "value_gbp_m": "£m",
    "measure": "Measure",
    "step": "Step",
    "label": "What changes",
    "low": "Low setting",
    "high": "High setting",
    "reasoning": "Why this range",
    "provider_p50_low_gbp_m": "Provider P50 at low (£m)",
    "provider_p50_high_gbp_m": "Provider P50 at high (£m)",
    "failure_low": "Failure at low (%)",
    "failure_high": "Failure at high (%)",
    "swing_gbp_m": "Swing in provider P50 (£m)",
    "failure_swing": "Swing in failure (points)",
    "p10_no_change": "P10, no change",
    "p50_no_change": "P50, no change",
    "p90_no_change": "P90, no change",
    "mean": "Mean",
    "p10": "P10",
    "p50": "P50",
    "p90": "P90",
}
CHANCE_COLUMNS = (  # fractions shown as % in a table
    "weight", "failed_by", "commissioners_short_by", "p_over_capacity", "failure_low", "failure_high", "failure_swing",
)

ROLE_NAMES = {  # a partner's role in words (KF2016: South Somerset's partner roles)
    "full_risk": "Full risk",
    "gain_share": "Gain share only",
    "consultative": "Consultative",
    "subcontractor": "Sub-contractor",
}


WORD_JOINER = "\u2060"  # invisible; no line break on either side of it


def unbroken(text: str) -> str:
    """Text in which a minus sign stays with the figure it belongs to when the line wraps ("P10 −" at
    one line's end and "£15.3m" at the next's start reads as a gain)."""
    return text.replace("−£", "−" + WORD_JOINER + "£")
