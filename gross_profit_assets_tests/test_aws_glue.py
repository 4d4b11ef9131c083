"""Glue crawlers and the Glue Data Catalog over real HTTP to a local moto server.

moto never crawls anything: a started crawl stays RUNNING (moto's state manager is told so),
and :class:`FakeCrawlerFleet` plays Glue's part, in a thread: once a crawler is running, it
writes the table definitions as the crawler would (``create_table`` / ``update_table`` /
``create_partition`` over HTTP) and then ends the crawl through moto's backend, with the
``LastCrawl`` Glue would report.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Self

import boto3
import dagster as dg
import pytest
from botocore.stub import Stubber

from gross_profit_assets.aws.glue import (
    AwsGlueCatalog,
    AwsGlueCrawler,
    GlueCrawlError,
    GlueCrawlTimeout,
)
from gross_profit_assets.checks import schema_results
from gross_profit_assets.contract import INPUT_TABLES

pytestmark = pytest.mark.aws

BUCKET = "landing-bucket-for-tests"  # made up; the crawler never reads it in moto
ROLE = "arn:aws:iam::123456789012:role/gross-profit-crawler"
BILLING_COLUMNS = [
    ("id", "bigint"),
    ("company_name", "string"),
    ("country", "string"),
    ("city", "string"),
    ("product_line", "string"),
    ("item_sold", "string"),
    ("bill_date", "date"),
    ("currency", "string"),
    ("bill_amount", "double"),
]
# moto's crawl states -> the LastCrawl.Status Glue reports
GLUE_STATUS = {"COMPLETED": "SUCCEEDED", "FAILED": "FAILED", "STOPPED": "CANCELLED"}


@pytest.fixture()
def crawls_wait_for_the_fleet(moto):
    """Started crawls stay RUNNING until the test's fleet ends them (moto would otherwise
    complete a crawl the first time it is described)."""
    from moto.moto_api import state_manager

    state_manager.set_transition("glue::crawl", {"progression": "manual", "times": 10**9})
    yield
    state_manager.unset_transition("glue::crawl")


@pytest.fixture()
def glue(moto):
    return boto3.client("glue")


@pytest.fixture()
def database(glue) -> str:
    name = f"gross_profit_{uuid.uuid4().hex[:8]}"  # one per test: the moto server is shared
    glue.create_database(DatabaseInput={"Name": name})
    return name


def make_crawler(database: str, **kwargs) -> AwsGlueCrawler:
    settings = {
        "landing_bucket": BUCKET,
        "landing_prefix": "landing",
        "crawler_prefix": f"{database}-",
        "role_arn": ROLE,
        "first_poll_seconds": 0.02,
        "max_poll_seconds": 0.1,
        "timeout_seconds": 20.0,
    }
    return AwsGlueCrawler(catalog=AwsGlueCatalog(database=database), **settings | kwargs)


def table_input(name: str, columns, parameters: dict | None = None) -> dict:
    """A table as Glue's CSV crawler writes it."""
    return {
        "Name": name,
        "StorageDescriptor": {
            "Columns": [{"Name": n, "Type": t} for n, t in columns],
            "Location": f"s3://{BUCKET}/landing/{name}/",
            "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {
                "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                "Parameters": {"field.delim": ","},
            },
        },
        "PartitionKeys": [{"Name": "billing_month", "Type": "string"}],
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "csv", "skip.header.line.count": "1", **(parameters or {})},
    }


RECORDS_PER_FILE = 7  # what the fake crawl writes as Glue's recordCount per file


def partition_input(table: str, month: str, columns, objects: int) -> dict:
    return {
        "Values": [month],
        "StorageDescriptor": {
            "Columns": [{"Name": n, "Type": t} for n, t in columns],
            "Location": f"s3://{BUCKET}/landing/{table}/billing_month={month}/",
        },
        "Parameters": {
            "classification": "csv",
            "objectCount": str(objects),
            "recordCount": str(objects * RECORDS_PER_FILE),
        },
    }


@dataclass
class Crawl:
    write_tables: Callable[[], None]
    status: str = "COMPLETED"  # moto's word; see GLUE_STATUS
    error: str | None = None
    seconds: float = 0.0  # how long the crawl runs


