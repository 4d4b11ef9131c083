"""The benchmark's comparison scripts (lanes b, c, e, f) compute the report they are timed for:
their totals equal the project's independent reference (reference_duckdb, itself held to plain
Python) over the same generated files, and the staged variants write the governed table
between the stages and arrive at the same report."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from benchmarks import bare_spark, duckdb_sql
from gross_profit_assets.generate import generate
from gross_profit_assets_tests.reference_duckdb import reference_totals


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, dict]:
    directory = tmp_path_factory.mktemp("bench_data")
    data = generate(directory, 3_000, 3, start_month="2023-11", seed=5, unmatched_rate=0.05)
    total = reference_totals(data.files)["total"]
    assert total["lines_quarantined"] == data.lines_quarantined > 0
    expected = {k: total[k] for k in ("lines_in", "lines_reported", "lines_quarantined")}
    return directory, expected | {k: str(total[k]) for k in ("revenue_usd", "cogs_usd", "gross_profit_usd")}


def _governed_months(out: Path) -> list[str]:
    return sorted(p.name for p in (out / "governed_parquet").glob("billing_month=*"))


def _report(out: Path) -> list[tuple]:
    """The report's lines as DuckDB reads them from the Parquet a script wrote."""
    return duckdb.sql(f"SELECT source_file, id, item_sold, gross_profit "
                      f"FROM read_parquet('{out}/report_parquet/**/*.parquet') ORDER BY ALL").fetchall()


def test_duckdb_script_staged_or_not_computes_the_reference_report(generated, tmp_path: Path) -> None:
    directory, expected = generated
    bare, staged = tmp_path / "bare", tmp_path / "staged"

    assert duckdb_sql.main(str(directory), str(bare)) == expected
    assert duckdb_sql.main(str(directory), str(staged), staged=True) == expected

    assert not (bare / "governed_parquet").exists()
    assert _governed_months(staged) == ["billing_month=2023-11", "billing_month=2023-12", "billing_month=2024-01"]
    assert _report(staged) == _report(bare)


def test_spark_script_staged_or_not_computes_the_reference_report(generated, spark, tmp_path: Path) -> None:
    directory, expected = generated
    bare, staged = tmp_path / "bare", tmp_path / "staged"

    assert bare_spark.main(str(directory), str(bare), spark=spark) == expected
    assert bare_spark.main(str(directory), str(staged), staged=True, spark=spark) == expected

    assert not (bare / "governed_parquet").exists()
    assert _governed_months(staged) == ["billing_month=2023-11", "billing_month=2023-12", "billing_month=2024-01"]
    assert _report(staged) == _report(bare)
    assert not spark.sparkContext._jsc.sc().isStopped()  # a given session is left running


def test_dagster_floor_has_the_platforms_steps_assets_and_checks() -> None:
    """The fixed-cost run's Dagster-alone graph is the platform's, step for step: its figure is
    a floor of the platform only while the two plan the same steps, assets and checks."""
    from benchmarks.dagster_floor import PLATFORM_STEPS
    from gross_profit_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    platform = {}
    for node in graph.assets_defs:
        if node.is_executable:
            platform[node.node_def.name] = {
                "assets": {k.to_user_string(): sorted(p.to_user_string() for p in graph.get(k).parent_keys) for k in node.keys},
                "checks": sorted((c.name, c.asset_key.to_user_string()) for c in node.check_specs),
            }
    floor = {name: {"assets": {a: sorted(deps) for a, deps in step["assets"].items()}, "checks": sorted(step["checks"])}
             for name, step in PLATFORM_STEPS.items()}
    assert floor == platform
