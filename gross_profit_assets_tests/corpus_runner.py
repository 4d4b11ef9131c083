"""Runs a bad-input corpus case through the real pipeline, in-process, and collects what a user
would look at afterwards.

Each case gets its own deployment, exactly as ``gross-profit`` builds it (``LocalPaths`` under a
fresh home, ``local_resources``), its own Dagster instance, and the real assets and checks of
``gross_profit_assets.definitions`` selected the way the jobs select them. Only the Spark session
is shared: starting one per case would cost more than the whole corpus.

The month job publishes each month's report CSV; the all-months summary (summaries, the
all-months CSV, the HTML page) runs only where a case asks for it with ``summary: true``. It
reads back the same report Parquet and writes the same CSV through the same publisher, and on a
two-core machine it is a third of a case's time: running it for every case would double the
corpus' share of ``make test`` without testing anything about the bad input.

A case is a directory under ``corpus/`` holding small CSV files and an ``expected.yaml``::

    description: what the case is about and why the outcome is right
    land:                                    # in order
      - ingest: billing.csv                  # like `gross-profit ingest billing.csv`
        month: 2023-07                       # optional: like --month
        error: [billing.csv, byte offset 91] # optional: ingest must refuse, naming these
      - put: raw.csv                         # an upload straight to the bucket, bypassing ingest
        key: billing/billing_month=2023-07/raw.csv
    summary: true                            # optional: then the all-months summary too
    expect:                                  # see test_corpus.py for each key's meaning
      run_ok: true
      lines_in: 3
      ...
    rerun:                                   # optional: files that arrive late, then a re-run
      land: [...]
      summary: true
      expect: {...}
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import yaml

from gross_profit_assets.assets.keys import (
    GOVERNED_BILLING_LINES,
    GROSS_PROFIT_REPORT,
    QUARANTINED_BILLING_LINES,
)
from gross_profit_assets.assets.partitions import billing_months, month_runs, run_partitions
from gross_profit_assets.assets.report import REPORT_CSV, month_report_csv
from gross_profit_assets.contract import INPUT_TABLES, PARTITION_KEY
from gross_profit_assets.crawling.local_catalog import LocalGlueCatalog
from gross_profit_assets.definitions import defs
from gross_profit_assets.deployments import local_resources
from gross_profit_assets.jobs import gross_profit_month, gross_profit_summary_job
from gross_profit_assets.landing import LandingError, land_file, landed_months
from gross_profit_assets.settings import LocalPaths

CORPUS_DIR = Path(__file__).parent / "corpus"
EXPECTED_FILE = "expected.yaml"
MONEY_FIELDS = ("revenue_usd", "cogs_usd", "gross_profit_usd")
# Dagster's DEBUG event log would bury a failing case's real message in pytest's output.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


# --- cases ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Landing:
    """One file of a case and how it reaches the landing bucket."""

    file: str
    via: str  # "ingest" (land_file, as the CLI does) or "put" (straight to ``key``)
    month: str | None = None
    key: str | None = None
    error: tuple[str, ...] = ()  # fragments of the LandingError ingest must raise

    @classmethod
    def from_yaml(cls, entry: dict) -> Landing:
        if "ingest" in entry:
            return cls(entry["ingest"], "ingest", entry.get("month"), error=tuple(entry.get("error", ())))
        return cls(entry["put"], "put", key=entry["key"])


@dataclass(frozen=True)
class Stage:
    """Files to land, then what the run over every landed month (and the summary, if asked for)
    must show."""

    land: tuple[Landing, ...]
    expect: dict
    summary: bool = False

    @classmethod
    def from_yaml(cls, spec: dict) -> Stage:
        landings = tuple(Landing.from_yaml(e) for e in spec["land"])
        return cls(landings, spec["expect"], bool(spec.get("summary", False)))


@dataclass(frozen=True)
class Case:
    name: str
    directory: Path
    description: str
    first: Stage
    rerun: Stage | None = None


def load_case(directory: Path) -> Case:
    spec = yaml.safe_load((directory / EXPECTED_FILE).read_text(encoding="utf-8"))
    return Case(
        name=directory.name,
        directory=directory,
        description=spec["description"],
        first=Stage.from_yaml(spec),
        rerun=Stage.from_yaml(spec["rerun"]) if "rerun" in spec else None,
    )


def corpus_cases() -> list[Case]:
    """Every case directory, by name (a directory without expected.yaml is a mistake, and
    ``load_case`` says so)."""
    return [load_case(d) for d in sorted(CORPUS_DIR.iterdir()) if d.is_dir()]


# --- what a run shows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckEvaluation:
    name: str
    asset: str
    passed: bool
    severity: str
    description: str
    metadata: str  # the evaluation's metadata as JSON text, for "the check names the file"

    def mentions(self, fragment: str) -> bool:
        return fragment in self.description or fragment in self.metadata


@dataclass
class Outcome:
    """Everything one run of the case's months (then the summary) left behind."""

    months: list[str]
    landing_errors: dict[str, str]  # file name -> LandingError message, for ingests refused
    runs_succeeded: bool = True
    failures: list[str] = field(default_factory=list)  # failed steps' root causes
    checks: list[CheckEvaluation] = field(default_factory=list)
    lines_in: int = 0
    lines_reported: int = 0
    lines_quarantined: int = 0
    totals: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(MONEY_FIELDS, Decimal(0)))
    rejected_files: list[str] = field(default_factory=list)
    landed_keys: list[str] = field(default_factory=list)
    quarantined: list[dict] = field(default_factory=list)
    governed: list[dict] = field(default_factory=list)
    report_header: list[str] | None = None  # None when no report CSV was published
    report: list[dict] = field(default_factory=list)
    catalog_columns: dict[str, list[str]] = field(default_factory=dict)
    fx_rates: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    @property
    def run_ok(self) -> bool:
        """The CLI's exit rule: every run succeeded and no check of severity ERROR failed."""
        return self.runs_succeeded and not any(
            not c.passed and c.severity == "ERROR" for c in self.checks
        )

    def diagnosis(self) -> str:
        """What went wrong in the runs, for an assertion message."""
        failed = [f"{c.asset}:{c.name} ({c.severity}) {c.description}" for c in self.checks if not c.passed]
        return "\n".join(
            [f"months={self.months} runs_succeeded={self.runs_succeeded}"]
            + [f"failure: {f}" for f in self.failures]
            + [f"failed check: {f}" for f in failed]
            + [f"landing error: {n}: {m}" for n, m in self.landing_errors.items()]
        )


