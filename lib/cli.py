"""`python -m lib`: the analysts' command line over the same library the dashboard uses.

  python -m lib templates [--format json|table]
  python -m lib project --template ID [--scenario FILE.json] [--set PATH=VALUE ...]
                        [--sims N] [--seed S] [--central] [--format json|csv]
  python -m lib fields            every scenario field path: default, unit, range and meaning
  python -m lib evidence [--sims N] [--format json|table]
                                  each published figure beside the templates' projections of it
  python -m lib project --link LINK                 what a share link (or an app URL) holds
  python -m lib project --template ID --stress NAME[,NAME]   the design under named stress tests
  python -m lib pack (--template ID | --scenario FILE | --saved NAME) --out pack.html
                                  the board pack: one HTML file that opens with no network
  python -m lib sql "SELECT …" [--template ID] [--format csv|json]
                                  one guarded read query over the reference data, a projection and the saved scenarios
  python -m lib sweep --template ID --grid PATH=V1,V2,... [--grid ...] [--sims N] [--workers W] --out FILE.parquet|csv
                     [--scheduler tcp://HOST:PORT | --cluster local]   on a Dask cluster instead of a process pool
                                  every combination, in parallel, one row per combination and year
  python -m lib tornado --template ID [--set PATH=VALUE ...] [--sims N] [--format json|table]
                                  how far each assumption moves the provider's end position and failure
  python -m lib scenarios save NAME --template ID [--set PATH=VALUE ...] [--group G] [--replace]
  python -m lib scenarios list [--group G] [--format json|table] | show NAME | rename OLD NEW
  python -m lib scenarios delete NAME | export NAME | import FILE [--name N] [--replace] | link NAME
  python -m lib scenarios history [NAME] | restore VERSION [--name N] [--replace]
  python -m lib scenarios backup FILE | restore-backup FILE   the whole store, either back end
                                  designs replaced or deleted in the last 30 days, and bringing one back
  python -m lib compare A B [C D] [--sims N] [--format json|csv]   saved names or template ids

Money is in £m; contract years count from 1.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any, NoReturn

from lib import catalogue, engine, evidence, export, links, memory, results, saved, sensitivity, sql, stress, sweep, views
from lib.scenario import Scenario, ScenarioError, field_spec, flatten, read_json, usable_templates


class CliError(Exception):
    pass


# Everything the library refuses with a message meant for the user: one line on stderr, exit 2.
REFUSALS = (
    ScenarioError, catalogue.UnknownTemplateError, CliError, saved.SavedError, stress.StressError, sql.SqlRefused,
    sweep.SweepError,
)  # fmt: skip


def parse_value(text: str) -> Any:
    """A --set value: JSON where it parses (0.5, true, null, "reinvest"), else the bare word."""
    try:
        return read_json(text)
    except ValueError:
        return text


def template_rows() -> list[dict[str, Any]]:
    rows = []
    cat = catalogue.current()
    usable, skipped = usable_templates()
    for note in skipped:
        print(f"note: {one_line(note)}", file=sys.stderr)
    for tid in usable:
        scenario = Scenario.from_template(tid)
        info = cat.template(tid).info
        rows.append(
            {
                "id": tid,
                "name": info["name"],
                "model": info["model"],
                "population": scenario.population,
                "contract_years": scenario.contract.years,
                "pooled_budget_gbp_m": round(scenario.pooled_budget_gbp_m(), 3),
                "approach": scenario.approach(),
                "headline": info["headline"],
                "headline_source": info["headline_source"],
            }
        )
    return rows


def read_link(text: str) -> Scenario:
    """The scenario a link holds (the `s` value, or a whole app URL); refused if any part is unusable."""
    query = urllib.parse.urlparse(text).query
    link = urllib.parse.parse_qs(query).get("s", [text])[0] if query else text
    scenario, warnings = links.decode(link)
    if refused := [w for w in warnings if not w.startswith(links.TEMPLATE_CHANGED)]:
        raise CliError(f"--link: {refused[0]}")
    for note in warnings:  # a link made on other template defaults opens, as in the app, and says so
        print(f"note: --link: {note}", file=sys.stderr)
    return scenario


MAX_SCENARIO_BYTES = 1_000_000  # a scenario file is a few kB


def read_text(path_text: str, option: str, most_bytes: int = MAX_SCENARIO_BYTES) -> str:
    """A small UTF-8 text file named on the command line, read only if it is no larger than `most_bytes`."""
    path = Path(path_text)
    try:
        if not path.is_file():
            raise CliError(f"{option}: no such file {path}")
        if path.stat().st_size > most_bytes:
            raise CliError(f"{option}: {path} is {path.stat().st_size:,} bytes; at most {most_bytes:,}")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{option}: cannot read {path} as UTF-8 JSON text ({exc.__class__.__name__})") from None


def build_scenario(args: argparse.Namespace) -> Scenario:
    if getattr(args, "scenario", None):
        scenario = Scenario.from_json(read_text(args.scenario, "--scenario"))
    elif getattr(args, "link", None):
        scenario = read_link(args.link)
    elif args.template:
        scenario = Scenario.from_template(args.template)
    else:
        raise CliError("--template, --link or --scenario: say which scenario to start from")
    return with_changes(scenario, args)


def with_changes(scenario: Scenario, args: argparse.Namespace) -> Scenario:
    """The scenario with the command line's --set, --sims, --seed and --central applied."""
    changes: dict[str, Any] = {}
    for item in args.set or []:
        if "=" not in item:
            raise CliError(f"--set {item!r}: expected PATH=VALUE, e.g. risk.gain_share=0.5")
        path, _, raw = item.partition("=")
        changes[path.strip()] = parse_value(raw)
    if getattr(args, "sims", None) is not None:
        changes["sims"] = args.sims
    if getattr(args, "seed", None) is not None:
        changes["seed"] = args.seed
    for path, value in changes.items():
        scenario = scenario.with_value(path, value)
    if getattr(args, "central", False):
        scenario = engine.central_case(scenario)
    return scenario


