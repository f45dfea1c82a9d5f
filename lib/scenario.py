"""The scenario: one validated, immutable description of a deal, built from a template.

Units: money in £m a year (names end in `_gbp_m`); shares, caps, collars, bands and withholds
are fractions (0.1 = 10%); contract years count from 1 (year 0 is the baseline year before
the contract starts, whose spend `baseline` holds).
"""

from __future__ import annotations

import json
from enum import Enum, StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lib import catalogue

Share = Annotated[float, Field(ge=0.0, le=1.0)]
MoneyGbpM = Annotated[float, Field(ge=0.0, le=100_000.0)]
Growth = Annotated[float, Field(ge=-0.1, le=0.2)]

# Allowed ranges of the values inside the dict-valued fields, for error messages.
DICT_VALUE_RANGES = {"pooling": (0.0, 1.0), "baseline": (0.0, 100_000.0), "demand_growth": (-0.1, 0.2)}


class ScenarioError(ValueError):
    """An invalid scenario value: names the field, the value and what is allowed."""

    def __init__(self, field: str, value: Any, allowed: str) -> None:
        self.field, self.value, self.allowed = field, value, allowed
        super().__init__(f"{field} = {json.dumps(value, default=str)} is not allowed: {allowed}")


class Route(StrEnum):
    most_capable_provider = "most_capable_provider"
    competitive_dialogue = "competitive_dialogue"
    competitive_tender = "competitive_tender"


class LeadType(StrEnum):
    foundation_trust = "foundation_trust"
    gp_federation = "gp_federation"
    gp_super_partnership = "gp_super_partnership"
    partnership = "partnership"
    private_partner = "private_partner"


class OrgForm(StrEnum):
    sub_contract = "sub_contract"
    contractual_jv = "contractual_jv"
    corporate_jv = "corporate_jv"
    merger = "merger"


class Role(StrEnum):
    full_risk = "full_risk"
    gain_share = "gain_share"
    consultative = "consultative"
    subcontractor = "subcontractor"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=True)


class Contract(Frozen):
    years: int = Field(10, ge=1, le=15, description="contract length in years")
    start_year: int = Field(2017, ge=2010, le=2040, description="calendar year in which contract year 1 starts")
    funding_growth: float = Field(0.035, ge=-0.05, le=0.15, description="yearly growth of commissioners' funding")
    bid_discount: float = Field(0.0, ge=0.0, le=0.5, description="winning bid below the maximum price")
    route: Route = Route.most_capable_provider
    transaction_cost: float | None = Field(
        None, ge=0.0, le=0.2, description="procurement cost in year 1, share of a year's pooled budget; null = route default"
    )


class Lead(Frozen):
    type: LeadType = LeadType.foundation_trust
    form: OrgForm = OrgForm.sub_contract
    reserves_gbp_m: float = Field(10.0, ge=0.0, le=10_000.0)
    guarantee_gbp_m: float = Field(0.0, ge=0.0, le=10_000.0)

    @property
    def loss_capacity_gbp_m(self) -> float:
        """What the provider side can lose before it fails: reserves plus guarantees."""
        return self.reserves_gbp_m + self.guarantee_gbp_m


class Risk(Frozen):
    gain_share: float = Field(0.5, ge=0.0, le=1.0)
    loss_share: float = Field(0.5, ge=0.0, le=1.0)
    neutral_band: float = Field(0.0, ge=0.0, le=0.2)
    cap: float | None = Field(None, ge=0.0, le=1.0)
    collar: float | None = Field(None, ge=0.0, le=1.0)
    beyond_cap: Literal["commissioner", "reinvest"] = "commissioner"
    withhold: float = Field(0.0, ge=0.0, le=0.5)
    withhold_target: float = Field(104.0, gt=100.0, le=150.0, description="outcome index that earns the whole withhold")
    quality_gate: float | None = Field(None, ge=50.0, le=150.0, description="outcome index below which no gain is paid")
    carry_forward: bool = False
    cover_years: int = Field(0, ge=0, le=15, description="opening years whose provider loss the commissioner covers")
    incentive_pot: float = Field(0.0, ge=0.0, le=0.1, description="share of aligned income earned by outcomes (CQUIN)")


class Partner(Frozen):
    name: str = Field(min_length=1, max_length=80)
    role: Role
    weight: float = Field(ge=0.0, le=1000.0)
    capacity_gbp_m: float | None = Field(None, ge=0.0, le=10_000.0)


class Lever(Frozen):
    effect: float = Field(ge=0.0, le=1.0)
    years_to_full: int = Field(ge=1, le=15)
    investment_gbp_m: float = Field(ge=0.0, le=10_000.0, description="yearly investment while the lever ramps up")
    realisation_low: float = Field(0.2, ge=0.0, le=1.5)
    realisation_high: float = Field(1.0, ge=0.0, le=1.5)

    @model_validator(mode="after")
    def _ordered(self) -> Lever:
        if self.realisation_low > self.realisation_high:
            raise ScenarioError("realisation_low", self.realisation_low, f"at most realisation_high ({self.realisation_high:g})")
        return self


