"""The data dictionary covers every column of every table the Data page and the console show."""

from lib import dictionary, results
from lib.scenario import Scenario


def test_every_column_of_every_table_has_a_meaning_unit_and_source():
    run = results.project(Scenario.from_template("northumberland").with_value("sims", 50))
    entries = dictionary.dictionary(run)
    missing = entries[(entries["meaning"] == "") | (entries["unit"] == "") | (entries["source"] == "")]
    assert missing.empty, f"describe these in data/dictionary.yaml: {missing[['table', 'column']].values.tolist()}"
    tables = set(entries["table"])
    assert {"service_lines", "templates", "stresses", "sensitivities"} <= tables  # reference data
    assert {"sim_year", "sims", "partner_year", "partners", "central_parts", "year_0"} <= tables  # this projection
    assert "saved_scenarios" in tables
    assert set(entries["group"]) == set(dictionary.GROUPS.values())
    assert not entries.duplicated(["table", "column"]).any()


def test_types_come_from_duckdb():
    entries = dictionary.dictionary(results.project(Scenario.from_template("salford").with_value("sims", 20)))
    typed = entries.set_index(["table", "column"])["type"]
    assert typed[("sim_year", "cost")] == "DOUBLE" and typed[("service_lines", "id")] == "VARCHAR"