def write_csv(report: dict[str, Any], out) -> None:
    """One row per year and measure: year, measure, p10, p50, p90, mean."""
    writer = csv.writer(out)
    writer.writerow(["year", "measure", "p10", "p50", "p90", "mean"])
    for year in report["years"]:
        for key, stat in year.items():
            if isinstance(stat, dict) and key != "outcomes":
                writer.writerow([year["year"], key, stat["p10"], stat["p50"], stat["p90"], stat["mean"]])
        for key, stat in year["outcomes"].items():
            writer.writerow([year["year"], key, stat["p10"], stat["p50"], stat["p90"], stat["mean"]])


def field_rows() -> list[str]:
    """One line per field path of the blank template: path = default  [unit, range] meaning."""
    out = []
    for path, value in flatten(Scenario.from_template("blank").to_dict()):
        spec = field_spec(path)
        facts = ", ".join(x for x in (spec.unit, spec.allowed()) if x)
        out.append(f"{path} = {json.dumps(value)}  [{facts}] {spec.help}".rstrip())
    return out


def add_scenario_commands(sub) -> None:
    p = sub.add_parser("scenarios", help="the saved scenarios the dashboard shares").add_subparsers(dest="action", required=True)
    p_save = p.add_parser("save", help="save a design under a name")
    p_save.add_argument("name")
    p_save.add_argument("--template")
    p_save.add_argument("--link")
    p_save.add_argument("--set", action="append", metavar="PATH=VALUE")
    p_save.add_argument("--group")
    p_save.add_argument("--replace", action="store_true", help="replace a design already saved under NAME (kept in history)")
    p_list = p.add_parser("list", help="every saved design, or one group's")
    p_list.add_argument("--group")
    p_list.add_argument("--format", choices=["json", "table"], default="table")
    for action in ("show", "delete", "export", "link"):
        p.add_parser(action).add_argument("name")
    p_rename = p.add_parser("rename")
    p_rename.add_argument("old")
    p_rename.add_argument("new")
    p_import = p.add_parser("import", help="save a design from an exported JSON file")
    p_import.add_argument("file")
    p_import.add_argument("--name")
    p_import.add_argument("--replace", action="store_true", help="replace a design already saved under that name")
    p_history = p.add_parser("history", help=f"designs replaced or deleted in the last {saved.KEEP_DAYS} days")
    p_history.add_argument("name", nargs="?")
    p_history.add_argument("--format", choices=["json", "table"], default="table")
    p_restore = p.add_parser("restore", help="bring back a replaced or deleted design (its VERSION from history)")
    p_restore.add_argument("version", type=int)
    p_restore.add_argument("--name", help="restore under another name")
    p_restore.add_argument("--replace", action="store_true", help="replace a design already saved under that name")
    p_backup = p.add_parser("backup", help="write the saved designs, their history and the custom places to one JSON file")
    p_backup.add_argument("file")
    p_back = p.add_parser("restore-backup", help="put a backup into an empty store (the file or the PostgreSQL server)")
    p_back.add_argument("file")


