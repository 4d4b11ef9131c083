"""Hands-free, decided without a daemon: the landing sensor with ``build_sensor_context`` over a
local object store, and the automation conditions with ``evaluate_automation_conditions`` over
an ephemeral instance whose materializations and check results the tests report themselves."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import pytest

from gross_profit_assets.assets.governed import LINES_ACCOUNTED_FOR
from gross_profit_assets.assets.keys import (
    CATALOGED_KEYS,
    GOVERNED_BILLING_LINES,
    GROSS_PROFIT_MONTH_SUMS,
    GROSS_PROFIT_REPORT,
    GROSS_PROFIT_SUMMARY,
    LANDED_KEYS,
    QUARANTINED_BILLING_LINES,
)
from gross_profit_assets.assets.partitions import billing_months
from gross_profit_assets.assets.report import TOTALS_RECONCILE
from gross_profit_assets.automation import (
    AUTOMATION_SENSOR,
    FRESHNESS_MINUTES_ENV_VAR,
    HANDS_FREE_ENV_VAR,
    LANDING_QUIET_SECONDS_ENV_VAR,
    HandsFreeSettingError,
    automation_sensor,
    freshness_window,
    report_freshness_policy,
)
from gross_profit_assets.landing import land_file
from gross_profit_assets.resources.object_store import LocalObjectStore, ObjectInfo
from gross_profit_assets.sensors import (
    FILE_COUNT_TAG,
    FILES_TAG,
    MONTH_TAG,
    LandingCursor,
    LandingCursorError,
    landing_zone_sensor,
    plan_landing_runs,
)

# Dagster's own evaluate_automation_conditions selects assets with a beta parameter: a notice
# about Dagster, not about this project.
pytestmark = pytest.mark.filterwarnings("ignore:Parameter `include_sources`:dagster.BetaWarning")

SEED = Path(__file__).resolve().parents[1] / "gross_profit_assets" / "sample_data"
BILLING_HEADER = "id,company_name,country,city,product_line,item_sold,bill_date,currency,bill_amount\n"
JULY, AUGUST = "2023-07", "2023-08"
SEED_KEYS = [
    "billing/billing_month=2023-07/billing_data_dairy_07_2023.csv",
    "production_costs/billing_month=2023-07/production_costs_07_2023.csv",
    "units_sold/billing_month=2023-07/units_sold_07_2023.csv",
]


# --- landing sensor -------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_quiet_period(monkeypatch):
    """Files landed a moment ago count as settled; the quiet period has its own tests."""
    monkeypatch.setenv(LANDING_QUIET_SECONDS_ENV_VAR, "0")


@pytest.fixture()
def store(tmp_path) -> LocalObjectStore:
    return LocalObjectStore(root=str(tmp_path / "object_store"))


@pytest.fixture()
def instance():
    with dg.DagsterInstance.ephemeral() as test_instance:
        yield test_instance


def land_seed(store: LocalObjectStore) -> None:
    for path in sorted(SEED.glob("*.csv")):
        land_file(store, path)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def evaluate(store: LocalObjectStore, instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    """One tick, as the daemon runs it after a (re)start: only the stored cursor carries over."""
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"object_store": store})
    return landing_zone_sensor(context)


def apply_partition_requests(instance: dg.DagsterInstance, result: dg.SensorResult) -> None:
    """What the daemon does with the tick's dynamic partition requests."""
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))


def requested(result: dg.SensorResult) -> dict[str, dg.RunRequest]:
    months = [r.partition_key for r in result.run_requests or []]
    assert len(months) == len(set(months)), f"more than one run for a month: {months}"
    return {r.partition_key: r for r in result.run_requests or []}


def batch_files(request: dg.RunRequest) -> list[str]:
    return json.loads(request.tags[FILES_TAG])


def test_a_landing_adds_its_month_and_requests_the_months_landing_assets(store, instance):
    land_seed(store)
    result = evaluate(store, instance, None)
    runs = requested(result)
    assert list(runs) == [JULY]
    run = runs[JULY]
    assert sorted(run.asset_selection) == sorted(LANDED_KEYS)
    assert run.run_key.startswith(f"{JULY}:")
    assert run.tags[MONTH_TAG] == JULY and run.tags[FILE_COUNT_TAG] == "3"
    assert batch_files(run) == SEED_KEYS
    (partitions,) = result.dynamic_partitions_requests
    assert partitions.partitions_def_name == billing_months.name
    assert list(partitions.partition_keys) == [JULY]


