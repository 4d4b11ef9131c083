"""Crawler and Data Catalog ports on AWS Glue.

:class:`AwsGlueCrawler` keeps one Glue crawler per input table (``<crawler_prefix><table>``),
pointed at the table's folder of the landing zone, and runs it the way the local crawler runs:
one call crawls the tables and hands back the same :class:`CrawlOutcome`s (table version,
whether the schema changed, columns before and after, partitions, files crawled).

- **Idempotent definitions.** Each crawl first reads the crawler: a missing one is created, one
  whose definition differs from what the settings ask for (someone edited it in the console, a
  setting changed) is updated back, an equal one is left alone, so repeated crawls make no
  write calls.
- **Waiting.** Every table's crawler is started, then all are polled together with exponential
  backoff (``first_poll_seconds`` doubling up to ``max_poll_seconds``) until each is ``READY``
  with a ``LastCrawl`` newer than the one before the start, or ``timeout_seconds`` pass. A
  crawler already running (another month's run started it) is waited for and then started
  again, because it may have listed the folder before this month's files landed.
- **Failures** carry Glue's own words: ``LastCrawl.ErrorMessage`` and where its log is.
- **Schema change** means what it means locally: the crawl created the table, or its columns
  (names, types, order) differ from before the crawl. Glue also writes a new table version when
  only parameters change (record counts), so comparing version ids would cry wolf.
"""

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import boto3
import dagster as dg
from botocore.config import Config
from botocore.exceptions import ClientError
from pydantic import Field, PrivateAttr

from gross_profit_assets.aws.s3 import normalize_prefix
from gross_profit_assets.aws.settings import DEFAULT_REGION
from gross_profit_assets.contract import MONTH_PATTERN
from gross_profit_assets.resources.glue import CrawlOutcome, GlueCatalog, GlueCrawler

