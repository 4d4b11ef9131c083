"""The partitioning of every stage: the billing month (the month of ``bill_date``), and how many
months one run may carry.

A run of the month assets covers one month or a range of them (Dagster's partition range
tags). Every month asset processes its run's months together, in one Spark plan: a 12-month
backlog is one read of the landed files, one join and one write per table instead of twelve of
each, and a month's fixed cost (Spark jobs, Py4J plan building, Dagster's events) is paid once
per run. ``GROSS_PROFIT_MONTHS_PER_RUN`` (default 12) caps the months of one run, so a long
backlog is cut into runs that each fit the machine and fail or succeed on their own; Dagster's
backfills in the UI follow the same cap (the assets' backfill policy).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from dagster_shared.utils.warnings import BetaWarning

from gross_profit_assets.contract import PARTITION_KEY
from gross_profit_assets.settings import env_int

billing_months = dg.DynamicPartitionsDefinition(name=PARTITION_KEY)

MONTHS_PER_RUN_ENV_VAR = "GROSS_PROFIT_MONTHS_PER_RUN"
DEFAULT_MONTHS_PER_RUN = 12


def months_per_run(environ=None) -> int:
    return env_int(MONTHS_PER_RUN_ENV_VAR, DEFAULT_MONTHS_PER_RUN, minimum=1, environ=environ)


def month_backfill_policy() -> dg.BackfillPolicy:
    """Several months per run, at most ``months_per_run()``."""
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=months_per_run())


# Backfill policies are beta in Dagster 1.13; the month assets opt in knowingly, so Dagster's
# notice for that one parameter (printed on every run) is silenced here and nowhere else.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=BetaWarning)


def month_runs(wanted: Sequence[str], partitions: Sequence[str], per_run: int | None = None) -> list[list[str]]:
    """``wanted`` months as runs: each run a range of consecutive ``partitions`` (the dynamic
    partitions in the order the instance holds them, which is the order they were added), at
    most ``per_run`` long. A run's range must not include a month that was not wanted, so a gap
    in ``wanted`` starts a new run."""
    per_run = per_run or months_per_run()
    position = {month: index for index, month in enumerate(partitions)}
    unknown = [m for m in wanted if m not in position]
    if unknown:
        raise ValueError(f"{unknown} are not {PARTITION_KEY} partitions")
    runs: list[list[str]] = []
    for month in sorted(set(wanted), key=position.__getitem__):
        last = runs[-1] if runs else None
        if last and len(last) < per_run and position[month] == position[last[-1]] + 1:
            last.append(month)
        else:
            runs.append([month])
    return runs


def run_partitions(months: Sequence[str]) -> dict:
    """How a run names its months: one month as its partition key, several as a range."""
    if len(months) == 1:
        return {"partition_key": months[0]}
    return {"tags": {ASSET_PARTITION_RANGE_START_TAG: months[0], ASSET_PARTITION_RANGE_END_TAG: months[-1]}}
