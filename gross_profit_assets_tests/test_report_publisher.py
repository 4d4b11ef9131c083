"""The local report publisher: one CSV per month from one write, each in report order, and the
preview read back from what was published.

Order is checked against Python's own sort of the same rows: the months' lines are spread over
several Spark tasks and shuffled first, so a file that merely kept Spark's order by luck would
show it."""

from __future__ import annotations

import csv
import random

import pytest
from pyspark.sql import functions as F

from gross_profit_assets.contract import LINE_NUMBER, PARTITION_KEY, SOURCE_FILE
from gross_profit_assets.engine import sorted_by_group
from gross_profit_assets.resources.report_publisher import HEAD_BYTES, LocalReportPublisher

pytestmark = pytest.mark.spark

MONTHS = ["2023-01", "2023-02", "2023-03"]


def lines(rows_per_month: int) -> list[tuple]:
    """(month, file, line, amount) in a random order; two files per month."""
    rows = [
        (month, f"billing/{PARTITION_KEY}={month}/{name}.csv", line, f"{line}.50")
        for month in MONTHS
        for name in ("a", "b")
        for line in range(2, rows_per_month // 2 + 2)
    ]
    random.Random(7).shuffle(rows)
    return rows


def frame(spark, rows):
    schema = f"{PARTITION_KEY} string, {SOURCE_FILE} string, {LINE_NUMBER} long, amount string"
    return spark.createDataFrame(rows, schema).withColumn("amount", F.col("amount").cast("decimal(18,2)")).repartition(8)


def read_csv(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_one_write_publishes_each_month_in_report_order(spark, tmp_path):
    rows = lines(4_000)
    publisher = LocalReportPublisher(root=str(tmp_path))
    names = {m: f"{PARTITION_KEY}={m}/report.csv" for m in MONTHS + ["2023-04"]}
    ordered = sorted_by_group(frame(spark, rows), PARTITION_KEY, SOURCE_FILE, LINE_NUMBER)
    paths = publisher.publish_month_csvs(ordered, names)

    for month in MONTHS:
        published = read_csv(paths[month])
        expected = sorted((f, n, a) for m, f, n, a in rows if m == month)
        assert [(r[SOURCE_FILE], int(r[LINE_NUMBER]), r["amount"]) for r in published] == [
            (f, n, a.rstrip("0") if a.endswith("0") else a) for f, n, a in expected
        ]
        assert {r[PARTITION_KEY] for r in published} == {month}
    # April has no line: its file holds the header alone.
    with open(paths["2023-04"], encoding="utf-8") as handle:
        assert handle.read() == f"{PARTITION_KEY},{SOURCE_FILE},{LINE_NUMBER},amount\n"
    assert not [p for p in tmp_path.rglob(".*") if p.is_file()], "no staging file is left behind"


def test_the_preview_is_the_published_files_first_rows(spark, tmp_path):
    publisher = LocalReportPublisher(root=str(tmp_path))
    rows = [(MONTHS[0], "billing/x.csv", n, "1.00") for n in range(2, 500)]
    ordered = sorted_by_group(frame(spark, rows), PARTITION_KEY, SOURCE_FILE, LINE_NUMBER)
    publisher.publish_month_csvs(ordered, {MONTHS[0]: "x.csv"})
    head = publisher.csv_head("x.csv", 3)
    assert [(r[LINE_NUMBER], r["amount"]) for r in head] == [("2", "1.0"), ("3", "1.0"), ("4", "1.0")]
    assert len(publisher.csv_head("x.csv", 1_000)) == 498  # fewer rows than asked: all of them


def test_the_preview_reads_on_when_rows_are_longer_than_its_first_read(tmp_path):
    publisher = LocalReportPublisher(root=str(tmp_path))
    long_cell = "x" * (HEAD_BYTES // 2)
    (tmp_path / "wide.csv").write_text("id,note\n" + "".join(f"{i},{long_cell}\n" for i in range(5)), encoding="utf-8")
    assert [r["id"] for r in publisher.csv_head("wide.csv", 4)] == ["0", "1", "2", "3"]
