"""A place's own baseline: every bad row or column named, missing lines filled and marked, and the
custom template used like the built-in ones."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lib import baseline, catalogue, export, results
from lib.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent
GOOD = b"line_id,spend_gbp_m,demand_growth\nacute_emergency,61.2,0.05\ncommunity_health,40\n"


def test_a_good_file_fills_missing_lines_and_marks_them():
    made = baseline.read(GOOD, "Testshire", 300_000)
    assert made.spend_gbp_m["acute_emergency"] == 61.2 and made.demand_growth == {"acute_emergency": 0.05}
    per_head = {r["id"]: r["spend_per_head_gbp"] for r in catalogue.current().records["service_lines"]}
    assert "acute_emergency" not in made.filled and "prescribing" in made.filled
    assert made.spend_gbp_m["prescribing"] == pytest.approx(per_head["prescribing"] * 300_000 / 1e6)


BAD = {
    "unknown line": (b"line_id,spend_gbp_m\nhospital,5\n", "Row 2: unknown service line 'hospital'"),
    "negative": (b"line_id,spend_gbp_m\nacute_emergency,-3\n", "Row 2: spend for acute_emergency is negative"),
    "not a number": (b"line_id,spend_gbp_m\nacute_emergency,lots\n", "is not a number ('lots')"),
    "duplicate": (b"line_id,spend_gbp_m\nurgent_care,1\nurgent_care,2\n", "Row 3: urgent_care appears twice"),
    "growth": (b"line_id,spend_gbp_m,demand_growth\nurgent_care,1,4\n", "demand growth for urgent_care must be a fraction"),
    "columns": (b"line,amount\nurgent_care,1\n", "Column missing: the header needs 'spend_gbp_m'"),
    "encoding": ("line_id,spend_gbp_m\nurgent_care,£1\n".encode("utf-16"), "not UTF-8"),
    "too large": (b"line_id,spend_gbp_m\n" + b"urgent_care,1\n" * 20_000, "at most 200,000"),
    "formula": (b'line_id,spend_gbp_m\n=HYPERLINK("x"),=1+1\n', "unknown service line '=HYPERLINK(\"x\")'"),
    "empty": (b"", "The file is empty"),
}


@pytest.mark.parametrize("case", BAD)
def test_each_bad_file_is_refused_with_one_message_per_problem(case):
    data, message = BAD[case]
    with pytest.raises(baseline.BaselineError) as caught:
        baseline.read(data, "Testshire", 300_000)
    assert any(message in problem for problem in caught.value.problems), caught.value.problems


def test_several_bad_rows_are_all_named():
    data = b"line_id,spend_gbp_m\nnope,1\nacute_emergency,-1\ncommunity_health,x\n"
    with pytest.raises(baseline.BaselineError) as caught:
        baseline.read(data, "", 500)
    rows = caught.value.problems
    assert len(rows) == 2  # the name and the population first; rows are read once those are right
    with pytest.raises(baseline.BaselineError) as caught:
        baseline.read(data, "Testshire", 300_000)
    assert [p.split(":")[0] for p in caught.value.problems] == ["Row 2", "Row 3", "Row 4"]


def test_the_custom_template_works_like_a_built_in_one(own_templates):
    template_id = baseline.save(baseline.read(GOOD, "Testshire <b>", 300_000))
    assert template_id == "custom_testshire_b" and template_id in catalogue.current().template_ids
    scenario = Scenario.from_template(template_id)
    assert scenario.baseline["acute_emergency"] == 61.2 and scenario.demand_growth["acute_emergency"] == 0.05
    assert scenario.population == 300_000 and scenario.name == "Testshire <b>"
    run = results.project(scenario.with_value("sims", 200))
    assert 0 <= run.headline()["failure"] <= 1
    assert "Testshire &lt;b&gt;" in export.board_pack(run)  # shown as text
    done = subprocess.run(
        [sys.executable, "-m", "lib", "project", "--template", template_id, "--sims", "100"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=os.environ | {"CARELAB_TEMPLATES_DIR": str(own_templates)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["scenario"]["baseline"]["acute_emergency"] == 61.2


def test_the_example_file_reads_back_whole():
    made = baseline.read(baseline.example_csv().encode(), "Example", 250_000)
    assert made.filled == [] and len(made.spend_gbp_m) == len(catalogue.current().line_ids)
