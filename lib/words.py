"""How the app writes numbers and deals in words: money (−£12.0m), shares, the contracting
approach, who carries the risk, a partner's role. One formatter for each, used by every page,
chart and file."""

from __future__ import annotations

from lib.scenario import Scenario

APPROACH_NOTES = {
    "virtual": "nothing pooled: an alliance beside existing contracts",
    "partially integrated": "budgets pooled, core primary care outside",
    "fully integrated": "budgets pooled, core primary care inside",
}


def pct(value: float | None, digits: int = 0) -> str:
    return "none" if value is None else f"{value * 100:.{digits}f}%"


def gbp_m(value: float, digits: int = 1) -> str:
    sign = "−" if value < 0 else ""
    return f"{sign}£{abs(value):,.{digits}f}m"


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
    return f"provider side takes {pct(r.gain_share)} of gains and {pct(r.loss_share)} of losses{tail}"


def deal_summary(scenario: Scenario) -> str:
    """The one-line summary the sidebar shows."""
    return (
        f"{gbp_m(scenario.pooled_budget_gbp_m(), 0)} pooled · {scenario.approach()} · "
        f"{scenario.contract.years} years · {risk_sentence(scenario)}"
    )


ROLE_NAMES = {  # a partner's role in words (KF2016: South Somerset's partner roles)
    "full_risk": "Full risk",
    "gain_share": "Gain share only",
    "consultative": "Consultative",
    "subcontractor": "Sub-contractor",
}