def test_the_cursor_advances_and_a_restart_requests_nothing_twice(store, instance):
    land_seed(store)
    first = evaluate(store, instance, None)
    assert sorted(json.loads(first.cursor)["files"]) == SEED_KEYS
    apply_partition_requests(instance, first)
    # A restarted daemon resumes from the stored cursor: nothing to do.
    again = evaluate(store, instance, first.cursor)
    assert not again.run_requests and again.skip_reason
    assert again.cursor == first.cursor
    # A daemon that died after launching the run but before storing the cursor evaluates the
    # same tick again: the same run key, which Dagster launches only once per sensor.
    replayed = evaluate(store, instance, None)
    assert [r.run_key for r in replayed.run_requests] == [r.run_key for r in first.run_requests]


def test_known_months_are_not_added_again(store, instance):
    instance.add_dynamic_partitions(billing_months.name, [JULY])
    land_seed(store)
    result = evaluate(store, instance, None)
    assert list(requested(result)) == [JULY]
    assert not result.dynamic_partitions_requests


def test_files_landing_together_make_one_run_per_month(tmp_path, store, instance):
    export = write(
        tmp_path / "billing_q3.csv",
        BILLING_HEADER
        + "1,A,US,X,Dairy,Brie,2023-07-30,USD,10.00\n"
        + "2,B,US,X,Dairy,Brie,2023-08-02,USD,20.00\n"
        + "3,C,US,X,Dairy,Brie,2023-08-03,USD,30.00\n",
    )
    land_file(store, export)  # split into one object per month
    land_file(store, write(tmp_path / "units_july.csv", "company_id,item_type,units_sold\n1,Brie,1\n"), JULY)
    land_file(store, write(tmp_path / "units_august.csv", "company_id,item_type,units_sold\n2,Brie,2\n3,Brie,3\n"), AUGUST)
    result = evaluate(store, instance, None)
    runs = requested(result)
    assert sorted(runs) == [JULY, AUGUST]
    assert batch_files(runs[JULY]) == [
        "billing/billing_month=2023-07/billing_q3.csv",
        "units_sold/billing_month=2023-07/units_july.csv",
    ]
    assert batch_files(runs[AUGUST]) == [
        "billing/billing_month=2023-08/billing_q3.csv",
        "units_sold/billing_month=2023-08/units_august.csv",
    ]
    assert list(result.dynamic_partitions_requests[0].partition_keys) == [JULY, AUGUST]


def test_a_corrected_reupload_rerequests_only_its_month(tmp_path, store, instance):
    land_seed(store)
    august_units = write(tmp_path / "units_sold_08_2023.csv", "company_id,item_type,units_sold\n1,Brie,1\n")
    land_file(store, august_units)
    first = evaluate(store, instance, None)
    assert sorted(requested(first)) == [JULY, AUGUST]
    apply_partition_requests(instance, first)
    write(august_units, "company_id,item_type,units_sold\n1,Brie,5\n")  # the corrected export
    land_file(store, august_units)
    second = evaluate(store, instance, first.cursor)
    runs = requested(second)
    assert list(runs) == [AUGUST]
    assert batch_files(runs[AUGUST]) == ["units_sold/billing_month=2023-08/units_sold_08_2023.csv"]
    assert runs[AUGUST].run_key not in {r.run_key for r in first.run_requests}
    assert not second.dynamic_partitions_requests


def test_a_late_file_rerequests_its_month(store, instance):
    for name in ("billing_data_dairy_07_2023.csv", "production_costs_07_2023.csv"):
        land_file(store, SEED / name)
    first = evaluate(store, instance, None)
    assert batch_files(requested(first)[JULY]) == [SEED_KEYS[0], SEED_KEYS[1]]
    land_file(store, SEED / "units_sold_07_2023.csv")
    late = requested(evaluate(store, instance, first.cursor))
    assert list(late) == [JULY]
    assert batch_files(late[JULY]) == [SEED_KEYS[2]]


def test_a_deleted_file_rerequests_its_month_and_leaves_the_cursor(store, instance):
    land_seed(store)
    first = evaluate(store, instance, None)
    os.remove(Path(store.root) / store.bucket / SEED_KEYS[2])
    second = evaluate(store, instance, first.cursor)
    runs = requested(second)
    assert list(runs) == [JULY]
    assert batch_files(runs[JULY]) == [SEED_KEYS[2]]
    assert sorted(json.loads(second.cursor)["files"]) == SEED_KEYS[:2]


def test_a_month_whose_files_are_all_deleted_is_forgotten_without_a_run(store, instance):
    land_seed(store)
    first = evaluate(store, instance, None)
    for key in SEED_KEYS:
        os.remove(Path(store.root) / store.bucket / key)
    second = evaluate(store, instance, first.cursor)
    assert not second.run_requests
    assert json.loads(second.cursor)["files"] == {}


