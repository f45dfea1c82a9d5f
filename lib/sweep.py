"""Batch sweeps: every combination of a grid of field values, projected in parallel across the
machine's cores (a process pool), or across many machines' on a Dask cluster (an existing one's
scheduler, or a LocalCluster started for the sweep), as one tidy table (a row per combination and
contract year). Whatever runs it, the rows are the same: each combination is projected alone, with
the design's seed, and the rows are put back in the grid's order.

Each combination is an ordinary scenario with the design's seed, so its rows are exactly what
`python -m lib project` gives for that scenario. Columns: `combination`, one column per grid
field (named by its path), `year`, yearly P50s and the cumulative chance of failure, the
combination's end-of-contract headline (repeated on each of its rows), and its scenario as JSON.
"""

from __future__ import annotations

import io
import itertools
import os
import re
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from lib import bounded
from lib.results import project
from lib.scenario import Scenario, ScenarioError, field_spec

MAX_COMBINATIONS = 2000


class SweepError(ValueError):
    pass


def parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    """`risk.gain_share=0,0.25,0.5` → {"risk.gain_share": [0.0, 0.25, 0.5]}, checked against the model."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        path, sep, raw = item.partition("=")
        path = path.strip()
        if not sep or not raw.strip():
            raise SweepError(f"--grid {item!r}: expected PATH=V1,V2,..., e.g. risk.gain_share=0,0.5,1")
        try:
            spec = field_spec(path)
        except KeyError:
            raise SweepError(f"--grid {path}: not a scenario field (see `python -m lib fields`)") from None
        if spec.low is None and spec.high is None:
            raise SweepError(f"--grid {path}: only numeric fields can be swept")
        try:
            values = [int(v) if spec.integer else float(v) for v in raw.split(",")]
        except ValueError:
            raise SweepError(f"--grid {path}: values must be numbers, got {raw!r}") from None
        if path in grid:
            raise SweepError(f"--grid {path}: given twice; list all its values in one --grid")
        grid[path] = values
    if not grid:
        raise SweepError("--grid: give at least one field to sweep")
    count = int(np.prod([len(v) for v in grid.values()]))
    if count > MAX_COMBINATIONS:
        raise SweepError(f"the grid has {count:,} combinations; at most {MAX_COMBINATIONS:,} run in one sweep")
    return grid


def combinations(base: Scenario, grid: dict[str, list[Any]]) -> list[tuple[dict[str, Any], Scenario]]:
    """Every combination of the grid applied to `base` (each value checked like any input)."""
    found = []
    for values in itertools.product(*grid.values()):
        changes = dict(zip(grid, values, strict=True))
        try:
            found.append((changes, base.with_values(changes)))
        except ScenarioError as exc:
            raise SweepError(str(exc)) from None
    return found


def rows_of(scenario_json: str) -> list[dict[str, Any]]:
    """One combination's rows (a top-level function, so worker processes can run it)."""
    run = project(Scenario.from_json(scenario_json))
    h = run.headline()
    measures = ("budget", "cost", "provider_cumulative", "commissioner_cumulative")
    run.summarise(fans=list(measures))  # one query for the four
    yearly = {m: run.measure(m).set_index("year") for m in measures}
    failed = run.failure_by_year().set_index("year")["failed_by"]
    ends = {
        "provider_end_p10_gbp_m": h["provider"]["p10"],
        "provider_end_p50_gbp_m": h["provider"]["p50"],
        "provider_end_p90_gbp_m": h["provider"]["p90"],
        "commissioner_end_p50_gbp_m": h["commissioner"]["p50"],
        "deficit_any_year": h["deficit_any_year"],
        "failure": h["failure"],
    }
    return [
        {"year": int(year)}
        | {f"{m}_p50_gbp_m": float(frame.loc[year, "p50"]) for m, frame in yearly.items()}
        | {"provider_cumulative_p10_gbp_m": float(yearly["provider_cumulative"].loc[year, "p10"])}
        | {"failed_by": float(failed.loc[year])}
        | ends
        | {"scenario_json": scenario_json}
        for year in yearly["cost"].index
    ]


def sweep(
    base: Scenario,
    grid: dict[str, list[Any]],
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    scheduler: str | None = None,
) -> pd.DataFrame:
    """Project every combination as one tidy table: in `workers` processes (1 = in this process),
    or on Dask when `scheduler` is a scheduler's address (tcp://HOST:PORT) or "local" (a
    LocalCluster of `workers` processes, started and stopped here)."""
    combos = combinations(base, grid)
    jobs = [scenario.to_json() for _, scenario in combos]
    if scheduler:
        results = _on_dask(jobs, scheduler, workers, progress)
    else:
        results = _in_processes(jobs, min(workers or os.cpu_count() or 1, len(jobs)), progress)
    records = [
        {"combination": i} | {path: value for path, value in changes.items()} | row
        for i, ((changes, _), rows) in enumerate(zip(combos, results, strict=True))
        for row in rows
    ]
    return pd.DataFrame(records)


