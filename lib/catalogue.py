"""The reference data: the text in data/ read into tidy tables, once per process, plus the
custom places analysts made from their own place's baseline (lib/places.py: a folder on one
machine, the store's places table when a server is configured; read again whenever they change,
so every process sees a new one).

The reference text is read from files, not a database, so a scenario can be checked anywhere.
Per-head spend is a stated assumption: a template's baseline for a line is population x per-head
spend, except where the seeds give the pooled budget, when the pooled lines are scaled to it
(docs/model.md, "Baseline").
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from lib import places
from lib.database import DATA_DIR

SENSITIVITY_COLUMNS = (
    "id", "label", "kind", "path", "low_path", "high_path", "low", "high", "pool_terms", "contract_terms", "reasoning",
)  # fmt: skip
CSV_TABLES = ("service_lines", "outcome_measures", "levers", "target_groups", "routes", "lead_types", "org_forms", "evidence")
SCHEMA_VERSION = "7"  # bump when the tables built from the text change shape


class UnknownTemplateError(ValueError):
    pass


@dataclass(frozen=True)
class Template:
    id: str
    info: dict
    lines: pd.DataFrame  # line_id, in_scope, pooled_share, baseline_gbp_m, baseline_source, scope_source
    facts: pd.DataFrame
    presets: dict[str, object]
    preset_sources: dict[str, str]


@dataclass(frozen=True)
class Catalogue:
    """Every reference table, and the stamp (a hash) of the text they were read from."""

    stamp: str
    tables: dict[str, pd.DataFrame]
    templates: dict[str, Template] = field(repr=False)
    records: dict[str, tuple[dict, ...]] = field(repr=False)  # rows as dicts, for the engine's loops
    stresses: tuple[dict, ...] = field(default=(), repr=False)  # data/stresses.yaml as written
    sensitivities: tuple[dict, ...] = field(default=(), repr=False)  # data/sensitivities.yaml as written
    dictionary: dict = field(default_factory=dict, repr=False)  # data/dictionary.yaml: group -> table -> column
    skipped: tuple[str, ...] = ()  # one sentence per custom template file that could not be read, and why
    shared_stamp: str = ""  # a hash of the reference files every design reads (all but the templates)

    def design_stamp(self, template_id: str) -> str:
        """The reference data one design uses: the shared files and its own template's definition, so
        adding or changing another place does not mark a design as saved under other data."""
        tpl = self.template(template_id)
        own = {"info": tpl.info, "lines": tpl.lines.to_dict("records"), "facts": tpl.facts.to_dict("records")}
        own |= {"presets": tpl.presets, "sources": tpl.preset_sources}
        digest = hashlib.sha256(self.shared_stamp.encode())
        digest.update(json.dumps(own, sort_keys=True, default=str).encode())
        return digest.hexdigest()[:16]

    def table(self, name: str) -> pd.DataFrame:
        return self.tables[name].copy()

    @property
    def line_ids(self) -> list[str]:
        return [row["id"] for row in self.records["service_lines"]]

    @property
    def poolable_line_ids(self) -> list[str]:
        return [row["id"] for row in self.records["service_lines"] if row["poolable"]]

    @property
    def lever_ids(self) -> list[str]:
        return [row["id"] for row in self.records["levers"]]

    def terms_for(self, path: str) -> list[tuple[str, str]]:
        """(term, meaning) of the glossary's entries that explain a field: a control's help reads
        them from data/glossary.yaml, the one place the words are defined."""
        return [(r["term"], r["meaning"]) for r in self.records["glossary"] if path in str(r["fields"]).split(";")]

    def group(self, group_id: str) -> dict:
        """A target group's row: its share of the spend and of each outcome measure's activity."""
        return next(row for row in self.records["target_groups"] if row["id"] == group_id)

    @property
    def template_ids(self) -> list[str]:
        return list(self.templates)

    def template(self, template_id: str) -> Template:
        if template_id not in self.templates:
            raise UnknownTemplateError(f"template: unknown id {template_id!r}; allowed: {', '.join(self.templates)}")
        return self.templates[template_id]

    def route_transaction_share(self, route_id: str) -> float:
        return next(float(r["transaction_cost_share"]) for r in self.records["routes"] if r["id"] == route_id)


CUSTOM_ID = re.compile(r"custom_[a-z0-9_]{1,60}")
ERA_VANGUARDS, ERA_TODAY, ERA_OWN = "vanguards", "today", "own"  # a template's `era` (data/templates.yaml)
ERA_NAMES = {ERA_VANGUARDS: "The vanguards, 2015–18", ERA_TODAY: "Today's arrangements", ERA_OWN: "Your own places"}
MAX_AMOUNT = 1e12  # far above any £m or head count; a number past it is a typing slip or an attack
CUSTOM_KEYS = {"id", "name", "site", "model", "care_model", "population", "lines", "lines_source", "facts", "headline"}


class CustomTemplateError(ValueError):
    """A custom template file that cannot be used (it is skipped, and the reason shown)."""


def _custom_templates(listing: places.Listing, lines: pd.DataFrame, taken: set[str]) -> tuple[list[dict], list[str]]:
    """Every readable custom place, each checked alone; one sentence for each one skipped."""
    found: list[dict] = []
    skipped = list(listing.skipped)
    for name, data in listing.entries:
        try:
            entry = _place_entry(data, lines, taken)
        except CustomTemplateError as exc:
            skipped.append(f"custom template {name} skipped: {exc}")
            continue
        taken.add(entry["id"])
        found.append(entry)
    return found, skipped


class _PlainYaml(yaml.SafeLoader):
    """YAML without anchors and aliases: a template never needs them, and they can make a small
    file unfold into billions of values, or into itself."""

    def compose_node(self, parent, index):  # noqa: ANN001, ANN201 - PyYAML's own signature
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("aliases (*name) are not allowed in a template")
        return super().compose_node(parent, index)


def _read_yaml(data: bytes) -> object:
    if len(data) > places.MAX_BYTES:
        raise CustomTemplateError(f"larger than {places.MAX_BYTES:,} bytes")
    try:
        return yaml.load(data.decode("utf-8"), Loader=_PlainYaml)  # noqa: S506 - a safe loader, aliases refused
    except (UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        raise CustomTemplateError(f"not readable YAML text ({type(exc).__name__})") from None


def check_custom(entry: object, lines: pd.DataFrame, taken: set[str] = frozenset()) -> dict:
    """A custom template's text, checked for shape: the fields the baseline upload writes, of the right
    kinds, text that is UTF-8 and printable, numbers finite and not negative. (The scenario checks
    each value's range when the template is opened.)"""
    if not isinstance(entry, dict):
        raise CustomTemplateError("not a template (a mapping of fields)")
    missing = sorted(CUSTOM_KEYS - set(entry))
    if missing:
        raise CustomTemplateError(f"missing {', '.join(missing)}")
    tid = entry["id"]
    if not isinstance(tid, str) or not CUSTOM_ID.fullmatch(tid):
        raise CustomTemplateError(f"its id must be custom_ then lower-case letters, digits or _ (not {str(tid)[:40]!r})")
    if tid in taken:
        raise CustomTemplateError(f"its id {tid} is already a template's")
    _check_leaves(entry, tid)
    for key in ("name", "site", "model", "care_model", "lines_source"):
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise CustomTemplateError(f"{key} must be text")
    population = entry["population"]
    if not isinstance(population, dict) or isinstance(population.get("value"), bool) or not isinstance(
        population.get("value"), int
    ):
        raise CustomTemplateError("population.value must be a whole number")
    _check_numbers(entry.get("lines") or {}, "lines")
    for line, given in (entry.get("baselines") or {}).items():
        if not isinstance(given, dict) or not isinstance(given.get("source"), str):
            raise CustomTemplateError(f"baselines.{line} must give gbp_m and its source")
        _check_numbers({"gbp_m": given.get("gbp_m")}, f"baselines.{line}")
    if "pooled_budget" in entry and entry["pooled_budget"] is not None:
        _check_numbers({"gbp_m": (entry["pooled_budget"] or {}).get("gbp_m")}, "pooled_budget")
    headline = entry["headline"]
    if not isinstance(headline, dict) or not all(isinstance(headline.get(k), str) for k in ("text", "source")):
        raise CustomTemplateError("headline must give its text and source")
    if not isinstance(entry["facts"], list) or not all(
        isinstance(f, dict) and all(isinstance(f.get(k), str) for k in ("id", "label", "value", "source")) for f in entry["facts"]
    ):
        raise CustomTemplateError("facts must be a list, each with its id, label, value and source as text")
    if not isinstance(entry.get("preset", {}), dict) or not all(
        isinstance(v, dict) and "value" in v and isinstance(v.get("source"), str) for v in entry.get("preset", {}).values()
    ):
        raise CustomTemplateError("preset must map field paths to their value and source")
    for key in ("lines", "baselines"):
        unknown = set(entry.get(key) or {}) - set(lines["id"])
        if unknown:
            raise CustomTemplateError(f"{key} names unknown service lines {sorted(unknown)[:3]}")
    return entry


def _place_entry(data: bytes, lines: pd.DataFrame, taken: set[str]) -> dict:
    """A custom place's text read, checked for shape and built on its own; CustomTemplateError says
    why not, whatever the text held."""
    try:
        entry = check_custom(_read_yaml(data), lines, taken)
        _template_tables([entry], lines)
    except CustomTemplateError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise CustomTemplateError(f"{type(exc).__name__}: {str(exc)[:120]}") from None
    return entry


def check_place(data: bytes) -> dict:
    """A custom place's text (as lib/places.py keeps it), read and checked as loading would check it."""
    cat = current()
    built_in = {tid for tid in cat.template_ids if not CUSTOM_ID.fullmatch(tid)}
    return _place_entry(data, cat.tables["service_lines"], built_in)


def _check_numbers(values: dict, where: str) -> None:
    """Amounts are numbers (true/false and text are not)."""
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CustomTemplateError(f"{where}.{key} must be a number, not {str(value)[:20]!r}")


def _check_leaves(node: object, where: str) -> None:
    """Every text in a template is printable UTF-8; every number is finite and not negative (growth excepted)."""
    stack = [(node, where)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, dict):
            if not all(isinstance(k, str) for k in item):
                raise CustomTemplateError(f"{at} has a key that is not text")
            stack.extend((v, f"{at}.{k}") for k, v in item.items())
            stack.extend((k, f"{at} (a key)") for k in item)
        elif isinstance(item, list):
            stack.extend((v, f"{at}.{i}") for i, v in enumerate(item))
        elif isinstance(item, str):
            if not printable(item, also="\n\t"):
                raise CustomTemplateError(f"{at} holds text that is not printable UTF-8")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int | float):
            if not -MAX_AMOUNT <= item <= MAX_AMOUNT or not math.isfinite(item) or (item < 0 and "demand_growth" not in at):
                raise CustomTemplateError(f"{at} = {str(item)[:20]} is not a finite amount from 0 to {MAX_AMOUNT:g}")
        else:
            raise CustomTemplateError(f"{at} holds a {type(item).__name__}, not text or a number")


