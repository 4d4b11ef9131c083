"""The whole platform, as a user drives it: `gross-profit ingest` + `gross-profit run --json`.

Each test runs the real CLI in a subprocess with its own GROSS_PROFIT_HOME and DAGSTER_HOME, so
the Dagster definitions, the local lake and the Spark session are exactly a user's. Numbers are
checked against the independent DuckDB reference over the same CSV files.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from gross_profit_assets.generate import generate
from gross_profit_assets_tests.reference_duckdb import assert_report_equals_reference, reference_totals, reported_lines

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "gross_profit_assets" / "sample_data"  # the seed sample, bundled
EXPECTED_REPORT = Path(__file__).parent / "data" / "expected_gross_profit_report.csv"
CLI = [sys.executable, "-m", "gross_profit_assets.cli"]


def gross_profit(home: Path, *args: str, env: dict | None = None, check: bool = True):
    """Run the CLI like a user; returns the completed process (stdout and stderr as text)."""
    environment = os.environ | {"SPARK_LOCAL_IP": "127.0.0.1"} | (env or {})
    environment.pop("DAGSTER_HOME", None)
    done = subprocess.run(
        [*CLI, "--home", str(home), *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"gross-profit {' '.join(args)} exited {done.returncode}:\n{done.stderr[-4000:]}")
    return done


def last_json(done) -> dict:
    return json.loads(done.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class GeneratedRun:
    files: list[Path]  # the generated files, one per table and month (the reference reads these)
    home: Path
    result: dict  # the last line of `run --json`
    ingest_log: str  # what `ingest` printed
    landed_name: dict[str, str]  # generated file -> the name it was landed under, where ingest renamed it


SPANNING_EXPORT = "billing_export_2024-02_to_2024-03.csv"


def one_export_spanning(billing: list[Path], target: Path) -> Path:
    """The bill lines of several monthly files as one export (a billing system that exports a
    quarter at once), one header."""
    header = billing[0].read_text().splitlines(keepends=True)[0]
    target.write_text(header + "".join("".join(f.read_text().splitlines(keepends=True)[1:]) for f in billing))
    return target


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> GeneratedRun:
    """Three months, three currencies, some lines without units and some without a cost; the
    bill lines of February and March come as one export spanning both months, which ``ingest``
    splits by month."""
    out = tmp_path_factory.mktemp("generated")
    data = generate(out, rows=12_000, months=3, start_month="2024-01", currencies=("USD", "CAD", "MXN"), unmatched_rate=0.02)
    files = sorted(Path(f) for f in data.files)
    spanned = sorted(f for f in files if f.name.startswith("billing_data") and "_01_2024" not in f.name)
    export = one_export_spanning(spanned, out / SPANNING_EXPORT)
    home = tmp_path_factory.mktemp("home")
    ingested = gross_profit(home, "ingest", *[str(f) for f in files if f not in spanned], str(export))
    result = last_json(gross_profit(home, "run", "--json"))
    landed_name = {f.name: export.name for f in spanned}
    return GeneratedRun(files, home, result, ingested.stderr, landed_name)


def test_one_export_spanning_months_is_landed_once_per_month(generated):
    assert generated.ingest_log.count(f"{SPANNING_EXPORT} ->") == 2
    for month in ("2024-02", "2024-03"):
        assert f"billing_month={month}/{SPANNING_EXPORT}" in generated.ingest_log


def test_totals_equal_an_independent_duckdb_computation_to_the_cent(generated):
    result = generated.result
    expected = reference_totals(generated.files)["total"]
    assert result["ok"] is True
    assert result["months"] == ["2024-01", "2024-02", "2024-03"]
    assert result["lines_in"] == expected["lines_in"] == 12_000
    assert result["lines_reported"] == expected["lines_reported"]
    assert result["lines_quarantined"] == expected["lines_quarantined"] > 0
    for money in ("revenue_usd", "cogs_usd", "gross_profit_usd"):
        assert Decimal(result[money]) == expected[money], money


def test_every_line_is_reported_or_quarantined(generated):
    result = generated.result
    assert result["lines_in"] == result["lines_reported"] + result["lines_quarantined"]
    assert all(check["passed"] for check in result["checks"])
    assert {c["name"] for c in result["checks"]} >= {"every_line_accounted_for", "totals_reconcile_with_governed_lines"}


def test_lines_csv_holds_every_reported_line_with_reference_values(generated):
    with open(generated.result["report"]["lines_csv"], newline="", encoding="utf-8") as handle:
        published = list(csv.DictReader(handle))
    assert_report_equals_reference(published, generated.files, generated.landed_name)


def test_summary_and_month_sums_equal_the_reference_lines_summed_in_python(generated):
    """The summary is added up from the month sums, not from the lines: both are held to the
    independent reference's lines, summed here by month and by company."""
    lines = reported_lines(generated.files)
    fields = ("units_sold", "revenue_usd", "cogs_usd", "gross_profit_usd")
    expected: dict[tuple[str, str], dict] = {}
    for line in lines:
        for dimension, column in (("month", "billing_month"), ("company", "company_name")):
            sums = expected.setdefault((dimension, line[column]), dict.fromkeys(("lines", *fields), 0))
            sums["lines"] += 1
            for field in fields:
                sums[field] += line[field]
    summary_csv = generated.home / "reports" / "gross_profit_summary.csv"
    with open(summary_csv, newline="", encoding="utf-8") as handle:
        published = {
            (row["dimension"], row["key"]): {"lines": int(row["lines"]), **{f: Decimal(row[f]) for f in fields}}
            for row in csv.DictReader(handle)
            if row["dimension"] in ("month", "company")
        }
    assert published == expected

    # The month sums themselves: each month's total row, and the companies' rows of every month
    # added up, equal the reference.
    lake = generated.home / "lake" / "gross_profit_month_sums"
    sums = f"read_parquet('{lake}/*/*.parquet', hive_partitioning = true)"
    stored = duckdb.sql(
        f"SELECT dimension, key, sum(lines), sum(units_sold), sum(revenue_usd), sum(cogs_usd), "
        f"sum(gross_profit_usd) FROM {sums} WHERE dimension IN ('month', 'company') GROUP BY 1, 2"
    ).fetchall()
    assert {(d, k): dict(zip(("lines", *fields), sums)) for d, k, *sums in stored} == expected
    assert duckdb.sql(f"SELECT count(*) FROM {sums} WHERE dimension = 'month' AND key <> billing_month").fetchall() == [(0,)]


