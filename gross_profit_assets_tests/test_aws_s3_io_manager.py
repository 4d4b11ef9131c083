"""The S3 Parquet IO manager against a local moto server: fresh write prefixes, Glue partitions
as the pointer, retired writes, failed writes that move nothing, Glue tables Athena can query.

Spark cannot write ``s3://`` here (no S3 connector in the pip pyspark), so the IO manager gets
the ``MirroredS3Transfer`` seam (gross_profit_assets_tests/s3_mirror.py): Spark writes the files
locally and they are uploaded to the same keys on moto, over HTTP. Everything asserted below,
keys, encryption, Glue tables, partitions and versions, is read back from moto; the DataFrames
read back come from objects downloaded from moto.
"""

from __future__ import annotations

import uuid

import boto3
import dagster as dg
import pytest
from pyspark.errors import PySparkException
from pyspark.sql import functions as F

from gross_profit_assets.aws.s3_io_manager import S3ParquetIOManager
from gross_profit_assets.aws.spark_s3 import split_s3_uri
from gross_profit_assets.contract import column_description
from gross_profit_assets.resources.spark import local_spark_resource
from gross_profit_assets_tests.s3_mirror import MirroredS3Transfer

pytestmark = [pytest.mark.aws, pytest.mark.spark]

REPORT = dg.AssetKey("gross_profit_report")
SUMMARY = dg.AssetKey("gross_profit_summary")
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"


@pytest.fixture()
def lake(moto, tmp_path):
    """A fresh bucket and Glue database (made-up names) and the IO manager over them."""
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    database = f"gross_profit_{uuid.uuid4().hex[:8]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    boto3.client("glue").create_database(DatabaseInput={"Name": database})
    return S3ParquetIOManager(
        bucket=bucket,
        prefix="lake/",
        glue_database=database,
        region="us-east-1",
        pyspark=local_spark_resource(),
        transfer=MirroredS3Transfer(mirror_root=str(tmp_path / "mirror")),
    )


def write(io_manager, frame, month=None, key=REPORT, description="Gross profit per bill line.", months=None):
    """One write, as a run of one ``month`` (or of the consecutive ``months``) hands it over."""
    if months:
        partitioned = {
            "asset_partition_key_range": dg.PartitionKeyRange(months[0], months[-1]),
            "asset_partitions_def": dg.StaticPartitionsDefinition(months),
        }
    else:
        partitioned = {"partition_key": month}
    context = dg.build_output_context(
        asset_key=key, asset_spec=dg.AssetSpec(key, description=description), **partitioned
    )
    io_manager.handle_output(context, frame)
    return context.get_logged_metadata()


def read(io_manager, months=None, key=REPORT):
    if months is None:
        return io_manager.load_input(dg.build_input_context(asset_key=key))
    context = dg.build_input_context(
        asset_key=key,
        asset_partition_key_range=dg.PartitionKeyRange(months[0], months[-1]),
        asset_partitions_def=dg.StaticPartitionsDefinition(months),
    )
    return io_manager.load_input(context)


def month_frame(spark, month, values):
    return spark.createDataFrame(
        [(v, f"{v}.50", month) for v in values], "amount long, revenue_usd string, billing_month string"
    ).withColumn("revenue_usd", F.col("revenue_usd").cast("decimal(18,2)"))


def keys_under(bucket, prefix):
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return sorted(o["Key"] for o in listed)


def partition(io_manager, month, table="gross_profit_report"):
    return boto3.client("glue").get_partition(
        DatabaseName=io_manager.glue_database, TableName=table, PartitionValues=[month]
    )["Partition"]