SUCCEEDED = "SUCCEEDED"
READY = "READY"
# Files the local crawler skips too: hidden files and anything in a hidden folder.
EXCLUSIONS = ("**/.*", "**/.*/**")
SCHEMA_CHANGE_POLICY = {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"}
RECRAWL_POLICY = {"RecrawlBehavior": "CRAWL_EVERYTHING"}
_RETRIES = Config(retries={"mode": "standard", "max_attempts": 5})


class GlueCrawlError(RuntimeError):
    """A Glue crawl failed or was cancelled; the message is Glue's own, with the log location."""


class GlueCrawlTimeout(GlueCrawlError):
    """A Glue crawl did not finish within the timeout."""


def _glue_client(region_name: str):
    return boto3.session.Session().client("glue", region_name=region_name, config=_RETRIES)


def _plain(value: Any) -> Any:
    """boto3's response with datetimes as ISO strings, as the local catalog stores them, so
    both adapters hand the pipeline JSON-serialisable dicts."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


class AwsGlueCatalog(GlueCatalog):
    """Table definitions, versions and partitions from the Glue Data Catalog."""

    region_name: str = Field(default=DEFAULT_REGION, description="Region of the Data Catalog.")
    _client: Any = PrivateAttr(default=None)

    def glue_client(self):
        if self._client is None:
            self._client = _glue_client(self.region_name)
        return self._client

    def get_table(self, table: str) -> dict | None:
        try:
            response = self.glue_client().get_table(DatabaseName=self.database, Name=table)
        except ClientError as exc:
            if _error_code(exc) == "EntityNotFoundException":
                return None
            raise
        return _plain(response["Table"])

    def get_table_versions(self, table: str) -> list[dict]:
        pages = self.glue_client().get_paginator("get_table_versions").paginate(
            DatabaseName=self.database, TableName=table
        )
        try:
            versions = [v for page in pages for v in page["TableVersions"]]
        except ClientError as exc:
            if _error_code(exc) == "EntityNotFoundException":
                return []
            raise
        return _plain(sorted(versions, key=lambda v: int(v["VersionId"])))

    def get_partitions(self, table: str) -> list[dict]:
        pages = self.glue_client().get_paginator("get_partitions").paginate(
            DatabaseName=self.database, TableName=table
        )
        try:
            partitions = [p for page in pages for p in page["Partitions"]]
        except ClientError as exc:
            if _error_code(exc) == "EntityNotFoundException":
                return []
            raise
        return _plain(sorted(partitions, key=lambda p: p["Values"]))


@dataclass
class _Crawl:
    """One table's crawl in flight."""

    table: str
    name: str
    before: dict | None  # the table before the crawl
    last_start: Any = None  # LastCrawl.StartTime before our crawl started
    started: bool = False
    state: str = "not started"
    result: dict = field(default_factory=dict)  # our crawl's LastCrawl, once finished


class AwsGlueCrawler(GlueCrawler):
    """Runs one Glue crawler per table over the S3 landing zone into ``catalog``."""

    catalog: AwsGlueCatalog
    landing_bucket: str = Field(description="Bucket the billing files land in.")
    landing_prefix: str = Field(default="", description="Key prefix of the landing zone.")
    crawler_prefix: str = Field(default="gross-profit-", description="Crawler names: <prefix><table>.")
    role_arn: str = Field(description="IAM role the crawlers run as.")
    timeout_seconds: float = Field(default=1800.0, description="Give up waiting after this long.")
    first_poll_seconds: float = Field(default=5.0, description="First wait between polls.")
    max_poll_seconds: float = Field(default=60.0, description="Longest wait between polls.")

    def crawler_name(self, table: str) -> str:
        return f"{self.crawler_prefix}{table}"

    def target_path(self, table: str) -> str:
        return f"s3://{self.landing_bucket}/{normalize_prefix(self.landing_prefix)}{table}/"

    def crawler_definition(self, table: str) -> dict[str, Any]:
        """The ``CreateCrawler`` / ``UpdateCrawler`` request for ``table``'s crawler."""
        # The table sits at <bucket>/<prefix folders>/<table>/: Glue counts the bucket as level
        # 1. Fixing the level keeps one table per folder even if two months' files differ in
        # schema (Glue would otherwise make a table per billing_month= folder).
        level = 2 + normalize_prefix(self.landing_prefix).count("/")
        configuration = {
            "Version": 1.0,
            "Grouping": {
                "TableGroupingPolicy": "CombineCompatibleSchemas",
                "TableLevelConfiguration": level,
            },
            "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
        }
        return {
            "Name": self.crawler_name(table),
            "Role": self.role_arn,
            "DatabaseName": self.catalog.database,
            "Description": f"gross-profit: catalogs the landed {table} files "
            "(managed by the pipeline; edits are reverted on the next crawl)",
            "Targets": {"S3Targets": [{"Path": self.target_path(table), "Exclusions": list(EXCLUSIONS)}]},
            "TablePrefix": "",
            "SchemaChangePolicy": dict(SCHEMA_CHANGE_POLICY),
            "RecrawlPolicy": dict(RECRAWL_POLICY),
            "Configuration": json.dumps(configuration, sort_keys=True),
        }

    def ensure_crawler(self, client, table: str) -> str:
        """Create the crawler, or update it back to its definition; ``created``, ``updated``
        or ``unchanged``. Raises Glue's ``CrawlerRunningException`` for a running crawler that
        needs an update."""
        self._check_settings()
        wanted = self.crawler_definition(table)
        try:
            current = client.get_crawler(Name=wanted["Name"])["Crawler"]
        except ClientError as exc:
            if _error_code(exc) != "EntityNotFoundException":
                raise
            client.create_crawler(**wanted)
            dg.get_dagster_logger().info(f"created Glue crawler {wanted['Name']}")
            return "created"
        differences = definition_differences(current, wanted)
        if not differences:
            return "unchanged"
        client.update_crawler(**wanted)
        dg.get_dagster_logger().info(
            f"updated Glue crawler {wanted['Name']} back to its definition "
            f"(it differed in {', '.join(differences)})"
        )
        return "updated"

    def crawl(self, tables: list[str], billing_months: Sequence[str] | None = None) -> list[CrawlOutcome]:
        months = None if billing_months is None else sorted(set(billing_months))
        bad = [m for m in months or [] if not MONTH_PATTERN.match(m)]
        if bad:
            raise ValueError(f"billing months must be YYYY-MM, got {bad}")
        client = self.catalog.glue_client()
        crawls = [
            _Crawl(table, self.crawler_name(table), self.catalog.get_table(table)) for table in tables
        ]
        for crawl in crawls:
            self._start(client, crawl)
        self._wait(client, crawls)
        failed = [c for c in crawls if c.result.get("Status") != SUCCEEDED]
        if failed:
            raise GlueCrawlError("; ".join(_failure(c) for c in failed))
        return [self._outcome(crawl, months) for crawl in crawls]

    def _check_settings(self) -> None:
        missing = [
            name
            for name, value in (("landing_bucket", self.landing_bucket), ("role_arn", self.role_arn))
            if not value
        ]
        if missing:
            raise ValueError(
                f"AwsGlueCrawler needs {', '.join(missing)} (GROSS_PROFIT_LANDING_BUCKET, "
                "GROSS_PROFIT_CRAWLER_ROLE_ARN on the aws deployment)"
            )
        if self.timeout_seconds <= 0 or self.first_poll_seconds <= 0:
            raise ValueError("timeout_seconds and first_poll_seconds must be positive")

    def _start(self, client, crawl: _Crawl) -> None:
        """Bring the crawler to its definition and start it; a running crawler is left to
        finish (``started`` stays False) and started again once it is ready."""
        try:
            self.ensure_crawler(client, crawl.table)
            current = client.get_crawler(Name=crawl.name)["Crawler"]
            crawl.last_start = (current.get("LastCrawl") or {}).get("StartTime")
            client.start_crawler(Name=crawl.name)
        except ClientError as exc:
            if _error_code(exc) != "CrawlerRunningException":
                raise
            crawl.state = "waiting for a crawl already running"
            return
        crawl.started = True
        crawl.state = "started"
        dg.get_dagster_logger().info(f"started Glue crawler {crawl.name} on {self.target_path(crawl.table)}")

    def _wait(self, client, crawls: list[_Crawl]) -> None:
        log = dg.get_dagster_logger()
        began = time.monotonic()
        delay = self.first_poll_seconds
        pending = list(crawls)
        while pending:
            elapsed = time.monotonic() - began
            if elapsed >= self.timeout_seconds:
                raise GlueCrawlTimeout(
                    f"Glue crawler(s) not finished after {self.timeout_seconds:g} s: "
                    + ", ".join(f"{c.name} ({c.state})" for c in pending)
                    + ". The crawl goes on in AWS; see its CloudWatch log (/aws-glue/crawlers), "
                    "and raise the glue_crawler resource's timeout_seconds if crawls are "
                    "just slow."
                )
            time.sleep(min(delay, self.timeout_seconds - elapsed))
            delay = min(delay * 2, self.max_poll_seconds)
            for crawl in list(pending):
                if self._poll(client, crawl):
                    pending.remove(crawl)
            if pending:
                log.info(
                    f"waiting for Glue crawler(s) ({time.monotonic() - began:.0f} s elapsed): "
                    + ", ".join(f"{c.name} {c.state}" for c in pending)
                )

    def _poll(self, client, crawl: _Crawl) -> bool:
        """Whether ``crawl`` has finished (its result recorded)."""
        crawler = client.get_crawler(Name=crawl.name)["Crawler"]
        crawl.state = crawler["State"]
        if crawl.state != READY:
            return False
        if not crawl.started:
            self._start(client, crawl)
            return False
        last = crawler.get("LastCrawl") or {}
        if last.get("StartTime") == crawl.last_start:
            return False  # ready, but our crawl has not shown up yet
        crawl.result = last
        dg.get_dagster_logger().info(f"Glue crawler {crawl.name}: {last.get('Status')}")
        return True

    def _outcome(self, crawl: _Crawl, months: list[str] | None) -> CrawlOutcome:
        """The table after the crawl; the counts of the months asked for (Glue crawls the
        whole table whatever is asked), or of the whole table."""
        after = self.catalog.get_table(crawl.table)
        if after is None:  # nothing has landed under the table's folder yet
            return CrawlOutcome(table=crawl.table, version_id="", schema_changed=False)
        before_columns = _columns(crawl.before) if crawl.before else None
        columns = _columns(after)
        crawled = {p["Values"][0]: p for p in self.catalog.get_partitions(crawl.table) if p["Values"]}
        partitions = sorted(crawled) if months is None else [m for m in months if m in crawled]
        month_counts = {m: _counts(crawled[m]) for m in partitions}
        objects, records = _counts(after) if months is None else (
            sum(c[0] for c in month_counts.values()), sum(c[1] for c in month_counts.values())
        )
        return CrawlOutcome(
            table=crawl.table,
            version_id=after.get("VersionId", ""),
            schema_changed=before_columns != columns,
            columns=columns,
            previous_columns=before_columns,
            partitions=partitions,
            objects=objects,
            records=records,
            month_counts=month_counts,
        )


def _counts(table_or_partition: Mapping[str, Any]) -> tuple[int, int]:
    """(files, records) as the crawler counted them (``objectCount``, ``recordCount``)."""
    parameters = table_or_partition.get("Parameters") or {}
    return int(parameters.get("objectCount", 0)), int(parameters.get("recordCount", 0))


def _columns(table: Mapping[str, Any]) -> list[dict]:
    """``[{"Name", "Type"}]``, as the local catalog holds them (Glue may add comments)."""
    return [
        {"Name": c["Name"], "Type": c["Type"]}
        for c in table.get("StorageDescriptor", {}).get("Columns", [])
    ]


def _failure(crawl: _Crawl) -> str:
    last = crawl.result
    status = last.get("Status", "unknown")
    message = last.get("ErrorMessage") or "no error message"
    where = f"{last.get('LogGroup', '/aws-glue/crawlers')}/{last.get('LogStream', crawl.name)}"
    return f"Glue crawler {crawl.name} {status}: {message} (CloudWatch log {where})"


def definition_differences(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """The fields of a ``GetCrawler`` response that differ from a ``CreateCrawler`` request,
    compared as Glue means them (JSON configuration parsed, absent lists and policies as their
    defaults), so an unchanged crawler never counts as changed."""

    def targets(value: Mapping[str, Any] | None) -> Any:
        value = value or {}
        s3 = sorted(
            (t["Path"], tuple(sorted(t.get("Exclusions") or []))) for t in value.get("S3Targets") or []
        )
        others = {k: v for k, v in value.items() if k != "S3Targets" and v}
        return s3, others

    def configuration(value: str | None) -> Any:
        return json.loads(value) if value else {}

    def recrawl(value: Mapping[str, Any] | None) -> Any:
        return (value or {}).get("RecrawlBehavior", "CRAWL_EVERYTHING")

    comparisons = {
        "Role": (current.get("Role"), wanted["Role"]),
        "DatabaseName": (current.get("DatabaseName"), wanted["DatabaseName"]),
        "Description": (current.get("Description") or "", wanted["Description"]),
        "Targets": (targets(current.get("Targets")), targets(wanted["Targets"])),
        "TablePrefix": (current.get("TablePrefix") or "", wanted["TablePrefix"]),
        "SchemaChangePolicy": (current.get("SchemaChangePolicy") or {}, wanted["SchemaChangePolicy"]),
        "RecrawlPolicy": (recrawl(current.get("RecrawlPolicy")), recrawl(wanted["RecrawlPolicy"])),
        "Configuration": (
            configuration(current.get("Configuration")),
            configuration(wanted["Configuration"]),
        ),
    }
    return [name for name, (have, want) in comparisons.items() if have != want]
