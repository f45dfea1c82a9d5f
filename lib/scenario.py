"""The scenario: one validated, immutable description of a deal, built from a template.

Units: money in £m (names end in `_gbp_m`); shares, caps, collars, bands and withholds are
fractions (0.1 = 10%); contract years count from 1 (year 0 is the baseline year before the
contract starts, whose spend `baseline` holds). Each field's range, default, unit and help are
written once, here, and read by the widgets, `python -m lib fields`, the validation messages
and the engine (`field_spec`). See docs/model.md.
"""

from __future__ import annotations

import functools
import json
import numbers
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo

from lib import catalogue


def bounded(default: Any, low: float, high: float, unit: str, help: str, label: str = "", **kw: Any) -> Any:
    """A field with its range, unit, help and the one label every page shows it by, in one place."""
    return Field(default, ge=low, le=high, description=help, json_schema_extra={"unit": unit, "label": label}, **kw)


Share = Annotated[float, bounded(..., 0.0, 1.0, "fraction", "share of the service line's budget pooled into the contract")]
MoneyGbpM = Annotated[float, bounded(..., 0.0, 100_000.0, "£m a year", "spend on the service line in year 0")]
Growth = Annotated[float, bounded(..., -0.1, 0.2, "fraction a year", "the service line's yearly demand growth, in cash")]
OutcomeGrowth = Annotated[
    float,
    bounded(
        ...,
        -0.1,
        0.2,
        "fraction a year",
        "the outcome's yearly growth per person with no change: England's unless the place's is given",
    ),
]
PerThousand = Annotated[
    float, bounded(..., 0.0, 5000.0, "per 1,000 a year", "the outcome's rate in year 0: England's unless the place's is given")
]


class ScenarioError(ValueError):
    """An invalid scenario value: names the field, the value and what is allowed."""

    def __init__(self, field: str, value: Any, allowed: str) -> None:
        self.field, self.value, self.allowed = field, value, allowed
        super().__init__(f"{_printable_text(str(field)[:80])} = {_shown(value)} is not allowed: {_printable_text(str(allowed))}")


def _printable_text(text: str) -> str:
    """Text for a one-line message: a line break or other control character in a name shown escaped."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


def _shown(value: Any, width: int = 80) -> str:
    """A value as JSON for a message, cut to `width` characters (never fails, never a page long)."""
    try:
        text = json.dumps(value, default=str)
    except (ValueError, RecursionError):
        text = f"<{type(value).__name__}>"
    return text if len(text) <= width else text[: width - 1] + "…"


Role = Literal["full_risk", "gain_share", "consultative", "subcontractor"]


def flag(default: bool, help: str, label: str) -> Any:
    """A yes/no field with its help and its one label, as bounded() gives a number's."""
    return Field(default, description=help, json_schema_extra={"label": label})


def listed(default: str, table: str, help: str, label: str = "") -> Any:
    """A field whose allowed values are the ids of a catalogue table (one list of them, in data/)."""
    return Field(default, description=help, json_schema_extra={"choices_from": table, "label": label})


@dataclass(frozen=True)
class _Kind:
    """What a field accepts, worked out once per model class (validation runs on every move)."""

    base: str  # "bool", "number", "text", "dict", "list", "model" or "any"
    nullable: bool
    inner: _Kind | None = None  # a dict's value kind
    allowed: str = ""  # what a refusal names: "from -0.1 to 0.2", "one of a, b", or "table:<catalogue table>"


def _allowed_of(annotation: Any, info: FieldInfo | None = None) -> str:
    """The values a field takes, for a refusal's message: its range, or its choices."""
    metadata = list(info.metadata) if info is not None else []
    extra = info.json_schema_extra if info is not None and isinstance(info.json_schema_extra, dict) else {}
    if get_origin(annotation) is Annotated:
        for arg in get_args(annotation)[1:]:
            if isinstance(arg, FieldInfo):
                metadata += arg.metadata
    if extra.get("choices_from"):
        return f"table:{extra['choices_from']}"
    base = get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation
    if get_origin(base) is Literal:
        return "one of " + ", ".join(map(str, get_args(base)))
    low = next((getattr(m, "ge", getattr(m, "gt", None)) for m in metadata if hasattr(m, "ge") or hasattr(m, "gt")), None)
    high = next((getattr(m, "le", getattr(m, "lt", None)) for m in metadata if hasattr(m, "le") or hasattr(m, "lt")), None)
    return f"from {low:g} to {high:g}" if low is not None and high is not None else ""


