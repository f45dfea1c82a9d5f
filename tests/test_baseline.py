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
    "negative": (b"line_id,spend_gbp_m\nacute_emergency,-3\n", "Row 2: spend for acute_emergency must be £m a year from 0"),
    "too big": (b"line_id,spend_gbp_m\nacute_emergency,1e308\n", "to 100,000, not 1e+308"),
    "a cell too long": (b"line_id,spend_gbp_m\nacute_emergency,1" + b"0" * 140_000 + b"\n", "is not a CSV this can read"),
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
    assert template_id.startswith("custom_testshire_b_") and template_id in catalogue.current().template_ids
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


def cli_templates(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lib", "templates"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=os.environ | {"CARELAB_TEMPLATES_DIR": str(folder)},
    )  # fmt: skip


def test_a_name_with_a_lone_surrogate_is_refused_and_leaves_nothing_behind(own_templates):
    with pytest.raises(baseline.BaselineError, match="Place name"):
        baseline.read(GOOD, "a\ud800b", 300_000)
    with pytest.raises(baseline.BaselineError, match="Place name"):
        baseline.read(GOOD, "tab\there", 300_000)
    assert not own_templates.exists() or not list(own_templates.iterdir())


BROKEN_FILES = {
    "not_yaml.yaml": "id: [unclosed\n",
    "a_list.yaml": "- 1\n- 2\n",
    "wrong_id.yaml": "id: salford\nname: x\n",
}


def test_one_bad_custom_template_never_stops_the_others_or_the_command_line(own_templates):
    good = baseline.save(baseline.read(GOOD, "Goodshire", 300_000))
    own_templates.mkdir(exist_ok=True)
    for name, text in BROKEN_FILES.items():
        (own_templates / name).write_text(text, encoding="utf-8")
    # a whole template whose spend is out of the model's range (edited by hand after upload)
    text = (own_templates / f"{good}.yaml").read_text(encoding="utf-8")
    (own_templates / "custom_huge.yaml").write_text(
        text.replace(f"id: {good}", "id: custom_huge").replace("name: Goodshire", "name: Huge")
        .replace("gbp_m: 61.2", "gbp_m: 1.0e+308"),
        encoding="utf-8",
    )
    (own_templates / "surrogate.yaml").write_text(
        text.replace(f"id: {good}", "id: custom_surrogate").replace("name: Goodshire", 'name: "a\\ud800b"'), encoding="utf-8"
    )
    catalogue.refresh()
    from lib.scenario import usable_templates

    usable, skipped = usable_templates()
    assert good in usable and "salford" in usable and "custom_huge" not in usable
    assert len(skipped) == 5 and all("skipped" in note for note in skipped)
    assert any("surrogate.yaml" in note and "not printable UTF-8" in note for note in skipped)
    done = cli_templates(own_templates)
    assert done.returncode == 0 and good in done.stdout and "salford" in done.stdout
    assert done.stderr.count("note: ") == 5 and "Traceback" not in done.stderr


def test_a_refused_upload_never_removes_a_good_template(own_templates):
    kept = baseline.save(baseline.read(b"line_id,spend_gbp_m\nacute_emergency,30\n", "Keep Place", 300_000))
    assert kept == "custom_keep_place"
    with pytest.raises(baseline.BaselineError, match="1e\\+308"):
        baseline.save(baseline.read(b"line_id,spend_gbp_m\nacute_emergency,1e308\n", "keep-place", 300_000))
    assert Scenario.from_template(kept).baseline["acute_emergency"] == 30
    ids = {baseline.save(baseline.read(GOOD, name, 300_000)) for name in ("日本語", "!!!", "---", "keep-place")}
    assert len(ids) == 4 and kept not in ids  # names that reduce to the same letters keep ids of their own
    assert {Scenario.from_template(t).name for t in ids} == {"日本語", "!!!", "---", "keep-place"}
    assert Scenario.from_template(kept).name == "Keep Place"


