"""The SQL console's costs and limits, measured: what a query costs now that it runs in a worker
process, and how each runaway query ends.

Prints:
  - starting a worker (once per server, and after each stopped query);
  - a small query on a warm worker, against the same query run in the server's own process on a
    connection like the console's (the price of the isolation), with their ratio;
  - each runaway query: how it was stopped, after how long (target: the time limit + 1 s) and how
    much it added to its worker's resident memory at the peak (target: <= MEMORY_LIMIT_MB).

Run: python bench/sql.py [--sims N] [--repeat R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib import results, sql  # noqa: E402
from lib.scenario import Scenario  # noqa: E402

SMALL = "SELECT year, avg(cost) AS cost, avg(budget) AS budget FROM sim_year GROUP BY year ORDER BY year"
RUNAWAYS = {
    "a 2 GB string": "SELECT length(repeat('x', 2000000000))",
    "a 4 GB string": "SELECT length(repeat('x', 4000000000))",
    "sort 3e8 random rows": "SELECT sum(x) FROM (SELECT random() AS x FROM range(300000000) ORDER BY random())",
    "a list of 1e9 items": "SELECT list(range) FROM range(1000000000)",
    "a 3e11-row cross join": "SELECT sum(a.range * b.range) FROM range(300000000) a, range(1000) b",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    run = results.project(Scenario.from_template("salford").with_value("sims", args.sims))

    start = time.perf_counter()
    sql.run_sql("SELECT 1", run)
    print(f"first query, worker started : {(time.perf_counter() - start) * 1000:7.0f} ms")

    in_worker, in_process = [], []
    for _ in range(args.repeat):
        start = time.perf_counter()
        sql.run_sql(SMALL, run)
        in_worker.append(time.perf_counter() - start)
        start = time.perf_counter()
        con = sql.tables_connection(run)
        con.execute(SMALL).fetchall()
        con.close()
        in_process.append(time.perf_counter() - start)
    worker_ms, process_ms = statistics.median(in_worker) * 1000, statistics.median(in_process) * 1000
    print(f"small query, warm worker    : {worker_ms:7.1f} ms (median of {args.repeat}; {args.sims:,} simulations' tables sent)")
    print(f"same query in the server    : {process_ms:7.1f} ms   ratio {worker_ms / process_ms:5.1f}x (the price of isolation)")

    print(f"runaways (time limit {sql.TIME_LIMIT_S:g} s, memory allowance {sql.MEMORY_LIMIT_MB} MB):")
    worst_time, worst_memory = 0.0, 0.0
    for label, query in RUNAWAYS.items():
        start = time.perf_counter()
        try:
            sql.run_sql(query, run)
            how = "answered"
        except sql.SqlRefused as exc:
            how = "time" if "Stopped after" in str(exc) else "memory" if "memory" in str(exc) else str(exc)[:40]
        seconds = time.perf_counter() - start
        added = sql.last.peak_rss_mb - sql.last.idle_rss_mb
        worst_time, worst_memory = max(worst_time, seconds), max(worst_memory, added)
        print(f"  {label:24s}: stopped for {how:7s} after {seconds:5.2f} s, +{added:5.0f} MB at peak"
              f"{'  (worker killed)' if sql.last.killed else ''}")  # fmt: skip
    print(f"slowest stop {worst_time:5.2f} s (target <= {sql.TIME_LIMIT_S + 1:g} s); "
          f"largest growth {worst_memory:4.0f} MB (target <= {sql.MEMORY_LIMIT_MB} MB)")  # fmt: skip


if __name__ == "__main__":
    main()