class FakeCrawlerFleet:
    """Glue's side of a crawl, for moto: per crawler, the crawls it will run, in order."""

    def __init__(self, moto):
        self.crawlers = moto.backend("glue").crawlers
        self.script: dict[str, list[Crawl]] = defaultdict(list)
        self.ended: list[str] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def will_crawl(self, crawler: str, crawl: Crawl) -> None:
        self.script[crawler].append(crawl)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if self.errors:
            raise self.errors[0]

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            for name, crawls in self.script.items():
                crawler = self.crawlers.get(name)
                if (
                    crawls
                    and crawler
                    and crawler.crawls
                    and crawler.crawls[-1].status == "RUNNING"
                    and _running_for(crawler.crawls[-1]) >= crawls[0].seconds
                ):
                    try:
                        self._crawl(crawler, crawls.pop(0))
                    except Exception as exc:  # noqa: BLE001 - a thread's error, raised by __exit__
                        self.errors.append(exc)

    def _crawl(self, crawler, crawl: Crawl) -> None:
        crawl.write_tables()
        running = crawler.crawls[-1]
        running.status = crawl.status
        errors = crawler.__dict__.setdefault("_error_messages", {})
        errors[running.crawl_id] = crawl.error
        _report_last_crawl_as_glue_does(crawler)
        self.ended.append(crawler.name)


def _running_for(crawl) -> float:
    return (datetime.now(UTC) - crawl.start_time.replace(tzinfo=UTC)).total_seconds()


def _report_last_crawl_as_glue_does(crawler) -> None:
    """moto reports LastCrawl.Status in its own words (COMPLETED) and never an ErrorMessage;
    render them as Glue does (SUCCEEDED / FAILED + ErrorMessage) for this crawler object."""
    if "as_dict" in crawler.__dict__:
        return
    plain = type(crawler).as_dict

    def as_dict():
        data = plain(crawler)
        if crawler.crawls and "LastCrawl" in data:
            latest = crawler.crawls[-1]
            data["LastCrawl"]["Status"] = GLUE_STATUS.get(latest.status, latest.status)
            message = crawler.__dict__.get("_error_messages", {}).get(latest.crawl_id)
            if message:
                data["LastCrawl"]["ErrorMessage"] = message
        return data

    crawler.as_dict = as_dict


