"""Batch sweeps: every combination, tidy rows that equal single runs, the frontier."""

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from lib import results, sweep
from lib.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent


def test_every_combination_is_a_single_run_with_the_same_seed():
    base = Scenario.from_template("salford").with_value("sims", 200)
    grid = sweep.parse_grid(["risk.gain_share=0,1", "risk.loss_share=0.25,0.75"])
    frame = sweep.sweep(base, grid, workers=2)
    assert frame["combination"].nunique() == 4 and len(frame) == 4 * base.contract.years
    for _, row in frame[frame["year"] == base.contract.years].iterrows():
        scenario = Scenario.from_json(row["scenario_json"])
        assert (scenario.risk.gain_share, scenario.risk.loss_share) == (row["risk.gain_share"], row["risk.loss_share"])
        single = results.project(base.with_values({path: row[path] for path in grid}))
        h = single.headline()
        assert row["provider_end_p50_gbp_m"] == h["provider"]["p50"] and row["failure"] == h["failure"]
        assert row["cost_p50_gbp_m"] == single.measure("cost")["p50"].iloc[-1]
        assert row["failed_by"] == pytest.approx(h["failure"])


@pytest.mark.parametrize(
    ("items", "why"),
    [
        (["risk.gain_share"], "expected PATH=V1,V2"),
        (["risk.nope=1,2"], "not a scenario field"),
        (["risk.gain_share=0,half"], "values must be numbers"),
        (["lead.type=1,2"], "only numeric fields"),
        (["risk.gain_share=" + ",".join(["0.5"] * 50), "risk.loss_share=" + ",".join(["0.5"] * 50)], "at most 2,000"),
        ([], "at least one field"),
    ],
)
def test_a_bad_grid_is_refused_with_the_reason(items, why):
    with pytest.raises(sweep.SweepError, match=why):
        sweep.parse_grid(items)


def test_a_value_outside_a_field_s_range_names_the_field():
    with pytest.raises(sweep.SweepError, match="risk.gain_share"):
        sweep.combinations(Scenario.from_template("salford"), {"risk.gain_share": [0.5, 2.0]})


def test_the_frontier_keeps_undominated_designs_under_the_failure_level():
    ends = pd.DataFrame(
        {"failure": [0.0, 0.05, 0.1, 0.1, 0.3], "provider_end_p50_gbp_m": [1.0, 3.0, 2.0, 5.0, 9.0]}, index=list("abcde")
    )
    assert list(sweep.frontier(ends, 0.2).index) == ["a", "b", "d"]
    assert list(sweep.frontier(ends, 0.0).index) == ["a"]


def test_cli_writes_tidy_parquet_that_duckdb_and_pandas_read(tmp_path):
    out = tmp_path / "sweep.parquet"
    done = subprocess.run(
        [sys.executable, "-m", "lib", "sweep", "--template", "dudley", "--grid", "risk.gain_share=0,0.5,1",
         "--grid", "risk.loss_share=0,1", "--sims", "150", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "6/6 combinations" in done.stderr and "6 combinations" in done.stdout
    frame = pd.read_parquet(out)
    assert len(frame) == 6 * 15 and {"risk.gain_share", "risk.loss_share", "year", "failure"} <= set(frame.columns)
    counted = duckdb.sql(f"SELECT count(DISTINCT combination) FROM '{out}'").fetchall()[0][0]
    assert counted == 6
    assert json.loads(frame["scenario_json"].iloc[0])["template"] == "dudley"
    refused = subprocess.run(
        [sys.executable, "-m", "lib", "sweep", "--template", "dudley", "--grid", "risk.gain_share=0,7", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1


def test_a_sweep_on_a_two_worker_dask_cluster_gives_the_process_pool_s_rows(tmp_path, monkeypatch):
    """The same grid and seed through a Dask LocalCluster (two workers), through an existing
    cluster's scheduler from the command line, and through the process pool: identical rows."""
    from distributed import LocalCluster

    base = Scenario.from_template("northumberland").with_value("sims", 150)
    grid = sweep.parse_grid(["risk.gain_share=0,0.5,1", "contract.bid_discount=0,0.03"])
    pooled = sweep.sweep(base, grid, workers=2)
    seen: list[tuple[int, int]] = []
    on_dask = sweep.sweep(base, grid, workers=2, scheduler="local", progress=lambda done, total: seen.append((done, total)))
    pd.testing.assert_frame_equal(on_dask, pooled)
    assert seen[-1] == (6, 6) and len(seen) == 6  # progress after each combination
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        out = tmp_path / "dask.parquet"
        done = subprocess.run(
            [sys.executable, "-m", "lib", "sweep", "--template", "northumberland", "--sims", "150", "--grid",
             "risk.gain_share=0,0.5,1", "--grid", "contract.bid_discount=0,0.03", "--scheduler", cluster.scheduler_address,
             "--out", str(out)],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(out), pooled)


def test_a_large_sweep_is_written_as_parquet_parts_that_read_back_whole(tmp_path, monkeypatch):
    base = Scenario.from_template("dudley").with_value("sims", 100)
    frame = sweep.sweep(base, sweep.parse_grid(["risk.gain_share=0,0.25,0.5,0.75,1"]), workers=1)
    monkeypatch.setattr(sweep, "PARTITION_ROWS", 2 * base.contract.years)  # two combinations a part
    out = tmp_path / "large.parquet"
    assert sweep.write_parquet(frame, str(out)) == "a folder of 3 parts"
    back = pd.read_parquet(out).drop(columns="part").sort_values(["combination", "year"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)


def test_an_unreachable_scheduler_is_a_plain_refusal():
    done = subprocess.run(
        [sys.executable, "-m", "lib", "sweep", "--template", "dudley", "--grid", "risk.gain_share=0,1", "--sims", "100",
         "--scheduler", "tcp://127.0.0.1:9", "--out", "/tmp/never.parquet"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0 and "no Dask scheduler answered" in done.stderr and "Traceback" not in done.stderr


def test_a_port_that_accepts_and_never_answers_or_is_not_an_address_is_refused_plainly(monkeypatch):
    import socket

    monkeypatch.setattr(sweep, "SCHEDULER_WAIT_S", 2)
    base = Scenario.from_template("dudley").with_value("sims", 100)
    grid = sweep.parse_grid(["risk.gain_share=0,1"])
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)  # the kernel accepts connections; nothing ever answers them
        with pytest.raises(sweep.SweepError, match="no Dask scheduler answered"):
            sweep.sweep(base, grid, scheduler=f"tcp://127.0.0.1:{silent.getsockname()[1]}")
    for wrong in ("http://127.0.0.1:8786", "garbage"):
        with pytest.raises(sweep.SweepError, match="tcp://HOST:PORT"):
            sweep.sweep(base, grid, scheduler=wrong)