def _what(value: Any) -> str:
    """What a value of the wrong kind is, in a refusal's words."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "a number" if isinstance(value, numbers.Real) else type(value).__name__


def _allowed_text(kind: _Kind) -> str:
    if kind.allowed.startswith("table:"):
        return "one of " + ", ".join(r["id"] for r in catalogue.current().records[kind.allowed.removeprefix("table:")])
    return kind.allowed


def _kind_of(annotation: Any) -> _Kind:
    args = get_args(annotation)
    if get_origin(annotation) is Annotated:
        annotation, args = args[0], get_args(args[0])
    nullable = type(None) in args
    base = next((a for a in args if a is not type(None)), annotation) if nullable else annotation
    if get_origin(base) is Annotated:
        base = get_args(base)[0]
    origin = get_origin(base)
    if origin is dict:
        value_type = get_args(base)[1]
        return _Kind("dict", nullable, replace(_kind_of(value_type), allowed=_allowed_of(value_type)))
    if origin is list:
        return _Kind("list", nullable)
    if isinstance(base, type) and issubclass(base, BaseModel):
        return _Kind("model", nullable)
    if base is bool:
        return _Kind("bool", nullable)
    if base in (int, float):
        return _Kind("number", nullable)
    if base is str or origin is Literal:
        return _Kind("text", nullable)
    return _Kind("any", nullable)


@functools.cache
def _field_kinds(model: type[BaseModel]) -> tuple[tuple[str, _Kind], ...]:
    return tuple(
        (name, replace(kind, allowed=_allowed_of(info.annotation, info) or kind.allowed))
        for name, info in model.model_fields.items()
        for kind in [_kind_of(info.annotation)]
    )


def _check_kind(path: str, value: Any, kind: _Kind) -> None:
    """Refuse a value of the wrong kind for its field (see Frozen._strict_kinds)."""
    if value is None and kind.nullable:
        return
    base = kind.base
    allowed = _allowed_text(kind)
    if base == "number":
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ScenarioError(path, value, f"a number{' ' + allowed if allowed else ''}, not {_what(value)}")
    elif base == "bool":
        if not isinstance(value, bool):
            raise ScenarioError(path, value, "true or false")
    elif base == "text":
        if not isinstance(value, str):
            raise ScenarioError(path, value, allowed or "text")
        if not catalogue.is_utf8(value):
            raise ScenarioError(path, value.encode("utf-8", "backslashreplace").decode()[:40], "text (a lone surrogate is not)")
    elif base == "dict":
        if not isinstance(value, dict):
            raise ScenarioError(path, value, "an object of named values")
        for key, item in value.items():
            _check_kind(f"{path}.{key}", item, kind.inner)
    elif base == "list" and not isinstance(value, list):
        raise ScenarioError(path, value, "a list")
    elif base == "model" and not isinstance(value, dict | BaseModel):
        raise ScenarioError(path, value, "an object of fields (see `python -m lib fields`)")


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _strict_kinds(cls, data: Any) -> Any:
        """A boolean is not a number, a number is not text, text is not a number: pydantic's lax
        mode would read `false` as 0, `true` as 1 and "0.5" as 0.5, silently changing a deal."""
        if isinstance(data, dict):
            for name, kind in _field_kinds(cls):
                if name in data:
                    _check_kind(name, data[name], kind)
        return data

    @model_validator(mode="after")
    def _listed_values(self) -> Frozen:
        for name, info in type(self).model_fields.items():
            table = (info.json_schema_extra or {}).get("choices_from") if isinstance(info.json_schema_extra, dict) else None
            if table and getattr(self, name) not in (ids := [r["id"] for r in catalogue.current().records[table]]):
                raise ScenarioError(name, getattr(self, name), "one of " + ", ".join(ids))
        return self


class Contract(Frozen):
    years: int = bounded(
        10,
        1,
        15,
        "years",
        "Contract length. Longer contracts let early losses be recouped later (KF2016).",
        label="Contract length (years)",
    )
    start_year: int = bounded(
        2017,
        2010,
        2040,
        "calendar year",
        "Calendar year in which contract year 1 starts.",
        label="First contract year (calendar)",
    )
    funding_growth: float = bounded(
        0.035, -0.05, 0.15, "fraction a year", "Yearly growth of commissioners' funding, in cash.", label="Funding growth a year"
    )
    bid_discount: float = bounded(
        0.0,
        0.0,
        0.5,
        "fraction",
        "Winning bid below the maximum price (UnitingCare bid £726m against £752m: about 3.5%).",
        label="Bid below the maximum price",
    )
    route: str = listed("most_capable_provider", "routes", "How the contract is procured.", label="Procurement route")
    population_growth: float = bounded(
        0.008,
        -0.02,
        0.05,
        "fraction a year",
        "Yearly growth of the population covered (assumption: England, about 0.8% a year).",
        label="Population growth a year",
    )
    funding_follows_population: bool = flag(
        False,
        "Demographic adjustment: funding also grows with the population covered, as capitation does.",
        "Funding follows population (demographic adjustment)",
    )
    transaction_cost: float | None = bounded(
        None,
        0.0,
        0.2,
        "fraction",
        "Procurement cost in year 1, as a share of a year's pooled budget; empty = the route's usual cost.",
        label="Procurement cost, year 1",
    )


class Lead(Frozen):
    type: str = listed("foundation_trust", "lead_types", "Who holds the contract.", label="Lead entity")
    form: str = listed(
        "sub_contract",
        "org_forms",
        "Closer forms pool more sovereignty, risk and reward (KF2016, Figure 1).",
        label="Organisational form (loosest → closest)",
    )
    reserves_gbp_m: float = bounded(
        10.0, 0.0, 10_000.0, "£m", "What the provider side can lose before it fails.", label="Lead's reserves"
    )
    guarantee_gbp_m: float = bounded(
        0.0,
        0.0,
        10_000.0,
        "£m",
        "Losses the partners' parent bodies will cover; UnitingCare had none.",
        label="Parent guarantees",
    )

    @property
    def loss_capacity_gbp_m(self) -> float:
        """What the provider side can lose before it fails: reserves plus guarantees."""
        return self.reserves_gbp_m + self.guarantee_gbp_m


class Risk(Frozen):
    gain_share: float = bounded(
        0.5,
        0.0,
        1.0,
        "fraction",
        "The provider side's share of a surplus (budget less cost).",
        label="Provider share of a surplus (gain share)",
    )
    loss_share: float = bounded(
        0.5,
        0.0,
        1.0,
        "fraction",
        "The provider side's share of a deficit. 0% is upside only; 100/100 is full capitation.",
        label="Provider share of a deficit (loss share)",
    )
    neutral_band: float = bounded(
        0.0,
        0.0,
        0.2,
        "fraction",
        "Band around break-even, as a share of the budget, inside which nothing is shared (MSSP).",
        label="Neutral band around break-even",
    )
    cap: float | None = bounded(
        None,
        0.0,
        1.0,
        "fraction",
        "Most the provider side keeps in a year, as a share of the budget.",
        label="Cap on provider gain",
    )
    collar: float | None = bounded(
        None,
        0.0,
        1.0,
        "fraction",
        "Most the provider side loses in a year, as a share of the budget; commissioners take the rest.",
        label="Collar on provider loss",
    )
    beyond_cap: Literal["commissioner", "reinvest"] = Field(
        "commissioner",
        description="Where the money beyond the cap goes: back to commissioners or reinvested in services.",
        json_schema_extra={"label": "Beyond the cap, the money is"},
    )
    withhold: float = bounded(
        0.0,
        0.0,
        0.5,
        "fraction",
        "Share of payment held back and earned by outcome attainment (Dudley: 10%).",
        label="Outcome withhold",
    )
    withhold_target: float = Field(
        104.0,
        gt=100.0,
        le=150.0,
        description="Outcome index that earns the whole withhold (and incentive pot); 100 = no better than doing nothing. "
        "The target ramps up over five years. Assumption: 104, a target a little above the evidence-based central path.",
        json_schema_extra={"unit": "index", "label": "Outcome index that earns the whole withhold"},
    )
    quality_gate: float | None = bounded(
        None,
        50.0,
        150.0,
        "index",
        "No shared saving is paid in a year whose outcome index is below it.",
        label="Quality gate (outcome index)",
    )
    carry_forward: bool = flag(
        False,
        "Recover deficits the commissioner covered from later surpluses (Salford).",
        "Recover covered deficits from later surpluses (carry-forward)",
    )
    glide_years: int = bounded(
        0,
        0,
        15,
        "years",
        "Opening contract years on a glide path, under the glide shares below (Salford: 1 year).",
        label="Glide path: opening years on other shares",
    )
    glide_gain_share: float | None = bounded(
        None,
        0.0,
        1.0,
        "fraction",
        "Provider share of a surplus in the glide years; empty = the full gain share.",
        label="Gain share in the glide years",
    )
    glide_loss_share: float = bounded(
        0.0,
        0.0,
        1.0,
        "fraction",
        "Provider share of a deficit in the glide years; 0 = commissioners cover it (Salford).",
        label="Loss share in the glide years",
    )
    reopener: float | None = bounded(
        None,
        0.0,
        0.5,
        "fraction",
        "Re-price the contract from the next year when a year's variance passes this share of the budget.",
        label="Re-opener past a yearly variance of",
    )
    incentive_pot: float = bounded(
        0.0,
        0.0,
        0.1,
        "fraction",
        "Share of aligned providers' income earned by shared outcomes (Mid-Nottinghamshire: ~1.8%).",
        label="Incentive pot on aligned services (CQUIN-style)",
    )
    incentive_at_stake: bool = flag(
        False,
        "The incentive pot is part of the providers' agreed income, lost where the shared outcomes are not "
        "attained (CQUIN: income at stake), rather than a bonus paid on top.",
        "The pot is income at stake (lost if not earned), not a bonus",
    )
    partner_split: Literal["weight", "contribution"] = Field(
        "weight",
        description="How the provider side's gains and losses are shared among its partners: by the weights given, "
        "or pro rata to each partner's contribution to the pool, as section 75 pooled funds commonly share them.",
        json_schema_extra={"label": "Partners share gains and losses"},
    )
    cap_at_contribution: bool = flag(
        False,
        "No partner loses more of the pool's overspend in a year than its contribution to the pool; what a cap cuts "
        "off is met from money outside the pool (the commissioner side). An incentive at stake on aligned services "
        "is outside the pool and not capped. A section 75 clause: assumption that it applies year by year.",
        "Each partner's loss capped at its contribution",
    )
    risk_pool_gbp_m: float | None = bounded(
        None,
        0.0,
        10_000.0,
        "£m a year",
        "A risk pool set aside each year that meets the provider side's overspend before anything else (after "
        "underspends elsewhere in the pool, which are already netted); unused, it goes back to its funders.",
        label="Risk pool a year",
    )
    risk_pool_funder: Literal["partners", "host", "commissioners"] = Field(
        "partners",
        description="Who pays what the risk pool meets: the partners (shared as their losses are, so it moves no "
        "money between them and only says how much it met), the host partner alone (the first partner listed that "
        "carries losses), or the commissioners.",
        json_schema_extra={"label": "The risk pool is funded by"},
    )
    uncommitted_gbp_m: float | None = bounded(
        None,
        0.0,
        10_000.0,
        "£m a year",
        "Planned schemes not yet committed that can be stopped to meet an overspend: the pool spends that much "
        "less, so no one pays it; the price is the services not bought (their outcomes are not modelled).",
        label="Uncommitted schemes a year",
    )
    overspend_order: Literal["risk_pool_first", "schemes_first"] = Field(
        "risk_pool_first",
        description="The order in which an overspend is met after underspends elsewhere in the pool: the risk pool "
        "then uncommitted schemes, or the other way round; then money outside the pool (the partners, by their "
        "shares and caps).",
        json_schema_extra={"label": "An overspend is met first by"},
    )
    commissioner_contingency: float = bounded(
        0.01,
        0.0,
        0.2,
        "fraction",
        "What commissioners can find in a year to meet their side of an overspend, as a share of that year's budget. "
        "Assumption: 1%, the share of their allocation NHS England had CCGs hold back for non-recurrent use in 2016/17 "
        "and 2017/18 (HFMA 2017, How it works: the CCG allocation process); often committed elsewhere, so generous.",
        label="Commissioners' contingency a year",
    )


class Partner(Frozen):
    name: str = Field(min_length=1, max_length=80, description="The partner's name.")
    role: Role = Field(description="Full-risk partners carry losses; gain-share partners only gains; the others neither.")
    weight: float = bounded(..., 0.0, 1000.0, "weight", "The partner's share of gains (and, if full risk, of losses).")
    capacity_gbp_m: float | None = bounded(
        None,
        0.0,
        10_000.0,
        "£m",
        "Loss this partner can absorb; empty = its weight's share of the lead's reserves and guarantees.",
    )
    contribution_gbp_m: float | None = bounded(
        None,
        0.0,
        100_000.0,
        "£m a year",
        "What this partner puts into the pool each year (a section 75 pool's shares and caps follow it).",
        label="Contribution to the pool",
    )


class Lever(Frozen):
    effect: float = bounded(..., 0.0, 1.0, "fraction", "The lever's effect at full strength.")
    years_to_full: int = bounded(
        ..., 1, 15, "years", "Years until the lever reaches its full effect (slow start).", label="Years to full effect"
    )
    investment_gbp_m: float = bounded(
        ..., 0.0, 10_000.0, "£m a year", "Yearly investment while the lever ramps up.", label="Investment while ramping"
    )
    realisation_low: float = bounded(
        -0.3, -1.0, 1.5, "fraction", "Low end of the 80% interval of the share of the effect realised; below 0 adds activity."
    )
    realisation_high: float = bounded(1.0, -1.0, 1.5, "fraction", "High end of the 80% interval of the share realised.")
    group: str = listed(
        "everyone",
        "target_groups",
        "Who the site's programme reaches with this lever. The effect applies to that group's activity only, "
        "so each outcome moves by the group's share of it (older people: 45% of emergency admissions, 23% of A&E "
        "attendances, 62% of bed days, 85% of delayed transfers) and its saving by their share of the spend (62%); "
        "data/target_groups.csv gives each share's source.",
        label="Who the programme reaches",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Lever:
        _check_order(self, "realisation")
        return self


class Uncertainty(Frozen):
    demand_growth_low: float = bounded(
        -0.01, -0.05, 0.1, "fraction a year", "Low end of the 80% interval of demand growth above each line's default."
    )
    demand_growth_high: float = bounded(0.01, -0.05, 0.1, "fraction a year", "High end of that interval.")
    outcome_growth_low: float = bounded(
        -0.02,
        -0.1,
        0.1,
        "fraction a year",
        "Low end of the 80% interval of each outcome's local growth above its England rate; drawn with demand growth. "
        "Assumption: wide enough to hold the gap between vanguard (1.1-1.9%) and other areas' (3.2%) admission growth "
        "(NHS England 2017).",
    )
    outcome_growth_high: float = bounded(0.02, -0.1, 0.1, "fraction a year", "High end of that interval.")
    cost_error_low: float = bounded(
        -0.02,
        -0.5,
        1.0,
        "fraction",
        "Low end of the 80% interval of the true cost above the baseline (UnitingCare: understated).",
    )
    cost_error_high: float = bounded(0.02, -0.5, 1.0, "fraction", "High end of that interval.")
    measured_drift: float = bounded(
        0.071,
        0.0,
        0.3,
        "fraction a year",
        "Spread (sd) of the one-off yearly steps in measured outcomes that a place's own trend does not explain: "
        "changes in what is counted, catchment, coding. Calibrated: 7.1%, the part of NHS England's type 1 providers' "
        "yearly growth in A&E admissions (2016/17 to 2018/19) that does not persist into the next year "
        "(lib/calibration.py); provider-level, so an upper reading for a place. 0 = outcomes follow their trend only.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Uncertainty:
        for name in ("demand_growth", "outcome_growth", "cost_error"):
            _check_order(self, name)
        return self


def _check_order(model: BaseModel, name: str) -> None:
    low, high = getattr(model, f"{name}_low"), getattr(model, f"{name}_high")
    if low > high:
        raise ScenarioError(f"{name}_low", low, f"at most {name}_high ({high:g})")


def _default_partners() -> list[Partner]:
    return [Partner(name="Lead provider", role="full_risk", weight=1.0)]


class Scenario(Frozen):
    template: str = Field("blank", description="The vanguard template the scenario started from.")
    name: str = Field("Untitled scenario", min_length=1, max_length=120, description="The scenario's name.")
    population: int = bounded(
        250_000, 1_000, 20_000_000, "people", "People the model covers. Outcome rates are per 1,000 of them.", label="Population"
    )
    baseline: dict[str, MoneyGbpM] = Field(default_factory=dict, description="£m spent on each line in year 0")
    demand_growth: dict[str, Growth] = Field(default_factory=dict, description="each line's yearly demand growth")
    outcome_baseline: dict[str, PerThousand] = Field(
        default_factory=dict, description="each outcome's rate per 1,000 in year 0 (England's unless the place's own is given)"
    )
    outcome_growth: dict[str, OutcomeGrowth] = Field(
        default_factory=dict,
        description="each outcome's yearly growth per person with no change (England's unless the place's own is given)",
    )
    pooling: dict[str, Share] = Field(default_factory=dict, description="share of each line pooled into the contract")
    scope: list[str] = Field(default_factory=list, description="lines aligned in the model but not pooled")
    contract: Contract = Contract()
    lead: Lead = Lead()
    risk: Risk = Risk()
    partners: list[Partner] = Field(
        default_factory=_default_partners, min_length=1, max_length=12, description="partners inside the provider side"
    )
    levers: dict[str, Lever] = Field(default_factory=dict, description="the four transformation levers")
    uncertainty: Uncertainty = Uncertainty()
    sims: int = bounded(
        1000, 1, 20_000, "simulations", "More simulations give steadier percentiles and take longer.", label="Simulations"
    )
    seed: int = bounded(2016, 0, 2**32 - 1, "seed", "Same seed, same answer.")

    @field_validator("baseline", "demand_growth")
    @classmethod
    def _known_lines(cls, value: dict[str, float], info: Any) -> dict[str, float]:
        _check_keys(info.field_name, value, catalogue.current().line_ids)
        return value

    @model_validator(mode="before")
    @classmethod
    def _measures_added_since(cls, data: Any) -> Any:
        """A design saved before an outcome measure was added opens with that measure's rate where its
        template's era starts it (today's arrangements: a later year's), not the engine's fallback."""
        rates = data.get("outcome_baseline") if isinstance(data, dict) else None
        if not isinstance(rates, dict):
            return data
        cat = catalogue.current()
        missing = [m["id"] for m in cat.records["outcome_measures"] if m["id"] not in rates]
        if not missing:
            return data
        try:
            era = cat.template(data.get("template")).info["era"]
        except (catalogue.UnknownTemplateError, TypeError, KeyError):
            era = catalogue.ERA_VANGUARDS
        start = outcome_rates_at_start(cat, era)
        return {**data, "outcome_baseline": {**rates, **{m: start[m] for m in missing}}}

    @field_validator("outcome_baseline", "outcome_growth")
    @classmethod
    def _known_measures(cls, value: dict[str, float], info: Any) -> dict[str, float]:
        _check_keys(info.field_name, value, [m["id"] for m in catalogue.current().records["outcome_measures"]])
        return value

    @field_validator("pooling")
    @classmethod
    def _poolable_lines(cls, value: dict[str, float]) -> dict[str, float]:
        cat = catalogue.current()
        _check_keys("pooling", value, cat.line_ids)
        poolable = set(cat.poolable_line_ids)
        for line, share in value.items():
            if share > 0 and line not in poolable:
                raise ScenarioError(f"pooling.{line}", share, "0: this line is commissioned nationally and cannot be pooled")
        return value

    @field_validator("scope")
    @classmethod
    def _scope_lines(cls, value: list[str]) -> list[str]:
        _check_keys("scope", dict.fromkeys(value, 0), catalogue.current().line_ids)
        return sorted(set(value))

    @field_validator("levers")
    @classmethod
    def _known_levers(cls, value: dict[str, Lever]) -> dict[str, Lever]:
        ids = catalogue.current().lever_ids
        _check_keys("levers", value, ids)
        missing = [k for k in ids if k not in value]
        if missing:  # a lever left out is set to no effect, not dropped: every part of the model expects all four
            allowed = f"every lever given ({', '.join(ids)}); set effect 0 to leave one out"
            raise ScenarioError(f"levers.{missing[0]}", None, allowed)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        template_ids = catalogue.current().template_ids
        if self.template not in template_ids:
            raise ScenarioError("template", self.template, f"one of {', '.join(template_ids)}")
        if not any(p.role == "full_risk" and p.weight > 0 for p in self.partners):
            raise ScenarioError("partners", [p.name for p in self.partners], "at least one full_risk partner with weight > 0")
        if self.risk.partner_split == "contribution" or self.risk.cap_at_contribution:
            for i, p in enumerate(self.partners):
                if p.role in ("full_risk", "gain_share") and p.contribution_gbp_m is None:
                    raise ScenarioError(
                        f"partners.{i}.contribution_gbp_m", None,
                        "a contribution in £m a year from 0 to 100,000 for every partner that shares gains or losses "
                        "(risk.partner_split is contribution, or risk.cap_at_contribution is on)",
                    )  # fmt: skip
            if self.risk.partner_split == "contribution" and not any(
                p.role == "full_risk" and (p.contribution_gbp_m or 0) > 0 for p in self.partners
            ):
                raise ScenarioError("partners", [p.name for p in self.partners], "a full_risk partner contributing more than £0m")
        return self

    # ---- building and changing -------------------------------------------------------------

    @classmethod
    def from_template(cls, template_id: str) -> Scenario:
        """The preset scenario a template opens with."""
        cat = catalogue.current()
        tpl = cat.template(template_id)
        population = int(tpl.info["population"])
        poolable = set(cat.poolable_line_ids)
        levers = {
            row["id"]: {
                "effect": float(row["effect_default"]),
                "years_to_full": int(row["years_to_full_default"]),
                "investment_gbp_m": round(float(row["investment_gbp_per_head"]) * population / 1e6, 3),
                "realisation_low": float(row["realisation_low"]),
                "realisation_high": float(row["realisation_high"]),
                "group": "everyone",
            }
            for row in cat.records["levers"]
        }
        lines = tpl.lines.to_dict("records")
        data: dict[str, Any] = Scenario.model_construct(template=template_id).model_dump(mode="json")  # defaults, filled below
        data |= {
            "name": str(tpl.info["name"]),
            "population": population,
            "baseline": {r["line_id"]: float(r["baseline_gbp_m"]) for r in lines},
            "demand_growth": {r["id"]: float(r["demand_growth"]) for r in cat.records["service_lines"]},
            "outcome_baseline": outcome_rates_at_start(cat, tpl.info["era"]),
            "outcome_growth": {m["id"]: float(m["counterfactual_growth"]) for m in cat.records["outcome_measures"]},
            "pooling": {r["line_id"]: float(r["pooled_share"]) for r in lines if r["line_id"] in poolable},
            "scope": [r["line_id"] for r in lines if r["in_scope"] and r["pooled_share"] == 0],
            "levers": levers,
        }
        for path, value in tpl.presets.items():
            _set_path(data, path.split("."), value, path)
        return _validate(data)

    def with_value(self, path: str, value: Any) -> Scenario:
        """A copy with one field changed, e.g. with_value("risk.gain_share", 0.5)."""
        return self.with_values({path: value})

    def with_values(self, changes: dict[str, Any]) -> Scenario:
        data = self.to_dict()
        for path, value in changes.items():
            _set_path(data, path.split("."), value, path)
        return _validate(data)

    def get(self, path: str) -> Any:
        """The value at a field path, as it appears in the scenario's JSON."""
        node: Any = self
        for part in path.split("."):
            if isinstance(node, BaseModel):
                if part not in type(node).model_fields:
                    raise KeyError(path)
                node = getattr(node, part)
            elif isinstance(node, list):
                node = node[int(part)]
            else:
                node = node[part]
        if isinstance(node, BaseModel):
            return node.model_dump(mode="json")
        if isinstance(node, list):
            return [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in node]
        if isinstance(node, dict):
            return {k: v.model_dump(mode="json") if isinstance(v, BaseModel) else v for k, v in node.items()}
        return node

    # ---- serialising -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, so equal scenarios give equal strings (a cache key)."""
        return self._json

    @functools.cached_property
    def _json(self) -> str:  # written once: a scenario never changes, and a page asks for its key often
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Scenario:
        """A copy (pydantic's), without the JSON kept for the original: an update changes it."""
        copy = super().model_copy(update=update, deep=deep)
        copy.__dict__.pop("_json", None)
        return copy

    @classmethod
    def from_json(cls, text: str) -> Scenario:
        try:
            data = read_json(text)
        except ValueError as exc:
            raise ScenarioError("scenario", str(text)[:40], f"valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ScenarioError("scenario", str(text)[:40], "a JSON object of fields")
        return _validate(data)

    # ---- derived facts ---------------------------------------------------------------------

    @property
    def pooled_lines(self) -> dict[str, float]:
        return {line: share for line, share in self.pooling.items() if share > 0}

    def pooled_budget_gbp_m(self) -> float:
        """Year-0 pooled spend: the sum of each line's baseline times its pooled share."""
        return sum(self.baseline.get(line, 0.0) * share for line, share in self.pooled_lines.items())

    def partner_capacities_gbp_m(self) -> list[float]:
        """What each partner can bear: its own figure, or its full-risk share of the lead's (by what it
        shares losses by: `sharing_weights`)."""
        full = [w if p.role == "full_risk" else 0.0 for p, w in zip(self.partners, self.sharing_weights(), strict=True)]
        total = sum(full) or 1.0
        return [
            p.capacity_gbp_m if p.capacity_gbp_m is not None else self.lead.loss_capacity_gbp_m * w / total
            for p, w in zip(self.partners, full, strict=True)
        ]

    def sharing_weights(self) -> list[float]:
        """What each partner shares gains and losses by (risk.partner_split)."""
        return sharing_weights([p.weight for p in self.partners], [p.contribution_gbp_m for p in self.partners], self.risk)

    def is_pooled_fund(self) -> bool:
        """A section 75 pooled fund: partners pool their money under an agreement; there is no
        provider contract (no bid, withhold or procurement), and its sides are the pool's partners and
        money outside the pool."""
        return self.lead.form == "s75_pooled_fund"

    def approach(self) -> str:
        """NHS England's contracting approach the pooling choices amount to (a section 75 pool is
        not a contract with a provider, so it is named as what it is)."""
        if not self.pooled_lines:
            return "virtual"
        if self.is_pooled_fund():
            return "section 75 pooled fund"
        return "fully integrated" if self.pooling.get("core_primary", 0) > 0 else "partially integrated"


_usable: tuple[str, list[str], list[str]] | None = None


def sharing_weights(weights: list[float], contributions: list[float | None], risk: Risk) -> list[float]:
    """Partners' weights, or their contributions to the pool (none: 0) when a pool shares pro rata to them."""
    return [c or 0.0 for c in contributions] if risk.partner_split == "contribution" else list(weights)


def usable_templates() -> tuple[list[str], list[str]]:
    """The templates that open as valid scenarios, in order, and one sentence for each that does
    not (a custom template whose values are out of range; files the catalogue skipped). One bad
    custom template never stops the others, the app or the command line from loading."""
    global _usable
    cat = catalogue.current()
    if _usable is None or _usable[0] != cat.stamp:
        good, bad = [], list(cat.skipped)
        for tid in cat.template_ids:
            try:
                Scenario.from_template(tid)
            except (ScenarioError, ValueError, TypeError, KeyError, AttributeError) as exc:  # a bad file, whatever it holds
                bad.append(f"template {tid} skipped: {exc}")
            else:
                good.append(tid)
        _usable = (cat.stamp, good, bad)
    return list(_usable[1]), list(_usable[2])


def flatten(node: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every leaf field path of a scenario's JSON with its value (lists of models by index)."""
    if isinstance(node, dict) and node:
        return [item for key, value in node.items() for item in flatten(value, f"{prefix}{key}.")]
    if isinstance(node, list) and node and all(isinstance(v, dict) for v in node):
        return [item for i, value in enumerate(node) for item in flatten(value, f"{prefix}{i}.")]
    return [(prefix.rstrip("."), node)]


# ---- field metadata ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """What the model says about one field path: range, unit, help, default, choices."""

    path: str
    low: float | None
    high: float | None
    unit: str
    help: str
    default: Any
    nullable: bool
    choices: tuple[str, ...] | None
    length: tuple[int | None, int | None] | None
    text: bool
    integer: bool
    label: str = ""  # the one name every page shows the field by ("" : the page names it, e.g. a line's name)

    def allowed(self) -> str:
        """What is allowed, in words, for messages."""
        null = "null or " if self.nullable else ""
        if self.choices:
            return null + "one of " + ", ".join(self.choices)
        if self.low is not None or self.high is not None:
            return f"{null}a number from {_num(self.low)} to {_num(self.high)}"
        if self.length:
            low, high = self.length
            return f"text of {low or 0} to {high} characters" if self.text else f"a list of {low or 0} to {high} items"
        return ""


def field_spec(path: str) -> FieldSpec:
    """Walk the model along a dotted path (dict keys and list indexes included) to its field."""
    owner: Any = Scenario
    info: FieldInfo | None = None
    annotation: Any = None
    parts = path.split(".")
    i = 0
    while i < len(parts):
        if not (isinstance(owner, type) and issubclass(owner, BaseModel)) or parts[i] not in owner.model_fields:
            raise KeyError(path)
        info = owner.model_fields[parts[i]]
        annotation = info.annotation
        i += 1
        container = get_origin(annotation)
        if container in (dict, list) and i < len(parts):  # a key or an index: step into the value type
            annotation = get_args(annotation)[-1]
            i += 1
            if get_origin(annotation) is Annotated:
                annotation, info = get_args(annotation)[0], get_args(annotation)[1]
        owner = annotation
    assert info is not None
    return _spec_from(path, info, annotation)


def _spec_from(path: str, info: FieldInfo, annotation: Any) -> FieldSpec:
    low = high = None
    min_len = max_len = None
    for meta in info.metadata:
        low = getattr(meta, "ge", getattr(meta, "gt", low))
        high = getattr(meta, "le", getattr(meta, "lt", high))
        min_len = getattr(meta, "min_length", min_len)
        max_len = getattr(meta, "max_length", max_len)
    args = get_args(annotation)
    nullable = type(None) in args
    base = next((a for a in args if a is not type(None)), annotation) if nullable else annotation
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    choices = tuple(get_args(base)) if get_origin(base) is Literal else None
    if "choices_from" in extra:
        choices = tuple(r["id"] for r in catalogue.current().records[extra["choices_from"]])
    sized = (min_len, max_len) if (min_len, max_len) != (None, None) else None
    default = None if info.is_required() else info.get_default(call_default_factory=True)
    return FieldSpec(
        path,
        low,
        high,
        str(extra.get("unit", "")),
        info.description or "",
        default,
        nullable,
        choices,
        sized,
        base is str,
        base is int,
        str(extra.get("label", "")),
    )


def _num(value: float | None) -> str:
    if value is None:
        return "any"
    return f"{int(value):,}" if float(value).is_integer() and abs(value) >= 1000 else f"{value:g}"


def expand(scenario: Scenario, path: str) -> list[str]:
    """A path with a wildcard, one per key: `demand_growth.*` → every line, `levers.*.x` → every lever."""
    if "*" not in path:
        return [path]
    head, _, tail = path.partition(".*")
    return [f"{head}.{key}{tail}" for key in scenario.get(head)]


def within(path: str, value: float) -> float:
    """A computed value kept inside the field's allowed range (and whole where the field is)."""
    spec = field_spec(path)
    low = spec.low if spec.low is not None else value
    high = spec.high if spec.high is not None else value
    value = min(max(value, low), high)
    return round(value) if spec.integer else value


# ---- validation ---------------------------------------------------------------------------------


def outcome_rates_at_start(cat: catalogue.Catalogue, era: str) -> dict[str, float]:
    """England's rate of each outcome measure in a template's baseline year: today's templates take
    a later year's where data/outcome_measures.csv gives one."""
    rates = {}
    for m in cat.records["outcome_measures"]:
        today = m.get("baseline_today_per_1000")
        later = era == catalogue.ERA_TODAY and today is not None and today == today  # NaN: none given
        rates[m["id"]] = float(today if later else m["baseline_per_1000"])
    return rates


def _check_keys(field: str, value: dict, allowed: list[str]) -> None:
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        given = value[unknown[0]] if isinstance(value, dict) else unknown[0]
        if hasattr(given, "model_dump"):
            given = given.model_dump()
        raise ScenarioError(f"{field}.{unknown[0]}", given, f"a known id: {', '.join(allowed)}")


MAX_JSON_DEPTH = 32  # a scenario nests four deep; anything far deeper is not a scenario


def read_json(text: str | bytes) -> Any:
    """JSON text as Python values; ValueError (one line) for text that is not JSON, is nested past
    MAX_JSON_DEPTH or holds a number too large to be one."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{exc.msg} at character {exc.pos}") from None
    except RecursionError:
        raise ValueError(f"nested more than {MAX_JSON_DEPTH} levels deep") from None
    except (UnicodeDecodeError, TypeError) as exc:
        raise ValueError(f"not UTF-8 text ({exc.__class__.__name__})") from None
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"nested more than {MAX_JSON_DEPTH} levels deep")
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return value


def _set_path(data: dict, parts: list[str], value: Any, path: str) -> None:
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if not isinstance(node, dict | list):  # a path that runs on past a value: name.x, contract.years.x
            raise ScenarioError(path, value, "a known field path (see `python -m lib fields`)")
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError(path, value, f"an index from 0 to {len(node) - 1}")
            key: Any = int(part)
        else:
            key = part
            is_dict_field = depth == 1 and get_origin(Scenario.model_fields[parts[0]].annotation) is dict
            if key not in node and not (last and is_dict_field):
                raise ScenarioError(path, value, "a known field path (see `python -m lib fields`)")
        if last:
            node[key] = value
        else:
            node = node[key]


def _validate(data: dict) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ScenarioError:
        raise
    except ValidationError as exc:
        raise _as_scenario_error(exc) from None
    except RecursionError:
        raise ScenarioError("scenario", "…", f"a scenario, not values nested {MAX_JSON_DEPTH}+ levels deep") from None


def _as_scenario_error(exc: ValidationError) -> ScenarioError:
    err = exc.errors()[0]
    cause = (err.get("ctx") or {}).get("error")
    loc = [str(p) for p in err["loc"] if not str(p).startswith("function-")]
    if isinstance(cause, ScenarioError):
        if loc and not cause.field.startswith(loc[0]):
            return ScenarioError(".".join([*loc, cause.field]), cause.value, cause.allowed)
        return cause
    path = ".".join(loc) or "scenario"
    try:
        allowed = field_spec(path).allowed()
    except KeyError:
        allowed = ""
    return ScenarioError(path, err.get("input"), allowed or err.get("msg", "a valid value"))
