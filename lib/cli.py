"""`python -m lib`: the analysts' command line over the same library the dashboard uses.

  python -m lib templates [--format json|table]
  python -m lib project --template ID [--scenario FILE.json] [--set PATH=VALUE ...]
                        [--sims N] [--seed S] [--central] [--format json|csv]
  python -m lib fields            every scenario field path: default, unit, range and meaning
  python -m lib evidence [--sims N] [--format json|table]
                                  each published figure beside the templates' projections of it

Money is in £m; contract years count from 1.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

from lib import catalogue, engine, memory, results, views
from lib.scenario import Scenario, ScenarioError, field_spec, flatten


class CliError(Exception):
    pass


def parse_value(text: str) -> Any:
    """A --set value: JSON where it parses (0.5, true, null, "reinvest"), else the bare word."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def template_rows() -> list[dict[str, Any]]:
    rows = []
    cat = catalogue.current()
    for tid in cat.template_ids:
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


def build_scenario(args: argparse.Namespace) -> Scenario:
    scenario = Scenario.from_template(args.template)
    if args.scenario:
        path = Path(args.scenario)
        if not path.exists():
            raise CliError(f"--scenario: no such file {path}")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"--scenario: cannot read {path} as UTF-8 JSON text ({exc.__class__.__name__})") from None
        scenario = Scenario.from_json(text)
    changes: dict[str, Any] = {}
    for item in args.set or []:
        if "=" not in item:
            raise CliError(f"--set {item!r}: expected PATH=VALUE, e.g. risk.gain_share=0.5")
        path, _, raw = item.partition("=")
        changes[path.strip()] = parse_value(raw)
    if args.sims is not None:
        changes["sims"] = args.sims
    if args.seed is not None:
        changes["seed"] = args.seed
    for path, value in changes.items():
        scenario = scenario.with_value(path, value)
    if args.central:
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


def print_evidence(sims: int, fmt: str) -> None:
    cat = catalogue.current()
    runs = {tid: results.project(Scenario.from_template(tid).with_value("sims", sims)) for tid in cat.template_ids}
    check = views.evidence_check(cat, runs)
    if fmt == "json":
        print(json.dumps(check.to_dict("records"), indent=1))
        return
    for r in check.itertuples():
        print(
            f"{r.template:<40} {r.years:>5} published {r.published_points:5.1f}  model P50 {r.model_p50:5.1f} "
            f"(P10 {r.model_p10:5.1f} to P90 {r.model_p90:5.1f})  {r.verdict}"
        )


def main(argv: list[str] | None = None) -> int:
    memory.keep_freed_memory()  # the CLI is an entry point: tune the allocator once (lib/memory.py)
    parser = argparse.ArgumentParser(prog="python -m lib", description="Care Models Lab: templates and projections")
    sub = parser.add_subparsers(dest="command", required=True)
    p_templates = sub.add_parser("templates", help="list the vanguard templates")
    p_templates.add_argument("--format", choices=["json", "table"], default="table")
    p_project = sub.add_parser("project", help="project a scenario over its contract")
    p_project.add_argument("--template", required=True)
    p_project.add_argument("--scenario", help='a scenario JSON file (as `project` prints under "scenario")')
    p_project.add_argument("--set", action="append", metavar="PATH=VALUE", help="change one field; repeatable")
    p_project.add_argument("--sims", type=int)
    p_project.add_argument("--seed", type=int)
    p_project.add_argument("--central", action="store_true", help="one path at the central values, no sampling")
    p_project.add_argument("--format", choices=["json", "csv"], default="json")
    sub.add_parser("fields", help="list the scenario's field paths")
    p_evidence = sub.add_parser("evidence", help="the published vanguard figures beside the model's projections")
    p_evidence.add_argument("--sims", type=int, default=2000)
    p_evidence.add_argument("--format", choices=["json", "table"], default="table")
    args = parser.parse_args(argv)

    try:
        if args.command == "templates":
            rows = template_rows()
            if args.format == "json":
                print(json.dumps(rows, indent=2))
            else:
                for r in rows:
                    print(
                        f"{r['id']:<15} {r['model']:<24} pop {r['population']:>9,}  {r['contract_years']:>2} yrs"
                        f"  £{r['pooled_budget_gbp_m']:>7.1f}m  {r['approach']}"
                    )
        elif args.command == "evidence":
            print_evidence(args.sims, args.format)
        elif args.command == "fields":
            print("\n".join(field_rows()))
        else:
            report = results.project(build_scenario(args)).to_report()
            if args.format == "json":
                print(json.dumps(report, indent=1))
            else:
                write_csv(report, sys.stdout)
    except (ScenarioError, catalogue.UnknownTemplateError, CliError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