def info(key: str, version: str, last_modified: float = 1_000.0) -> ObjectInfo:
    return ObjectInfo(key, 10, last_modified, version)


def test_a_month_still_landing_waits_for_its_quiet_period_and_keeps_its_cursor():
    july = [info(SEED_KEYS[0], "v1", last_modified=1_000.0), info(SEED_KEYS[1], "v1", last_modified=1_004.0)]
    august = [info("billing/billing_month=2023-08/b.csv", "v1", last_modified=990.0)]
    waiting = plan_landing_runs(LandingCursor(), july + august, now=1_006.0, quiet_seconds=5)
    assert [b.month for b in waiting.batches] == [AUGUST]
    assert waiting.waiting_months == [JULY]
    assert sorted(waiting.cursor.files) == ["billing/billing_month=2023-08/b.csv"]
    settled = plan_landing_runs(waiting.cursor, july + august, now=1_009.0, quiet_seconds=5)
    assert [b.month for b in settled.batches] == [JULY] and not settled.waiting_months


def test_a_file_going_back_to_an_earlier_version_is_still_a_change():
    """An S3 ETag repeats when identical content is uploaded again."""
    cursor, run_keys = LandingCursor(), []
    for version in ("v1", "v2", "v1"):
        plan = plan_landing_runs(cursor, [info(SEED_KEYS[0], version)], now=2_000.0, quiet_seconds=0)
        (batch,) = plan.batches
        run_keys.append(batch.run_key)
        cursor = plan.cursor
    assert len(set(run_keys)) == 3


def test_the_cursor_is_compact_json_and_a_foreign_one_is_refused():
    cursor = LandingCursor({SEED_KEYS[1]: "2-3", SEED_KEYS[0]: "1-2"})
    raw = cursor.serialize()
    assert json.loads(raw) == {"format": 1, "files": {SEED_KEYS[0]: "1-2", SEED_KEYS[1]: "2-3"}}
    assert " " not in raw.replace("billing_data", "")  # no indentation or padding
    assert LandingCursor.parse(raw) == cursor
    with pytest.raises(LandingCursorError, match="format 1"):
        LandingCursor.parse('{"seen": []}')
    with pytest.raises(LandingCursorError, match="not JSON"):
        LandingCursor.parse("2023-07")


# --- settings ---------------------------------------------------------------------------------


def test_sensors_run_by_default_and_the_environment_can_start_them_stopped(monkeypatch):
    monkeypatch.delenv(HANDS_FREE_ENV_VAR, raising=False)
    assert automation_sensor().default_status == dg.DefaultSensorStatus.RUNNING
    assert landing_zone_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    monkeypatch.setenv(HANDS_FREE_ENV_VAR, "off")
    assert automation_sensor().default_status == dg.DefaultSensorStatus.STOPPED
    monkeypatch.setenv(HANDS_FREE_ENV_VAR, "maybe")
    with pytest.raises(HandsFreeSettingError, match=HANDS_FREE_ENV_VAR):
        automation_sensor()


def test_the_freshness_window_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(FRESHNESS_MINUTES_ENV_VAR, raising=False)
    assert freshness_window().days == 35
    monkeypatch.setenv(FRESHNESS_MINUTES_ENV_VAR, "90")
    assert report_freshness_policy().fail_window.to_timedelta().total_seconds() == 90 * 60
    monkeypatch.setenv(FRESHNESS_MINUTES_ENV_VAR, "soon")
    with pytest.raises(HandsFreeSettingError, match=FRESHNESS_MINUTES_ENV_VAR):
        freshness_window()


# --- automation conditions --------------------------------------------------------------------

MONTH_STAGES = [
    *CATALOGED_KEYS, GOVERNED_BILLING_LINES, QUARANTINED_BILLING_LINES, GROSS_PROFIT_REPORT, GROSS_PROFIT_MONTH_SUMS
]


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from gross_profit_assets.definitions import defs

    return defs


def blocking_checks(defs: dg.Definitions, key: dg.AssetKey) -> list[dg.AssetCheckKey]:
    graph = defs.resolve_asset_graph()
    return sorted(
        (c for c in graph.get_check_keys_for_assets({key}) if graph.get_check_spec(c).blocking),
        key=lambda c: c.name,
    )


def test_the_gates_are_the_blocking_checks_on_the_governed_lines_and_the_report(defs):
    assert LINES_ACCOUNTED_FOR in {c.name for c in blocking_checks(defs, GOVERNED_BILLING_LINES)}
    assert TOTALS_RECONCILE in {c.name for c in blocking_checks(defs, GROSS_PROFIT_REPORT)}


