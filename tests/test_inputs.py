"""Every entry point against generated input: the command line, imports, links, a baseline upload,
scenario paths and the SQL console. Each answers correctly or refuses in one line (exit 2 on the
command line); none shows a traceback; nothing already saved is changed or lost."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib import baseline, cli, links, saved, sql
from lib.scenario import Scenario, ScenarioError, flatten

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
PATHS = [path for path, _ in flatten(Scenario.from_template("blank").to_dict())]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
path_text = st.one_of(
    st.sampled_from(PATHS),
    st.builds(lambda p, extra: f"{p}.{extra}", st.sampled_from(PATHS), st.text(max_size=8)),
    st.text(max_size=30),
)
value_text = st.one_of(
    json_values.map(lambda v: json.dumps(v)),
    st.text(max_size=30),
    st.sampled_from(["true", "false", "null", '"0.5"', "1e308", "-1", "NaN", "Infinity", "[" * 200, "{}", "[]"]),
)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store with designs in it, whose every byte must be the same after the attacks."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CARELAB_SCENARIOS_DB", str(tmp_path_factory.mktemp("inputs") / "scenarios.duckdb"))
        for name, template in (("Kept 1", "salford"), ("Kept 2", "dudley"), ("Kept 3", "wakefield")):
            saved.save(name, Scenario.from_template(template), "Keep")
        before = {name: saved.export(name) for name in saved.listing()["name"]}
        yield before
        assert {name: saved.export(name) for name in before} == before


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(list(argv))
        except SystemExit as exit_:  # argparse's own refusals
            code = exit_.code if isinstance(exit_.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def assert_answered_or_refused(code: int, err: str) -> None:
    assert "Traceback" not in err
    assert code in (0, 2), err
    if code == 2 and err.startswith("error: "):
        assert err.count("\n") == 1, err


@SETTINGS
@given(path=path_text, value=value_text)
def test_cli_set_paths_and_values(store, path, value):
    code, _, err = run_cli("scenarios", "save", "Generated", "--template", "salford", "--set", f"{path}={value}")
    assert_answered_or_refused(code, err)
    if code == 0:
        saved.delete("Generated")


@SETTINGS
@given(text=st.one_of(json_values.map(json.dumps), st.text(max_size=200)), name=st.one_of(st.none(), st.text(max_size=30)))
def test_imports_of_any_text(store, tmp_path_factory, text, name):
    file = tmp_path_factory.mktemp("import") / "design.json"
    file.write_text(text, encoding="utf-8", errors="surrogatepass")
    code, _, err = run_cli("scenarios", "import", str(file), *(["--name", name] if name else []))
    assert_answered_or_refused(code, err)
    try:
        kept = saved.import_text(text, name)
    except (saved.SavedError, ScenarioError) as exc:
        assert "\n" not in str(exc)
    else:
        saved.delete(kept.name)


def exported_with(record: object) -> str:
    return json.dumps({"name": "Generated import", "scenario": record})


@SETTINGS
@given(record=json_values)
def test_imports_of_scenario_shaped_json(store, record):
    try:
        kept = saved.import_text(exported_with(record))
    except (saved.SavedError, ScenarioError) as exc:
        assert "\n" not in str(exc)
    else:
        saved.delete(kept.name)


@SETTINGS
@given(text=st.text(max_size=300), payload=json_values)
def test_links_always_open_a_scenario(text, payload):
    for link in (text, "1." + text, "1." + base64.urlsafe_b64encode(zlib.compress(json.dumps(payload).encode())).decode()):
        scenario, warnings = links.decode(link)
        assert isinstance(scenario, Scenario) and all("\n" not in w for w in warnings)
    code, _, err = run_cli("project", "--sims", "1", "--link", "1." + text)
    assert_answered_or_refused(code, err)


HEADER = ["line_id", "spend_gbp_m", "demand_growth"]
csv_cells = st.one_of(st.text(max_size=12), st.sampled_from(["acute_emergency", "61.2", "1e308", "-1", "nan", "=1+1", '"', "\r"]))


@SETTINGS
@given(
    data=st.one_of(
        st.binary(max_size=400),
        st.lists(st.lists(csv_cells, max_size=4), max_size=8).map(
            lambda rows: "\n".join(",".join(r) for r in [HEADER, *rows]).encode("utf-8", "replace")
        ),
    ),
    name=st.text(max_size=30),
    population=st.integers(min_value=-10, max_value=10**9),
)
def test_baseline_uploads_of_any_bytes(data, name, population):
    try:
        made = baseline.read(data, name, population)
    except baseline.BaselineError as exc:
        assert exc.problems and all("\n" not in p for p in exc.problems)
    else:
        assert set(made.spend_gbp_m) >= set(made.demand_growth)


@SETTINGS
@given(path=path_text, value=json_values)
def test_scenario_paths_change_a_value_or_say_why(path, value):
    try:
        Scenario.from_template("salford").with_value(path, value)
    except ScenarioError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 600


sql_parts = st.sampled_from(
    [
        "SELECT", "*", "count(*)", "FROM", "sims", "sim_year", "service_lines", "'/etc/passwd'", '"read_csv"', "read_blob",
        "(", ")", "/**/", "--", ";", "WHERE", "1=1", "glob", "'x'", "range(10)", "current_setting('threads')", "UNION",
        "WITH a AS (SELECT 1)", "a", "LIMIT 5", "ORDER BY 1", "GROUP BY 1", "getenv('HOME')", "duckdb_settings()", ",",
    ]
)  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(query=st.one_of(st.lists(sql_parts, min_size=1, max_size=10).map(" ".join), st.text(max_size=80)))
def test_sql_console_answers_or_refuses_in_one_line(query):
    try:
        found = sql.run_sql(query, None, limit=20, timeout_s=2.0)
    except sql.SqlRefused as exc:
        assert "\n" not in str(exc)
    else:
        assert len(found.frame) <= 20
        shown = found.frame.to_csv()
        assert "/work" not in shown and "/root" not in shown
