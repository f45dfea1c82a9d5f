"""A place's own baseline: a CSV of spend by service line (and, if known, demand growth), checked
line by line and saved as a custom template that behaves like the built-in ones.

The file: a header row, then one row per service line, and if known a row per outcome measure
with the place's own rate per 1,000 in year 0 (England's is used for any left out; care-home admissions are
per 1,000 people aged 65 and over, ASCOF 2C's rate per 100,000 divided by 100):
  line_id,spend_gbp_m,demand_growth,rate_per_1000
  acute_emergency,61.2,0.04,
  emergency_admissions,,,98.5
Lines left out are filled from national spend per head times the place's population, and say so.
Cells are only ever read as text or numbers: a cell that looks like a spreadsheet formula is
reported (or kept) as text, never evaluated.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field

import yaml

from lib import catalogue, database, places
from lib.scenario import Scenario, ScenarioError, field_spec

MAX_BYTES = 200_000
LINE_COLUMNS = ("line_id", "service_line", "service line id", "line")
SPEND_COLUMNS = ("spend_gbp_m", "spend", "spend £m")
GROWTH_COLUMNS = ("demand_growth", "growth")
RATE_COLUMNS = ("rate_per_1000", "rate")  # an outcome measure's own rate in year 0, on its own row
PREFIX = "custom_"
FILLED = "not in the upload: filled from national spend per head x population"


class BaselineError(ValueError):
    """The upload cannot be used; `problems` holds one message per bad row or column."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Baseline:
    name: str
    population: int
    spend_gbp_m: dict[str, float]  # every service line
    demand_growth: dict[str, float]  # only the lines the file gave
    filled: list[str]  # lines filled from per-head national spend
    outcome_rates: dict[str, float] = field(default_factory=dict)  # per 1,000 in year 0, only the measures the file gave

    @property
    def template_id(self) -> str:
        return template_id(self.name)


