"""The lake IO manager: Parquet per billing-month partition, written atomically."""

from __future__ import annotations

import dagster as dg
import pytest
from pyspark.errors import PySparkException
from pyspark.sql import functions as F

from gross_profit_assets.assets.partitions import billing_months
from gross_profit_assets.resources.parquet_io_manager import STAGING_DIR, LakeParquetIOManager
from gross_profit_assets.resources.spark import local_spark_resource

pytestmark = pytest.mark.spark
KEY = dg.AssetKey("gross_profit_report")


@pytest.fixture()
def io_manager(spark, tmp_path) -> LakeParquetIOManager:
    return LakeParquetIOManager(lake_root=str(tmp_path / "lake"), pyspark=local_spark_resource())


def write(io_manager, frame, month=None, months=None):
    """One write, as a run of one ``month`` (or of the consecutive ``months``) hands it over."""
    if months:
        context = dg.build_output_context(
            asset_key=KEY,
            asset_partition_key_range=dg.PartitionKeyRange(months[0], months[-1]),
            asset_partitions_def=dg.StaticPartitionsDefinition(months),
        )
    else:
        context = dg.build_output_context(asset_key=KEY, partition_key=month)
    io_manager.handle_output(context, frame)


def read(io_manager, months):
    context = dg.build_input_context(
        asset_key=KEY,
        asset_partition_key_range=dg.PartitionKeyRange(months[0], months[-1]),
        asset_partitions_def=dg.StaticPartitionsDefinition(months),
    )
    return io_manager.load_input(context)


def month_frame(spark, month, values):
    return spark.createDataFrame([(v, month) for v in values], "amount long, billing_month string")


def test_partitions_round_trip_with_billing_month_from_the_directory(spark, io_manager, tmp_path):
    write(io_manager, month_frame(spark, "2023-07", [1, 2]), "2023-07")
    write(io_manager, month_frame(spark, "2023-08", [3]), "2023-08")
    table = tmp_path / "lake" / "gross_profit_report"
    assert sorted(p.name for p in table.iterdir() if not p.name.startswith(".")) == [
        "billing_month=2023-07",
        "billing_month=2023-08",
    ]
    # Hive layout: the partition value lives in the directory name, not in the files.
    assert "billing_month" not in spark.read.parquet(str(table / "billing_month=2023-07")).columns
    rows = read(io_manager, ["2023-07", "2023-08"]).orderBy("amount").collect()
    assert [(r["amount"], r["billing_month"]) for r in rows] == [(1, "2023-07"), (2, "2023-07"), (3, "2023-08")]


def test_rerun_replaces_a_partition_exactly(spark, io_manager):
    write(io_manager, month_frame(spark, "2023-07", [1, 2, 3]), "2023-07")
    write(io_manager, month_frame(spark, "2023-07", [9]), "2023-07")
    assert [r["amount"] for r in read(io_manager, ["2023-07"]).collect()] == [9]


def test_failed_write_leaves_the_previous_partition_intact(spark, io_manager, tmp_path):
    write(io_manager, month_frame(spark, "2023-07", [1, 2]), "2023-07")
    exploding = month_frame(spark, "2023-07", [5, 6]).withColumn(
        "amount", F.when(F.col("amount") == 6, F.raise_error(F.lit("disk full"))).otherwise(F.col("amount"))
    )
    with pytest.raises(PySparkException, match="disk full"):
        write(io_manager, exploding, "2023-07")
    assert sorted(r["amount"] for r in read(io_manager, ["2023-07"]).collect()) == [1, 2]
    staging = tmp_path / "lake" / "gross_profit_report" / STAGING_DIR
    assert list(staging.iterdir()) == []


def test_a_run_of_several_months_replaces_each_of_them_and_no_other(spark, io_manager, tmp_path):
    write(io_manager, month_frame(spark, "2023-06", [0]), "2023-06")
    write(io_manager, month_frame(spark, "2023-07", [1, 2]), "2023-07")
    # August has no rows in this run: it gets an empty partition with the schema.
    frame = month_frame(spark, "2023-07", [7]).unionByName(month_frame(spark, "2023-09", [9]))
    write(io_manager, frame, months=["2023-07", "2023-08", "2023-09"])
    rows = read(io_manager, ["2023-06", "2023-07", "2023-08", "2023-09"]).orderBy("amount").collect()
    assert [(r["amount"], r["billing_month"]) for r in rows] == [(0, "2023-06"), (7, "2023-07"), (9, "2023-09")]
    august = tmp_path / "lake" / "gross_profit_report" / "billing_month=2023-08"
    assert spark.read.parquet(str(august)).columns == ["amount"] and spark.read.parquet(str(august)).count() == 0
    assert list((tmp_path / "lake" / "gross_profit_report" / STAGING_DIR).iterdir()) == []


def test_rows_of_a_month_the_run_does_not_cover_fail_the_write_and_replace_nothing(spark, io_manager):
    write(io_manager, month_frame(spark, "2023-07", [1]), "2023-07")
    stray = month_frame(spark, "2023-07", [2]).unionByName(month_frame(spark, "2023-12", [3]))
    with pytest.raises(dg.Failure, match=r"rows for \['billing_month=2023-12'\]"):
        write(io_manager, stray, months=["2023-07", "2023-08"])
    assert [r["amount"] for r in read(io_manager, ["2023-07"]).collect()] == [1]


def test_missing_partitions_fail_with_the_asset_and_keys(io_manager):
    with pytest.raises(dg.Failure, match=r"no materialized partition of gross_profit_report among \['2030-01'\]"):
        read(io_manager, ["2030-01"])


def test_uses_the_dynamic_billing_month_partitions():
    assert billing_months.name == "billing_month"
