"""A workshop's load, and an event's: sessions at once against one `streamlit run`, and against
two replicas behind nginx (scripts/serve.sh), measured in one run.

Each session speaks Streamlit's own websocket protocol (no browsers: on two cores they would
compete with the server for CPU, so every figure below is the servers'): it opens Projections
on a template of its own (through a share link), moves the gain and loss shares at a person's
pace, then saves its design from the Design page. The workshop pace (a move every ~5 s each:
move, read the tiles and the chart, talk) is the one the targets are judged on; a stress pace
(every ~2 s) shows where one server saturates. Printed, one row per set-up:
  key press -> updated headline tiles, p50 and p95, and p95 against one session alone
  (target: p95 of 30 at the workshop pace on one process <= 3x the single session's);
  the servers' CPU per rerun and per move (target <= 30 ms a move on one process), memory per
  session, errors and lost saves (targets 0 and 0).
Run: python bench/load.py [--sessions 30] [--moves 6] [--pace 5,2] [--replicas 2] [--gc]
     python bench/load.py --url http://HOST:PORT [--run-dir DIR]   (a server already running, such
     as scripts/serve.sh; --run-dir is its run folder, whose replica-*.pid files give CPU and memory)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serve import PIDS, free_port, running_app  # noqa: E402
from lib import links, saved  # noqa: E402
from lib.scenario import Scenario  # noqa: E402

TARGET_P95_RATIO, TARGET_CPU_MS = 3.0, 30.0
TEMPLATES = ["salford", "northumberland", "dudley", "south_somerset", "sandwell_wb", "wakefield", "mid_notts", "uniting_care"]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


class Session:
    """One browser tab, as the server sees it: rerun requests out, deltas back."""

    def __init__(self, base: str, name: str, pids: Callable[[], list[int]]) -> None:
        self.base, self.name, self.pids = base, name, pids
        self.widgets: dict[str, str] = {}  # label -> element id
        self.tiles: list[str] = []
        self.errors: list[str] = []

    async def rerun(self, ws, page: str, query: str = "", states: list | None = None) -> float:
        """Ask for a rerun; return the seconds until the headline tiles (or the run) are complete."""
        msg = BackMsg()
        msg.rerun_script.page_name = page
        msg.rerun_script.query_string = query
        for widget_id, kind, value in states or []:
            state = msg.rerun_script.widget_states.widgets.add()
            state.id = widget_id
            if kind == "double_array_value":
                state.double_array_value.data.extend(value)
            else:
                setattr(state, kind, value)
        start = time.perf_counter()
        await ws.send(msg.SerializeToString())
        tiles, done = [], None
        while True:
            fm = ForwardMsg.FromString(await ws.recv())
            kind = fm.WhichOneof("type")
            if kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
                element = fm.delta.new_element
                which = element.WhichOneof("type")
                if which == "metric":
                    tiles.append(element.metric.body)
                    if page == "projections" and len(tiles) == 5 and done is None:
                        done = time.perf_counter() - start
                elif which == "exception":
                    self.errors.append(element.exception.message[:200])
                elif which in ("slider", "text_input", "button"):
                    widget = getattr(element, which)
                    self.widgets[widget.label] = widget.id
            elif kind == "script_finished":
                self.tiles = tiles or self.tiles
                return done if done is not None else time.perf_counter() - start

    async def workshop(
        self, moves: int, pace_s: float, template: str, timings: list[float], cpu: list[float] | None = None
    ) -> None:
        """Open a template, move sliders, save; `cpu` (alone only) gets the server's CPU seconds
        spent on the moves themselves."""
        url = self.base.replace("http", "ws") + "/_stcore/stream"
        async with websockets.connect(url, subprotocols=["streamlit"], origin=self.base, max_size=None) as ws:
            link = links.encode(Scenario.from_template(template))
            await self.rerun(ws, "projections", f"s={link}")
            gain, loss = (next(i for label, i in self.widgets.items() if what in label) for what in ("gain share", "loss share"))
            spent = cpu_of(self.pids())
            for move in range(moves):
                await asyncio.sleep(random.uniform(0.5, 1.5) * pace_s)
                widget = gain if move % 2 == 0 else loss
                value = float(random.choice([v for v in range(0, 101, 5) if v != 50]))
                timings.append(await self.rerun(ws, "projections", states=[(widget, "double_array_value", [value])]))
            if cpu is not None:
                cpu.append(cpu_of(self.pids()) - spent)
            await self.rerun(ws, "design")
            name, group = (
                (self.widgets["Name"], "string_value", self.name),
                (self.widgets["Group (optional)"], "string_value", "Load"),
            )
            await self.rerun(ws, "design", states=[name, group, (self.widgets["Save the design"], "trigger_value", True)])


def cpu_of(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids if Path(f"/proc/{pid}").exists())


def rss_of(pids: list[int]) -> float:
    return sum(rss_mb(pid) for pid in pids if Path(f"/proc/{pid}").exists())


async def run_sessions(
    base: str, pids: Callable[[], list[int]], count: int, moves: int, pace_s: float, prefix: str, cpu: list[float] | None = None
) -> tuple[list[float], list[str]]:
    timings: list[float] = []
    sessions = [Session(base, f"{prefix} {i}", pids) for i in range(count)]
    results = await asyncio.gather(
        *(s.workshop(moves, pace_s, TEMPLATES[i % len(TEMPLATES)], timings, cpu) for i, s in enumerate(sessions)),
        return_exceptions=True,
    )
    errors = [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)]
    return timings, errors + [e for s in sessions for e in s.errors]


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


@dataclass
class Load:
    setup: str
    sessions: int
    pace: float
    timings: list[float]
    errors: list[str]
    cpu_s: float
    reruns: int
    rss_growth_mb: float
    client_cpu_s: float  # this process's CPU: the sessions' own work, on the same cores as the servers


def measure(base: str, pids: Callable[[], list[int]], setup: str, sessions: int, moves: int, pace: float, tag: str) -> Load:
    """`sessions` at once at `pace`: their timings, errors, the servers' CPU and memory growth."""
    cpu_before, rss_before, client_before = cpu_of(pids()), rss_of(pids()), time.process_time()
    timings, errors = asyncio.run(run_sessions(base, pids, sessions, moves, pace, tag))
    reruns = moves * sessions + 3 * sessions  # moves, plus opening, the Design page and the save
    cpu, rss, client = cpu_of(pids()) - cpu_before, rss_of(pids()) - rss_before, time.process_time() - client_before
    return Load(setup, sessions, pace, timings, errors, cpu, reruns, rss, client)


