"""Engine parity: the same transforms on Spark and on DuckDB (SQLFrame) publish the same reports.

Each case lands the same files in two deployments. The Spark one runs in-process, like the
corpus; the DuckDB one runs the real CLI in a subprocess with ``GROSS_PROFIT_ENGINE=duckdb``
(the engine is chosen once per process). Then everything a user reads must be identical:
every published CSV byte for byte (the month's report, the all-months report, the summary),
the governed lines, the quarantine with its reasons and the report in the lake row for row,
and the totals to the cent. The totals are also checked against numbers that do not come from
either engine: the seed's expected report, and the hand-written ``expected.yaml`` of each
corpus case.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from gross_profit_assets_tests.corpus_runner import (
    CORPUS_DIR,
    CasePipeline,
    Landing,
    load_case,
)

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "gross_profit_assets" / "sample_data"
EXPECTED_SEED_REPORT = Path(__file__).parent / "data" / "expected_gross_profit_report.csv"
# Cases that exercise what differs most between engines: casts of bad text, dates, several
# reasons per line, FX, duplicates, CSV quoting and formula-escaping on the way out.
CORPUS_CASES = ("several_reasons", "fx_converted", "non_iso_dates", "quoted_commas", "formula_injection", "duplicate_line")
LAKE_TABLES = ("governed_billing_lines", "quarantined_billing_lines", "gross_profit_report")
MONEY = ("revenue_usd", "cogs_usd", "gross_profit_usd")


def duckdb_engine_run(home: Path, landings: list[tuple[Path, str | None]]) -> dict:
    """Ingest and run through the CLI on the DuckDB engine; the run's JSON summary."""
    env = os.environ | {"GROSS_PROFIT_ENGINE": "duckdb"}
    env.pop("DAGSTER_HOME", None)
    cli = [sys.executable, "-m", "gross_profit_assets.cli", "--home", str(home)]
    for path, month in landings:
        done = subprocess.run([*cli, "ingest", str(path), *(["--month", month] if month else [])],
                              capture_output=True, text=True, env=env, timeout=300, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
    done = subprocess.run([*cli, "run", "--json"], capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def spark_engine_run(home: Path, directory: Path, landings) -> dict:
    pipeline = CasePipeline(home)
    pipeline.land(directory, landings)
    outcome = pipeline.run(summary=True)
    assert outcome.runs_succeeded, outcome.failures
    return {
        "lines_in": outcome.lines_in,
        "lines_reported": outcome.lines_reported,
        "lines_quarantined": outcome.lines_quarantined,
        **{name: str(outcome.totals[name]) for name in MONEY},
    }


def published_csvs(home: Path) -> dict[str, bytes]:
    reports = home / "reports"
    return {str(p.relative_to(reports)): p.read_bytes() for p in sorted(reports.rglob("*.csv"))}


def lake_rows(home: Path, table: str) -> list[tuple]:
    files = sorted((home / "lake" / table).glob("billing_month=*/*.parquet"))
    if not files:
        return []
    con = duckdb.connect()
    try:
        paths = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
        relation = con.sql(f"SELECT * FROM read_parquet([{paths}], hive_partitioning = true)")
        columns = sorted(relation.columns)
        return sorted(
            (tuple(row) for row in relation.select(", ".join(f'"{c}"' for c in columns)).fetchall()),
            key=repr,
        )
    finally:
        con.close()


def assert_same_outputs(spark_home: Path, duckdb_home: Path, spark_totals: dict, duckdb_totals: dict) -> None:
    assert {k: duckdb_totals[k] for k in spark_totals} == spark_totals
    spark_csvs, duckdb_csvs = published_csvs(spark_home), published_csvs(duckdb_home)
    assert sorted(duckdb_csvs) == sorted(spark_csvs)
    for name, content in spark_csvs.items():
        assert duckdb_csvs[name] == content, f"{name} differs:\n{content.decode()}\n---\n{duckdb_csvs[name].decode()}"
    for table in LAKE_TABLES:
        assert lake_rows(duckdb_home, table) == lake_rows(spark_home, table), table


def test_seed_sample_is_the_same_report_on_both_engines(spark, tmp_path):
    files = sorted(SAMPLE_DIR.glob("*.csv"))
    landings = tuple(Landing(file=f.name, via="ingest") for f in files)
    spark_totals = spark_engine_run(tmp_path / "spark", SAMPLE_DIR, landings)
    duckdb_totals = duckdb_engine_run(tmp_path / "duckdb", [(f, None) for f in files])
    assert_same_outputs(tmp_path / "spark", tmp_path / "duckdb", spark_totals, duckdb_totals)
    # Independent: the seed's own expected report (first seven columns), total 19,165.00.
    with open(EXPECTED_SEED_REPORT, newline="") as handle:
        expected = [row[:7] for row in csv.reader(handle)]
    with open(tmp_path / "duckdb" / "reports" / "gross_profit_report.csv", newline="") as handle:
        published = [row[:7] for row in csv.reader(handle)]
    assert published == expected
    assert Decimal(duckdb_totals["gross_profit_usd"]) == sum(Decimal(r[6]) for r in expected[1:]) == Decimal("19165.00")


@pytest.mark.parametrize("name", CORPUS_CASES)
def test_corpus_case_is_the_same_report_on_both_engines(name, spark, tmp_path):
    case = load_case(CORPUS_DIR / name)
    landings = case.first.land
    assert all(landing.via == "ingest" and not landing.error for landing in landings), "ingest-only cases"
    spark_totals = spark_engine_run(tmp_path / "spark", case.directory, landings)
    duckdb_totals = duckdb_engine_run(
        tmp_path / "duckdb", [(case.directory / landing.file, landing.month) for landing in landings]
    )
    assert_same_outputs(tmp_path / "spark", tmp_path / "duckdb", spark_totals, duckdb_totals)
    # Independent: the numbers written by hand in the case's expected.yaml.
    expect = case.first.expect
    for key in ("lines_in", "lines_reported", "lines_quarantined"):
        if key in expect:
            assert duckdb_totals[key] == expect[key], key
    for key, value in (expect.get("totals") or {}).items():
        assert Decimal(duckdb_totals[key]) == Decimal(value), key
