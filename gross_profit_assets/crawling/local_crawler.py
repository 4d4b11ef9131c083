"""Embedded Glue crawler: reads the landing bucket, writes Glue-shaped tables to the catalog.

One table per top-level prefix (``billing/``), one partition per Hive-style key segment
(``billing/billing_month=2023-07/...``), schemas inferred from the first MiB of each file and
merged across files, as a Glue crawler with "update the table definition" does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from gross_profit_assets.contract import MONTH_PATTERN, PARTITION_KEY
from gross_profit_assets.crawling.inference import (
    InferredSchema,
    estimate_record_count,
    infer_csv_schema,
    merge_schemas,
)
from gross_profit_assets.crawling.local_catalog import LocalGlueCatalog
from gross_profit_assets.resources.glue import CrawlOutcome, GlueCrawler
from gross_profit_assets.resources.object_store import ObjectInfo, ObjectStore

# Bytes of each file the crawler reads; Glue's CSV classifier also samples the file's start.
SAMPLE_BYTES = 1 << 20
CRAWLER_NAME = "local-glue-crawler"
_COUNT_PARAMETERS = ("objectCount", "recordCount", "sizeKey")


@dataclass(frozen=True)
class FileScan:
    """What the crawler learned from one landed object."""

    key: str
    billing_month: str | None  # None for a file outside any billing_month= prefix
    size: int
    schema: InferredSchema
    records: int  # estimated data rows


class LocalGlueCrawler(GlueCrawler):
    """Crawls a landing ``ObjectStore`` into a ``LocalGlueCatalog``."""

    object_store: ObjectStore
    catalog: LocalGlueCatalog

    def crawl(self, tables: list[str], billing_months: Sequence[str] | None = None) -> list[CrawlOutcome]:
        months = None if billing_months is None else sorted(set(billing_months))
        bad = [m for m in months or [] if not MONTH_PATTERN.match(m)]
        if bad:
            raise ValueError(f"billing months must be YYYY-MM, got {bad}")
        return [self._crawl_table(table, months) for table in tables]

    def _crawl_table(self, table: str, months: list[str] | None) -> CrawlOutcome:
        scans = [self._scan(info) for info in self._objects(table, months)]
        if not scans:
            return _unchanged(table, self.catalog.get_table(table))

        updated, created = self.catalog.put_table(
            table,
            _schema_of(scans),
            self.object_store.uri(f"{table}/"),
            self._table_parameters(table, scans, months),
            merge=months is not None,  # a month crawl never drops columns other months have
        )
        partitions = _by_month(scans)
        for month, month_scans in partitions.items():
            self.catalog.put_partition(
                table,
                month,
                self.object_store.uri(f"{table}/{PARTITION_KEY}={month}/"),
                _schema_of(month_scans),
                _csv_parameters(month_scans, _totals(month_scans)),
            )
        return CrawlOutcome(
            table=table,
            version_id=updated["VersionId"],
            schema_changed=created,
            columns=updated["StorageDescriptor"]["Columns"],
            previous_columns=self._columns_before(table, updated, created),
            partitions=list(partitions),
            objects=len(scans),
            records=sum(s.records for s in scans),
            month_counts={m: (len(ms), sum(s.records for s in ms)) for m, ms in partitions.items()},
        )

    def _objects(self, table: str, months: list[str] | None) -> list[ObjectInfo]:
        """Data files under the table prefix (or its months' prefixes); hidden files and folder
        markers are not data."""
        prefixes = [f"{table}/"] if months is None else [f"{table}/{PARTITION_KEY}={m}/" for m in months]
        return [
            info
            for prefix in prefixes
            for info in self.object_store.list_objects(prefix)
            if not info.key.endswith("/")
            and not any(part.startswith(".") for part in info.key.split("/"))
        ]

    def _scan(self, info: ObjectInfo) -> FileScan:
        sample = self.object_store.read_bytes(info.key, length=SAMPLE_BYTES)
        complete = info.size <= SAMPLE_BYTES
        schema = infer_csv_schema(sample, complete=complete)
        records = estimate_record_count(
            sample, info.size, complete=complete, header_present=schema.header_present
        )
        return FileScan(info.key, _billing_month_of(info.key), info.size, schema, records)

    def _table_parameters(
        self, table: str, scans: list[FileScan], months: list[str] | None
    ) -> dict[str, str]:
        """Table parameters; a month crawl counts the other months from their partitions so
        ``objectCount``/``recordCount``/``sizeKey`` keep describing the whole table."""
        totals = _totals(scans)
        if months is not None:
            for partition in self.catalog.get_partitions(table):
                if partition["Values"][0] not in months:
                    for name in _COUNT_PARAMETERS:
                        totals[name] += int(partition["Parameters"].get(name, 0))
        return _csv_parameters(scans, totals)

    def _columns_before(self, table: str, updated: dict, created: bool) -> list[dict] | None:
        """The columns before this crawl: the replaced version's, read by id so that another
        crawl writing between two of ours cannot make us report the wrong 'before'."""
        if not created:
            return updated["StorageDescriptor"]["Columns"]
        version = int(updated["VersionId"])
        if version == 1:
            return None
        before = self.catalog.get_table_version(table, str(version - 1))
        return before["StorageDescriptor"]["Columns"] if before else None


def _billing_month_of(key: str) -> str | None:
    """The ``billing_month=`` value in a key's folders, e.g. ``2023-07``."""
    for segment in key.split("/")[:-1]:
        name, sep, value = segment.partition("=")
        if sep and name == PARTITION_KEY:
            return value
    return None


def _by_month(scans: list[FileScan]) -> dict[str, list[FileScan]]:
    """Scans grouped by billing month, months in order; files outside a partition left out."""
    grouped: dict[str, list[FileScan]] = {}
    for scan in scans:
        if scan.billing_month is not None:
            grouped.setdefault(scan.billing_month, []).append(scan)
    return dict(sorted(grouped.items()))


def _schema_of(scans: Sequence[FileScan]) -> list[tuple[str, str]]:
    schema: list[tuple[str, str]] = []
    for scan in scans:
        schema = merge_schemas(schema, scan.schema.columns)
    return schema


def _totals(scans: Sequence[FileScan]) -> Counter[str]:
    return Counter(
        objectCount=len(scans),
        recordCount=sum(s.records for s in scans),
        sizeKey=sum(s.size for s in scans),
    )


def _csv_parameters(scans: Sequence[FileScan], totals: Counter[str]) -> dict[str, str]:
    """Parameters a Glue CSV crawler writes. The header is skipped only when every file has
    one, so a headerless file never loses its first row; the delimiter is the files' usual one."""
    parameters = {
        "classification": "csv",
        "delimiter": Counter(s.schema.delimiter for s in scans).most_common(1)[0][0],
        "objectCount": str(totals["objectCount"]),
        "recordCount": str(totals["recordCount"]),
        "sizeKey": str(totals["sizeKey"]),
        "averageRecordSize": str(totals["sizeKey"] // max(totals["recordCount"], 1)),
        "UPDATED_BY_CRAWLER": CRAWLER_NAME,
    }
    if all(s.schema.header_present for s in scans):
        parameters["skip.header.line.count"] = "1"
    return parameters


def _unchanged(table: str, current: dict | None) -> CrawlOutcome:
    """Outcome of a crawl that found no files: nothing written, the current version (if any)
    reported as it is."""
    columns = current["StorageDescriptor"]["Columns"] if current else []
    return CrawlOutcome(
        table=table,
        version_id=current["VersionId"] if current else "",
        schema_changed=False,
        columns=columns,
        previous_columns=columns if current else None,
        objects=0,
    )