def template_id(name: str) -> str:
    """The id a place's name is saved under: its letters and digits, or "place", then a short hash
    of the whole name when anything was lost on the way ("日本語", "!!!" and "Keep-Place" each
    get an id of their own; "Keep Place" keeps the plain custom_keep_place)."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:40] or "place"
    if slug.replace("_", " ") == name.lower().strip():
        return PREFIX + slug
    return f"{PREFIX}{slug}_{hashlib.sha256(name.encode('utf-8')).hexdigest()[:8]}"


class PlaceExists(BaselineError):
    """A place of this name is already saved: replacing it must be asked for."""

    def __init__(self, name: str) -> None:
        super().__init__([f"A place called {name!r} is already saved: choose another name, or replace it."])


def example_csv() -> str:
    """An example file: every line at national spend per head for 250,000 people."""
    lines = catalogue.current().records["service_lines"]
    rows = ["line_id,spend_gbp_m,demand_growth"]
    rows += [f"{r['id']},{r['spend_per_head_gbp'] * 250_000 / 1e6:.2f},{r['demand_growth']}" for r in lines]
    return "\n".join(rows) + "\n"


def read(data: bytes, name: str, population: int) -> Baseline:
    """Check an uploaded file; BaselineError lists every problem found (row numbers count the header as 1)."""
    problems: list[str] = []
    name = name.strip()
    if not 1 <= len(name) <= 80:
        problems.append("Place name: give 1 to 80 characters.")
    elif not catalogue.printable(name):
        problems.append("Place name: use letters, digits, spaces and punctuation (no control or unpaired characters).")
    pop = field_spec("population")
    if not pop.low <= population <= pop.high:
        problems.append(f"Population: {population:,} is outside {pop.low:,.0f} to {pop.high:,.0f}.")
    if len(data) > MAX_BYTES:
        raise BaselineError([*problems, f"The file is {len(data):,} bytes; at most {MAX_BYTES:,} (one row per service line)."])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BaselineError([*problems, "The file is not UTF-8 text: save it as 'CSV UTF-8' and upload it again."]) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # Windows and old Mac line ends alike
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise BaselineError([*problems, f"The file is not a CSV this can read ({exc}); save it as 'CSV UTF-8'."]) from None
    if not rows:
        raise BaselineError([*problems, "The file is empty: it needs a header row and one row per service line."])
    header = [h.strip().lower() for h in rows[0]]
    wanted = (("line", LINE_COLUMNS), ("spend", SPEND_COLUMNS), ("growth", GROWTH_COLUMNS), ("rate", RATE_COLUMNS))
    columns = {key: _column(header, names) for key, names in wanted}
    for key, names in (("line", LINE_COLUMNS), ("spend", SPEND_COLUMNS)):
        if columns[key] is None:
            problems.append(f"Column missing: the header needs {names[0]!r} (found: {', '.join(header) or 'nothing'}).")
    if problems:
        raise BaselineError(problems)
    measures = {m["id"] for m in catalogue.current().records["outcome_measures"]}
    numbered = list(enumerate(rows[1:], start=2))  # row numbers count the header as 1
    rates = _rates([(n, r) for n, r in numbered if _is_measure_row(r, columns, measures)], columns, problems)
    spend, growth = _rows([(n, r) for n, r in numbered if not _is_measure_row(r, columns, measures)], columns, problems)
    if problems:
        raise BaselineError(problems)
    lines = catalogue.current().records["service_lines"]
    filled = [r["id"] for r in lines if r["id"] not in spend]
    for r in lines:
        spend.setdefault(r["id"], round(r["spend_per_head_gbp"] * population / 1e6, 3))
    return Baseline(name, population, spend, growth, filled, rates)


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    return next((header.index(n) for n in names if n in header), None)


def _cell(row: list[str], columns: dict[str, int | None], key: str) -> str:
    index = columns[key]
    return row[index].strip() if index is not None and index < len(row) else ""


def _is_measure_row(row: list[str], columns: dict[str, int | None], measures: set[str]) -> bool:
    return _cell(row, columns, "line") in measures


def _rates(rows: list[tuple[int, list[str]]], columns: dict[str, int | None], problems: list[str]) -> dict[str, float]:
    """The place's own outcome rates: rows naming an outcome measure, with rate_per_1000."""
    spec = field_spec("outcome_baseline.emergency_admissions")
    rates: dict[str, float] = {}
    for number, row in rows:
        measure, given = _cell(row, columns, "line"), _cell(row, columns, "rate")
        if columns["rate"] is None:
            problems.append(f"Row {number}: {measure} is an outcome measure: give its rate in a column 'rate_per_1000'.")
            continue
        if measure in rates:
            problems.append(f"Row {number}: {measure} appears twice; give each outcome measure once.")
            continue
        value = _number(given)
        if value is None or not spec.low < value <= spec.high:
            problems.append(
                f"Row {number}: the rate for {measure} must be per 1,000 people a year, more than {spec.low:g} and at most "
                f"{spec.high:,.0f}, not {given!r}."
            )
            continue
        rates[measure] = value
    return rates


def _rows(rows: list[tuple[int, list[str]]], columns: dict[str, int | None], problems: list[str]) -> tuple[dict, dict]:
    known = set(catalogue.current().line_ids)
    growth_spec = field_spec("demand_growth.acute_emergency")
    spend_spec = field_spec("baseline.acute_emergency")
    spend: dict[str, float] = {}
    growth: dict[str, float] = {}
    for number, row in rows:
        if not any(cell.strip() for cell in row):
            continue

        def cell(key: str, row: list[str] = row) -> str:
            return _cell(row, columns, key)

        line = cell("line")
        if line not in known:
            measures = ", ".join(m["id"] for m in catalogue.current().records["outcome_measures"])
            problems.append(
                f"Row {number}: unknown service line {line!r}; known: {', '.join(sorted(known))} "
                f"(or an outcome measure, with its rate_per_1000: {measures})."
            )
            continue
        if line in spend:
            problems.append(f"Row {number}: {line} appears twice; give each service line once.")
            continue
        value = _number(cell("spend"))
        if value is None:
            problems.append(f"Row {number}: spend for {line} is not a number ({cell('spend')!r}); give £m, e.g. 61.2.")
            continue
        if not spend_spec.low <= value <= spend_spec.high:
            problems.append(
                f"Row {number}: spend for {line} must be £m a year from {spend_spec.low:g} to {spend_spec.high:,.0f}, "
                f"not {value:g}."
            )
            continue
        spend[line] = value
        if cell("growth"):
            rate = _number(cell("growth"))
            if rate is None or not growth_spec.low <= rate <= growth_spec.high:
                problems.append(
                    f"Row {number}: demand growth for {line} must be a fraction a year from {growth_spec.low:g} to "
                    f"{growth_spec.high:g} (0.04 = 4%), not {cell('growth')!r}."
                )
            else:
                growth[line] = rate
    return spend, growth


