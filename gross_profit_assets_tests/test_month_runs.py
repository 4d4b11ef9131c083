"""How wanted billing months become runs: consecutive partitions share a run, up to a cap."""

from __future__ import annotations

import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from gross_profit_assets.assets.partitions import (
    DEFAULT_MONTHS_PER_RUN,
    MONTHS_PER_RUN_ENV_VAR,
    month_backfill_policy,
    month_runs,
    months_per_run,
    run_partitions,
)
from gross_profit_assets.settings import SettingError

YEAR = [f"2023-{m:02d}" for m in range(1, 13)]


def test_a_backlog_of_consecutive_months_is_one_run():
    assert month_runs(YEAR, YEAR) == [YEAR]


def test_a_gap_in_the_wanted_months_starts_a_new_run():
    """A run is a range of partitions: it must not carry a month nobody asked for."""
    assert month_runs(["2023-01", "2023-02", "2023-05"], YEAR) == [["2023-01", "2023-02"], ["2023-05"]]


def test_runs_follow_the_order_the_partitions_were_added_in():
    """Dynamic partitions are ordered as they were added: a range is consecutive in that order."""
    added = ["2023-07", "2023-01", "2023-02"]
    assert month_runs(["2023-01", "2023-07", "2023-02"], added) == [["2023-07", "2023-01", "2023-02"]]


def test_runs_are_capped_and_repeated_months_count_once():
    assert month_runs(YEAR[:5] + ["2023-02"], YEAR, per_run=2) == [YEAR[0:2], YEAR[2:4], YEAR[4:5]]


def test_a_month_that_is_no_partition_is_refused():
    with pytest.raises(ValueError, match=r"\['2024-01'\] are not billing_month partitions"):
        month_runs(["2024-01"], YEAR)


def test_one_month_is_a_partition_key_and_several_a_range():
    assert run_partitions(["2023-07"]) == {"partition_key": "2023-07"}
    assert run_partitions(YEAR) == {
        "tags": {ASSET_PARTITION_RANGE_START_TAG: "2023-01", ASSET_PARTITION_RANGE_END_TAG: "2023-12"}
    }


def test_months_per_run_comes_from_the_environment_and_bad_values_say_so(monkeypatch):
    assert months_per_run({}) == DEFAULT_MONTHS_PER_RUN
    assert months_per_run({MONTHS_PER_RUN_ENV_VAR: " 3 "}) == 3
    with pytest.raises(SettingError, match="GROSS_PROFIT_MONTHS_PER_RUN='many' is not a whole number"):
        months_per_run({MONTHS_PER_RUN_ENV_VAR: "many"})
    with pytest.raises(SettingError, match="below the minimum of 1"):
        months_per_run({MONTHS_PER_RUN_ENV_VAR: "0"})
    monkeypatch.setenv(MONTHS_PER_RUN_ENV_VAR, "4")
    assert month_backfill_policy().max_partitions_per_run == 4
    assert month_runs(YEAR, YEAR) == [YEAR[0:4], YEAR[4:8], YEAR[8:12]]