def is_utf8(text: str) -> bool:
    """Text that can be written as UTF-8 (a lone surrogate cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(text: str, also: str = "") -> bool:
    """UTF-8 text of printable characters (and those in `also`): what a typed name or a template may hold."""
    return is_utf8(text) and all(ch.isprintable() or ch in also for ch in text)


def load(data_dir: Path = DATA_DIR, listing: places.Listing | None = None) -> Catalogue:
    """Read the reference text in `data_dir` (and the custom places, or the `listing` of them already
    read) into a catalogue."""
    tables = {name: pd.read_csv(data_dir / f"{name}.csv") for name in CSV_TABLES}
    tables["service_lines"]["poolable"] = tables["service_lines"]["poolable"].astype(bool)
    raw = yaml.safe_load((data_dir / "templates.yaml").read_text(encoding="utf-8"))
    listing = listing or places.listing()
    custom, skipped = _custom_templates(listing, tables["service_lines"], {t["id"] for t in raw})
    tables.update(_template_tables(raw + custom, tables["service_lines"]))
    glossary = yaml.safe_load((data_dir / "glossary.yaml").read_text(encoding="utf-8"))
    tables["glossary"] = pd.DataFrame(glossary, columns=["term", "group", "meaning", "source", "fields"]).fillna({"fields": ""})
    stresses = yaml.safe_load((data_dir / "stresses.yaml").read_text(encoding="utf-8"))
    tables["stresses"] = pd.DataFrame(
        [{k: s.get(k) for k in ("id", "name", "what", "source")} | {"changes": json.dumps(s["changes"])} for s in stresses]
    )
    register = yaml.safe_load((data_dir / "calibration.yaml").read_text(encoding="utf-8"))
    tables["calibration"] = pd.DataFrame(
        [{"parameter": r["parameter"], "where": r["where"], "set_by": ";".join(r["set_by"]), "how": r["how"],
          "informed_by": ";".join(r.get("informed_by", [])), "informed_how": r.get("informed_how", "")} for r in register]
    )
    sensitivities = yaml.safe_load((data_dir / "sensitivities.yaml").read_text(encoding="utf-8"))
    tables["sensitivities"] = pd.DataFrame(
        [{k: item.get(k) for k in SENSITIVITY_COLUMNS} for item in sensitivities]
    )  # fmt: skip
    whole, shared = stamps(data_dir, listing)  # one reading of the files for both
    return Catalogue(
        stamp=whole,
        shared_stamp=shared,
        tables=tables,
        templates={tid: _template(tables, tid) for tid in tables["templates"]["id"]},
        records={name: tuple(frame.to_dict("records")) for name, frame in tables.items()},
        stresses=tuple(stresses),
        sensitivities=tuple(sensitivities),
        dictionary=yaml.safe_load((data_dir / "dictionary.yaml").read_text(encoding="utf-8")),
        skipped=tuple(skipped),
    )


def stamps(data_dir: Path = DATA_DIR, listing: places.Listing | None = None) -> tuple[str, str]:
    """Two hashes from one reading of the reference text files and the schema version: of every file
    (custom places included), and of the files every design reads (the templates left out)."""
    whole, shared = hashlib.sha256(SCHEMA_VERSION.encode()), hashlib.sha256(SCHEMA_VERSION.encode())
    files = sorted(p for p in data_dir.glob("*") if p.is_file() and p.suffix in {".csv", ".yaml"})
    for path in files:
        text = path.read_bytes()
        for digest in (whole,) if path.name == "templates.yaml" else (whole, shared):
            digest.update(path.name.encode())
            digest.update(text)
    for name, data in (listing or places.listing()).entries:
        whole.update(name.encode())
        whole.update(data)
    return whole.hexdigest()[:16], shared.hexdigest()[:16]


_current: Catalogue | None = None
_custom_seen: tuple | None = None
_checked_at = 0.0
RECHECK_S = 0.5  # how stale the list of custom places may be (a page reruns many times a second)
UNREADABLE_RECHECK_S = 30.0  # places' server down: the places known stay, and pages do not wait on it every rerun
_lock = threading.Lock()


def refresh() -> None:
    """Look at the custom places on the next `current()` (after writing one)."""
    global _checked_at
    with _lock:
        _checked_at = 0.0


def current() -> Catalogue:
    """The catalogue of data/, read the first time it is asked for (restart to read edited text in
    data/), and read again when a custom place is added, changed or removed."""
    global _current, _custom_seen, _checked_at
    with _lock:
        now = time.monotonic()
        if _current is not None and now - _checked_at < RECHECK_S:
            return _current
        _checked_at = now
        seen = places.state()
        changed = _current is None or seen != _custom_seen
        listing = places.listing() if changed and (seen is not None or _current is None) else None
        if _current is not None and (seen is None or (listing is not None and listing.unreadable)):
            _checked_at = now + UNREADABLE_RECHECK_S - RECHECK_S  # the places' server is away: keep what is known
            return _current
        if listing is not None:  # an unreadable first read is tried again at the next look, not taken as "no places"
            _current, _custom_seen = load(listing=listing), (None if listing.unreadable else seen)
        return _current


def _template(tables: dict[str, pd.DataFrame], template_id: str) -> Template:
    def rows(name: str) -> pd.DataFrame:
        frame = tables[name]
        return frame[frame["template_id"] == template_id].reset_index(drop=True)

    presets = rows("template_presets")
    return Template(
        id=template_id,
        info=tables["templates"].set_index("id").loc[template_id].to_dict() | {"id": template_id},
        lines=rows("template_lines"),
        facts=rows("template_facts"),
        presets={p: json.loads(v) for p, v in zip(presets["path"], presets["value_json"], strict=True)},
        preset_sources=dict(zip(presets["path"], presets["source"], strict=True)),
    )


def _template_tables(raw: list[dict], lines: pd.DataFrame) -> dict[str, pd.DataFrame]:
    known_lines = set(lines["id"])
    per_head = dict(zip(lines["id"], lines["spend_per_head_gbp"], strict=True))
    templates, template_lines, facts, presets = [], [], [], []
    for order, tpl in enumerate(raw):
        tid = tpl["id"]
        unknown = set(tpl["lines"]) - known_lines
        if unknown:
            raise ValueError(f"template {tid}: unknown service lines {sorted(unknown)}")
        population = int(tpl["population"]["value"])
        budget = tpl.get("pooled_budget") or {}
        scale = _scale_to_pooled_budget(tpl["lines"], per_head, population, budget.get("gbp_m"))
        templates.append(
            {"id": tid, "ordering": order, **{k: tpl[k] for k in ("name", "site", "model", "care_model", "lines_source")}}
            | {"population": population, "population_source": tpl["population"]["source"]}
            | {f"pooled_budget_{k}": budget.get(k) for k in ("gbp_m", "year", "source")}
            | {"headline": tpl["headline"]["text"], "headline_source": tpl["headline"]["source"]}
            | {"era": tpl.get("era", ERA_OWN if CUSTOM_ID.fullmatch(tid) else ERA_VANGUARDS), "equivalent": tpl.get("equivalent")}
            | {"equivalent_because": tpl.get("equivalent_because")}
        )
        given = tpl.get("baselines", {})  # a place's own spend (custom templates)
        for line_id, head_gbp in per_head.items():
            share = tpl["lines"].get(line_id)
            line_scale = scale if share else 1.0
            basis = f"assumption: £{head_gbp:g} a head x {population:,} people"
            if line_scale != 1.0:
                basis = f"spend per head × people, scaled to its source's pooled budget ({line_scale:.1%}): {budget['source']}"
            baseline = round(head_gbp * population / 1e6 * line_scale, 3)
            if line_id in given:
                baseline, basis = float(given[line_id]["gbp_m"]), given[line_id]["source"]
            template_lines.append(
                {
                    "template_id": tid,
                    "line_id": line_id,
                    "in_scope": share is not None,
                    "pooled_share": float(share or 0.0),
                    "baseline_gbp_m": baseline,
                    "baseline_source": basis,
                    "scope_source": tpl["lines_source"] if share is not None else "not in the template's scope",
                }
            )
        for forder, fact in enumerate(tpl["facts"]):
            facts.append(
                {
                    "template_id": tid,
                    "ordering": forder,
                    "fact_id": fact["id"],
                    "label": fact["label"],
                    "value": str(fact["value"]),
                    "value_num": fact.get("value_num"),
                    "value_gbp_m": fact.get("value_gbp_m"),
                    "source": fact["source"],
                }
            )
        for path, entry in tpl.get("preset", {}).items():
            presets.append(
                {"template_id": tid, "path": path, "value_json": json.dumps(entry["value"]), "source": entry["source"]}
            )
    return {
        "templates": pd.DataFrame(templates),
        "template_lines": pd.DataFrame(template_lines),
        "template_facts": pd.DataFrame(facts),
        "template_presets": pd.DataFrame(presets),
    }


def _scale_to_pooled_budget(
    shares: dict[str, float], per_head: dict[str, float], population: int, target_gbp_m: float | None
) -> float:
    if target_gbp_m is None:
        return 1.0
    pooled = sum(share * per_head[line] * population / 1e6 for line, share in shares.items())
    return float(target_gbp_m) / pooled if pooled else 1.0