def run_scenarios(args: argparse.Namespace) -> None:
    if args.action == "save":
        kept = saved.save(args.name, build_scenario(args), args.group, replace=args.replace)
        group = f", group {kept.group}" if kept.group else ""
        print(f"saved {json.dumps(kept.name, ensure_ascii=False)} ({kept.scenario.template}{group})")
    elif args.action == "list":
        print_rows(
            saved.listing(args.group), args.format,
            lambda r: f"{r.name:<40} {r.group or '':<20} {r.template:<15} {r.saved_at:%Y-%m-%d %H:%M}",
        )  # fmt: skip
    elif args.action == "history":
        print_rows(
            saved.history(args.name), args.format,
            lambda r: f"{r.version:>6} {r.why:<9} {r.retired_at:%Y-%m-%d %H:%M}  {r.name:<40} {r.group or '':<20} {r.template}",
        )  # fmt: skip
    elif args.action == "restore":
        kept = saved.restore(args.version, args.name, replace=args.replace)
        print(f"restored {json.dumps(kept.name, ensure_ascii=False)}")
    elif args.action == "show":
        kept, changes = saved.load(args.name)
        print(
            json.dumps(
                {"name": kept.name, "group": kept.group, "changed_since": changes, "scenario": kept.scenario.to_dict()}, indent=1
            )
        )
    elif args.action == "rename":
        saved.rename(args.old, args.new)
    elif args.action == "delete":
        saved.delete(args.name)
    elif args.action == "export":
        print(saved.export(args.name))
    elif args.action == "import":
        kept = saved.import_text(read_text(args.file, "import", saved.MAX_IMPORT_BYTES), args.name, replace=args.replace)
        print(f"saved {json.dumps(kept.name, ensure_ascii=False)}")
    elif args.action == "link":
        print(f"/design?s={links.encode(saved.load(args.name)[0].scenario)}")
    elif args.action == "backup":
        out = Path(args.file)
        writable_destination(out)
        text, count, kept = saved.backup()
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CliError(f"backup {args.file}: cannot write ({exc.strerror})") from None
        print(f"backed up {count} designs and {kept} custom places from {saved.where()} to {args.file}")
    elif args.action == "restore-backup":
        designs, retired, kept = saved.restore_backup(read_text(args.file, "restore-backup", 1_000_000_000))
        print(f"restored {designs} designs, {retired} history entries and {kept} custom places into {saved.where()}")


def print_rows(rows, fmt: str, line) -> None:  # noqa: ANN001 - a frame and a row formatter
    """Saved designs (or their history) as JSON records, or one formatted line each."""
    if fmt == "json":
        print(json.dumps(json.loads(rows.to_json(orient="records", date_format="iso")), indent=1))
        return
    for r in rows.itertuples():
        print(line(r))