def test_saving_a_place_again_asks_and_a_failed_replacement_keeps_the_old_one(own_templates, monkeypatch):
    first = baseline.save(baseline.read(GOOD, "Twiceshire", 300_000))
    with pytest.raises(baseline.PlaceExists, match="already saved"):
        baseline.save(baseline.read(b"line_id,spend_gbp_m\nacute_emergency,70\n", "Twiceshire", 300_000))
    assert Scenario.from_template(first).baseline["acute_emergency"] == 61.2
    # a replacement that does not open as a scenario leaves the file as it was
    import lib.baseline as module

    def broken(tid):
        raise module.ScenarioError("population", 0, "a test's refusal")

    with monkeypatch.context() as patch:
        patch.setattr(module.Scenario, "from_template", staticmethod(broken))
        with pytest.raises(baseline.BaselineError, match="a test's refusal"):
            baseline.save(baseline.read(b"line_id,spend_gbp_m\nacute_emergency,70\n", "Twiceshire", 300_000), replace=True)
    catalogue.refresh()
    assert Scenario.from_template(first).baseline["acute_emergency"] == 61.2
    baseline.save(baseline.read(b"line_id,spend_gbp_m\nacute_emergency,70\n", "Twiceshire", 300_000), replace=True)
    catalogue.refresh()
    assert Scenario.from_template(first).baseline["acute_emergency"] == 70
    assert not list(own_templates.glob("*.part"))


def test_old_mac_line_ends_read_like_any_other():
    made = baseline.read(GOOD.replace(b"\n", b"\r"), "Crshire", 300_000)
    assert made.spend_gbp_m["acute_emergency"] == 61.2 and made.spend_gbp_m["community_health"] == 40


def _good_text(own_templates: Path, tid: str, name: str) -> str:
    good = baseline.save(baseline.read(GOOD, "Template source", 300_000))
    text = (own_templates / f"{good}.yaml").read_text(encoding="utf-8")
    (own_templates / f"{good}.yaml").unlink()
    return text.replace(f"id: {good}", f"id: {tid}").replace("name: Template source", f"name: {name}")


HOSTILE = {
    "self_alias": lambda text: text + "extra: &r [*r]\n",
    "alias_bomb": lambda text: text + "b0: &b0 [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 10)}]\n" for i in range(1, 9)),
    "huge_int": lambda text: text.replace("value: 300000", "value: 1" + "0" * 400, 1),
    "int_preset_key": lambda text: text.replace("preset:\n", "preset:\n  1: {value: 2, source: s}\n", 1),
    "bool_amount": lambda text: text.replace("gbp_m: 61.2", "gbp_m: true"),
    "text_amount": lambda text: text.replace("gbp_m: 61.2", "gbp_m: '61'"),
    "null_name": lambda text: text.replace("name: Hostile", "name: null"),
    "list_model": lambda text: text.replace("model: Your design on your own baseline", "model: [1]"),
}  # fmt: skip


def test_hostile_files_are_each_skipped_and_named_and_the_rest_load_quickly(own_templates):
    import time

    own_templates.mkdir(exist_ok=True)
    for case, change in HOSTILE.items():
        (own_templates / f"custom_{case}.yaml").write_text(
            change(_good_text(own_templates, f"custom_{case}", "Hostile")), encoding="utf-8"
        )
    (own_templates / "custom_folder.yaml").mkdir()
    (own_templates / "custom_dangling.yaml").symlink_to(own_templates / "nowhere")
    (own_templates / "custom_zero.yaml").symlink_to("/dev/zero")
    os.mkfifo(own_templates / "custom_fifo.yaml")
    kept = baseline.save(baseline.read(GOOD, "Still here", 300_000))
    catalogue.refresh()
    start = time.perf_counter()
    done = cli_templates(own_templates)
    assert time.perf_counter() - start < 60 and done.returncode == 0, done.stderr
    assert kept in done.stdout and "Traceback" not in done.stderr
    notes = done.stderr.splitlines()
    for case in [*HOSTILE, "folder", "dangling", "zero", "fifo"]:
        assert any(f"custom_{case}.yaml skipped" in n or f"template custom_{case} skipped" in n for n in notes), case
    assert Scenario.from_template(kept).name == "Still here"


RACER = """
import sys
from lib import baseline
try:
    print("saved", baseline.save(baseline.read(b"line_id,spend_gbp_m\\nacute_emergency,30\\n", sys.argv[1], 300_000)))
except baseline.BaselineError as exc:
    print("refused", exc)
"""


