"""The guarded SQL console: reads the shared tables, refuses everything else, stops runaways."""

import json
import re
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
    "SELECT * FROM read_csv('/etc/passwd')": "read_csv(…) is not available",
    "SELECT * FROM read_csv_auto('/etc/passwd')": "read_csv_auto(…) is not available",
    """SELECT * FROM "read_csv"('/etc/passwd')""": "read_csv(…) is not available",
    "SELECT * FROM read_blob /**/ ('data/cache/carelab.duckdb')": "read_blob(…) is not available",
    "SELECT * FROM '/etc/passwd'": "No table called '/etc/passwd'",
    "SELECT * FROM glob('/etc/*')": "glob(…) is not available",
    "SELECT * FROM duckdb_databases()": "duckdb_databases(…) is not available",
    "SELECT * FROM pragma_database_list": "No table called 'pragma_database_list'",
    "SELECT current_setting('secret_directory')": "current_setting(…) is not available",
    "SELECT * FROM query('SELECT 1')": "query(…) is not available",
    "SELECT * FROM information_schema.tables": "No table called 'information_schema.tables'",
    "SELECT * FROM reference.service_lines": "No table called 'reference.service_lines'",
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
def test_refuses_by_what_a_query_does_not_how_it_is_spelt(run, query, why):
    with pytest.raises(sql.SqlRefused, match=re.escape(why)):
        sql.run_sql(query, run)


HARMLESS = {
    "SELECT trim(both ' ' from ' x ') AS v": "x",
    "SELECT count(*) AS v FROM service_lines WHERE name LIKE 'read_me(%'": 0,
    "SELECT 'glob(' AS v": "glob(",
    "SELECT 'read_csv(/etc/passwd)' AS v": "read_csv(/etc/passwd)",
    """SELECT count(*) AS v FROM (SELECT 1 FROM sims) AS "from 'x'" """: 200,
    "WITH read_blob AS (SELECT 7 AS v) SELECT v FROM read_blob": 7,
    "SELECT /* glob('x') */ 3 AS v": 3,
    "SELECT max(range) AS v FROM range(10)": 9,
    "SELECT count(*) AS v FROM saved_scenarios WHERE name = 'FROM ''/etc/passwd'''": 0,
}


@pytest.mark.parametrize(("query", "value"), HARMLESS.items())
def test_a_harmless_query_is_never_refused_for_its_spelling(run, query, value):
    assert sql.run_sql(query, run).frame["v"].iloc[0] == value


def test_even_a_query_past_the_check_finds_files_and_settings_locked(monkeypatch):
    """Defence in depth: with the check switched off, the worker's engine still refuses."""
    from lib import sql_worker

    monkeypatch.setattr(sql_worker, "check", lambda *args: None)
    for attempt in ("SELECT * FROM read_text('/etc/hostname')", "SELECT * FROM '/etc/hostname'"):
        answer = sql_worker.run({"sql": attempt, "tables": {}, "limit": 10, "timeout_s": 5}, {}, frozenset())
        assert re.search("(?i)permission|disabled|does not exist", answer["refused"]), answer
    setting = {"sql": "SELECT current_setting('lock_configuration') AS v", "tables": {}, "limit": 1, "timeout_s": 5}
    assert sql_worker.run(setting, {}, frozenset())["rows"] == [(True,)]


# Queries that try to take the server's time, memory or disk: each must end within its time limit
# plus one second, adding at most the console's memory allowance to its worker, never an answer.
RUNAWAYS = {
    "SELECT length(repeat('x', 2000000000))": "memory",
    "SELECT length(repeat('x', 4000000000))": "memory",
    "SELECT sum(x) FROM (SELECT random() AS x FROM range(300000000) ORDER BY random())": "memory",
    "SELECT list(range) FROM range(1000000000)": "memory",
    "SELECT string_agg(repeat('y', 1000), ',') FROM range(2000000)": "memory",
    "SELECT sum(a.range * b.range) FROM range(300000000) a, range(1000) b": "Stopped after 2 s",
    "SELECT count(*) FROM range(100000) a, range(100000) b WHERE a.range * b.range = 7": "Stopped after 2 s",
}


@pytest.mark.parametrize(("query", "why"), RUNAWAYS.items())
def test_every_runaway_ends_inside_its_time_and_memory(run, query, why):
    start = time.perf_counter()
    with pytest.raises(sql.SqlRefused, match=why):
        sql.run_sql(query, run, timeout_s=2.0)
    assert time.perf_counter() - start < 2.0 + 1.0
    assert sql.last.peak_rss_mb - sql.last.idle_rss_mb <= sql.MEMORY_LIMIT_MB
    assert len(sql.run_sql("SELECT 1 AS still_there", run).frame) == 1  # the next query is answered
    assert not any(ROOT.glob(".tmp*")) and not any(ROOT.glob("*.tmp"))  # nothing spilled to disk