# --- the pipeline of one case -------------------------------------------------------------------


def pipeline_assets() -> list:
    """The code location's assets and checks, without the resources it binds them to (the case
    brings its own deployment)."""
    return [*(defs.assets or []), *(defs.asset_checks or [])]


def _root_cause(error) -> str:
    """The innermost error's message: the user's problem, not Dagster's wrapper around it."""
    while error is not None and error.cause is not None:
        error = error.cause
    return error.message.strip() if error is not None else "unknown error"


class CasePipeline:
    """One case's own deployment under ``home``: object store, catalog, lake, reports, and an
    ephemeral Dagster instance that lives as long as the case (re-runs share it, as a user's
    instance would)."""

    def __init__(self, home: Path):
        self.paths = LocalPaths(home=home)
        self.resources = local_resources(self.paths)
        self.store = self.resources["object_store"]
        self.instance = dg.DagsterInstance.ephemeral()
        self.landing_errors: dict[str, str] = {}

    def land(self, directory: Path, landings: tuple[Landing, ...]) -> None:
        """Lands the files as a user would: through ingest (errors recorded, not raised) or
        uploaded straight to a key."""
        self.landing_errors = {}
        for landing in landings:
            path = directory / landing.file
            if landing.via == "put":
                self.store.put_file(str(path), landing.key)
                continue
            try:
                land_file(self.store, path, landing.month)
            except LandingError as exc:
                self.landing_errors[landing.file] = str(exc)

    def run(self, summary: bool = False) -> Outcome:
        """Every landed month through the month job's selection (consecutive months in one run),
        then (``summary``) the summary job's when the months ran, as ``gross-profit run`` does; then reads back the lake, the
        report CSV, the catalog and the landing zone."""
        months = landed_months(self.store)
        self._register(months)
        outcome = Outcome(months=months, landing_errors=dict(self.landing_errors))
        for run_months in month_runs(months, self.instance.get_dynamic_partitions(billing_months.name)):
            self._collect(self._materialize(gross_profit_month.selection, run_months), outcome)
        summarized = summary and bool(months) and outcome.runs_succeeded
        if summarized:
            self._collect(self._materialize(gross_profit_summary_job.selection, None), outcome)
        self._read_back(outcome, summarized)
        return outcome

    def _register(self, months: list[str]) -> None:
        known = set(self.instance.get_dynamic_partitions(billing_months.name))
        new = [m for m in months if m not in known]
        if new:
            self.instance.add_dynamic_partitions(billing_months.name, new)

    def _materialize(self, selection, months: list[str] | None):
        return dg.materialize(
            pipeline_assets(),
            selection=selection,
            **(run_partitions(months) if months else {}),
            resources=self.resources,
            instance=self.instance,
            raise_on_error=False,
            run_config=QUIET_RUN_CONFIG,
        )

    @staticmethod
    def _collect(result, outcome: Outcome) -> None:
        """Folds one run's materializations and check evaluations in, as ``cli._collect`` does."""
        outcome.runs_succeeded &= result.success
        for event in result.get_asset_materialization_events():
            meta = {k: v.value for k, v in event.materialization.metadata.items()}
            if event.asset_key == GOVERNED_BILLING_LINES:
                outcome.lines_in += meta["lines_in"]
                outcome.rejected_files += [
                    r if isinstance(r, str) else json.dumps(r) for r in meta.get("rejected_files", [])
                ]
            elif event.asset_key == QUARANTINED_BILLING_LINES:
                outcome.lines_quarantined += meta["dagster/row_count"]
            elif event.asset_key == GROSS_PROFIT_REPORT:
                exact = meta["totals_exact"]
                outcome.lines_reported += int(exact["lines"] or 0)
                for name in MONEY_FIELDS:
                    outcome.totals[name] += Decimal(exact[name] or "0")
        for evaluation in result.get_asset_check_evaluations():
            outcome.checks.append(
                CheckEvaluation(
                    name=evaluation.check_name,
                    asset=evaluation.asset_key.to_user_string(),
                    passed=evaluation.passed,
                    severity=evaluation.severity.value,
                    description=evaluation.description or "",
                    metadata=json.dumps(
                        {k: v.value for k, v in evaluation.metadata.items()}, default=str
                    ),
                )
            )
        for event in result.all_events:
            if event.is_step_failure:
                outcome.failures.append(f"{event.step_key}: {_root_cause(event.step_failure_data.error)}")

    def _read_back(self, outcome: Outcome, summarized: bool) -> None:
        outcome.landed_keys = [o.key for o in self.store.list_objects()]
        outcome.quarantined = read_lake_table(self.paths, QUARANTINED_BILLING_LINES)
        outcome.governed = read_lake_table(self.paths, GOVERNED_BILLING_LINES)
        csv_names = [REPORT_CSV] if summarized else [month_report_csv(m) for m in outcome.months]
        outcome.report_header, outcome.report = read_report_csvs([self.paths.reports / n for n in csv_names])
        outcome.catalog_columns = read_catalog_columns(self.paths)
        outcome.fx_rates = read_landed_fx_rates(self.paths)