def named_scenario(name: str) -> Scenario:
    """A saved design by name, else a template by id."""
    try:
        return saved.load(name)[0].scenario
    except saved.SavedError:
        if name in catalogue.current().template_ids:
            return Scenario.from_template(name)
        raise CliError(f"compare: {json.dumps(name)} is neither a saved scenario nor a template id") from None


def print_comparison(names: list[str], sims: int | None, fmt: str) -> None:
    if not 2 <= len(names) <= 4:
        raise CliError(f"compare: give two to four names, not {len(names)}")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise CliError(f"compare: name each design once ({json.dumps(twice[0])} is given twice)")
    scenarios = {n: named_scenario(n) for n in names}
    if sims is not None:
        scenarios = {n: s.with_value("sims", sims) for n, s in scenarios.items()}
    table = views.compare_table({n: results.project(s) for n, s in scenarios.items()})
    if fmt == "csv":
        table.to_csv(sys.stdout, index=False)
        return
    differ = views.differing_assumptions(scenarios)
    print(json.dumps({"headline": table.to_dict("records"), "differing": differ.to_dict("records")}, indent=1, default=str))


def print_evidence(sims: int, fmt: str) -> None:
    cat = catalogue.current()
    runs = {
        tid: results.project(evidence.scenario_for(cat, Scenario.from_template(tid).with_value("sims", sims)))
        for tid in usable_templates()[0]
    }
    check = evidence.check(cat, runs)
    if fmt == "json":
        print(json.dumps({"coverage": evidence.coverage(check), "comparisons": check.to_dict("records")}, indent=1))
        return
    print(evidence.coverage(check))
    for r in check.itertuples():
        print(
            f"{r.template:<40} {r.measure:<22} {r.years:>5} {r.compared}: published {r.published_points:5.1f}  "
            f"model P50 {r.model_p50:5.1f} (P10 {r.model_p10:5.1f} to P90 {r.model_p90:5.1f})  {r.verdict}; {r.role}"
        )


def write_pack(args: argparse.Namespace) -> None:
    if args.saved:
        if args.template or args.link or args.scenario:
            raise CliError("--saved: give one of --template, --link, --scenario or --saved")
        scenario = with_changes(saved.load(args.saved)[0].scenario, args)
    else:
        scenario = build_scenario(args)
    writable_destination(Path(args.out))
    page = export.board_pack(results.project(scenario))
    try:
        Path(args.out).write_text(page, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"--out {args.out}: cannot write ({exc.strerror})") from None
    print(f"wrote {args.out} ({len(page) / 1e6:.1f} MB)")


def print_sql(args: argparse.Namespace) -> None:
    if not (args.template or args.link or args.scenario):
        args.template = "salford"
    if not 1 <= args.limit <= sql.ROW_LIMIT:
        raise CliError(f"--limit {args.limit}: give 1 to {sql.ROW_LIMIT:,} rows")
    found = sql.run_sql(args.query, results.project(build_scenario(args)), limit=args.limit)
    if args.format == "json":
        print(found.frame.to_json(orient="records", indent=1))
    else:
        sys.stdout.write(export.csv_bytes(found.frame).decode("utf-8"))
    if found.truncated:
        print(f"note: only the first {args.limit} rows are shown", file=sys.stderr)


def write_sweep(args: argparse.Namespace) -> None:
    out = Path(args.out)
    if out.suffix not in (".parquet", ".csv"):
        raise CliError(f"--out {args.out}: name a .parquet or .csv file")
    writable_destination(out)
    grid = sweep.parse_grid(args.grid)
    if args.scheduler and args.cluster:
        raise CliError("--scheduler and --cluster: give one (an existing scheduler's address, or --cluster local)")
    on = args.scheduler or args.cluster
    frame = sweep.sweep(build_scenario(args), grid, workers=args.workers, progress=sweep.progress_bar, scheduler=on)
    try:
        written = sweep.write_parquet(frame, str(out)) if out.suffix == ".parquet" else out.write_bytes(export.csv_bytes(frame))
    except OSError as exc:
        raise CliError(f"--out {args.out}: cannot write ({exc.strerror})") from None
    shape = f" as {written}" if isinstance(written, str) else ""
    print(f"wrote {out}{shape}: {frame['combination'].nunique()} combinations, {len(frame)} rows")