def _in_processes(jobs: list[str], workers: int, progress: Callable[[int, int], None] | None) -> list[list[dict[str, Any]]]:
    results: list[list[dict[str, Any]]] = []
    if workers <= 1:
        for done, job in enumerate(jobs, 1):
            results.append(rows_of(job))
            if progress:
                progress(done, len(jobs))
        return results
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for done, rows in enumerate(pool.map(rows_of, jobs, chunksize=max(1, len(jobs) // (workers * 4))), 1):
            results.append(rows)
            if progress:
                progress(done, len(jobs))
    return results


def _on_dask(
    jobs: list[str], scheduler: str, workers: int | None, progress: Callable[[int, int], None] | None
) -> list[list[dict[str, Any]]]:
    """Each combination a Dask task; the results put back in the grid's order as they arrive."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover - distributed is pinned in requirements.txt
        raise SweepError("sweeps on Dask need the distributed package (pip install -r requirements.txt)") from None
    if scheduler != "local" and not SCHEDULER_ADDRESS.fullmatch(scheduler):
        raise SweepError(f"--scheduler {scheduler!r}: give a Dask scheduler's address, tcp://HOST:PORT (or tls://HOST:PORT)")
    cluster = None
    try:
        if scheduler == "local":
            count = workers or os.cpu_count() or 1
            cluster = LocalCluster(n_workers=count, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
        else:
            client = _connected(Client, scheduler)
    except Exception as exc:  # noqa: BLE001 - whatever answered there (or nothing), it was not a scheduler we can use
        raise SweepError(f"--scheduler {scheduler}: no Dask scheduler answered ({type(exc).__name__})") from None
    try:
        futures = client.map(rows_of, jobs, pure=False)
        place = {future.key: i for i, future in enumerate(futures)}
        results: list[list[dict[str, Any]] | None] = [None] * len(jobs)
        for done, future in enumerate(as_completed(futures), 1):
            results[place[future.key]] = future.result()
            if progress:
                progress(done, len(jobs))
        return results  # type: ignore[return-value] - every place is filled once all have completed
    except (SweepError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - a worker or the scheduler could not run a combination
        said = str(exc).splitlines()[0][:160] if str(exc) else ""
        raise SweepError(
            f"the Dask cluster could not run a combination ({type(exc).__name__}: {said}); "
            "its scheduler and workers need this project, its requirements and the same data/ installed"
        ) from None
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


SCHEDULER_ADDRESS = re.compile(r"(tcp|tls)://[\w.\-\[\]:]+:\d{1,5}")
SCHEDULER_WAIT_S = 15  # a scheduler answers at once; a port that accepts and says nothing is given up on

def _connected(client_class: Any, scheduler: str) -> Any:
    """A client of the scheduler at `scheduler`, or TimeoutError after SCHEDULER_WAIT_S: Dask's own
    timeout does not cover a port that accepts the connection and never answers."""
    return bounded.within(SCHEDULER_WAIT_S + 5, lambda: client_class(scheduler, timeout=SCHEDULER_WAIT_S))


PARTITION_ROWS = 500_000  # a sweep larger than this is written as a folder of Parquet parts


def write_parquet(frame: pd.DataFrame, out: str) -> str:
    """Write a sweep as one Parquet file, or, when large, a folder partitioned by blocks of
    combinations (pandas.read_parquet reads either back whole). Returns what was written."""
    if len(frame) <= PARTITION_ROWS:
        frame.to_parquet(out, index=False)
        return "one file"
    per_part = max(1, PARTITION_ROWS // max(1, len(frame) // max(1, frame["combination"].nunique())))
    parted = frame.assign(part=frame["combination"] // per_part)
    parted.to_parquet(out, index=False, partition_cols=["part"])
    return f"a folder of {parted['part'].nunique()} parts"


def read_file(data: bytes) -> pd.DataFrame:
    """A sweep written by `python -m lib sweep` (Parquet), checked for the columns a sweep has."""
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except Exception:  # pyarrow raises several kinds for a file that is not Parquet
        raise SweepError("That file is not a Parquet file written by python -m lib sweep.") from None
    needed = {"combination", "year", "failure", "provider_end_p50_gbp_m"}
    if not needed <= set(frame.columns) or len(grid_columns(frame)) < 2:
        raise SweepError("That file is not a sweep of two or more terms (python -m lib sweep --grid A=... --grid B=...).")
    return frame


def progress_bar(done: int, total: int, out=sys.stderr) -> None:
    width = 30
    filled = int(width * done / total)
    out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} combinations")
    if done == total:
        out.write("\n")
    out.flush()


def per_combination(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per combination: its grid values and end-of-contract headline."""
    ends = [
        c for c in frame.columns if c.startswith(("provider_end", "commissioner_end")) or c in ("deficit_any_year", "failure")
    ]
    keys = ["combination", *grid_columns(frame)]
    return frame.groupby(keys, as_index=False)[ends].first()


def grid_columns(frame: pd.DataFrame) -> list[str]:
    """The swept fields (columns named by a field path)."""
    return [c for c in frame.columns if "." in c]


def frontier(ends: pd.DataFrame, max_failure: float) -> pd.DataFrame:
    """Designs whose chance of failure stays at or under `max_failure` and that no other such
    design beats on both counts (lower failure and a better provider end position, P50)."""
    safe = ends[ends["failure"] <= max_failure].sort_values(["failure", "provider_end_p50_gbp_m"], ascending=[True, False])
    best, keep = -np.inf, []
    for idx, row in safe.iterrows():
        if row["provider_end_p50_gbp_m"] > best:
            keep.append(idx)
            best = row["provider_end_p50_gbp_m"]
    return safe.loc[keep]
