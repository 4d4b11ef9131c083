"""Crawler and Data Catalog ports, shaped like AWS Glue.

Table definitions are plain dicts in the shape of Glue's ``GetTable`` response (``Name``,
``DatabaseName``, ``VersionId``, ``StorageDescriptor.Columns``, ``PartitionKeys``,
``Parameters``), so the local adapter and the AWS adapter hand the pipeline the same thing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

import dagster as dg

from gross_profit_assets.contract import GLUE_DATABASE


@dataclass(frozen=True)
class CrawlOutcome:
    """What one crawl did to one table."""

    table: str
    version_id: str  # the table's VersionId after the crawl
    schema_changed: bool  # True when this crawl created a new table version
    columns: list[dict] = field(default_factory=list)  # [{"Name":..., "Type":...}] after the crawl
    previous_columns: list[dict] | None = None  # before the crawl (None for a new table)
    partitions: list[str] = field(default_factory=list)  # billing_month values crawled
    objects: int = 0  # files crawled
    records: int = 0  # data rows in them, estimated as Glue's ``recordCount`` is
    # The same two counts per billing month crawled: {"2023-07": (files, records)}
    month_counts: dict[str, tuple[int, int]] = field(default_factory=dict)


class GlueCatalog(dg.ConfigurableResource, ABC):
    """Reads table definitions, partitions and table versions from a Glue-shaped catalog."""

    database: str = GLUE_DATABASE

    @abstractmethod
    def get_table(self, table: str) -> dict | None:
        """The current definition of ``table``, or None if it was never crawled."""

    @abstractmethod
    def get_table_versions(self, table: str) -> list[dict]:
        """Every version of ``table``, oldest first: ``[{"VersionId": "1", "Table": {...}}]``."""

    @abstractmethod
    def get_partitions(self, table: str) -> list[dict]:
        """Partitions of ``table``: ``[{"Values": ["2023-07"], "StorageDescriptor": {...}}]``."""


class GlueCrawler(dg.ConfigurableResource, ABC):
    """Discovers the schema of landed CSV files and writes it to the catalog."""

    @abstractmethod
    def crawl(self, tables: list[str], billing_months: Sequence[str] | None = None) -> list[CrawlOutcome]:
        """Crawl ``tables`` (prefixes of the landing bucket): every partition, or the given
        billing months (the outcome then counts those months only)."""
