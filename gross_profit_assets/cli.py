"""``gross-profit``: the scriptable face of the same assets the Dagster UI shows.

    gross-profit ingest FILE... [--month YYYY-MM]   land billing exports in the landing bucket
    gross-profit run [--month YYYY-MM]... [--json]  materialize every asset with its checks
    gross-profit demo                               fresh lake + the bundled seed sample + run
    gross-profit generate --rows N --months M --out DIR   synthetic seed-format data
    gross-profit aws bootstrap-script | create-cluster ... the AWS deployment (docs/aws.md)

Progress goes to stderr; with ``--json`` the last line on stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from gross_profit_assets.aws.commands import add_aws_commands
from gross_profit_assets.csv_files import join_csv_files
from gross_profit_assets.settings import HOME_ENV_VAR, LocalPaths

SAMPLE_DIR = Path(__file__).parent / "sample_data"
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _use_home(home: str | None) -> LocalPaths:
    """Point the deployment at ``home`` (before the definitions are imported) and give CLI runs
    a Dagster instance there unless ``DAGSTER_HOME`` says otherwise."""
    if home:
        os.environ[HOME_ENV_VAR] = str(Path(home).resolve())
    paths = LocalPaths.from_env()
    if "DAGSTER_HOME" not in os.environ:
        os.environ["DAGSTER_HOME"] = str(paths.dagster_home)
        paths.dagster_home.mkdir(parents=True, exist_ok=True)
        config = paths.dagster_home / "dagster.yaml"
        if not config.exists():
            config.write_text("# Dagster instance of gross-profit CLI runs.\ntelemetry:\n  enabled: false\n")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return paths


def _instance():
    import dagster as dg

    return dg.DagsterInstance.get()


def _register_months(instance, months: list[str]) -> None:
    from gross_profit_assets.assets.partitions import billing_months

    known = set(instance.get_dynamic_partitions(billing_months.name))
    new = [m for m in months if m not in known]
    if new:
        instance.add_dynamic_partitions(billing_months.name, new)


# --- ingest -------------------------------------------------------------------------------


def cmd_ingest(args: argparse.Namespace) -> int:
    from gross_profit_assets.definitions import defs
    from gross_profit_assets.landing import LandingError, land_file

    store = defs.resources["object_store"]
    failures = 0
    months: set[str] = set()
    for name in args.files:
        path = Path(name)
        try:
            if not path.is_file():
                raise LandingError(f"{name}: no such file")
            for landed in land_file(store, path, args.month):
                months.add(landed.billing_month)
                progress(f"landed {path.name} -> {store.uri(landed.key)} ({landed.table}, {landed.rows} rows)")
        except LandingError as exc:
            failures += 1
            progress(f"error: {exc}")
    _register_months(_instance(), sorted(months))
    return 1 if failures else 0


# --- run ------------------------------------------------------------------------------------


@dataclass
class RunSummary:
    months: list[str]
    lines_in: int = 0
    lines_reported: int = 0
    lines_quarantined: int = 0
    revenue_usd: Decimal = Decimal("0.00")
    cogs_usd: Decimal = Decimal("0.00")
    gross_profit_usd: Decimal = Decimal("0.00")
    checks: list[dict] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    report: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "ok": not self.failures,
            "months": self.months,
            "lines_in": self.lines_in,
            "lines_reported": self.lines_reported,
            "lines_quarantined": self.lines_quarantined,
            # Money as exact decimal strings: a JSON float could not promise the cent.
            "revenue_usd": str(self.revenue_usd),
            "cogs_usd": str(self.cogs_usd),
            "gross_profit_usd": str(self.gross_profit_usd),
            "checks": self.checks,
            "failures": self.failures,
            "warnings": self.warnings,
            "report": self.report,
        }


def _collect(result, summary: RunSummary) -> None:
    """Fold one run's materializations and check evaluations into the summary."""
    from dagster import AssetCheckSeverity

    from gross_profit_assets.assets.keys import GOVERNED_BILLING_LINES, GROSS_PROFIT_REPORT, QUARANTINED_BILLING_LINES

    for event in result.get_asset_materialization_events():
        key = event.asset_key
        meta = {k: v.value for k, v in event.materialization.metadata.items()}
        if key == GOVERNED_BILLING_LINES:
            summary.lines_in += meta["lines_in"]
        elif key == QUARANTINED_BILLING_LINES:
            summary.lines_quarantined += meta["dagster/row_count"]
        elif key == GROSS_PROFIT_REPORT:
            exact = meta["totals_exact"]
            summary.lines_reported += int(exact["lines"] or 0)
            for name in ("revenue_usd", "cogs_usd", "gross_profit_usd"):
                setattr(summary, name, getattr(summary, name) + Decimal(exact[name] or "0"))
    for evaluation in result.get_asset_check_evaluations():
        summary.checks.append(
            {
                "name": evaluation.check_name,
                "asset": evaluation.asset_key.to_user_string(),
                "passed": evaluation.passed,
                "severity": evaluation.severity.value,
                "description": evaluation.description,
            }
        )
        if not evaluation.passed and evaluation.severity == AssetCheckSeverity.WARN:
            summary.warnings.append(
                f"check {evaluation.check_name} on {evaluation.asset_key.to_user_string()}: "
                f"{evaluation.description}"
            )
        elif not evaluation.passed:
            summary.failures.append(
                f"check {evaluation.check_name} on {evaluation.asset_key.to_user_string()} "
                f"failed: {evaluation.description}"
            )
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure:
                summary.failures.append(f"step {event.step_key} failed: {_root_cause(event.step_failure_data.error)}")