def test_report_parquet_and_html_are_published(generated):
    result = generated.result
    report = result["report"]
    assert Path(report["lines_parquet"]).is_dir() and Path(report["html"]).is_file()
    parquet = Path(report["lines_parquet"]) / "**" / "*.parquet"
    total = duckdb.sql(
        f"select sum(gross_profit) from read_parquet('{parquet}', hive_partitioning = true)"
    ).fetchall()[0][0]
    assert Decimal(total) == Decimal(result["gross_profit_usd"])
    assert 'data-chart="gross_profit_by_company"' in Path(report["html"]).read_text()


def test_items_without_cost_are_quarantined_with_that_reason(generated):
    quarantine = generated.home / "lake" / "quarantined_billing_lines" / "**" / "*.parquet"
    rows = duckdb.sql(
        f"select item_sold, reason_codes from read_parquet('{quarantine}', hive_partitioning = true)"
    ).fetchall()
    discontinued = [codes for item, codes in rows if item.startswith("Discontinued")]
    assert discontinued and all("missing_production_cost" in codes for codes in discontinued)


def test_every_governed_read_is_audited_as_the_report_job(generated):
    entries = [json.loads(line) for line in (generated.home / "audit" / "lake_formation_audit.jsonl").read_text().splitlines()]
    assert {(e["table"], e["partition"]) for e in entries} >= {
        (t, m) for t in ("billing", "units_sold", "production_costs", "fx_rates") for m in ("2024-01", "2024-02", "2024-03")
    }
    assert all(e["principal"] == "gross-profit-report-job" and e["allowed"] for e in entries)


