"""Share links: a scenario as a short, versioned text that travels in a URL.

A link holds the template and only the values that differ from it (a partners list that differs
travels whole), as JSON, compressed and base64url-encoded after a version prefix: `1.<data>`.
Reading a link never fails: a tampered, truncated or outdated one opens the nearest valid
scenario and says, part by part, what was ignored.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from typing import Any

from lib import catalogue
from lib.scenario import Scenario, ScenarioError, flatten, read_json, usable_templates

VERSION = "1"
DEFAULT_TEMPLATE = "salford"
MAX_LINK_CHARS = 20_000  # longer than any scenario needs; a bigger text is not read
TEMPLATE_CHANGED = "This link was made "  # how the warning that a template's defaults have changed begins
RETRY_PASSES = 3  # passes over a damaged link's values (see _apply)
MAX_PAYLOAD_BYTES = 200_000  # what a link may unpack to (a compressed text can unpack a thousandfold)


_templates_read: dict[int, tuple[Scenario, dict[str, Any], str]] = {}  # id -> (template, its values, fingerprint)


def _template_read(template: Scenario) -> tuple[dict[str, Any], str]:
    """A template's values by path and its fingerprint, worked out once per template object: a
    session's link is written on every move, against the same template (scenarios are immutable,
    and the template is held here, so its id is not reused while kept)."""
    held = _templates_read.get(id(template))
    if held is None or held[0] is not template:
        if len(_templates_read) >= 64:
            _templates_read.clear()
        values = template.to_dict()
        held = (template, dict(flatten(values)), hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:8])
        _templates_read[id(template)] = held
    return held[1], held[2]


def changes(scenario: Scenario, template: Scenario) -> dict[str, Any]:
    """The scenario's values that differ from its template's, by field path."""
    mine, theirs = dict(flatten(scenario.to_dict())), _template_read(template)[0]
    differ = {path: value for path, value in mine.items() if theirs.get(path, object()) != value}
    if scenario.partners != template.partners:  # a list that grew or shrank travels whole
        differ = {p: v for p, v in differ.items() if not p.startswith("partners.")} | {"partners": scenario.get("partners")}
    return differ


def fingerprint(template: Scenario) -> str:
    """A short mark of a template's defaults: a link carries it, so that a link made before the
    template changed says so when opened (it holds only what differed from the defaults then)."""
    return _template_read(template)[1]


def encode(scenario: Scenario, template: Scenario | None = None) -> str:
    template = template or Scenario.from_template(scenario.template)
    held = {"t": scenario.template, "f": fingerprint(template), "c": changes(scenario, template)}
    payload = json.dumps(held, separators=(",", ":"))
    return f"{VERSION}.{base64.urlsafe_b64encode(zlib.compress(payload.encode(), 9)).decode().rstrip('=')}"


def decode(link: str) -> tuple[Scenario, list[str]]:
    """The scenario a link holds, and a warning for each part of it that could not be used."""
    try:
        version, _, data = str(link).strip().partition(".")
        if version != VERSION:
            raise ValueError(f"it is of version {version[:10]!r}, not {VERSION}")
        if len(data) > MAX_LINK_CHARS:
            raise ValueError("it is too long")
        inflate = zlib.decompressobj()
        raw = inflate.decompress(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)), MAX_PAYLOAD_BYTES)
        if inflate.unconsumed_tail:
            raise ValueError("it is too long")
        if not inflate.eof:  # the stream's end (and its checksum) is missing: the link was cut short
            raise ValueError("it is damaged or cut short")
        payload = read_json(raw)
        if not isinstance(payload, dict) or not isinstance(payload.get("c", {}), dict):
            raise ValueError("it does not hold a scenario")
    except (ValueError, TypeError, zlib.error, UnicodeDecodeError) as exc:
        why = str(exc) if str(exc).startswith(("it ", "nested")) else "it is damaged or cut short"
        return Scenario.from_template(DEFAULT_TEMPLATE), [f"The link could not be read ({why}); the Salford template opened."]
    return _apply(payload.get("t"), payload.get("c", {}), payload.get("f"))


def _apply(template_id: Any, values: dict[str, Any], made_on: Any = None) -> tuple[Scenario, list[str]]:
    warnings = []
    if template_id not in usable_templates()[0]:
        warnings.append(f"template {str(template_id)[:40]!r} is not known; the Salford template opened instead")
        template_id = DEFAULT_TEMPLATE
    scenario = Scenario.from_template(template_id)
    if not warnings and made_on != fingerprint(scenario):
        name = catalogue.current().template(template_id).info["name"]
        when = "before links carried the template's defaults" if made_on is None else "when the template's defaults differed"
        warnings.append(
            f"{TEMPLATE_CHANGED}{when}: it holds only what differed from them then, so anything else is {name}'s default "
            "as it is now. Compare with the Evidence page's list of what the template sets, or save designs to keep them whole"
        )
    # Only the template's own field paths (and a partners list, which travels whole) can hold a design's
    # values: any other is said to be ignored without validating a scenario for it (a hostile link of
    # thousands of made-up keys took 13 s to read, each tried as a whole scenario four times).
    known = set(_template_read(scenario)[0]) | {"partners"}
    unknown = [path for path in values if str(path) not in known]
    values = {path: value for path, value in values.items() if str(path) in known}
    said = [f"{str(path)[:60]} was ignored: not a field of the scenario" for path in unknown]
    try:  # all at once first (values that are only valid together), else one by one
        return scenario.with_values(values), warnings + _at_most(said)
    except (ScenarioError, TypeError, ValueError, AttributeError):
        pass
    # A value valid only beside another (a pool's split by contribution and the partners' contributions)
    # may be refused before that other is in: values refused are tried again after a pass that took
    # some, a few passes at most, so a link of many bad values costs a few tries of each.
    pending = dict(values)
    for _ in range(RETRY_PASSES):
        taken = []
        for path, value in pending.items():
            try:
                scenario = scenario.with_value(str(path), value)
            except (ScenarioError, TypeError, ValueError, AttributeError, IndexError, KeyError):
                continue
            taken.append(path)
        for path in taken:
            del pending[path]
        if not taken or not pending:
            break
    for path, value in pending.items():  # what could not be used, and why
        try:
            scenario.with_value(str(path), value)
        except ScenarioError as exc:
            said.append(f"{str(path)[:60]} was ignored: {exc}")
        except (TypeError, ValueError, AttributeError, IndexError, KeyError):
            said.append(f"{str(path)[:60]} was ignored: not a field of the scenario")
    return scenario, warnings + _at_most(said)


MAX_WARNINGS = 10  # a damaged link's warnings shown one by one; the rest are counted


def _at_most(said: list[str]) -> list[str]:
    if len(said) <= MAX_WARNINGS:
        return said
    return [*said[:MAX_WARNINGS], f"{len(said) - MAX_WARNINGS:,} more of the link's values were ignored."]