def _number(text: str) -> float | None:
    try:
        value = float(text.replace(",", "").replace("£", ""))
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None  # no NaN or infinity


def _saved_name(data: bytes) -> str | None:
    """The place name a custom place's text holds (None if it cannot be read)."""
    try:
        entry = yaml.safe_load(data.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError):
        return None
    return entry.get("name") if isinstance(entry, dict) else None


def save(baseline: Baseline, replace: bool = False) -> str:
    """Write the custom template and return its id. A place already saved under the same name is
    replaced only when `replace`; a template that does not open leaves the folder as it was."""
    tid = baseline.template_id
    blank = catalogue.current().template("blank")  # the scope and terms a blank place starts with
    in_scope = blank.lines[blank.lines["in_scope"]]
    source = f"{baseline.name}'s own baseline (uploaded)"
    total = sum(baseline.spend_gbp_m.values())
    entry = {
        "id": tid,
        "name": baseline.name,
        "site": baseline.name,
        "model": "Your design on your own baseline",
        "care_model": "Your design",
        "population": {"value": baseline.population, "source": source},
        "lines": {row.line_id: float(row.pooled_share) for row in in_scope.itertuples()},
        "lines_source": blank.info["lines_source"],
        "baselines": {
            line: {"gbp_m": value, "source": FILLED if line in baseline.filled else source}
            for line, value in baseline.spend_gbp_m.items()
        },
        "facts": [{"id": "scope", "label": "Baseline", "value": f"Uploaded for {baseline.name}", "source": source}],
        "headline": {"text": f"Your own baseline: £{total:,.1f}m across the place", "source": source},
        "preset": {path: {"value": value, "source": blank.preset_sources[path]} for path, value in blank.presets.items()}
        | {f"demand_growth.{line}": {"value": rate, "source": source} for line, rate in baseline.demand_growth.items()}
        | {f"outcome_baseline.{m}": {"value": rate, "source": source} for m, rate in baseline.outcome_rates.items()},
    }
    try:
        catalogue.check_custom(entry, catalogue.current().tables["service_lines"])
    except catalogue.CustomTemplateError as exc:
        raise BaselineError([f"The template could not be built: {exc}"]) from None
    data = yaml.safe_dump(entry, sort_keys=False, allow_unicode=True).encode("utf-8")

    def may_write(before: bytes | None) -> None:
        if before is not None and _saved_name(before) != baseline.name:
            raise BaselineError([f"The template id {tid} is taken by another place; rename the place and upload it again."])
        if before is not None and not replace:
            raise PlaceExists(baseline.name)

    try:  # two uploads at once take turns: neither overwrites the other unasked
        before = places.replace(tid, data, may_write)
    except (places.PlaceError, database.DatabaseError) as exc:
        raise BaselineError([str(exc)]) from None
    try:
        opens_or_put_back(tid, before, data)  # the place saved before is kept, as it was
    except (ScenarioError, catalogue.UnknownTemplateError) as exc:
        raise BaselineError([f"The template could not be built: {exc}"]) from None
    return tid


def opens_or_put_back(tid: str, before: bytes | None, written: bytes) -> None:
    """After `written` was stored as place `tid`: it opens as a design (every value in its field's
    range), or what the place held `before` is put back and the reason raised (ScenarioError, or
    UnknownTemplateError when the catalogue could not use it at all)."""
    catalogue.refresh()
    try:
        Scenario.from_template(tid)
    except (ScenarioError, catalogue.UnknownTemplateError):
        places.put_back(tid, before, written)
        catalogue.refresh()
        raise