def test_demo_reproduces_the_seed_report_line_for_line(tmp_path):
    done = gross_profit(tmp_path / "home", "demo")
    location = done.stdout.strip().splitlines()[-2].removeprefix("The gross-profit report is at ")
    with open(location, newline="", encoding="utf-8") as handle:
        ours = [row[:7] for row in csv.reader(handle)]
    with open(EXPECTED_REPORT, newline="", encoding="utf-8") as handle:
        expected = list(csv.reader(handle))
    assert ours == expected
    assert "gross profit 19165.00 USD" in done.stdout


def test_a_principal_without_grant_is_denied_and_the_run_fails(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "policy_version: 1\ndatabase: gross_profit\n"
        "principals:\n  - name: gross-profit-report-job\n    description: report job, no grants here\n"
        "grants: []\n"
    )
    home = tmp_path / "home"
    sample = sorted(str(p) for p in SAMPLE_DIR.glob("*.csv"))
    gross_profit(home, "ingest", *sample)
    done = gross_profit(home, "run", "--json", env={"GROSS_PROFIT_POLICY": str(policy)}, check=False)
    assert done.returncode != 0
    result = last_json(done)
    assert result["ok"] is False
    assert any(
        "principal 'gross-profit-report-job' has no SELECT on gross_profit.billing" in f for f in result["failures"]
    ), result["failures"]
    audit = (home / "audit" / "lake_formation_audit.jsonl").read_text().splitlines()
    assert json.loads(audit[-1])["allowed"] is False


def test_generate_writes_seed_format_files(tmp_path):
    done = subprocess.run(
        [*CLI, "generate", "--rows", "300", "--months", "2", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120, check=True,
    )
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert "billing_data_01_2023.csv" in names and "fx_rates_02_2023.csv" in names
    assert "generated 300 bill lines over 2 month(s)" in done.stderr


def test_the_columns_written_are_the_columns_declared_for_the_ui(generated):
    """What the UI shows before the first run (declared) is what every run writes (recorded from
    the DataFrame, and the Parquet files as DuckDB reads them)."""
    import dagster as dg

    from gross_profit_assets.assets.schemas import DECLARED_SCHEMAS
    from gross_profit_assets.contract import PRODUCED_SCHEMAS
    from gross_profit_assets.settings import LocalPaths

    paths = LocalPaths(generated.home.resolve())
    with dg.DagsterInstance.from_config(str(paths.dagster_home)) as instance:
        for table, declared in PRODUCED_SCHEMAS.items():
            event = instance.get_latest_materialization_event(dg.AssetKey(table))
            recorded = event.asset_materialization.metadata["dagster/column_schema"].schema
            assert [(c.name, c.type) for c in recorded.columns] == list(declared), table
            shown = DECLARED_SCHEMAS[dg.AssetKey(table)]
            assert [(c.name, c.type) for c in shown.columns] == list(declared), table
            assert all(c.description for c in shown.columns), table

        # Every asset's materializations carry a row count, so the UI shows and plots it.
        for key in instance.get_asset_keys():
            event = instance.get_latest_materialization_event(key)
            assert isinstance(event.asset_materialization.metadata["dagster/row_count"].value, int), key

    for table in ("governed_billing_lines", "gross_profit_report"):
        parquet = duckdb.sql(
            f"describe select * from read_parquet('{paths.lake / table}/*/*.parquet', hive_partitioning = true)"
        ).fetchall()
        assert sorted(name for name, *_ in parquet) == sorted(name for name, _ in PRODUCED_SCHEMAS[table])