@contextmanager
def replicas(count: int, folder: Path) -> Iterator[tuple[str, Callable[[], list[int]]]]:
    """scripts/serve.sh with `count` replicas behind nginx: its address, and its replicas' pids."""
    run_dir, port, log_path = folder / f"serve-{count}", free_port(), folder / f"serve-{count}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            ["bash", "scripts/serve.sh", "--replicas", str(count), "--port", str(port), "--run-dir", str(run_dir)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(),
        )  # fmt: skip
    try:
        while "Care Models Lab: http" not in log_path.read_text():
            if process.poll() is not None:
                raise RuntimeError(f"scripts/serve.sh stopped: {log_path.read_text()[-500:]}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", lambda: pids_in(run_dir)
    finally:
        process.terminate()
        process.wait(timeout=60)


def pids_in(run_dir: Path) -> list[int]:
    return [int(p.read_text()) for p in sorted(run_dir.glob("replica-*.pid"))]


def report(alone: list[float], loads: list[Load], lost: int, cpu_alone_s: float, rss_one: float, note: str) -> bool:
    p95_alone = percentile(alone, 95)
    print(note)
    print(f"{'set-up':34s} {'sessions':>8s} {'pace':>6s} {'p50 ms':>8s} {'p95 ms':>8s} {'p95 x':>6s} "
          f"{'CPU/run':>8s} {'MB/session':>10s} {'errors':>6s} {'client CPU/run':>14s}")  # fmt: skip
    print(f"{'one session alone':34s} {1:8d} {'0.3 s':>6s} {percentile(alone, 50) * 1000:8.1f} {p95_alone * 1000:8.1f} "
          f"{1.0:6.2f} {'':>8s} {'':>10s} {0:6d}")  # fmt: skip
    for load in loads:
        p95 = percentile(load.timings, 95)
        print(f"{load.setup:34s} {load.sessions:8d} {load.pace:5g}s {percentile(load.timings, 50) * 1000:8.1f} "
              f"{p95 * 1000:8.1f} {p95 / p95_alone:6.2f} {load.cpu_s / load.reruns * 1000:6.1f}ms "
              f"{load.rss_growth_mb / load.sessions:10.1f} {len(load.errors):6d} "
              f"{load.client_cpu_s / load.reruns * 1000:12.1f}ms")  # fmt: skip
    per_move = cpu_alone_s / len(alone) * 1000
    print(f"server CPU per move (one process, one session moving sliders, warm): {per_move:5.1f} ms   "
          f"(target <= {TARGET_CPU_MS:g} ms)")  # fmt: skip
    print(f"server memory with one session: {rss_one:5.0f} MB;   lost saves: {lost}   (target 0)")
    judged = loads[0]
    ratio = percentile(judged.timings, 95) / p95_alone
    print(f"p95 ratio, {judged.sessions} at the workshop pace on one process: {ratio:5.2f}x   (target <= {TARGET_P95_RATIO:g}x)")
    errors = [e for load in loads for e in load.errors]
    for line in errors[:5]:
        print("  error:", line)
    met = ratio <= TARGET_P95_RATIO and not errors and lost == 0 and per_move <= TARGET_CPU_MS
    print("verdict:", "PASS" if met else "MISS")
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--moves", type=int, default=6)
    parser.add_argument(
        "--pace", default="5,2", help="mean seconds between one person's moves; several, comma-separated: the first is judged"
    )
    parser.add_argument("--replicas", type=int, default=2, help="replicas behind nginx for the second set-up (0: skip it)")
    parser.add_argument("--url", help="measure a server already running at this address instead")
    parser.add_argument("--run-dir", help="with --url: scripts/serve.sh's run folder (its replicas' pids)")
    parser.add_argument("--gc", action="store_true", help="leave Streamlit's garbage collection after every run on")
    args = parser.parse_args()
    paces = [float(p) for p in args.pace.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="carelab-load-"))
    if not args.url:
        os.environ["CARELAB_SCENARIOS_DB"] = str(folder / "scenarios.duckdb")
    options = ("--runner.postScriptGC", "true") if args.gc else ()
    loads: list[Load] = []
    n = args.sessions
    if args.url:
        pids = (lambda: pids_in(Path(args.run_dir))) if args.run_dir else (lambda: [])
        cpu_alone: list[float] = []
        alone, _ = asyncio.run(run_sessions(args.url, pids, 1, args.moves * 3, 0.3, "Alone", cpu_alone))
        rss_one = rss_of(pids())
        for i, pace in enumerate(paces):
            loads.append(measure(args.url, pids, f"the server at {args.url}", n, args.moves, pace, f"Table {i}."))
        note = f"{n} sessions, {args.moves} moves each, against {args.url}"
    else:
        with running_app(folder / "server.log", options=options) as base:
            pid = PIDS[base]
            one = lambda: [pid]  # noqa: E731
            cpu_cold: list[float] = []  # the first moves of a fresh server (code paths and caches warming)
            cold, _ = asyncio.run(run_sessions(base, one, 1, args.moves * 2, 0.3, "Cold", cpu_cold))
            cpu_alone = []  # then a session on the warm server: what a move costs through a workshop
            alone, _ = asyncio.run(run_sessions(base, one, 1, args.moves * 8, 0.3, "Alone", cpu_alone))
            print(f"a fresh server's first {len(cold)} moves: {cpu_cold[0] / len(cold) * 1000:.1f} ms of CPU a move")
            rss_one = rss_mb(pid)
            for i, pace in enumerate(paces):
                loads.append(measure(base, one, "one process", n, args.moves, pace, f"Table {i}."))
        if args.replicas:
            with replicas(args.replicas, folder) as (base, pids):
                for count in (n, 2 * n):
                    setup = f"{args.replicas} replicas behind nginx"
                    loads.append(measure(base, pids, setup, count, args.moves, paces[0], f"Proxy {count}."))
        note = f"{args.moves} moves each; post-run GC {'on' if args.gc else 'off'}; {os.cpu_count()} cores"
    landed = saved.listing("Load")
    lost = (1 if args.url else 2) + sum(load.sessions for load in loads) - len(landed)
    report(alone, loads, lost, cpu_alone[0], rss_one, note)


if __name__ == "__main__":
    main()
