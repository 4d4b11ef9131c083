"""Hands-free with the real daemon: ``dagster dev`` alone turns landed files into reports.

A user's day, end to end: start ``dagster dev`` (fresh ``GROSS_PROFIT_HOME`` and
``DAGSTER_HOME``), ``gross-profit ingest`` the seed sample, and wait, without starting anything,
until the UI's GraphQL API shows ``gross_profit_report`` 2023-07 materialized with its blocking
checks passed. Then ``dagster dev`` goes down, a second month lands while nobody watches, and
after the restart only that month is materialized: every file was processed exactly once, and the
files of 2023-07 still in the landing zone were not processed again.

The sensors' intervals are lowered (5 s) so the test measures the platform rather than the
waiting; the landing-to-report latency of the seed sample is printed (``pytest -s``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from gross_profit_assets.automation import (
    AUTOMATION_SECONDS_ENV_VAR,
    AUTOMATION_SENSOR,
    LANDING_QUIET_SECONDS_ENV_VAR,
    LANDING_SENSOR_SECONDS_ENV_VAR,
)
from gross_profit_assets.generate import generate
from gross_profit_assets.resources.object_store import LocalObjectStore
from gross_profit_assets.sensors import FILE_COUNT_TAG, FILES_TAG, LANDING_SENSOR, MONTH_TAG
from gross_profit_assets.settings import LocalPaths
from gross_profit_assets_tests.dagster_dev import LOCATION_NAME, REPOSITORY_NAME, DagsterDev

pytestmark = pytest.mark.e2e

SEED = Path(__file__).resolve().parents[1] / "gross_profit_assets" / "sample_data"
JULY, AUGUST = "2023-07", "2023-08"
REPORT = ["gross_profit_report"]
SUMMARY = ["gross_profit_summary"]
LANDED = [[f"landed_{t}_files"] for t in ("billing", "units_sold", "production_costs", "fx_rates")]
HANDS_FREE_ENV = {
    LANDING_SENSOR_SECONDS_ENV_VAR: "5",
    LANDING_QUIET_SECONDS_ENV_VAR: "2",
    AUTOMATION_SECONDS_ENV_VAR: "5",
    "FRESHNESS_DAEMON_INTERVAL_SECONDS": "5",  # Dagster's freshness daemon, read at its start
}
# Generous, because a shared 2-core machine can stretch a month's Spark run to minutes; but
# bounded: a phase gets at most PHASE_TIMEOUT, the whole test at most TEST_BUDGET.
PHASE_TIMEOUT = 420.0
TEST_BUDGET = 900.0
POLL_SECONDS = 2.0
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}

SELECTOR = {"repositoryLocationName": LOCATION_NAME, "repositoryName": REPOSITORY_NAME}

SENSOR_STATUS_QUERY = """
query HandsFreeSensor($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { name sensorState { status } }
    ... on PythonError { message }
  }
}
"""

MATERIALIZATIONS_QUERY = """
query HandsFreeMaterializations($key: AssetKeyInput!) {
  assetOrError(assetKey: $key) {
    __typename
    ... on Asset { assetMaterializations(limit: 200) { partition timestamp runId } }
  }
}
"""

ASSET_NODE_QUERY = """
query HandsFreeAssetNode($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    __typename
    ... on AssetNode {
      freshnessStatusInfo { freshnessStatus }
      assetChecksOrError { ... on AssetChecks { checks { name blocking } } }
    }
  }
}
"""

CHECK_EXECUTIONS_QUERY = """
query HandsFreeCheck($key: AssetKeyInput!, $check: String!) {
  assetCheckExecutions(assetKey: $key, checkName: $check, limit: 50) { runId status }
}
"""

RUNS_QUERY = """
query HandsFreeRuns {
  runsOrError(limit: 200) {
    __typename
    ... on Runs { results { runId status tags { key value } assetSelection { path } } }
    ... on PythonError { message }
  }
}
"""

T = TypeVar("T")


def ingest(dev: DagsterDev, files: list[Path]) -> None:
    """``gross-profit ingest`` as a user runs it, on the dev server's lake and Dagster instance."""
    env = os.environ | {"DAGSTER_HOME": str(dev.dagster_home), "SPARK_LOCAL_IP": "127.0.0.1"}
    done = subprocess.run(
        [sys.executable, "-m", "gross_profit_assets.cli", "--home", str(dev.gross_profit_home), "ingest", *map(str, files)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def landed_at(dev: DagsterDev, month: str) -> float:
    """When the month's last file landed (its object's modification time)."""
    store = LocalObjectStore(root=str(LocalPaths(dev.gross_profit_home).object_store))
    return max(o.last_modified for o in store.list_objects() if f"billing_month={month}/" in o.key)


def runs(dev: DagsterDev) -> list[dict]:
    answer = dev.graphql(RUNS_QUERY)["runsOrError"]
    assert answer["__typename"] == "Runs", answer
    return [run | {"tags": {t["key"]: t["value"] for t in run["tags"]}} for run in answer["results"]]


def materializations(dev: DagsterDev, path: list[str]) -> list[dict]:
    answer = dev.graphql(MATERIALIZATIONS_QUERY, {"key": {"path": path}})["assetOrError"]
    return answer["assetMaterializations"] if answer["__typename"] == "Asset" else []


def asset_node(dev: DagsterDev, path: list[str]) -> dict:
    return dev.graphql(ASSET_NODE_QUERY, {"key": {"path": path}})["assetNodeOrError"]


def blocking_checks_passed_in_run(dev: DagsterDev, path: list[str], run_id: str) -> bool:
    checks = asset_node(dev, path)["assetChecksOrError"]["checks"]
    blocking = [c["name"] for c in checks if c["blocking"]]
    assert blocking, f"{path} has no blocking check"
    for name in blocking:
        executions = dev.graphql(CHECK_EXECUTIONS_QUERY, {"key": {"path": path}, "check": name})["assetCheckExecutions"]
        if not any(e["runId"] == run_id and e["status"] == "SUCCEEDED" for e in executions):
            return False
    return True


def wait_for(
    dev: DagsterDev, what: str, probe: Callable[[], T | None], budget_ends: float, timeout: float = PHASE_TIMEOUT
) -> T:
    """Poll ``probe`` until it returns a value; stop early when a run fails."""
    deadline = min(time.monotonic() + timeout, budget_ends)
    while time.monotonic() < deadline:
        failed = [r for r in runs(dev) if r["status"] == "FAILURE"]
        assert not failed, f"while waiting for {what}, runs failed: {failed}\n{dev.log_tail(80)}"
        value = probe()
        if value is not None:
            return value
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"no {what} in time; runs: {runs(dev)}\n{dev.log_tail(80)}")


def report_of(dev: DagsterDev, month: str) -> dict | None:
    """The month's report materialization, once its blocking checks passed in the same run."""
    for event in materializations(dev, REPORT):
        if event["partition"] == month and blocking_checks_passed_in_run(dev, REPORT, event["runId"]):
            return event
    return None


def summary_after(dev: DagsterDev, report: dict) -> dict | None:
    """A summary materialized after ``report``, with no run left queued or in progress."""
    later = [e for e in materializations(dev, SUMMARY) if float(e["timestamp"]) > float(report["timestamp"])]
    busy = [r for r in runs(dev) if r["status"] not in TERMINAL]
    return later[0] if later and not busy else None


def freshness(dev: DagsterDev) -> str | None:
    info = asset_node(dev, REPORT)["freshnessStatusInfo"]
    return info["freshnessStatus"] if info and info["freshnessStatus"] == "HEALTHY" else None


def sensor_status(dev: DagsterDev, name: str) -> str:
    answer = dev.graphql(SENSOR_STATUS_QUERY, {"selector": SELECTOR | {"sensorName": name}})["sensorOrError"]
    assert answer["__typename"] == "Sensor", answer
    return answer["sensorState"]["status"]


def landing_runs(dev: DagsterDev) -> list[dict]:
    return [r for r in runs(dev) if r["tags"].get("dagster/sensor_name") == LANDING_SENSOR]


def partition_counts(dev: DagsterDev, path: list[str]) -> Counter:
    return Counter(e["partition"] for e in materializations(dev, path))


def august_files(tmp_path: Path) -> list[Path]:
    data = generate(tmp_path / "august", rows=300, months=1, start_month=AUGUST, currencies=("USD", "CAD"))
    return sorted(Path(f) for f in data.files)


def test_landed_files_become_reports_by_themselves_exactly_once_across_a_restart(tmp_path):
    started = time.monotonic()
    budget_ends = started + TEST_BUDGET
    with DagsterDev(base_dir=tmp_path / "dagster_dev", env=HANDS_FREE_ENV) as dev:
        # dagster dev alone is the platform: both sensors run without anyone switching them on.
        assert sensor_status(dev, LANDING_SENSOR) == "RUNNING"
        assert sensor_status(dev, AUTOMATION_SENSOR) == "RUNNING"

        ingest(dev, sorted(SEED.glob("*.csv")))
        july = wait_for(dev, f"report {JULY} with passing checks", lambda: report_of(dev, JULY), budget_ends)
        latency = float(july["timestamp"]) / 1000 - landed_at(dev, JULY)
        print(f"\nlanding-to-report latency, seed sample ({JULY}): {latency:.1f} s")
        wait_for(dev, "the summary after July", lambda: summary_after(dev, july), budget_ends)
        assert wait_for(dev, "a fresh report in the UI", lambda: freshness(dev), budget_ends, timeout=60) == "HEALTHY"

        # The daemon goes down; a month lands while nobody watches; the daemon comes back.
        dev.stop()
        files = august_files(tmp_path)
        ingest(dev, files)
        dev.start()
        august = wait_for(dev, f"report {AUGUST} with passing checks", lambda: report_of(dev, AUGUST), budget_ends)
        wait_for(dev, "the summary after August", lambda: summary_after(dev, august), budget_ends)

        # Each month was materialized once: July was not redone after the restart.
        assert partition_counts(dev, REPORT) == {JULY: 1, AUGUST: 1}
        for landed in LANDED:
            assert partition_counts(dev, landed) == {JULY: 1, AUGUST: 1}, landed
        # One landing run per month, and every file in exactly one of them.
        by_month = {r["tags"][MONTH_TAG]: r for r in landing_runs(dev)}
        assert len(landing_runs(dev)) == 2 and sorted(by_month) == [JULY, AUGUST]
        store = LocalObjectStore(root=str(LocalPaths(dev.gross_profit_home).object_store))
        batched = [key for r in by_month.values() for key in json.loads(r["tags"][FILES_TAG])]
        assert sorted(batched) == sorted(o.key for o in store.list_objects())
        assert sum(int(r["tags"][FILE_COUNT_TAG]) for r in by_month.values()) == len(batched)
        assert all(r["status"] == "SUCCESS" for r in runs(dev))
    print(f"hands-free daemon test: {time.monotonic() - started:.0f} s")
