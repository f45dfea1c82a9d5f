"""`python -m lib`: the analysts' command line, run as a real process."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import zlib

import pytest

from .conftest import ROOT


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lib", *args], cwd=ROOT, capture_output=True, text=True, timeout=180, env=os.environ.copy()
    )


def test_templates_json():
    out = cli("templates", "--format", "json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["id"] for r in rows][:8] == [
        "salford",
        "northumberland",
        "dudley",
        "south_somerset",
        "sandwell_wb",
        "wakefield",
        "mid_notts",
        "uniting_care",
    ]
    for row in rows:
        assert {"id", "name", "model", "population", "contract_years", "pooled_budget_gbp_m"} <= set(row)
    salford = next(r for r in rows if r["id"] == "salford")
    assert salford["pooled_budget_gbp_m"] == pytest.approx(236, abs=0.01)
    assert salford["contract_years"] == 5


def test_project_dudley_prints_fifteen_years():
    out = cli("project", "--template", "dudley", "--sims", "2000", "--format", "json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["scenario"]["template"] == "dudley" and report["scenario"]["sims"] == 2000
    assert [y["year"] for y in report["years"]] == list(range(1, 16))
    first = report["years"][0]
    for key in ("budget", "cost", "variance", "provider", "commissioner", "reinvested", "provider_cumulative",
                "commissioner_cumulative"):  # fmt: skip
        assert set(first[key]) == {"p10", "p50", "p90", "mean"}, key
        assert first[key]["p10"] <= first[key]["p50"] <= first[key]["p90"]
    assert "emergency_admissions" in first["outcomes"]
    assert set(report["probabilities"]) == {"deficit_any_year", "collar_breach_any_year", "failure", "commissioner_shortfall"}
    assert 0 <= report["probabilities"]["commissioner_shortfall"] <= 1
    commissioners = [y["commissioner_cumulative"]["mean"] for y in report["years"]]
    kept = sum(y["commissioner"]["mean"] + y["commissioner_kept"]["mean"] for y in report["years"])
    assert commissioners[-1] == pytest.approx(kept, abs=1e-4)  # their share of the variance plus what they keep
    assert report["years"][0]["commissioner_kept"]["p50"] > 0  # Dudley: a 10% withhold, not all earned
    for year in report["years"]:
        total = year["provider"]["mean"] + year["commissioner"]["mean"] + year["reinvested"]["mean"]
        assert total == pytest.approx(year["variance"]["mean"], abs=1e-5)


def test_central_case_collapses_the_fan():
    out = cli("project", "--template", "salford", "--central")
    report = json.loads(out.stdout)
    assert report["scenario"]["sims"] == 1
    for year in report["years"]:
        stat = year["provider"]
        assert stat["p10"] == stat["p50"] == stat["p90"] == stat["mean"]


def test_set_values_are_json_or_bare_words(tmp_path):
    out = cli(
        "project",
        "--template",
        "sandwell_wb",
        "--central",
        "--set",
        "risk.cap=null",
        "--set",
        "risk.beyond_cap=commissioner",
        "--set",
        'lead.type="partnership"',
        "--set",
        "risk.carry_forward=true",
    )
    assert out.returncode == 0, out.stderr
    risk = json.loads(out.stdout)["scenario"]["risk"]
    assert risk["cap"] is None and risk["beyond_cap"] == "commissioner" and risk["carry_forward"] is True
    # The printed scenario reloads as it was.
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(json.loads(out.stdout)["scenario"]))
    again = cli("project", "--template", "dudley", "--scenario", str(path), "--central")
    assert json.loads(again.stdout)["scenario"] == json.loads(out.stdout)["scenario"]


def test_csv_output():
    out = cli("project", "--template", "salford", "--central", "--format", "csv")
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "year,measure,p10,p50,p90,mean"
    assert any(line.startswith("5,provider,") for line in lines)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("project", "--template", "atlantis"), "template"),
        (("project", "--template", "dudley", "--set", "risk.gain_share=1.5"), "risk.gain_share"),
        (("project", "--template", "dudley", "--set", "risk.nope=1"), "risk.nope"),
        (("project", "--template", "dudley", "--set", "gain_share"), "PATH=VALUE"),
        (("project", "--template", "dudley", "--sims", "0"), "sims"),
    ],
)
def test_bad_input_exits_non_zero_with_one_line(args, needle):
    out = cli(*args)
    assert out.returncode != 0
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]


def test_fields_come_from_the_model_with_unit_range_and_meaning():
    out = cli("fields")
    assert out.returncode == 0, out.stderr
    lines = {line.split(" = ")[0]: line for line in out.stdout.splitlines()}
    assert "risk.gain_share" in lines and "partners.0.role" in lines and "levers.prevention.effect" in lines
    assert "[fraction, a number from 0 to 1]" in lines["risk.gain_share"]
    assert "one of full_risk, gain_share, consultative, subcontractor" in lines["partners.0.role"]
    assert "[years, a number from 1 to 15]" in lines["contract.years"]


def test_a_binary_scenario_file_is_one_clear_line(tmp_path):
    path = tmp_path / "scenario.json"
    path.write_bytes(bytes(range(256)))
    out = cli("project", "--template", "dudley", "--scenario", str(path))
    assert out.returncode != 0 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "--scenario" in lines[0]


def test_evidence_check_as_json():
    out = cli("evidence", "--sims", "300", "--format", "json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    rows = report["comparisons"]
    assert report["coverage"].startswith("Out of sample:")
    assert {"Salford", "Dudley", "West Wakefield"} <= {r["template"] for r in rows}
    for row in rows:
        assert row["model_p10"] <= row["model_p50"] <= row["model_p90"]
        assert row["verdict"] and row["source"] and isinstance(row["published_points"], float)
    assert {"0→6", "0→1"} <= {r["years"] for r in rows}  # each figure over its own years (Mid-Nottinghamshire's sixth)


def test_project_reports_each_outcomes_no_change_path_and_year_0():
    report = json.loads(cli("project", "--template", "dudley", "--sims", "400").stdout)
    admissions = report["years"][2]["outcomes"]["emergency_admissions"]
    assert admissions["year_0"] == 105
    band = admissions["no_change"]
    assert band["p10"] <= band["p50"] <= band["p90"] and band["p10"] < band["p90"]
    assert admissions["p10"] <= band["p50"] <= admissions["p90"]


def test_scenarios_from_the_command_line(tmp_path, monkeypatch):
    monkeypatch.setenv("CARELAB_SCENARIOS_DB", str(tmp_path / "scenarios.duckdb"))
    assert (
        cli("scenarios", "save", "Table 1", "--template", "dudley", "--set", "risk.gain_share=0.7", "--group", "T").returncode
        == 0
    )
    assert cli("scenarios", "save", "Table 2", "--template", "salford", "--group", "T").returncode == 0
    listed = json.loads(cli("scenarios", "list", "--group", "T", "--format", "json").stdout)
    assert [r["name"] for r in listed] == ["Table 1", "Table 2"]
    shown = json.loads(cli("scenarios", "show", "Table 1").stdout)
    assert shown["scenario"]["risk"]["gain_share"] == 0.7
    link = cli("scenarios", "link", "Table 1").stdout.strip()
    assert link.startswith("/design?s=1.")
    projected = json.loads(cli("project", "--link", "http://localhost:8501" + link, "--central").stdout)
    assert projected["scenario"] == shown["scenario"] | {"sims": 1}
    exported = tmp_path / "table1.json"
    exported.write_text(cli("scenarios", "export", "Table 1").stdout)
    assert cli("scenarios", "rename", "Table 1", "Table One").returncode == 0
    assert cli("scenarios", "import", str(exported), "--name", "Table 1 again").returncode == 0
    assert cli("scenarios", "delete", "Table One").returncode == 0
    names = [r["name"] for r in json.loads(cli("scenarios", "list", "--format", "json").stdout)]
    assert names == ["Table 1 again", "Table 2"]
    compared = json.loads(cli("compare", "Table 1 again", "Table 2", "dudley", "--sims", "200").stdout)
    assert [r["scenario"] for r in compared["headline"]] == ["Table 1 again", "Table 2", "dudley"]
    assert any(r["field"] == "risk.gain_share" for r in compared["differing"])
    csv_out = cli("compare", "Table 2", "salford", "--sims", "200", "--format", "csv").stdout.splitlines()
    assert csv_out[0].startswith("scenario,template,years,provider_p50_gbp_m") and len(csv_out) == 3


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("scenarios", "show", "nobody"), "no saved scenario"),
        (("scenarios", "save", "<script>", "--template", "dudley"), "not allowed"),
        (("scenarios", "import", "missing.json"), "no such file"),
        (("compare", "dudley"), "two to four"),
        (("compare", "dudley", "atlantis"), "neither a saved scenario nor a template id"),
        (("project", "--link", "1.broken"), "--link"),
    ],
)
def test_store_errors_are_one_line(args, needle, tmp_path, monkeypatch):
    monkeypatch.setenv("CARELAB_SCENARIOS_DB", str(tmp_path / "scenarios.duckdb"))
    out = cli(*args)
    assert out.returncode != 0 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("project", "--template", "salford", "--set", "name.Sal=1"), "name.Sal = 1 is not allowed: a known field path"),
        (("project", "--template", "salford", "--set", "contract.years.x=1"), "contract.years.x"),
        (("project", "--template", "salford", "--set", "levers.prevention.effect.x=1"), "levers.prevention.effect.x"),
        (("project", "--template", "salford", "--set", "risk.cap=false"), "risk.cap = false is not allowed: a number"),
        (("project", "--template", "salford", "--set", "contract.years=true"), "contract.years = true"),
        (("project", "--template", "salford", "--set", 'risk.gain_share="0.5"'), 'risk.gain_share = "0.5" is not allowed'),
        (("project", "--template", "salford", "--set", "contract.funding_follows_population=1"), "true or false"),
        (("sql", "SELECT 1", "--limit", "-5"), "--limit -5: give 1 to 1,000 rows"),
        (("sql", "SELECT 1", "--limit", "5000000"), "--limit 5000000: give 1 to 1,000 rows"),
        (("compare", "salford", "salford"), 'name each design once ("salford" is given twice)'),
        (("sweep", "--template", "salford", "--grid", "risk.gain_share=0,1", "--grid", "risk.gain_share=0.5", "--out", "x.csv"),
         "given twice"),
        (("sweep", "--template", "salford", "--grid", "risk.gain_share=0,1", "--out", "/nonexistent/dir/x.parquet"),
         "no such folder"),
        (("pack", "--template", "salford", "--out", "/nonexistent/dir/pack.html"), "no such folder"),
        (("sweep", "--template", "salford", "--grid", "risk.gain_share=0.1,0.2", "--sims", "10", "--out", "/proc/sw.csv"),
         "cannot be written here"),
        (("project", "--template", "salford", "--central", "--set", "levers={}"), "every lever given"),
        (("project", "--link", "1.eNqrVipRslIqTsxJyy9KUdJRSlayqlbKSS1LLSoGsmprawGyiAsm"), "levers"),
        (("sql", "SELECT 1", "--limit", "x"), "error: sql: argument --limit: invalid int value"),
        (("scenarios", "restore", "abc"), "invalid int value: 'abc'"),
        ((), "the following arguments are required: command"),
        (("project", "--link", "1." + base64.urlsafe_b64encode(zlib.compress(DEEP.encode())).decode()), "nested more than"),
    ],
)  # fmt: skip
def test_input_that_once_gave_a_traceback_is_one_line(args, needle, tmp_path, monkeypatch):
    monkeypatch.setenv("CARELAB_SCENARIOS_DB", str(tmp_path / "scenarios.duckdb"))
    monkeypatch.chdir(tmp_path)
    out = cli(*args)
    assert out.returncode == 2 and out.stdout == "" and "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], out.stderr


def test_deep_json_files_and_oversized_imports_are_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("CARELAB_SCENARIOS_DB", str(tmp_path / "scenarios.duckdb"))
    deep, big = tmp_path / "deep.json", tmp_path / "big.json"
    deep.write_text(DEEP)
    big.write_text(" " * 2_000_000)
    for args, needle in (
        (("project", "--scenario", str(deep)), "nested more than 32 levels"),
        (("scenarios", "import", str(deep)), "nested more than 32 levels"),
        (("scenarios", "import", str(big)), "at most 1,000,000"),
        (("project", "--scenario", str(big)), "at most 1,000,000"),
    ):
        out = cli(*args)
        assert out.returncode == 2 and out.stderr.count("\n") == 1 and needle in out.stderr, (args, out.stderr)


def test_a_sweep_to_an_unwritable_place_is_refused_before_any_work():
    import time

    start = time.perf_counter()
    grid = ["--grid", "risk.gain_share=0,0.25,0.5,0.75,1", "--grid", "risk.loss_share=0,0.5,1"]
    out = cli("sweep", "--template", "salford", *grid, "--sims", "20000", "--out", "/nonexistent/dir/x.parquet")
    assert out.returncode == 2 and "no such folder" in out.stderr
    assert time.perf_counter() - start < 20  # fifteen 20,000-run projections would take far longer


def test_saving_over_a_name_needs_replace_and_history_restores(tmp_path, monkeypatch):
    monkeypatch.setenv("CARELAB_SCENARIOS_DB", str(tmp_path / "scenarios.duckdb"))
    assert cli("scenarios", "save", "Table 1", "--template", "dudley").returncode == 0
    refused = cli("scenarios", "save", "Table 1", "--template", "salford")
    assert refused.returncode == 2 and 'already called "Table 1"' in refused.stderr
    assert json.loads(cli("scenarios", "show", "Table 1").stdout)["scenario"]["template"] == "dudley"
    assert cli("scenarios", "save", "Table 1", "--template", "salford", "--replace").returncode == 0
    exported = tmp_path / "t.json"
    exported.write_text(cli("scenarios", "export", "Table 1").stdout)
    assert cli("scenarios", "import", str(exported)).returncode == 2
    assert cli("scenarios", "delete", "Table 1").returncode == 0
    history = json.loads(cli("scenarios", "history", "--format", "json").stdout)
    assert [(h["why"], h["template"]) for h in history] == [("deleted", "salford"), ("replaced", "dudley")]
    dudley = next(h["version"] for h in history if h["template"] == "dudley")
    assert cli("scenarios", "restore", str(dudley)).returncode == 0
    assert json.loads(cli("scenarios", "show", "Table 1").stdout)["scenario"]["template"] == "dudley"
    listed = cli("scenarios", "list").stdout
    assert "nan" not in listed and "Table 1" in listed