# --- reading back what the pipeline wrote -------------------------------------------------------


def read_lake_table(paths: LocalPaths, key: dg.AssetKey) -> list[dict]:
    """Rows of a partitioned lake table, read with DuckDB (not the pipeline's own Spark code);
    ``source_file`` shortened to the file name, as the expectations name files."""
    files = sorted(str(p) for p in paths.lake.joinpath(*key.path).glob(f"{PARTITION_KEY}=*/*.parquet"))
    if not files:
        return []
    with duckdb.connect() as con:
        cursor = con.execute("select * from read_parquet(?, hive_partitioning = true)", [files])
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, values)) for values in cursor.fetchall()]
    for row in rows:
        row["file"] = Path(row["source_file"]).name
    return rows


def read_report_csvs(paths: list[Path]) -> tuple[list[str] | None, list[dict]]:
    """Published report CSVs as text cells, exactly as a spreadsheet user gets them: the header
    (None when any file is missing, i.e. the report was not published) and every line."""
    if not paths or not all(p.is_file() for p in paths):
        return None, []
    header: list[str] = []
    rows: list[dict] = []
    for path in paths:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows += list(reader)
            header = list(reader.fieldnames or [])
    for row in rows:
        row["file"] = Path(row.get("source_file") or "").name
    return header, rows


def read_catalog_columns(paths: LocalPaths) -> dict[str, list[str]]:
    """Column names of each table as the crawler cataloged them."""
    catalog = LocalGlueCatalog(path=str(paths.catalog))
    columns = {}
    for table in INPUT_TABLES:
        definition = catalog.get_table(table) if paths.catalog.exists() else None
        if definition:
            columns[table] = [c["Name"] for c in definition["StorageDescriptor"]["Columns"]]
    return columns


def read_landed_fx_rates(paths: LocalPaths) -> dict[tuple[str, str], Decimal]:
    """(currency, month) -> rate, parsed from the landed fx_rates files with Python's csv, so the
    tests can price each reported line independently of the pipeline."""
    rates = {}
    for path in sorted((paths.object_store / "billing-data" / "fx_rates").rglob("*.csv")):
        with open(path, newline="", encoding="utf-8-sig") as handle:
            for row in csv.DictReader(handle):
                cells = {k.strip().lower(): (v or "").strip() for k, v in row.items()}
                rates[(cells["currency"].upper(), cells["month"])] = Decimal(cells["rate_to_usd"])
    return rates
