"""Share links: any valid scenario survives the trip through a link, and no link, however
mangled, breaks the app."""

from __future__ import annotations

import base64
import json
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import catalogue, links
from lib.scenario import Scenario, ScenarioError, field_spec

# Fields a table is likely to move, each with values drawn inside its range.
FIELDS = [
    "risk.gain_share",
    "risk.loss_share",
    "risk.cap",
    "risk.collar",
    "risk.glide_years",
    "contract.years",
    "contract.funding_growth",
    "contract.funding_follows_population",
    "lead.reserves_gbp_m",
    "pooling.adult_social_care",
    "pooling.core_primary",
    "levers.prevention.effect",
    "uncertainty.cost_error_high",
    "sims",
]


@st.composite
def scenarios(draw):
    scenario = Scenario.from_template(draw(st.sampled_from(catalogue.current().template_ids)))
    for path in draw(st.lists(st.sampled_from(FIELDS), unique=True, max_size=6)):
        spec = field_spec(path)
        if spec.text or spec.choices:
            continue
        if isinstance(spec.default, bool) or path.endswith("follows_population"):
            value = draw(st.booleans())
        elif spec.integer:
            value = draw(st.integers(min_value=int(spec.low), max_value=int(spec.high)))
        else:
            value = draw(st.floats(min_value=spec.low, max_value=min(spec.high, 1e4), allow_nan=False))
        if spec.nullable and draw(st.booleans()):
            value = None
        try:
            scenario = scenario.with_value(path, value)
        except ScenarioError:
            pass  # e.g. a cost error above its interval's high end: keep the scenario as it was
    if draw(st.booleans()):
        partners = [
            *scenario.get("partners"),
            {"name": draw(st.text(min_size=1, max_size=20)), "role": "gain_share", "weight": 0.1, "contribution_gbp_m": 1.0},
        ]
        scenario = scenario.with_value("partners", partners)
    return scenario


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_any_scenario_survives_a_link(scenario):
    again, warnings = links.decode(links.encode(scenario))
    assert warnings == []
    assert again == scenario


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_no_text_breaks_the_reader(text):
    scenario, warnings = links.decode(text)
    assert isinstance(scenario, Scenario)


@settings(max_examples=100, deadline=None)
@given(scenarios(), st.integers(min_value=1, max_value=40), st.sampled_from(["cut", "flip"]))
def test_a_mangled_link_opens_the_nearest_scenario_and_says_so(scenario, where, how):
    link = links.encode(scenario)
    where = min(where, len(link) - 3)
    mangled = link[:-where] if how == "cut" else link[: -where - 1] + ("A" if link[-where - 1] != "A" else "B") + link[-where:]
    opened, warnings = links.decode(mangled)
    assert isinstance(opened, Scenario)
    assert opened == scenario or warnings


def test_a_link_holds_only_what_differs_from_its_template():
    dudley = Scenario.from_template("dudley")
    assert links.changes(dudley, dudley) == {}
    changed = dudley.with_values({"risk.gain_share": 0.7, "pooling.adult_social_care": 0.5})
    assert links.changes(changed, dudley) == {"risk.gain_share": 0.7, "pooling.adult_social_care": 0.5}
    assert len(links.encode(changed)) < 120


def test_parts_that_cannot_be_used_are_named_and_the_rest_is_kept():
    link = links.encode(Scenario.from_template("dudley").with_value("risk.gain_share", 0.7))
    mark = links.fingerprint(Scenario.from_template("dudley"))
    payload = {"t": "dudley", "f": mark, "c": {"risk.gain_share": 0.7, "risk.loss_share": 7, "risk.nope": 1}}
    forged = "1." + base64.urlsafe_b64encode(zlib.compress(json.dumps(payload).encode())).decode()
    opened, warnings = links.decode(forged)
    assert opened.risk.gain_share == 0.7 and opened.risk.loss_share == 0.5
    assert len(warnings) == 2 and any("risk.loss_share" in w for w in warnings) and any("risk.nope" in w for w in warnings)
    assert links.decode(link)[1] == []


@pytest.mark.parametrize("mark", [None, "00000000"])
def test_a_link_made_on_other_template_defaults_opens_and_says_so(mark):
    """A link holds only what differed from its template: made before the template changed (or
    before links carried its mark), it opens on today's defaults and says so, once."""
    payload = {"t": "salford", "c": {"contract.years": 7}} | ({"f": mark} if mark else {})
    old = "1." + base64.urlsafe_b64encode(zlib.compress(json.dumps(payload).encode())).decode()
    opened, warnings = links.decode(old)
    assert opened.contract.years == 7 and len(warnings) == 1
    assert warnings[0].startswith(links.TEMPLATE_CHANGED) and "Salford's default as it is now" in warnings[0]


@pytest.mark.parametrize("link", ["", "2.abc", "1.", "1.!!!!", "hello"])
def test_unreadable_links_open_salford_and_say_so(link):
    opened, warnings = links.decode(link)
    assert opened == Scenario.from_template("salford") and len(warnings) == 1


def test_a_damaged_link_keeps_a_pool_s_terms_that_are_valid_only_together():
    """A bad value sends the link's values one by one; a split by contribution comes before the
    contributions it needs, and is still kept once they are in."""
    salford = Scenario.from_template("salford")
    partners = salford.get("partners")
    for partner in partners:
        partner["contribution_gbp_m"] = 10.0
    values = {"risk.partner_split": "contribution", "risk.risk_pool_gbp_m": 2.0, "risk.gain_share": 7, "partners": partners}
    scenario, warnings = links._apply("salford", values, links.fingerprint(salford))
    assert scenario.risk.partner_split == "contribution" and scenario.risk.risk_pool_gbp_m == 2.0
    assert [p.contribution_gbp_m for p in scenario.partners] == [10.0] * len(partners)
    assert warnings == ["risk.gain_share was ignored: risk.gain_share = 7 is not allowed: a number from 0 to 1"]


def test_a_link_of_many_bad_values_is_read_in_a_few_passes(monkeypatch):
    """Made-up paths are ignored without validating a scenario for each; values at real paths are tried
    a few times at most; ten reasons are shown and the rest counted."""
    tried = []
    real = Scenario.with_value
    monkeypatch.setattr(Scenario, "with_value", lambda self, path, value: tried.append(path) or real(self, path, value))
    bad_values = {f"risk.loss_share_{i}": 0.5 for i in range(5000)} | {f"pooling.line_{i}": 0.0 for i in range(500)}
    values = bad_values | {"risk.gain_share": 7, "uncertainty.demand_growth_low": 9, "risk.loss_share": 0.2}
    scenario, warnings = links._apply("salford", values, links.fingerprint(Scenario.from_template("salford")))
    assert scenario.risk.loss_share == 0.2
    assert len(warnings) == 11 and warnings[-1] == "5,492 more of the link's values were ignored."
    assert len(tried) <= 4 * 3  # the three at real paths, a few passes and the reasons; none of the 5,500 made up


@pytest.mark.parametrize("template", ["dudley", "bcf_s75"])
def test_a_link_cut_short_anywhere_is_said_to_be_cut_short(template):
    """A link missing its last characters may still unpack to whole JSON (only the stream's checksum
    lost): it is still a damaged link, said so, never opened as if whole."""
    link = links.encode(Scenario.from_template(template))
    for cut in range(1, 16):
        scenario, warnings = links.decode(link[:-cut])
        assert warnings and "could not be read" in warnings[0], cut
