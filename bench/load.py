"""A workshop's load: thirty sessions at once against one `streamlit run`, measured in one run.

Each session speaks Streamlit's own websocket protocol (no browsers: on two cores they would
compete with the server for CPU, so every figure below is the server's): it opens Projections
on a template of its own (through a share link), moves the gain and loss shares at a person's
pace, then saves its design from the Design page. Two paces: a workshop's (a move every ~5 s
each: move, read the tiles and the chart, talk) on which the targets are judged, and a stress
pace (every ~2 s each, 15 moves a second in all) that shows where one server saturates. Printed:
  key press -> updated headline tiles, p50 and p95, for one session alone and for thirty at once
  (target: p95 under load at the workshop pace <= 3x the single session's p95);
  errors and lost saves (target: 0 and 0); the server's CPU time per move (target <= 40 ms);
  its memory per session.
Run: python bench/load.py [--sessions 30] [--moves 6] [--pace 5,2] [--gc]   (--gc: Streamlit's post-run GC on)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serve import PIDS, running_app  # noqa: E402
from lib import links, saved  # noqa: E402
from lib.scenario import Scenario  # noqa: E402

TARGET_P95_RATIO, TARGET_CPU_MS = 3.0, 40.0
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

    def __init__(self, base: str, name: str) -> None:
        self.base, self.name = base, name
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
            gain, loss = self.widgets["Gain share (%)"], self.widgets["Loss share (%)"]
            spent = cpu_seconds(PIDS[self.base])
            for move in range(moves):
                await asyncio.sleep(random.uniform(0.5, 1.5) * pace_s)
                widget = gain if move % 2 == 0 else loss
                value = float(random.choice([v for v in range(0, 101, 5) if v != 50]))
                timings.append(await self.rerun(ws, "projections", states=[(widget, "double_array_value", [value])]))
            if cpu is not None:
                cpu.append(cpu_seconds(PIDS[self.base]) - spent)
            await self.rerun(ws, "design")
            name, group = (
                (self.widgets["Name"], "string_value", self.name),
                (self.widgets["Group (optional)"], "string_value", "Load"),
            )
            await self.rerun(ws, "design", states=[name, group, (self.widgets["Save the design"], "trigger_value", True)])


async def run_sessions(
    base: str, count: int, moves: int, pace_s: float, prefix: str, cpu: list[float] | None = None
) -> tuple[list[float], list[str]]:
    timings: list[float] = []
    sessions = [Session(base, f"{prefix} {i}") for i in range(count)]
    results = await asyncio.gather(
        *(s.workshop(moves, pace_s, TEMPLATES[i % len(TEMPLATES)], timings, cpu) for i, s in enumerate(sessions)),
        return_exceptions=True,
    )
    errors = [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)]
    return timings, errors + [e for s in sessions for e in s.errors]


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--moves", type=int, default=6)
    parser.add_argument(
        "--pace", default="5,2", help="mean seconds between one person's moves; several, comma-separated: the first is judged"
    )
    parser.add_argument("--gc", action="store_true", help="leave Streamlit's garbage collection after every run on")
    args = parser.parse_args()
    paces = [float(p) for p in args.pace.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="carelab-load-"))
    os.environ["CARELAB_SCENARIOS_DB"] = str(folder / "scenarios.duckdb")
    options = ("--runner.postScriptGC", "true") if args.gc else ()
    loads = []  # (pace, timings, errors, CPU seconds, memory after)
    with running_app(folder / "server.log", options=options) as base:
        pid = PIDS[base]
        cpu_alone: list[float] = []
        alone, alone_errors = asyncio.run(run_sessions(base, 1, args.moves * 3, 0.3, "Alone", cpu_alone))
        rss_one = rss_mb(pid)
        for n, pace in enumerate(paces):
            cpu_before = cpu_seconds(pid)
            timings, errors = asyncio.run(run_sessions(base, args.sessions, args.moves, pace, f"Table {n}."))
            loads.append((pace, timings, errors, cpu_seconds(pid) - cpu_before, rss_mb(pid)))
    landed = saved.listing("Load")
    lost = 1 + args.sessions * len(paces) - len(landed)
    reruns = args.moves * args.sessions + 3 * args.sessions  # moves, plus opening, the Design page and the save
    gc = "on" if args.gc else "off"
    print(f"sessions {args.sessions}, {args.moves} moves each; post-run GC {gc}")
    print(f"{'one session alone':27s}: p50 {percentile(alone, 50) * 1000:7.1f} ms   p95 {percentile(alone, 95) * 1000:7.1f} ms")
    ratios = []
    for pace, timings, _, _, _ in loads:
        ratios.append(percentile(timings, 95) / percentile(alone, 95))
        print(f"{args.sessions} at once, a move every ~{pace:g} s: p50 {percentile(timings, 50) * 1000:7.1f} ms   "
              f"p95 {percentile(timings, 95) * 1000:7.1f} ms   p95 ratio {ratios[-1]:5.2f}x")  # fmt: skip
    print(f"p95 ratio, workshop pace     : {ratios[0]:5.2f}x   (target <= {TARGET_P95_RATIO:g}x)")
    all_errors = alone_errors + [e for load in loads for e in load[2]]
    print(f"errors                      : {len(all_errors)}   lost saves: {lost}   (targets 0 and 0)")
    per_move = cpu_alone[0] / len(alone) * 1000
    print(f"server CPU per move         : {per_move:6.1f} ms, one session moving sliders   (target <= {TARGET_CPU_MS:g} ms)")
    for pace, _, _, cpu, _ in loads:
        print(f"server CPU per run, ~{pace:g} s pace: {cpu / reruns * 1000:6.1f} ms, over {reruns} reruns of every kind")
    rss_all = loads[0][4]
    print(f"server memory               : {rss_one:6.0f} MB with one session, {rss_all:6.0f} MB with {args.sessions + 1}: "
          f"{(rss_all - rss_one) / args.sessions:5.1f} MB a session")  # fmt: skip
    for line in all_errors[:5]:
        print("  error:", line)
    met = ratios[0] <= TARGET_P95_RATIO and not all_errors and lost == 0 and per_move <= TARGET_CPU_MS
    print("verdict                     :", "PASS" if met else "MISS")


if __name__ == "__main__":
    main()