def _root_cause(error) -> str:
    """The innermost error's message: the user's problem, not Dagster's wrapper around it."""
    while error is not None and error.cause is not None:
        error = error.cause
    return error.message.strip() if error is not None else "unknown error"


def _run_job(job_name: str, summary: RunSummary, verbose: bool, months: list[str] | None = None):
    from gross_profit_assets.assets.partitions import run_partitions
    from gross_profit_assets.definitions import defs

    job = defs.resolve_job_def(job_name)
    result = job.execute_in_process(
        instance=_instance(),
        raise_on_error=False,
        run_config={} if verbose else QUIET_RUN_CONFIG,
        **(run_partitions(months) if months else {}),
    )
    _collect(result, summary)
    return result


def _report_files(paths: LocalPaths, summary: RunSummary, all_months: list[str]) -> dict[str, str]:
    from gross_profit_assets.assets.keys import GROSS_PROFIT_REPORT
    from gross_profit_assets.assets.report import REPORT_CSV, month_report_csv
    from gross_profit_assets.contract import PARTITION_KEY

    table = paths.lake.joinpath(*GROSS_PROFIT_REPORT.path)
    if summary.months == all_months:
        lines_csv, lines_parquet = paths.reports / REPORT_CSV, table
    elif len(summary.months) == 1:
        (month,) = summary.months
        lines_csv, lines_parquet = paths.reports / month_report_csv(month), table / f"{PARTITION_KEY}={month}"
    else:
        lines_csv = paths.reports / f"gross_profit_report_{summary.months[0]}_to_{summary.months[-1]}.csv"
        _concatenate_csv([paths.reports / month_report_csv(m) for m in summary.months], lines_csv)
        lines_parquet = table
    return {
        "lines_csv": str(lines_csv),
        "lines_parquet": str(lines_parquet),
        "html": str(paths.reports / "gross_profit_report.html"),
    }


def _concatenate_csv(parts: list[Path], target: Path) -> None:
    """Month CSVs share one header; keep it once."""
    with open(target, "wb") as out:
        if not join_csv_files(parts, out):  # would stop short: say so rather than drop months
            raise ValueError(f"the month CSVs joined into {target} do not share one header")


def run_pipeline(months: list[str] | None, verbose: bool = False) -> RunSummary:
    """Materialize every asset (with its checks) for ``months`` (default: every landed month)."""
    from gross_profit_assets.assets.partitions import billing_months, month_runs
    from gross_profit_assets.definitions import defs
    from gross_profit_assets.jobs import MONTH_JOB, SUMMARY_JOB
    from gross_profit_assets.landing import landed_months
    from gross_profit_assets.resources.spark import stopped_driver

    paths = LocalPaths.from_env()
    landed = landed_months(defs.resources["object_store"])
    wanted = sorted(set(months)) if months else landed
    missing = [m for m in wanted if m not in landed]
    summary = RunSummary(months=wanted)
    if missing:
        summary.failures.append(f"nothing has landed for {missing}; landed months: {landed}")
        return summary
    if not wanted:
        summary.failures.append("nothing has landed yet: run `gross-profit ingest FILE...` first")
        return summary
    instance = _instance()
    _register_months(instance, wanted)
    # Consecutive months share a run (at most GROSS_PROFIT_MONTHS_PER_RUN of them): one read,
    # one join and one write per table for all of them (assets/partitions.py).
    runs = month_runs(wanted, instance.get_dynamic_partitions(billing_months.name))
    month_runs_ok = True
    for index, months in enumerate(runs, start=1):
        started = time.monotonic()
        label = months[0] if len(months) == 1 else f"{months[0]}..{months[-1]} ({len(months)} months)"
        progress(f"[{index}/{len(runs)}] {label}: land -> crawl -> govern -> report ...")
        result = _run_job(MONTH_JOB, summary, verbose, months)
        month_runs_ok &= result.success
        state = "done" if result.success else "FAILED"
        progress(f"[{index}/{len(runs)}] {label}: {state} in {time.monotonic() - started:.1f}s")
        if not result.success and (stopped := stopped_driver()):
            unreported = [m for later in runs[index - 1 :] for m in later]
            summary.failures.append(f"{stopped}; months without a report: {', '.join(unreported)}")
            break
    if not month_runs_ok:
        return summary  # a month without its report must not be summarised as if complete
    started = time.monotonic()
    progress("summary: all months -> summaries, CSV and HTML report ...")
    result = _run_job(SUMMARY_JOB, summary, verbose)
    progress(f"summary: {'done' if result.success else 'FAILED'} in {time.monotonic() - started:.1f}s")
    if result.success:
        summary.report = _report_files(paths, summary, landed)
    return summary