def writable_destination(out: Path) -> None:
    """Refuse an output file that cannot be written before any work is done for it: a file is made
    in its folder and removed again (permissions alone do not tell, for root or in /proc)."""
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise CliError(f"--out {out}: no such folder {folder}")
    if out.is_dir() or (out.exists() and not out.is_file()):
        raise CliError(f"--out {out}: is not a file that can be written")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".carelab-", suffix=".check"):
            pass
        if out.exists():
            with out.open("ab"):
                pass
    except OSError as exc:
        raise CliError(f"--out {out}: cannot be written here ({exc.strerror})") from None


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a refusal is one line on stderr ("error: …") and exit 2, as every other refusal is."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog.removeprefix('python -m lib ')}: {one_line(message)} (see --help)\n")


def print_tornado(scenario: Scenario, fmt: str) -> None:
    bars = sensitivity.tornado(scenario)
    if fmt == "json":
        print(json.dumps({"scenario": scenario.to_dict(), "bars": bars.to_dict("records")}, indent=1))
        return
    print(f"{'assumption':<58} {'low':>12} {'high':>12} {'P50 £m low':>11} {'high':>8} {'failure low':>12} {'high':>6}")
    for r in bars.itertuples():
        print(
            f"{r.label[:58]:<58} {r.low:>12} {r.high:>12} {r.provider_p50_low_gbp_m:>11.1f} {r.provider_p50_high_gbp_m:>8.1f}"
            f" {r.failure_low:>12.0%} {r.failure_high:>6.0%}"
        )