def test_a_partition_lands_in_a_fresh_encrypted_prefix_and_glue_points_at_it(spark, lake):
    metadata = write(lake, month_frame(spark, "2023-07", [1, 2]), "2023-07")

    glue = boto3.client("glue")
    table = glue.get_table(DatabaseName=lake.glue_database, Name="gross_profit_report")["Table"]
    # A Glue table Athena can query: external Parquet, partitioned by billing_month, the
    # partition value not repeated among the columns, types in Hive DDL, descriptions as comments.
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert table["Parameters"]["classification"] == "parquet"
    assert table["PartitionKeys"] == [{"Name": "billing_month", "Type": "string"}]
    sd = table["StorageDescriptor"]
    assert sd["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
    assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == [("amount", "bigint"), ("revenue_usd", "decimal(18,2)")]
    assert next(c for c in sd["Columns"] if c["Name"] == "revenue_usd")["Comment"] == column_description("revenue_usd")
    assert sd["Location"] == f"s3://{lake.bucket}/lake/gross_profit_report/"
    assert table["Description"] == "Gross profit per bill line."

    location = partition(lake, "2023-07")["StorageDescriptor"]["Location"]
    bucket, key = split_s3_uri(location)
    assert bucket == lake.bucket
    assert key.startswith("lake/gross_profit_report/write-") and key.endswith("/billing_month=2023-07/")
    parts = [k for k in keys_under(bucket, key) if k.endswith(".parquet")]
    assert parts, "the write's Parquet files are under the partition's location"
    s3 = boto3.client("s3")
    assert all(s3.head_object(Bucket=bucket, Key=k)["ServerSideEncryption"] == "AES256" for k in parts)
    assert metadata["path"].path == location
    assert metadata["glue_table"].text == f"{lake.glue_database}.gross_profit_report"

    rows = read(lake, ["2023-07"]).orderBy("amount").collect()
    assert [(r["amount"], str(r["revenue_usd"]), r["billing_month"]) for r in rows] == [
        (1, "1.50", "2023-07"),
        (2, "2.50", "2023-07"),
    ]
    assert read(lake, ["2023-07"]).columns == ["amount", "revenue_usd", "billing_month"]


def test_a_rerun_moves_the_pointer_keeps_the_replaced_write_and_retires_older_ones(spark, lake):
    locations = []
    for values in ([1, 2, 3], [9], [7, 8]):
        write(lake, month_frame(spark, "2023-07", values), "2023-07")
        locations.append(partition(lake, "2023-07")["StorageDescriptor"]["Location"])
    assert len(set(locations)) == 3, "every write goes to a prefix of its own"
    assert sorted(r["amount"] for r in read(lake, ["2023-07"]).collect()) == [7, 8]
    prefixes = {split_s3_uri(loc)[1] for loc in locations}
    keys = keys_under(lake.bucket, "lake/gross_profit_report/")
    remaining = {k.rsplit("/", 1)[0] + "/" for k in keys if k.endswith(".parquet")}
    # The first write is gone (its _SUCCESS marker too); the one the last write replaced stays
    # for queries still reading it.
    assert remaining == prefixes - {split_s3_uri(locations[0])[1]}
    first_write = split_s3_uri(locations[0])[1].split("billing_month=")[0]
    assert not [k for k in keys if k.startswith(first_write)]


def test_a_failed_write_moves_nothing_and_leaves_no_objects(spark, lake):
    write(lake, month_frame(spark, "2023-07", [1, 2]), "2023-07")
    before = partition(lake, "2023-07")
    objects_before = keys_under(lake.bucket, "lake/")
    exploding = month_frame(spark, "2023-07", [5, 6]).withColumn(
        "amount", F.when(F.col("amount") == 6, F.raise_error(F.lit("disk full"))).otherwise(F.col("amount"))
    )
    with pytest.raises(PySparkException, match="disk full"):
        write(lake, exploding, "2023-07")
    assert partition(lake, "2023-07")["StorageDescriptor"]["Location"] == before["StorageDescriptor"]["Location"]
    assert keys_under(lake.bucket, "lake/") == objects_before
    assert sorted(r["amount"] for r in read(lake, ["2023-07"]).collect()) == [1, 2]


def test_a_write_that_fails_after_uploading_part_of_its_files_is_cleaned_up(spark, lake, tmp_path):
    """The mirror uploads file by file, like a writer dying midway through its tasks' commits."""
    write(lake, month_frame(spark, "2023-07", [1]), "2023-07")
    objects_before = keys_under(lake.bucket, "lake/")

    class DiesAfterOneFile(MirroredS3Transfer):
        def write_parquet(self, frame, uri, partition_by=None):
            bucket, key = split_s3_uri(uri)
            boto3.client("s3").put_object(Bucket=bucket, Key=f"{key}part-00000.parquet", Body=b"PAR1")
            raise OSError("connection reset")

    dying = S3ParquetIOManager(
        bucket=lake.bucket, prefix=lake.prefix, glue_database=lake.glue_database, region=lake.region,
        pyspark=lake.pyspark, transfer=DiesAfterOneFile(mirror_root=str(tmp_path / "m")),
    )
    with pytest.raises(OSError, match="connection reset"):
        write(dying, month_frame(spark, "2023-07", [2]), "2023-07")
    assert keys_under(lake.bucket, "lake/") == objects_before
    assert [r["amount"] for r in read(lake, ["2023-07"]).collect()] == [1]


def test_months_are_read_together_and_a_missing_one_is_named(spark, lake):
    write(lake, month_frame(spark, "2023-07", [1]), "2023-07")
    write(lake, month_frame(spark, "2023-08", [2, 3]), "2023-08")
    rows = read(lake, ["2023-07", "2023-08"]).orderBy("amount").collect()
    assert [(r["amount"], r["billing_month"]) for r in rows] == [(1, "2023-07"), (2, "2023-08"), (3, "2023-08")]
    parts = boto3.client("glue").get_partitions(DatabaseName=lake.glue_database, TableName="gross_profit_report")
    assert sorted(p["Values"][0] for p in parts["Partitions"]) == ["2023-07", "2023-08"]
    with pytest.raises(dg.Failure, match=r"no materialized partition of gross_profit_report among \['2030-01'\]"):
        read(lake, ["2030-01"])


def test_an_unpartitioned_table_moves_its_own_location_and_keeps_versions(spark, lake):
    summary = spark.createDataFrame([("month", "2023-07", 19165)], "dimension string, key string, gross_profit long")
    with pytest.raises(dg.Failure, match="gross_profit_summary was never materialized"):
        read(lake, key=SUMMARY)
    write(lake, summary, key=SUMMARY, description="Summaries.")
    first = boto3.client("glue").get_table(DatabaseName=lake.glue_database, Name="gross_profit_summary")["Table"]
    write(lake, summary.union(summary), key=SUMMARY, description="Summaries.")
    glue = boto3.client("glue")
    second = glue.get_table(DatabaseName=lake.glue_database, Name="gross_profit_summary")["Table"]
    assert first["PartitionKeys"] == []
    assert first["StorageDescriptor"]["Location"] != second["StorageDescriptor"]["Location"]
    assert "/write-" in second["StorageDescriptor"]["Location"]
    assert read(lake, key=SUMMARY).count() == 2
    versions = glue.get_table_versions(DatabaseName=lake.glue_database, TableName="gross_profit_summary")
    assert len(versions["TableVersions"]) == 2


def test_a_schema_change_updates_the_glue_table(spark, lake):
    write(lake, month_frame(spark, "2023-07", [1]), "2023-07")
    wider = month_frame(spark, "2023-08", [2]).withColumn("currency", F.lit("USD"))
    write(lake, wider, "2023-08")
    glue = boto3.client("glue")
    columns = glue.get_table(DatabaseName=lake.glue_database, Name="gross_profit_report")["Table"]["StorageDescriptor"]["Columns"]
    assert [c["Name"] for c in columns] == ["amount", "revenue_usd", "currency"]
    assert len(glue.get_table_versions(DatabaseName=lake.glue_database, TableName="gross_profit_report")["TableVersions"]) == 2
    # Each partition keeps the columns it was written with.
    assert [c["Name"] for c in partition(lake, "2023-07")["StorageDescriptor"]["Columns"]] == ["amount", "revenue_usd"]


def test_a_partition_created_meanwhile_by_another_run_is_pointed_at_by_the_last_writer(spark, lake, monkeypatch):
    write(lake, month_frame(spark, "2023-07", [1]), "2023-07")
    # This run looked before the other run's partition existed.
    monkeypatch.setattr(type(lake), "partition_locations", lambda self, key, partitions: {})
    write(lake, month_frame(spark, "2023-07", [2]), "2023-07")
    monkeypatch.undo()
    assert [r["amount"] for r in read(lake, ["2023-07"]).collect()] == [2]


def test_a_run_of_several_months_writes_them_once_and_points_each_partition(spark, lake):
    july, august, september = "2023-07", "2023-08", "2023-09"
    write(lake, month_frame(spark, july, [1]), july)
    before = partition(lake, july)["StorageDescriptor"]["Location"]
    # September has no lines in this run: it still gets its (empty) partition.
    frame = month_frame(spark, july, [4, 5]).unionByName(month_frame(spark, august, [6]))
    metadata = write(lake, frame, months=[july, august, september])

    locations = {m: partition(lake, m)["StorageDescriptor"]["Location"] for m in (july, august, september)}
    write_prefix = metadata["path"].path
    assert "/write-" in write_prefix and write_prefix.endswith("/")
    assert locations == {m: f"{write_prefix}billing_month={m}/" for m in (july, august, september)}
    assert metadata["replaced_location"].text == before
    rows = read(lake, [july, august, september]).orderBy("amount").collect()
    assert [(r["amount"], r["billing_month"]) for r in rows] == [(4, july), (5, july), (6, august)]
    assert read(lake, [september]).count() == 0 and read(lake, [september]).columns == ["amount", "revenue_usd", "billing_month"]
    # July's first write is the replaced one and stays; a third write of July retires it.
    write(lake, month_frame(spark, july, [7]), july)
    keys = keys_under(lake.bucket, "lake/gross_profit_report/")
    remaining = {k.rsplit("/", 1)[0] + "/" for k in keys if k.endswith(".parquet")}
    assert split_s3_uri(before)[1] not in remaining
    assert {split_s3_uri(locations[m])[1] for m in (july, august, september)} <= remaining


def test_rows_of_a_month_the_run_does_not_cover_fail_the_write_and_move_nothing(spark, lake):
    write(lake, month_frame(spark, "2023-07", [1]), "2023-07")
    objects_before = keys_under(lake.bucket, "lake/")
    stray = month_frame(spark, "2023-07", [2]).unionByName(month_frame(spark, "2023-12", [3]))
    with pytest.raises(dg.Failure, match=r"rows for billing_month \['2023-12'\]"):
        write(lake, stray, months=["2023-07", "2023-08"])
    assert keys_under(lake.bucket, "lake/") == objects_before
    assert [r["amount"] for r in read(lake, ["2023-07"]).collect()] == [1]