def _print_summary(summary: RunSummary, as_json: bool) -> int:
    for warning in summary.warnings:
        progress(f"warning: {warning}")
    for failure in summary.failures:
        progress(f"error: {failure}")
    if as_json:
        print(json.dumps(summary.as_json()))
    elif not summary.failures:
        print(
            f"{len(summary.months)} month(s) {', '.join(summary.months)}: "
            f"{summary.lines_in} lines in, {summary.lines_reported} reported, "
            f"{summary.lines_quarantined} quarantined; revenue {summary.revenue_usd} USD, "
            f"COGS {summary.cogs_usd} USD, gross profit {summary.gross_profit_usd} USD"
        )
        for label, location in summary.report.items():
            print(f"  {label}: {location}")
    return 1 if summary.failures else 0


def cmd_run(args: argparse.Namespace) -> int:
    return _print_summary(run_pipeline(args.month, args.verbose), args.json)


# --- demo -----------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    paths = LocalPaths.from_env()
    progress(f"demo: fresh local lake in {paths.home}")
    for managed in (paths.object_store, paths.catalog.parent, paths.lake, paths.reports, paths.audit_log.parent):
        shutil.rmtree(managed, ignore_errors=True)
    ingest = argparse.Namespace(files=sorted(str(p) for p in SAMPLE_DIR.glob("*.csv")), month=None)
    if cmd_ingest(ingest):
        return 1
    summary = run_pipeline(None, args.verbose)
    status = _print_summary(summary, args.json)
    if not status and not args.json:
        print(f"\nThe gross-profit report is at {summary.report['lines_csv']}")
        print(f"Open {summary.report['html']} in a browser for the charts.")
    return status


# --- generate -------------------------------------------------------------------------------


def cmd_generate(args: argparse.Namespace) -> int:
    from gross_profit_assets.generate import generate

    data = generate(
        args.out,
        rows=args.rows,
        months=args.months,
        start_month=args.start_month,
        seed=args.seed,
        files_per_month=args.files_per_month,
        unmatched_rate=args.unmatched_rate,
        progress=progress,
    )
    progress(f"generated {args.rows} bill lines over {args.months} month(s) in {args.out}")
    return 0 if data else 1


# --- entry point ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gross-profit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", help=f"root of the local deployment (default: ${HOME_ENV_VAR} or ./.gross_profit)")
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="land billing exports in the landing bucket")
    ingest.add_argument("files", nargs="+", metavar="FILE")
    ingest.add_argument("--month", help="billing month (YYYY-MM) for files whose rows carry no date")
    ingest.set_defaults(func=cmd_ingest)

    run = commands.add_parser("run", help="materialize every asset with its checks")
    run.add_argument("--month", action="append", help="billing month YYYY-MM (repeatable; default: all landed)")
    run.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    run.add_argument("--verbose", action="store_true", help="show Dagster's own event log")
    run.set_defaults(func=cmd_run)

    demo = commands.add_parser("demo", help="fresh local lake, bundled seed sample, full run")
    demo.add_argument("--json", action="store_true")
    demo.add_argument("--verbose", action="store_true")
    demo.set_defaults(func=cmd_demo)

    gen = commands.add_parser("generate", help="synthetic seed-format billing data")
    gen.add_argument("--rows", type=int, required=True)
    gen.add_argument("--months", type=int, required=True)
    gen.add_argument("--out", required=True)
    gen.add_argument("--start-month", default="2023-01")
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--files-per-month", type=int, default=1)
    gen.add_argument("--unmatched-rate", type=float, default=0.01)
    gen.set_defaults(func=cmd_generate)

    add_aws_commands(commands)  # gross-profit aws ... (docs/aws.md)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _use_home(args.home)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