def materialized(
    defs: dg.Definitions, instance: dg.DagsterInstance, keys, month: str | None, checks_pass: bool = True
) -> None:
    """Record what a run would have: materializations, then the blocking checks' results."""
    for key in keys:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, partition=month))
    for key in keys:
        for check in blocking_checks(defs, key):
            instance.report_runless_asset_event(
                dg.AssetCheckEvaluation(asset_key=key, check_name=check.name, passed=checks_pass, blocking=True)
            )


@pytest.fixture()
def settled(defs):
    """Two months fully reported and summarized, and one quiet automation tick behind them."""
    with dg.DagsterInstance.ephemeral() as test_instance:
        test_instance.add_dynamic_partitions(billing_months.name, [JULY, AUGUST])
        for month in (JULY, AUGUST):
            materialized(defs, test_instance, [*LANDED_KEYS, *MONTH_STAGES], month)
        materialized(defs, test_instance, [GROSS_PROFIT_SUMMARY], None)
        first = dg.evaluate_automation_conditions(defs=defs, instance=test_instance)
        assert first.total_requested == 0, requested_by_asset(first)
        yield test_instance, first.cursor


def requested_by_asset(result) -> dict[str, list]:
    keys = {r.key for r in result.results if isinstance(r.key, dg.AssetKey)}
    return {
        key.to_user_string(): sorted(result.get_requested_partitions(key), key=str)
        for key in keys
        if result.get_num_requested(key)
    }


def tick(defs, instance, cursor):
    return dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)


def test_a_landing_requests_exactly_the_months_downstream_partitions(defs, settled):
    instance, cursor = settled
    materialized(defs, instance, LANDED_KEYS, JULY)  # the sensor's landing run
    result = tick(defs, instance, cursor)
    assert requested_by_asset(result) == {k.to_user_string(): [JULY] for k in MONTH_STAGES}
    # The landing assets are the sensor's, and the summary waits for the new report.
    for key in [*LANDED_KEYS, GROSS_PROFIT_SUMMARY]:
        assert result.get_num_requested(key) == 0
    # Once the month's report is in, the summary follows, and nothing else is asked twice.
    materialized(defs, instance, MONTH_STAGES, JULY)
    after = tick(defs, instance, result.cursor)
    assert requested_by_asset(after) == {GROSS_PROFIT_SUMMARY.to_user_string(): [None]}


def test_a_first_landing_requests_the_whole_month_in_one_tick(defs):
    """No check has ever run: the report still joins the governed lines' run, whose blocking
    checks would stop it there."""
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(billing_months.name, [JULY])
        quiet = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert quiet.total_requested == 0, requested_by_asset(quiet)
        materialized(defs, instance, LANDED_KEYS, JULY)
        result = tick(defs, instance, quiet.cursor)
        assert requested_by_asset(result) == {k.to_user_string(): [JULY] for k in MONTH_STAGES}


def test_a_failed_blocking_check_on_the_governed_lines_requests_nothing_downstream(defs, settled):
    instance, cursor = settled
    materialized(defs, instance, [*LANDED_KEYS, *CATALOGED_KEYS], AUGUST)
    materialized(defs, instance, [GOVERNED_BILLING_LINES, QUARANTINED_BILLING_LINES], AUGUST, checks_pass=False)
    result = tick(defs, instance, cursor)
    assert result.total_requested == 0, requested_by_asset(result)
    # Still nothing on the next tick: the report and the summary wait for a passing check.
    assert tick(defs, instance, result.cursor).total_requested == 0


def test_a_failed_blocking_check_on_the_report_keeps_the_summary_back(defs, settled):
    instance, cursor = settled
    materialized(defs, instance, [*LANDED_KEYS, *CATALOGED_KEYS, GOVERNED_BILLING_LINES, QUARANTINED_BILLING_LINES], JULY)
    # The report's step writes its month sums too.
    materialized(defs, instance, [GROSS_PROFIT_REPORT, GROSS_PROFIT_MONTH_SUMS], JULY, checks_pass=False)
    result = tick(defs, instance, cursor)
    assert result.total_requested == 0, requested_by_asset(result)


def test_the_automation_sensor_covers_every_asset_and_runs_by_default(defs):
    sensor = defs.resolve_sensor_def(AUTOMATION_SENSOR)
    assert isinstance(sensor, dg.AutomationConditionSensorDefinition)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    graph = defs.resolve_asset_graph()
    automated = {k for k in graph.get_all_asset_keys() if graph.get(k).automation_condition is not None}
    assert automated == set(graph.get_all_asset_keys()) - set(LANDED_KEYS)
    assert graph.get(GROSS_PROFIT_REPORT).freshness_policy is not None