def test_two_uploads_at_once_never_overwrite_each_other(own_templates):
    env = os.environ | {"CARELAB_TEMPLATES_DIR": str(own_templates)}
    for _attempt in range(4):
        for old in own_templates.glob("*.yaml") if own_templates.exists() else []:
            old.unlink()
        racers = [subprocess.Popen([sys.executable, "-c", RACER, name], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True) for name in ("Race Place", "race place")]  # fmt: skip
        outcomes = [r.communicate(timeout=120) for r in racers]
        assert all(r.returncode == 0 for r in racers), [err for _, err in outcomes]
        said = sorted(out.split()[0] for out, _ in outcomes)
        assert said == ["refused", "saved"], outcomes  # one place saved, the other told why: never both
        assert len(list(own_templates.glob("*.yaml"))) == 1 and not list(own_templates.glob("*.part"))


def test_a_places_own_outcome_rates_set_where_its_paths_start(own_templates):
    data = GOOD + b"emergency_admissions,,,98.5\n"
    with_rates = b"line_id,spend_gbp_m,demand_growth,rate_per_1000\n" + data.split(b"\n", 1)[1]
    made = baseline.read(with_rates, "Rateshire", 300_000)
    assert made.outcome_rates == {"emergency_admissions": 98.5} and made.spend_gbp_m["acute_emergency"] == 61.2
    tid = baseline.save(made)
    own, national = Scenario.from_template(tid), Scenario.from_template("blank")
    assert own.outcome_baseline["emergency_admissions"] == 98.5
    assert own.outcome_baseline["ae_attendances"] == national.outcome_baseline["ae_attendances"]  # England's where not given
    run = results.project(own.with_value("sims", 200))
    assert run.year_0()["emergency_admissions"] == 98.5
    path, england = run.measure("emergency_admissions_no_change")["p50"], results.project(
        national.with_value("sims", 200)).measure("emergency_admissions_no_change")["p50"]  # fmt: skip
    assert path.iloc[0] == pytest.approx(england.iloc[0] * 98.5 / 105, rel=1e-6)


@pytest.mark.parametrize(
    ("rows", "says"),
    [
        (b"line_id,spend_gbp_m\nemergency_admissions,98\n", "give its rate in a column 'rate_per_1000'"),
        (b"line_id,spend_gbp_m,rate_per_1000\nemergency_admissions,,0\n", "more than 0 and at most 5,000, not '0'"),
        (b"line_id,spend_gbp_m,rate_per_1000\nemergency_admissions,,lots\n", "not 'lots'"),
        (b"line_id,spend_gbp_m,rate_per_1000\nemergency_admissions,,90\nemergency_admissions,,91\n",
         "Row 3: emergency_admissions appears twice"),
        (b"line_id,spend_gbp_m,rate_per_1000\nadmissions,,90\n", "or an outcome measure, with its rate_per_1000"),
    ],
)  # fmt: skip
def test_outcome_rates_are_checked_like_spend(rows, says):
    with pytest.raises(baseline.BaselineError) as caught:
        baseline.read(rows, "Testshire", 300_000)
    assert any(says in p for p in caught.value.problems), caught.value.problems


def test_adding_a_place_does_not_mark_earlier_designs_as_saved_under_other_data(own_templates, tmp_path, monkeypatch):
    """The stamp a design keeps covers the shared reference files and its own template only."""
    from lib import saved

    monkeypatch.setenv("CARELAB_SCENARIOS_DB", str(tmp_path / "stamps.duckdb"))
    saved.save("Before the new place", Scenario.from_template("dudley"))
    new_place = baseline.save(baseline.read(GOOD, "Newshire", 300_000))
    catalogue.refresh()
    assert new_place in catalogue.current().template_ids
    assert saved.load("Before the new place")[1] == []  # nothing it uses has changed
    own = Scenario.from_template(new_place)
    saved.save("On the new place", own)
    assert saved.load("On the new place")[1] == []
    assert catalogue.current().design_stamp(new_place) != catalogue.current().design_stamp("dudley")
