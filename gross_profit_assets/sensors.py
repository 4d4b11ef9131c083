"""The landing sensor: files landing in the bucket become runs of their month's landing assets.

It talks to the landing zone only through the ``ObjectStore`` port (resource ``object_store``),
so the same sensor watches the local directory tree and, with the S3 adapter, a bucket.

**Cursor.** A compact JSON document, ``{"format": 1, "files": {key: version}}``: every landed
file the sensor has requested a run for, with the version it saw. Its size follows the files
that are in the landing zone now, not the history: a deleted file leaves the cursor in the same
tick that requests its month again. Months whose files are still arriving (see *quiet period*)
keep their old entries until they are requested, so nothing is lost between ticks.

**Batches and run keys.** Each tick compares the listing with the cursor. Per month, the new,
re-uploaded (new version) and deleted files make one batch and one run of that month's landing
assets; catalog, governed and report follow by automation. The run key is::

    <month>:<sha256 of the month's files before the batch and the batch's sorted (key, version) pairs>

It is a pure function of the cursor and the listing, so when the daemon stops after launching
runs but before storing the new cursor, the next tick computes the same run keys and Dagster
skips them (run keys are launched once per sensor): no file is processed twice, and since the
cursor only advances together with the run requests, none is missed. The month's previous state
is part of the key so that a file going back to an earlier version (an S3 ETag of re-uploaded
identical content) is still a change.

**Quiet period.** A month is requested once none of its files changed for
``GROSS_PROFIT_LANDING_QUIET_SECONDS``, so an upload of several files (or one billing export
split into months) becomes one run per month, not one per file.

**Deletions.** Deleting a file changes its month, which is requested again, unless the month
has no files left: then there is nothing to report, and the month is only forgotten.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import dagster as dg

from gross_profit_assets.assets.keys import LANDED_KEYS
from gross_profit_assets.assets.partitions import billing_months
from gross_profit_assets.automation import default_sensor_status, landing_quiet_seconds, landing_sensor_interval_seconds
from gross_profit_assets.contract import INPUT_TABLES
from gross_profit_assets.landing import month_of_key
from gross_profit_assets.resources.object_store import ObjectInfo, ObjectStore

LANDING_SENSOR = "landing_zone_sensor"
CURSOR_FORMAT = 1
DELETED = "deleted"
# Run tags that say why a landing run happened, readable on the run's page in the UI.
MONTH_TAG = "gross_profit/billing_month"
FILE_COUNT_TAG = "gross_profit/landed_file_count"
FILES_TAG = "gross_profit/landed_files"
# A batch names at most this many files in its tag; a tag is not the place for 10,000 keys.
FILES_IN_TAG = 20


class LandingCursorError(ValueError):
    """The stored cursor is not one this sensor wrote."""


@dataclass(frozen=True)
class LandingCursor:
    """The version of every landed file already requested, by object key."""

    files: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: str | None) -> "LandingCursor":
        if not raw:
            return cls()
        try:
            document = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise LandingCursorError(f"the landing sensor's cursor is not JSON: {exc}") from None
        if not isinstance(document, dict) or document.get("format") != CURSOR_FORMAT:
            raise LandingCursorError(
                f"the landing sensor's cursor is not format {CURSOR_FORMAT}: {raw[:200]!r}; "
                f"reset it with `dagster sensor cursor {LANDING_SENSOR} --delete`"
            )
        files = document.get("files")
        if not isinstance(files, dict):
            raise LandingCursorError(f"the landing sensor's cursor has no file map: {raw[:200]!r}")
        return cls(dict(files))

    def serialize(self) -> str:
        return json.dumps({"format": CURSOR_FORMAT, "files": dict(sorted(self.files.items()))}, separators=(",", ":"))


def files_tag(keys: list[str]) -> str:
    """The batch's keys as a JSON list, cut short for big batches (the count has the rest)."""
    shown = keys[:FILES_IN_TAG]
    if len(keys) > FILES_IN_TAG:
        shown.append(f"... and {len(keys) - FILES_IN_TAG} more")
    return json.dumps(shown)


@dataclass(frozen=True)
class MonthBatch:
    """What changed in one billing month since its last run: one run request."""

    month: str
    before: tuple[tuple[str, str], ...]  # the month's (key, version) pairs the cursor knew
    changes: tuple[tuple[str, str], ...]  # sorted (key, version); version ``deleted`` if gone

    @property
    def run_key(self) -> str:
        digest = hashlib.sha256()
        for key, version in self.before:
            digest.update(f"before\0{key}\0{version}\n".encode())
        for key, version in self.changes:
            digest.update(f"batch\0{key}\0{version}\n".encode())
        return f"{self.month}:{digest.hexdigest()[:24]}"

    def run_request(self) -> dg.RunRequest:
        return dg.RunRequest(
            run_key=self.run_key,
            partition_key=self.month,
            asset_selection=list(LANDED_KEYS),
            tags={
                MONTH_TAG: self.month,
                FILE_COUNT_TAG: str(len(self.changes)),
                FILES_TAG: files_tag([key for key, _ in self.changes]),
            },
        )

    def describe(self) -> str:
        changed = sum(1 for _, v in self.changes if v != DELETED)
        deleted = len(self.changes) - changed
        return f"{self.month}: {changed} new or replaced, {deleted} deleted file(s) -> run {self.run_key}"