def test_no_server_path_in_any_answer(run):
    folders = [str(ROOT), str(Path.home()), "/tmp", "carelab"]
    for query in (
        "SELECT * FROM no_such_table",
        "SELECT current_database() AS d, current_schema() AS s",
        "SELECT * FROM read_blob('x')",
        "SELECT version() AS v",
    ):
        try:
            text = sql.run_sql(query, run).frame.to_csv()
        except sql.SqlRefused as exc:
            text = str(exc)
        assert not any(folder in text for folder in folders), (query, text)


def test_rows_limit_and_long_text_are_held(run):
    capped = sql.run_sql("SELECT * FROM range(5000)", run, limit=100)
    assert len(capped.frame) == 100 and capped.truncated
    for limit in (-5, 0, 5_000_000, True):
        with pytest.raises(sql.SqlRefused, match="row limit must be 1 to 1,000"):
            sql.run_sql("SELECT 1", run, limit=limit)
    with pytest.raises(sql.SqlRefused, match="at most 20,000 characters"):
        sql.run_sql("SELECT 1 WHERE 1 IN (" + ",".join(map(str, range(300_000))) + ")", run)
    long = sql.run_sql("SELECT repeat('ab', 100000) AS v", run)
    assert long.cells_cut and len(long.frame["v"].iloc[0]) == 10_000
    assert len(sql.run_sql("SELECT * FROM range(100000000000)", run).frame) == sql.ROW_LIMIT  # streamed, not built


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
    assert budget["budget P50"].iloc[0] == pytest.approx(run.measure("budget")["p50"].iloc[0], abs=0.005)
    assert budget["budget P10"].iloc[0] <= budget["budget P50"].iloc[0] <= budget["budget P90"].iloc[0]
    assert budget["variance mean"].iloc[-1] == pytest.approx(run.mean("variance")["mean"].iloc[-1], abs=0.005)
    assert (budget.drop(columns="year").round(2) == budget.drop(columns="year")).all().all()  # as the chart's table
    assert found["failure_by_year"]["failed_by"].tolist() == run.failure_by_year()["failed_by"].tolist()
    assert found["partners"]["p_over_capacity"].tolist() == run.partner_summary()["p_over_capacity"].tolist()
    with pytest.raises(KeyError):
        run.sql_of("yearly", fans=["no_such_measure"])


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("SHOW secret_directory", "SHOW, DESCRIBE and SUMMARIZE are not available"),
        ("SELECT * FROM (SHOW secret_directory)", "SHOW, DESCRIBE and SUMMARIZE are not available"),
        ("DESCRIBE sims", "SHOW, DESCRIBE and SUMMARIZE are not available"),
        ("SUMMARIZE sims", "SHOW, DESCRIBE and SUMMARIZE are not available"),
        ("SELECT * FROM (PIVOT service_lines ON id USING first(id))", "write SELECT … FROM t PIVOT"),
    ],
)
def test_settings_are_not_shown_by_another_name(run, query, why):
    with pytest.raises(sql.SqlRefused, match=re.escape(why)):
        sql.run_sql(query, run)


def test_the_select_list_forms_and_time_zones_answer(run):
    assert sql.run_sql("SELECT unnest([1, 2, 3]) AS v", run).frame["v"].tolist() == [1, 2, 3]
    assert len(sql.run_sql("SELECT now() AS t, current_timestamp AS u", run).frame) == 1


def test_waiting_for_a_worker_counts_against_the_time_limit(run):
    import threading

    ends: list[float] = []
    refusals: list[str] = []

    def slow() -> None:
        start = time.perf_counter()
        try:
            sql.run_sql("SELECT count(*) FROM range(100000) a, range(100000) b WHERE a.range * b.range = 7", run, timeout_s=2.0)
        except sql.SqlRefused as exc:
            refusals.append(str(exc))
        ends.append(time.perf_counter() - start)

    threads = [threading.Thread(target=slow) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(refusals) == 5 and max(ends) < 2.0 + 1.0, ends  # queued ones too: stopped, or told it is busy
    assert any("busy" in r for r in refusals) and any("Stopped after" in r for r in refusals)


def test_a_store_that_cannot_be_read_is_a_refusal_not_a_crash(run, tmp_path, monkeypatch):
    broken = tmp_path / "broken.duckdb"
    broken.write_bytes(b"")
    monkeypatch.setenv("CARELAB_SCENARIOS_DB", str(broken))
    with pytest.raises(sql.SqlRefused, match="saved scenarios cannot be read"):
        sql.run_sql("SELECT 1", run)
    assert "saved_scenarios" in set(__import__("lib.dictionary", fromlist=["x"]).dictionary(run)["table"])