def main(argv: list[str] | None = None) -> int:
    memory.keep_freed_memory()  # the CLI is an entry point: tune the allocator once (lib/memory.py)
    parser = OneLineParser(prog="python -m lib", description="Care Models Lab: templates and projections")
    sub = parser.add_subparsers(dest="command", required=True)
    p_templates = sub.add_parser("templates", help="list the vanguard templates")
    p_templates.add_argument("--format", choices=["json", "table"], default="table")
    p_project = sub.add_parser("project", help="project a scenario over its contract")
    p_project.add_argument("--template")
    p_project.add_argument("--link", help="a share link, or an app URL holding one")
    p_project.add_argument("--scenario", help='a scenario JSON file (as `project` prints under "scenario")')
    p_project.add_argument("--set", action="append", metavar="PATH=VALUE", help="change one field; repeatable")
    p_project.add_argument("--sims", type=int)
    p_project.add_argument("--seed", type=int)
    p_project.add_argument("--central", action="store_true", help="one path at the central values, no sampling")
    p_project.add_argument("--format", choices=["json", "csv"], default="json")
    p_project.add_argument(
        "--stress", help=f"stress tests to apply, comma-separated: {', '.join(stress.all_stresses())}", metavar="NAME[,NAME]"
    )
    p_tornado = sub.add_parser("tornado", help="how far each assumption moves the provider's end position and failure")
    for option in ("--template", "--link", "--scenario"):
        p_tornado.add_argument(option)
    p_tornado.add_argument("--set", action="append", metavar="PATH=VALUE")
    p_tornado.add_argument("--sims", type=int)
    p_tornado.add_argument("--format", choices=["json", "table"], default="table")
    p_pack = sub.add_parser("pack", help="write the board pack: one HTML file that opens with no network")
    for option in ("--template", "--link", "--scenario", "--saved"):
        p_pack.add_argument(option)
    p_pack.add_argument("--set", action="append", metavar="PATH=VALUE")
    p_pack.add_argument("--sims", type=int)
    p_pack.add_argument("--out", required=True, help="the HTML file to write")
    p_sql = sub.add_parser("sql", help="one read-only query over the reference data, a projection and saved scenarios")
    p_sql.add_argument("query")
    for option in ("--template", "--link", "--scenario"):
        p_sql.add_argument(option, help="the projection whose tables the query sees (default: salford)")
    p_sql.add_argument("--set", action="append", metavar="PATH=VALUE")
    p_sql.add_argument("--sims", type=int)
    p_sql.add_argument("--limit", type=int, default=sql.ROW_LIMIT)
    p_sql.add_argument("--format", choices=["csv", "json"], default="csv")
    p_sweep = sub.add_parser("sweep", help="project every combination of a grid of values, in parallel")
    for option in ("--template", "--link", "--scenario"):
        p_sweep.add_argument(option)
    p_sweep.add_argument("--set", action="append", metavar="PATH=VALUE")
    p_sweep.add_argument("--grid", action="append", required=True, metavar="PATH=V1,V2,...")
    p_sweep.add_argument("--sims", type=int)
    p_sweep.add_argument("--seed", type=int)
    p_sweep.add_argument("--workers", type=int, help="processes (default: one per core; with --cluster local, Dask's workers)")
    p_sweep.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on an existing Dask cluster (its scheduler)")
    p_sweep.add_argument("--cluster", choices=["local"], help="start a Dask LocalCluster for the sweep (default: a process pool)")
    p_sweep.add_argument("--out", required=True, help="a .parquet or .csv file")
    sub.add_parser("fields", help="list the scenario's field paths")
    p_evidence = sub.add_parser("evidence", help="the published vanguard figures beside the model's projections")
    p_evidence.add_argument("--sims", type=int, default=2000)
    p_evidence.add_argument("--format", choices=["json", "table"], default="table")
    add_scenario_commands(sub)
    p_compare = sub.add_parser("compare", help="two to four designs side by side (saved names or template ids)")
    p_compare.add_argument("names", nargs="+")
    p_compare.add_argument("--sims", type=int)
    p_compare.add_argument("--format", choices=["json", "csv"], default="json")
    args = parser.parse_args(argv)

    try:
        if args.command == "templates":
            rows = template_rows()
            if args.format == "json":
                print(json.dumps(rows, indent=2))
            else:
                wide, model = (max(len(r[k]) for r in rows) for k in ("id", "model"))  # columns line up
                for r in rows:
                    print(
                        f"{r['id']:<{wide}} {r['model']:<{model}} pop {r['population']:>9,}  {r['contract_years']:>2} yrs"
                        f"  £{r['pooled_budget_gbp_m']:>7.1f}m  {r['approach']}"
                    )
        elif args.command == "evidence":
            print_evidence(args.sims, args.format)
        elif args.command == "scenarios":
            run_scenarios(args)
        elif args.command == "compare":
            print_comparison(args.names, args.sims, args.format)
        elif args.command == "pack":
            write_pack(args)
        elif args.command == "sql":
            print_sql(args)
        elif args.command == "sweep":
            write_sweep(args)
        elif args.command == "tornado":
            print_tornado(build_scenario(args), args.format)
        elif args.command == "fields":
            print("\n".join(field_rows()))
        else:
            shocks = stress.parse(args.stress or "")
            report = results.project(stress.apply(build_scenario(args), shocks)).to_report()
            if shocks:
                named = stress.all_stresses()
                report["stresses"] = [{k: getattr(named[i], k) for k in ("id", "name", "what", "source")} for i in shocks]
            if args.format == "json":
                print(json.dumps(report, indent=1))
            else:
                write_csv(report, sys.stdout)
    except REFUSALS as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader stopped early (`| head`): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's flush at exit would raise again
        return 0
    except Exception as exc:  # a fault of ours, not of the input: still one line, and a different exit code
        print(f"error: unexpected {type(exc).__name__} ({one_line(str(exc))[:200]}); please report it", file=sys.stderr)
        return 1
    return 0


def one_line(text: str) -> str:
    return " ".join(text.split())