def test_first_crawl_creates_crawlers_and_reports_new_tables(
    moto, glue, database, crawls_wait_for_the_fleet, caplog
):
    crawler = make_crawler(database)

    def crawl_billing():
        glue.create_table(
            DatabaseName=database, TableInput=table_input("billing", BILLING_COLUMNS, {"objectCount": "2"})
        )
        glue.create_partition(
            DatabaseName=database,
            TableName="billing",
            PartitionInput=partition_input("billing", "2023-07", BILLING_COLUMNS, objects=2),
        )

    def crawl_units():
        columns = [("company_id", "bigint"), ("item_type", "string"), ("units_sold", "bigint")]
        glue.create_table(DatabaseName=database, TableInput=table_input("units_sold", columns))
        glue.create_partition(
            DatabaseName=database,
            TableName="units_sold",
            PartitionInput=partition_input("units_sold", "2023-07", columns, objects=1),
        )

    caplog.set_level(logging.INFO, logger="dagster")
    with FakeCrawlerFleet(moto) as fleet:
        fleet.will_crawl(f"{database}-billing", Crawl(crawl_billing, seconds=0.3))
        fleet.will_crawl(f"{database}-units_sold", Crawl(crawl_units))
        billing, units = crawler.crawl(["billing", "units_sold"], billing_months=["2023-07"])

    # Both crawlers exist, each defined as the settings say, and both ran.
    definition = glue.get_crawler(Name=f"{database}-billing")["Crawler"]
    assert definition["Role"] == ROLE
    assert definition["DatabaseName"] == database
    assert definition["Targets"]["S3Targets"][0]["Path"] == f"s3://{BUCKET}/landing/billing/"
    assert definition["SchemaChangePolicy"] == {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"}
    grouping = json.loads(definition["Configuration"])["Grouping"]
    assert grouping["TableLevelConfiguration"] == 3  # bucket / landing / billing
    assert sorted(fleet.ended) == [f"{database}-billing", f"{database}-units_sold"]

    # The outcome is shaped as the local crawler's: a new table is a schema change from nothing.
    assert billing.table == "billing" and billing.version_id == "1"
    assert billing.schema_changed and billing.previous_columns is None
    assert billing.columns == [{"Name": n, "Type": t} for n, t in BILLING_COLUMNS]
    assert billing.partitions == ["2023-07"] and billing.objects == 2
    assert billing.records == 2 * RECORDS_PER_FILE  # the partition's recordCount, for the UI
    assert units.partitions == ["2023-07"] and units.objects == 1
    # ... so the catalog asset's contract checks read it unchanged.
    key = dg.AssetKey("billing_glue_table")
    contract, _ = schema_results(key, INPUT_TABLES["billing"], billing)
    assert contract.passed, contract.description
    # Progress is logged while waiting.
    assert any("waiting for Glue crawler(s)" in r.getMessage() for r in caplog.records)


def test_recrawls_leave_the_crawler_alone_and_flag_only_real_schema_changes(
    moto, glue, database, crawls_wait_for_the_fleet
):
    crawler = make_crawler(database)
    name = f"{database}-billing"
    with FakeCrawlerFleet(moto) as fleet:
        fleet.will_crawl(name, Crawl(lambda: glue.create_table(
            DatabaseName=database, TableInput=table_input("billing", BILLING_COLUMNS))))
        crawler.crawl(["billing"])
    created = glue.get_crawler(Name=name)["Crawler"]

    # A file with an extra column lands: the crawler adds it, Glue writes version 2. The
    # crawler definition is unchanged, so no UpdateCrawler is sent (moto 5.2.5 does not
    # implement UpdateCrawler, so one would fail this test).
    widened = [*BILLING_COLUMNS, ("discount", "double")]
    with FakeCrawlerFleet(moto) as fleet:
        fleet.will_crawl(name, Crawl(lambda: glue.update_table(
            DatabaseName=database, TableInput=table_input("billing", widened))))
        (changed,) = crawler.crawl(["billing"])
    assert changed.schema_changed and changed.version_id == "2"
    assert changed.previous_columns == [{"Name": n, "Type": t} for n, t in BILLING_COLUMNS]
    assert changed.columns[-1] == {"Name": "discount", "Type": "double"}

    # Only the record counts change: Glue still writes a version (3), but that is no schema change.
    with FakeCrawlerFleet(moto) as fleet:
        fleet.will_crawl(name, Crawl(lambda: glue.update_table(
            DatabaseName=database, TableInput=table_input("billing", widened, {"recordCount": "99"}))))
        (same,) = crawler.crawl(["billing"])
    assert same.version_id == "3" and not same.schema_changed
    assert same.previous_columns == same.columns

    assert glue.get_crawler(Name=name)["Crawler"]["Version"] == created["Version"]
    assert len(moto.backend("glue").crawlers[name].crawls) == 3


def test_a_crawler_edited_by_hand_is_updated_back_to_its_definition(database):
    crawler = make_crawler(database)
    wanted = crawler.crawler_definition("billing")
    edited = {**wanted, "Role": "arn:aws:iam::123456789012:role/someone-elses-role", "State": "READY"}
    # botocore's Stubber, not moto: moto 5.2.5 does not implement UpdateCrawler (HTTP 500).
    client = boto3.client("glue")
    with Stubber(client) as stub:
        stub.add_response("get_crawler", {"Crawler": edited}, {"Name": wanted["Name"]})
        stub.add_response("update_crawler", {}, wanted)
        assert crawler.ensure_crawler(client, "billing") == "updated"
        stub.assert_no_pending_responses()
    # An equal definition (as Glue returns it: configuration re-serialised, extra fields) is
    # left alone: the Stubber would reject an unexpected UpdateCrawler.
    as_returned = {
        **wanted,
        "Configuration": json.dumps(json.loads(wanted["Configuration"]), indent=2),
        "State": "RUNNING",
        "LineageConfiguration": {"CrawlerLineageSettings": "DISABLE"},
    }
    with Stubber(client) as stub:
        stub.add_response("get_crawler", {"Crawler": as_returned}, {"Name": wanted["Name"]})
        assert crawler.ensure_crawler(client, "billing") == "unchanged"


def test_a_failed_crawl_fails_with_glues_own_error_message(moto, glue, database, crawls_wait_for_the_fleet):
    crawler = make_crawler(database)
    message = "Service is unable to assume provided role. Please verify role's TrustPolicy"
    with FakeCrawlerFleet(moto) as fleet:
        fleet.will_crawl(f"{database}-billing", Crawl(lambda: None, status="FAILED", error=message))
        with pytest.raises(GlueCrawlError) as failed:
            crawler.crawl(["billing"], billing_months=["2023-07"])
    assert message in str(failed.value)
    assert f"Glue crawler {database}-billing FAILED" in str(failed.value)
    assert "/aws-glue/crawlers" in str(failed.value)  # where to read the rest


def test_a_crawl_that_never_finishes_times_out_clearly(moto, database, crawls_wait_for_the_fleet):
    crawler = make_crawler(database, timeout_seconds=0.5)
    began = time.monotonic()
    with pytest.raises(GlueCrawlTimeout) as timed_out:
        crawler.crawl(["billing"])
    assert time.monotonic() - began < 5
    assert f"{database}-billing (RUNNING)" in str(timed_out.value)
    assert "not finished after 0.5 s" in str(timed_out.value)
    assert "timeout_seconds" in str(timed_out.value)


def test_a_crawler_already_running_is_waited_for_then_started_again(
    moto, glue, database, crawls_wait_for_the_fleet
):
    crawler = make_crawler(database)
    name = f"{database}-billing"
    glue.create_crawler(**crawler.crawler_definition("billing"))
    glue.start_crawler(Name=name)  # another month's run got there first
    with FakeCrawlerFleet(moto) as fleet:
        # The other run's crawl listed the folder before our file landed ...
        fleet.will_crawl(name, Crawl(lambda: glue.create_table(
            DatabaseName=database, TableInput=table_input("billing", BILLING_COLUMNS[:-1]))))
        # ... so ours must run after it and see the whole file.
        fleet.will_crawl(name, Crawl(lambda: glue.update_table(
            DatabaseName=database, TableInput=table_input("billing", BILLING_COLUMNS))))
        (outcome,) = crawler.crawl(["billing"])
    assert fleet.ended == [name, name]
    assert outcome.columns[-1] == {"Name": "bill_amount", "Type": "double"}


def test_catalog_reads_tables_versions_and_partitions(glue, database):
    catalog = AwsGlueCatalog(database=database)
    assert catalog.get_table("billing") is None
    assert catalog.get_table_versions("billing") == []
    assert catalog.get_partitions("billing") == []

    glue.create_table(DatabaseName=database, TableInput=table_input("billing", BILLING_COLUMNS[:3]))
    glue.update_table(DatabaseName=database, TableInput=table_input("billing", BILLING_COLUMNS[:5]))
    glue.update_table(DatabaseName=database, TableInput=table_input("billing", BILLING_COLUMNS))
    for month in ("2023-09", "2023-07", "2023-08"):
        glue.create_partition(
            DatabaseName=database,
            TableName="billing",
            PartitionInput=partition_input("billing", month, BILLING_COLUMNS, objects=1),
        )

    table = catalog.get_table("billing")
    assert table["VersionId"] == "3" and table["DatabaseName"] == database
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == [n for n, _ in BILLING_COLUMNS]
    json.dumps(table)  # datetimes came back as ISO strings, as the local catalog keeps them
    versions = catalog.get_table_versions("billing")
    assert [v["VersionId"] for v in versions] == ["1", "2", "3"]  # oldest first
    assert len(versions[0]["Table"]["StorageDescriptor"]["Columns"]) == 3
    assert [p["Values"] for p in catalog.get_partitions("billing")] == [["2023-07"], ["2023-08"], ["2023-09"]]


def test_misconfigured_crawler_says_which_setting_is_missing(database):
    with pytest.raises(ValueError, match="GROSS_PROFIT_CRAWLER_ROLE_ARN"):
        make_crawler(database, role_arn="").crawl(["billing"])
    with pytest.raises(ValueError, match="YYYY-MM"):
        make_crawler(database).crawl(["billing"], billing_months=["July"])
