"""The safety net: a failing blocking check stops everything downstream, and `run` says so.

A correct pipeline never fails these checks, so the test plants the bug they exist for: a
governed stage that counts every bill line twice.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from gross_profit_assets import cli
from gross_profit_assets.assets import governed as governed_module
from gross_profit_assets.assets.catalog import cataloged_tables
from gross_profit_assets.assets.governed import governed_dataset
from gross_profit_assets.assets.keys import GROSS_PROFIT_REPORT
from gross_profit_assets.assets.landing import landed_files
from gross_profit_assets.assets.report import gross_profit_report
from gross_profit_assets.deployments import local_resources
from gross_profit_assets.landing import land_file
from gross_profit_assets.settings import LocalPaths

pytestmark = pytest.mark.e2e
SAMPLE = Path(__file__).resolve().parents[1] / "gross_profit_assets" / "sample_data"


def test_failing_blocking_check_stops_the_report_and_fails_the_run(spark, tmp_path, monkeypatch, capsys):
    resources = local_resources(LocalPaths(tmp_path))
    for path in sorted(SAMPLE.glob("*.csv")):
        land_file(resources["object_store"], path)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("billing_month", ["2023-07"])
    assess = governed_module.assess_billing_lines
    monkeypatch.setattr(governed_module, "assess_billing_lines", lambda *t: assess(*t).unionByName(assess(*t)))

    result = dg.materialize(
        [landed_files, cataloged_tables, governed_dataset, gross_profit_report],
        partition_key="2023-07",
        resources=resources,
        instance=instance,
        raise_on_error=False,
    )

    assert not result.success
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert GROSS_PROFIT_REPORT not in materialized
    assert instance.get_latest_materialization_event(GROSS_PROFIT_REPORT) is None
    failed = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    assert failed == {"every_line_accounted_for", "one_line_per_source_id_and_item"}

    summary = cli.RunSummary(months=["2023-07"])
    cli._collect(result, summary)
    assert cli._print_summary(summary, as_json=False) == 1
    stderr = capsys.readouterr().err
    assert "check every_line_accounted_for on governed_billing_lines failed: 2023-07: 15 lines in != 30 governed + 0 quarantined" in stderr
