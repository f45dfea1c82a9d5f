"""What leaves the app: CSV, Excel and the board pack."""

import io
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lib import __version__, catalogue, export, results
from lib.scenario import Scenario, flatten

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def run():
    scenario = Scenario.from_template("south_somerset").with_values(
        {"name": '=HYPERLINK("http://x")', "sims": 300, "partners.0.name": "<b>Yeovil</b>"}
    )
    return results.project(scenario)


def test_formula_like_text_is_written_as_text_and_numbers_stay_numbers():
    assert export.safe_cell("=SUM(A1:A9)") == "'=SUM(A1:A9)"
    assert export.safe_cell("@cmd") == "'@cmd" and export.safe_cell("+1+1") == "'+1+1"
    assert export.safe_cell("-£3.5m") == "-£3.5m" and export.safe_cell(4.0) == 4.0


def test_assumptions_list_every_value_with_its_unit_and_source(run):
    table = export.assumptions(run.scenario)
    paths = {p for p, _ in flatten(run.scenario.to_dict())} - {"template", "name"}
    assert set(table["field"]) == paths
    row = table.set_index("field").loc["risk.loss_share"]
    assert row["unit"] == "fraction" and "(" in row["source"]
    assert table["source"].str.len().min() > 0


def test_excel_holds_every_table_and_keeps_names_as_text(run):
    sheets = export.tables(run)
    book = pd.read_excel(io.BytesIO(export.excel_bytes(sheets)), sheet_name=None)
    assert list(book) == list(sheets)
    about = book["about"].set_index("item")["value"]
    assert about["Scenario"] == '\'=HYPERLINK("http://x")'
    assert about["App version"] == __version__ and about["Reference data"] == catalogue.current().stamp
    assert len(book["yearly"]) == len(sheets["yearly"])
    csv = export.csv_bytes(sheets["about"]).decode()
    assert "'=HYPERLINK" in csv


def test_the_board_pack_is_one_self_contained_page(run):
    page = export.board_pack(run)
    assert page.count("<figure") == 14 and page.count("Plotly.newPlot") == 14
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']?https?:""", page)  # nothing to fetch
    for heading in ("Headline", "Stress tests", "What would make it fail", "The UnitingCare replay", "Evidence check",
                    "Assumptions and their sources"):  # fmt: skip
        assert f"<h2>{heading}</h2>" in page
    assert __version__ in page and catalogue.current().stamp in page
    assert "&lt;b&gt;Yeovil&lt;/b&gt;" in page and "<b>Yeovil</b>" not in page  # typed names are text
    assert "Baseline costs understated" in page and "KF2016" in page


def test_cli_writes_the_pack(tmp_path):
    out = tmp_path / "pack.html"
    done = subprocess.run(
        [sys.executable, "-m", "lib", "pack", "--template", "mid_notts", "--sims", "200", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert out.read_text(encoding="utf-8").count("<figure") == 14
    refused = subprocess.run(
        [sys.executable, "-m", "lib", "pack", "--saved", "no such design", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1


def test_the_board_pack_shows_no_raw_identifier_or_bare_probability():
    import re

    run = results.project(Scenario.from_template("dudley").with_value("sims", 300))
    page = export.board_pack(run)
    text = re.sub(r"<script.*?</script>|<style.*?</style>", "", page, flags=re.S)
    shown = re.sub(r"<[^>]+>", " ", text)
    for raw in ("_gbp_", "full_risk", "gain_share", "_chance", "p_over_capacity", "loss_share"):
        assert raw not in shown, raw
    cells = re.findall(r"<td>([^<]*)</td>", text)
    assert not [c for c in cells if re.fullmatch(r"-?0\.\d{3,}", c.strip())]  # chances are shown as %
    assert not [c for c in cells if re.fullmatch(r"£-[\d.,]+m", c.strip())]


@pytest.mark.parametrize("template", ["bcf_s75", "multi_neighbourhood", "integrated_health_org", "lead_provider_collaborative"])
def test_today_s_templates_make_a_board_pack_with_their_cited_facts_and_a_sweep(template):
    from lib import sweep

    scenario = Scenario.from_template(template).with_value("sims", 200)
    run = results.project(scenario)
    pack = export.board_pack(run)
    assert catalogue.current().template(template).info["name"].split(" (")[0] in pack
    # a pool says what its sides stand for and how its overspends were met; a likely failure says why
    assert ("In this pooled fund" in pack) == (template == "bcf_s75")
    assert ("the risk pool met" in pack) == (template == "bcf_s75")
    assert ("What pushes the provider side towards failure" in pack) == (run.headline()["failure"] > 0.2)
    rows = sweep.sweep(scenario, sweep.parse_grid(["risk.gain_share=0.5,1", "risk.loss_share=0.5,1"]), workers=1)
    assert rows["combination"].nunique() == 4 and rows["failure"].between(0, 1).all()
