"""Engine parity: the same transforms on Spark and on DuckDB (SQLFrame) publish the same reports.

Each case lands the same files in two deployments. The Spark side runs in the test process,
like the corpus. The DuckDB side runs in one subprocess with ``GROSS_PROFIT_ENGINE=duckdb``
(the engine is chosen once per process): the seed sample through the real CLI (``demo``), the
corpus cases through the same ``CasePipeline`` as the Spark side, all of them in one process
(``engine_lane.py``). Then everything a user reads must be identical: every published CSV
byte for byte (the month's report, the all-months report, the summary), the governed lines,
the quarantine with its reasons and the report in the lake row for row, and the totals to the
cent. The totals are also checked against numbers that do not come from either engine: the
seed's expected report, and the hand-written ``expected.yaml`` of each corpus case.
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

from gross_profit_assets_tests.corpus_runner import CORPUS_DIR, Landing, load_case
from gross_profit_assets_tests.engine_lane import case_spec, engine_totals

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "gross_profit_assets" / "sample_data"
EXPECTED_SEED_REPORT = Path(__file__).parent / "data" / "expected_gross_profit_report.csv"
# Cases that exercise what differs most between engines: casts of bad text, dates, several
# reasons per line, FX, duplicates, CSV quoting and formula-escaping on the way out.
CORPUS_CASES = ("several_reasons", "fx_converted", "non_iso_dates", "quoted_commas", "formula_injection", "duplicate_line")
LAKE_TABLES = ("governed_billing_lines", "quarantined_billing_lines", "gross_profit_report")
SEED = "seed"
DUCKDB_ENV = {"GROSS_PROFIT_ENGINE": "duckdb"}


def duckdb_process(*args: str) -> str:
    """A subprocess on the DuckDB engine; its stdout."""
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"} | DUCKDB_ENV
    done = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def duckdb_side(tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """Every case on the DuckDB engine, once for the module: case name -> (home, totals)."""
    work = tmp_path_factory.mktemp("duckdb-engine")
    seed_home = work / SEED
    out = duckdb_process("gross_profit_assets.cli", "--home", str(seed_home), "demo", "--json")
    sides = {SEED: (seed_home, json.loads(out.strip().splitlines()[-1]))}
    cases = [load_case(CORPUS_DIR / name) for name in CORPUS_CASES]
    spec, totals = work / "cases.json", work / "totals.json"
    spec.write_text(json.dumps([case_spec(work / c.name, c.directory, c.first.land) for c in cases]))
    duckdb_process("gross_profit_assets_tests.engine_lane", str(spec), str(totals))
    for case, case_totals in zip(cases, json.loads(totals.read_text())):
        sides[case.name] = (work / case.name, case_totals)
    return sides


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


def test_seed_sample_is_the_same_report_on_both_engines(spark, duckdb_side, tmp_path):
    files = sorted(SAMPLE_DIR.glob("*.csv"))
    landings = tuple(Landing(file=f.name, via="ingest") for f in files)
    spark_totals = engine_totals(tmp_path / "spark", SAMPLE_DIR, landings)
    duckdb_home, duckdb_totals = duckdb_side[SEED]
    assert_same_outputs(tmp_path / "spark", duckdb_home, spark_totals, duckdb_totals)
    # Independent: the seed's own expected report (first seven columns), total 19,165.00.
    with open(EXPECTED_SEED_REPORT, newline="") as handle:
        expected = [row[:7] for row in csv.reader(handle)]
    with open(duckdb_home / "reports" / "gross_profit_report.csv", newline="") as handle:
        published = [row[:7] for row in csv.reader(handle)]
    assert published == expected
    assert Decimal(duckdb_totals["gross_profit_usd"]) == sum(Decimal(r[6]) for r in expected[1:]) == Decimal("19165.00")


@pytest.mark.parametrize("name", CORPUS_CASES)
def test_corpus_case_is_the_same_report_on_both_engines(name, spark, duckdb_side, tmp_path):
    case = load_case(CORPUS_DIR / name)
    landings = case.first.land
    assert all(landing.via == "ingest" and not landing.error for landing in landings), "ingest-only cases"
    spark_totals = engine_totals(tmp_path / "spark", case.directory, landings)
    duckdb_home, duckdb_totals = duckdb_side[name]
    assert_same_outputs(tmp_path / "spark", duckdb_home, spark_totals, duckdb_totals)
    # Independent: the numbers written by hand in the case's expected.yaml.
    expect = case.first.expect
    for key in ("lines_in", "lines_reported", "lines_quarantined"):
        if key in expect:
            assert duckdb_totals[key] == expect[key], key
    for key, value in (expect.get("totals") or {}).items():
        assert Decimal(duckdb_totals[key]) == Decimal(value), key


def test_duckdb_lane_rows_keep_money_exact():
    """Totals, previews and checks read collected rows: on the DuckDB lane they must hold the
    same exact decimals as on Spark (SQLFrame's own rows would give floats: 4514.00 -> 4514.0,
    and a sum this large would lose its cents)."""
    from gross_profit_assets.resources.duckdb_engine import DuckDBSessionResource

    session = DuckDBSessionResource(spark_config={}).spark_session
    row = session.sql("SELECT CAST('12345678901234567.89' AS DECIMAL(38, 2)) AS total, "
                      "CAST('4514.00' AS DECIMAL(38, 2)) AS small").first()
    assert row["total"] == Decimal("12345678901234567.89")
    assert str(row["small"]) == "4514.00"