class Uncertainty(Frozen):
    demand_growth_low: float = Field(-0.01, ge=-0.05, le=0.1)
    demand_growth_high: float = Field(0.01, ge=-0.05, le=0.1)
    cost_error_low: float = Field(-0.02, ge=-0.5, le=1.0)
    cost_error_high: float = Field(0.02, ge=-0.5, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> Uncertainty:
        for name in ("demand_growth", "cost_error"):
            low, high = getattr(self, f"{name}_low"), getattr(self, f"{name}_high")
            if low > high:
                raise ScenarioError(f"{name}_low", low, f"at most {name}_high ({high:g})")
        return self


def _default_partners() -> list[Partner]:
    return [Partner(name="Lead provider", role=Role.full_risk, weight=1.0)]


class Scenario(Frozen):
    template: str = "blank"
    name: str = Field("Untitled scenario", min_length=1, max_length=120)
    population: int = Field(250_000, ge=1_000, le=20_000_000)
    baseline: dict[str, MoneyGbpM] = Field(default_factory=dict, description="£m spent on each line in year 0")
    demand_growth: dict[str, Growth] = Field(default_factory=dict)
    pooling: dict[str, Share] = Field(default_factory=dict)
    scope: list[str] = Field(default_factory=list, description="lines aligned in the model but not pooled")
    contract: Contract = Contract()
    lead: Lead = Lead()
    risk: Risk = Risk()
    partners: list[Partner] = Field(default_factory=_default_partners, min_length=1, max_length=12)
    levers: dict[str, Lever] = Field(default_factory=dict)
    uncertainty: Uncertainty = Uncertainty()
    sims: int = Field(1000, ge=1, le=20_000)
    seed: int = Field(2016, ge=0, le=2**32 - 1)

    @field_validator("baseline", "demand_growth")
    @classmethod
    def _known_lines(cls, value: dict[str, float], info: Any) -> dict[str, float]:
        _check_keys(info.field_name, value, catalogue.line_ids())
        return value

    @field_validator("pooling")
    @classmethod
    def _poolable_lines(cls, value: dict[str, float]) -> dict[str, float]:
        _check_keys("pooling", value, catalogue.line_ids())
        poolable = set(catalogue.poolable_line_ids())
        for line, share in value.items():
            if share > 0 and line not in poolable:
                raise ScenarioError(f"pooling.{line}", share, "0: this line is commissioned nationally and cannot be pooled")
        return value

    @field_validator("scope")
    @classmethod
    def _scope_lines(cls, value: list[str]) -> list[str]:
        _check_keys("scope", dict.fromkeys(value, 0), catalogue.line_ids())
        return sorted(set(value))

    @field_validator("levers")
    @classmethod
    def _known_levers(cls, value: dict[str, Lever]) -> dict[str, Lever]:
        _check_keys("levers", value, catalogue.lever_ids())
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if self.template not in catalogue.template_ids():
            raise ScenarioError("template", self.template, f"one of {', '.join(catalogue.template_ids())}")
        if not any(p.role == Role.full_risk.value and p.weight > 0 for p in self.partners):
            raise ScenarioError("partners", [p.name for p in self.partners], "at least one full_risk partner with weight > 0")
        return self

    # ---- building and changing -------------------------------------------------------------

    @classmethod
    def from_template(cls, template_id: str) -> Scenario:
        """The preset scenario a template opens with."""
        tpl = catalogue.template(template_id)
        lines = tpl.lines
        population = int(tpl.info["population"])
        poolable = set(catalogue.poolable_line_ids())
        growth = catalogue.service_lines().set_index("id")["demand_growth"]
        levers = {
            row.id: {
                "effect": float(row.effect_default),
                "years_to_full": int(row.years_to_full_default),
                "investment_gbp_m": round(float(row.investment_gbp_per_head) * population / 1e6, 3),
                "realisation_low": float(row.realisation_low),
                "realisation_high": float(row.realisation_high),
            }
            for row in catalogue.levers().itertuples()
        }
        data: dict[str, Any] = Scenario(template=template_id).to_dict()
        data |= {
            "name": str(tpl.info["name"]),
            "population": population,
            "baseline": dict(zip(lines["line_id"], lines["baseline_gbp_m"].astype(float), strict=True)),
            "demand_growth": {k: float(v) for k, v in growth.items()},
            "pooling": {r.line_id: float(r.pooled_share) for r in lines.itertuples() if r.line_id in poolable},
            "scope": [r.line_id for r in lines.itertuples() if r.in_scope and r.pooled_share == 0],
            "levers": levers,
        }
        for path, value in tpl.presets.items():
            _set_path(data, path.split("."), value, path)
        return _validate(data)

    def with_value(self, path: str, value: Any) -> Scenario:
        """A copy with one field changed, e.g. with_value("risk.gain_share", 0.5)."""
        data = self.to_dict()
        _set_path(data, path.split("."), value, path)
        return _validate(data, path, value)

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
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Scenario:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScenarioError("scenario", text[:40], f"valid JSON ({exc.msg})") from exc
        return _validate(data)

    # ---- derived facts ---------------------------------------------------------------------

    @property
    def pooled_lines(self) -> dict[str, float]:
        return {line: share for line, share in self.pooling.items() if share > 0}

    def pooled_budget_gbp_m(self) -> float:
        """Year-0 pooled spend: the sum of each line's baseline times its pooled share."""
        return sum(self.baseline.get(line, 0.0) * share for line, share in self.pooled_lines.items())

    def partner_capacities_gbp_m(self) -> list[float]:
        """What each partner can bear: its own figure, or its full-risk weight's share of the lead's."""
        full = [p.weight if p.role == Role.full_risk.value else 0.0 for p in self.partners]
        total = sum(full) or 1.0
        return [
            p.capacity_gbp_m if p.capacity_gbp_m is not None else self.lead.loss_capacity_gbp_m * w / total
            for p, w in zip(self.partners, full, strict=True)
        ]

    def approach(self) -> str:
        """NHS England's contracting approach the pooling choices amount to."""
        if not self.pooled_lines:
            return "virtual"
        return "fully integrated" if self.pooling.get("core_primary", 0) > 0 else "partially integrated"


def _check_keys(field: str, value: dict, allowed: list[str]) -> None:
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        given = value[unknown[0]] if isinstance(value, dict) else unknown[0]
        if hasattr(given, "model_dump"):
            given = given.model_dump()
        raise ScenarioError(f"{field}.{unknown[0]}", given, f"a known id: {', '.join(allowed)}")


def _set_path(data: dict, parts: list[str], value: Any, path: str) -> None:
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError(path, value, f"an index from 0 to {len(node) - 1}")
            key: Any = int(part)
        else:
            key = part
            if key not in node and not (last and _is_dict_field(parts[:-1])):
                raise ScenarioError(path, value, "a known field path (see `python -m lib fields`)")
        if last:
            node[key] = value
        else:
            node = node[key]


def _is_dict_field(parent: list[str]) -> bool:
    return len(parent) == 1 and parent[0] in DICT_VALUE_RANGES


def _validate(data: dict, path: str | None = None, value: Any = None) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ScenarioError:
        raise
    except ValidationError as exc:
        raise _as_scenario_error(exc, data) from None


def _as_scenario_error(exc: ValidationError, data: dict) -> ScenarioError:
    err = exc.errors()[0]
    cause = (err.get("ctx") or {}).get("error")
    loc = [str(p) for p in err["loc"] if not str(p).startswith("function-")]
    if isinstance(cause, ScenarioError):
        if loc and not cause.field.startswith(loc[0]):
            return ScenarioError(".".join([*loc, cause.field]), cause.value, cause.allowed)
        return cause
    field = ".".join(loc) or "scenario"
    return ScenarioError(field, err.get("input"), _allowed(loc, err))


def _allowed(loc: list[str], err: dict) -> str:
    if len(loc) == 2 and loc[0] in DICT_VALUE_RANGES:
        low, high = DICT_VALUE_RANGES[loc[0]]
        return f"a number from {_num(low)} to {_num(high)}"
    model: Any = Scenario
    info = None
    skip_key = False
    for part in loc:
        if part.isdigit() or skip_key:
            skip_key = False
            continue
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            break
        info = fields[part]
        annotation = info.annotation
        skip_key = getattr(annotation, "__origin__", None) is dict
        inner = getattr(annotation, "__args__", (annotation,))
        model = next((a for a in (annotation, *inner) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            args = [getattr(a, "__args__", ()) for a in inner]
            model = next((a for group in args for a in group if isinstance(a, type) and issubclass(a, BaseModel)), None)
    bounds = _bounds(info) if info is not None else None
    if bounds:
        return bounds
    return err.get("msg", "a valid value")


def _bounds(info: Any) -> str | None:
    low = high = None
    for meta in info.metadata:
        low = getattr(meta, "ge", getattr(meta, "gt", low))
        high = getattr(meta, "le", getattr(meta, "lt", high))
    nullable = "null or " if type(None) in getattr(info.annotation, "__args__", ()) else ""
    annotation = info.annotation
    choices = getattr(annotation, "__args__", None)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "one of " + ", ".join(m.value for m in annotation)
    if choices and all(isinstance(c, str) for c in choices):
        return "one of " + ", ".join(choices)
    if low is not None or high is not None:
        return f"{nullable}a number from {_num(low)} to {_num(high)}"
    lengths = [(getattr(m, "min_length", None), getattr(m, "max_length", None)) for m in info.metadata]
    sized = [pair for pair in lengths if pair != (None, None)]
    if sized and annotation is str:
        return f"text of {sized[0][0] or 0} to {sized[-1][1]} characters"
    if sized:
        return f"a list of {sized[0][0] or 0} to {sized[-1][1]} items"
    return None


def _num(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() and abs(value) >= 1000 else f"{value:g}"
