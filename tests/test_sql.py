"""The guarded SQL console: reads the shared tables, refuses everything else, stops runaways."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lib import results, saved, sql
from lib.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def run():
    return results.project(Scenario.from_template("dudley").with_value("sims", 200))


def test_reads_reference_results_and_saved_scenarios(run):
    saved.save("Console check", Scenario.from_template("salford"), "SQL")
    lines = sql.run_sql("SELECT id FROM service_lines ORDER BY id", run).frame
    assert "acute_emergency" in set(lines["id"])
    yearly = sql.run_sql("WITH y AS (SELECT year, avg(cost) AS c FROM sim_year GROUP BY year) SELECT * FROM y ORDER BY year", run)
    assert len(yearly.frame) == run.years and not yearly.truncated
    assert yearly.frame["c"].iloc[0] == pytest.approx(run.mean("cost")["mean"].iloc[0])
    names = sql.run_sql('SELECT name, "group" FROM saved_scenarios', run).frame
    assert ("Console check", "SQL") in set(zip(names["name"], names["group"], strict=True))


REFUSED = {
    "SELECT * FROM read_csv('/etc/passwd')": "Reading files",
    "SELECT * FROM read_csv_auto('/etc/passwd')": "Reading files",
    "SELECT * FROM '/etc/passwd'": "Reading files",
    "SELECT * FROM glob('/etc/*')": "Reading files",
    "SELECT getenv('HOME')": "environment",
    "ATTACH '/tmp/other.duckdb' AS other": "not ATTACH",
    "COPY (SELECT 1) TO '/tmp/out.csv'": "not COPY",
    "INSTALL httpfs": "not LOAD",
    "LOAD httpfs": "not LOAD",
    "PRAGMA database_list": "not PRAGMA",
    "SET enable_external_access = true": "not SET",
    "CREATE TABLE t AS SELECT 1": "not CREATE",
    "INSERT INTO service_lines SELECT * FROM service_lines": "not INSERT",
    "UPDATE service_lines SET name = 'x'": "not UPDATE",
    "DELETE FROM service_lines": "not DELETE",
    "SELECT 1; DROP TABLE service_lines": "One statement at a time",
    "": "Write one SELECT",
    "SELEC 1": "does not parse",
}


@pytest.mark.parametrize(("query", "why"), REFUSED.items())
def test_refuses_everything_but_one_read_query(run, query, why):
    with pytest.raises(sql.SqlRefused, match=why):
        sql.run_sql(query, run)


def test_even_a_query_that_slips_past_the_reading_finds_files_and_settings_locked(run):
    con = sql.connection(run)
    try:
        for attempt in ("SELECT * FROM read_text('/etc/hostname')", "SET enable_external_access = true"):
            with pytest.raises(Exception, match="(?i)permission|disabled|configuration"):
                con.execute(attempt)
        assert con.execute("SELECT current_setting('lock_configuration')").fetchone()[0] is True
    finally:
        con.close()


def test_rows_are_limited_and_a_runaway_query_is_stopped(run):
    capped = sql.run_sql("SELECT * FROM range(5000)", run, limit=100)
    assert len(capped.frame) == 100 and capped.truncated
    start = time.perf_counter()
    with pytest.raises(sql.SqlRefused, match="Stopped after 1 s"):
        sql.run_sql("SELECT sum(a.range * b.range) FROM range(300000000) a, range(1000) b", run, timeout_s=1.0)
    assert time.perf_counter() - start < 3


def test_an_error_is_one_clear_line(run):
    with pytest.raises(sql.SqlRefused) as caught:
        sql.run_sql("SELECT no_such_column FROM service_lines", run)
    assert "\n" not in str(caught.value) and "no_such_column" in str(caught.value)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lib", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_cli_runs_the_same_guarded_path():
    done = cli("sql", "SELECT year, avg(provider) AS provider FROM sim_year GROUP BY year ORDER BY year",
               "--template", "wakefield", "--sims", "200", "--format", "json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [row["year"] for row in json.loads(done.stdout)][:3] == [1, 2, 3]
    for query in ("SELECT * FROM read_csv('/etc/passwd')", "COPY (SELECT 1) TO '/tmp/x.csv'", "SELECT 1; SELECT 2"):
        refused = cli("sql", query)
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and refused.stdout == ""


def test_the_query_behind_each_chart_runs_in_the_console_and_gives_its_numbers(run):
    queries = {name: run.sql_of(name) for name in ("end_positions", "failure_by_year", "partners", "central", "central_totals")}
    outcome_fans = [m for o in run.outcome_measures for m in (o, o + "_no_change")]
    queries["outcomes"] = run.sql_of("yearly", fans=outcome_fans)
    queries["budget"] = run.sql_of("yearly", fans=["budget", "cost"], means=["variance"])
    found = {name: sql.run_sql(query, run).frame for name, query in queries.items()}
    assert all(len(frame) for frame in found.values())
    budget = found["budget"]
    p10, p50, p90 = budget["budget P10, P50, P90"].iloc[0]
    assert p50 == pytest.approx(run.measure("budget")["p50"].iloc[0])
    assert budget["variance mean"].iloc[-1] == pytest.approx(run.mean("variance")["mean"].iloc[-1])
    assert found["failure_by_year"]["failed_by"].tolist() == run.failure_by_year()["failed_by"].tolist()
    assert found["partners"]["p_over_capacity"].tolist() == run.partner_summary()["p_over_capacity"].tolist()
    with pytest.raises(KeyError):
        run.sql_of("yearly", fans=["no_such_measure"])


def test_a_query_too_big_for_memory_is_refused_not_the_server(run):
    with pytest.raises(sql.SqlRefused, match="Out of Memory"):
        sql.run_sql("SELECT list(range) FROM range(1000000000)", run)
    assert len(sql.run_sql("SELECT * FROM range(100000000000)", run).frame) == sql.ROW_LIMIT  # streamed, not built