@dataclass(frozen=True)
class LandingPlan:
    """One tick's decision: the batches to request, the months to forget, the next cursor."""

    batches: list[MonthBatch]
    forgotten_months: list[str]
    waiting_months: list[str]
    cursor: LandingCursor


def landed_billing_files(store: ObjectStore) -> list[ObjectInfo]:
    """Every file under an input table's prefix that sits in a ``billing_month=`` folder."""
    return [o for table in INPUT_TABLES for o in store.list_objects(f"{table}/") if month_of_key(o.key)]


def _by_month(pairs: Iterable[tuple[str, str]]) -> dict[str, dict[str, str]]:
    months: dict[str, dict[str, str]] = defaultdict(dict)
    for key, version in pairs:
        months[month_of_key(key)][key] = version
    return months


def _month_changes(before: Mapping[str, str], now: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    changed = [(k, v) for k, v in now.items() if before.get(k) != v]
    deleted = [(k, DELETED) for k in before if k not in now]
    return tuple(sorted(changed + deleted))


def _newest_change(objects: Iterable[ObjectInfo], month: str) -> float:
    return max((o.last_modified for o in objects if month_of_key(o.key) == month), default=float("-inf"))


def plan_landing_runs(
    cursor: LandingCursor, objects: list[ObjectInfo], now: float, quiet_seconds: float
) -> LandingPlan:
    """Compare the landing zone with the cursor: one batch per changed month whose files have
    been quiet for ``quiet_seconds``; the cursor advances for exactly those months."""
    listed = _by_month((o.key, o.version) for o in objects)
    known = _by_month(cursor.files.items())
    files = dict(cursor.files)
    batches, forgotten, waiting = [], [], []
    for month in sorted(set(listed) | set(known)):
        before, now_files = known.get(month, {}), listed.get(month, {})
        changes = _month_changes(before, now_files)
        if not changes:
            continue
        if now - _newest_change(objects, month) < quiet_seconds:
            waiting.append(month)
            continue
        for key in before:
            del files[key]
        files.update(now_files)
        if now_files:
            batches.append(MonthBatch(month, tuple(sorted(before.items())), changes))
        else:
            forgotten.append(month)
    return LandingPlan(batches, forgotten, waiting, LandingCursor(files))


def new_month_partitions(instance: dg.DagsterInstance, batches: list[MonthBatch]) -> list[str]:
    known = set(instance.get_dynamic_partitions(billing_months.name))
    return sorted({b.month for b in batches} - known)


def landing_result(context: dg.SensorEvaluationContext, store: ObjectStore, now: float) -> dg.SensorResult:
    plan = plan_landing_runs(
        LandingCursor.parse(context.cursor), landed_billing_files(store), now, landing_quiet_seconds()
    )
    for batch in plan.batches:
        context.log.info(batch.describe())
    for month in plan.forgotten_months:
        context.log.info(f"{month}: every file was deleted; nothing left to report, month forgotten")
    if plan.waiting_months:
        context.log.info(f"still landing, requested once quiet: {', '.join(plan.waiting_months)}")
    new_months = new_month_partitions(context.instance, plan.batches)
    if not plan.batches:
        reason = "files still landing" if plan.waiting_months else "no new, replaced or deleted files"
        return dg.SensorResult(skip_reason=reason, cursor=plan.cursor.serialize())
    return dg.SensorResult(
        run_requests=[b.run_request() for b in plan.batches],
        dynamic_partitions_requests=[billing_months.build_add_request(new_months)] if new_months else [],
        cursor=plan.cursor.serialize(),
    )


@dg.sensor(
    name=LANDING_SENSOR,
    target=dg.AssetSelection.assets(*LANDED_KEYS),
    minimum_interval_seconds=landing_sensor_interval_seconds(),
    default_status=default_sensor_status(),
    description="Watches the landing bucket: adds new billing months as partitions and requests "
    "one run of the month's landing assets per batch of new, replaced or deleted files.",
)
def landing_zone_sensor(context: dg.SensorEvaluationContext, object_store: ObjectStore) -> dg.SensorResult:
    return landing_result(context, object_store, time.time())
