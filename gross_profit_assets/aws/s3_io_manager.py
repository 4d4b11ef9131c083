"""IO manager of the AWS deployment: Spark DataFrames as Parquet in S3, registered as Glue tables.

S3 has no rename, so the local IO manager's "write beside, then swap in" becomes "write to a
fresh prefix, then move the pointer":

1. every write goes to a prefix nobody reads yet, one folder per month it carries:
   ``s3://<lake>/<prefix><table>/write-<UTC time>-<random>/billing_month=YYYY-MM/part-*.parquet``
   (``.../<table>/write-.../part-*.parquet`` for an unpartitioned table); a run of several
   months writes them all in one Spark write;
2. only when Spark reports the write complete does the Glue Data Catalog point at it: each
   partition's ``StorageDescriptor.Location`` (one ``CreatePartition``/``UpdatePartition`` call
   per month), or the table's location for an unpartitioned table. Athena, QuickSight (through
   Athena) and this IO manager's ``load_input`` read only what Glue points at, so a reader sees
   a month's old write or its new one, never a mix;
3. for each month, writes older than the one just replaced are deleted (that month's folder of
   them). The replaced write itself is kept, so a query that started before the switch can
   finish; the next write retires it.

A failed write moves no pointer: every previous partition stays readable, and the partial
prefix is deleted (best effort; one left behind is unreachable and retired by a later write).

The governed lines, the quarantine, the report and the summary are each a Glue table (Parquet,
``EXTERNAL_TABLE``, partitioned by ``billing_month`` where the asset is), so Athena and
QuickSight query them under the same Lake Formation grants as everything else in the database.
"""

import contextlib
import re
import uuid
from datetime import UTC, datetime
from functools import reduce

import boto3
import dagster as dg
from botocore.exceptions import ClientError
from dagster_pyspark import LazyPySparkResource
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from gross_profit_assets.aws.spark_s3 import SparkS3Transfer, split_s3_uri
from gross_profit_assets.contract import PARTITION_KEY, column_description
from gross_profit_assets.resources.parquet_io_manager import column_schema

WRITE_PREFIX = "write-"
_WRITE_ID = re.compile(r"write-\d{8}T\d{12}Z-[0-9a-f]{8}")
PARQUET_STORAGE = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "Parameters": {"serialization.format": "1"},
    },
    "Compressed": False,
    "StoredAsSubDirectories": False,
}
GLUE_COMMENT_LIMIT = 255
BATCH_GET_PARTITIONS = 1000  # Glue's BatchGetPartition limit
DELETE_OBJECTS = 1000  # S3's DeleteObjects limit


def new_write_id(now: datetime | None = None) -> str:
    """A write's prefix name: sorts by start time, unique by its random tail."""
    now = now or datetime.now(UTC)
    return f"{WRITE_PREFIX}{now:%Y%m%dT%H%M%S%f}Z-{uuid.uuid4().hex[:8]}"


def glue_table_name(asset_key: dg.AssetKey) -> str:
    return "_".join(asset_key.path)


def glue_columns(frame: DataFrame) -> list[dict]:
    """The frame's columns as Glue/Hive columns; Spark's simple type names are Hive DDL
    (``string``, ``bigint``, ``decimal(18,2)``, ``array<string>``)."""
    columns = []
    for field in frame.schema.fields:
        column = {"Name": field.name, "Type": field.dataType.simpleString()}
        if description := column_description(field.name):
            column["Comment"] = description[:GLUE_COMMENT_LIMIT]
        columns.append(column)
    return columns


def storage_descriptor(columns: list[dict], location: str) -> dict:
    return {"Columns": columns, "Location": location, **PARQUET_STORAGE}


def table_input(name: str, description: str, columns: list[dict], location: str, partitioned: bool) -> dict:
    return {
        "Name": name,
        "Description": description[:2048],
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE", "typeOfData": "file"},
        "PartitionKeys": [{"Name": PARTITION_KEY, "Type": "string"}] if partitioned else [],
        "StorageDescriptor": storage_descriptor(columns, location),
    }


def _not_found(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "EntityNotFoundException"


class S3ParquetIOManager(dg.ConfigurableIOManager):
    """Parquet under ``s3://<bucket>/<prefix>``, one Glue table per asset in ``glue_database``."""

    bucket: str
    prefix: str = "lake/"
    glue_database: str
    region: str
    pyspark: LazyPySparkResource
    transfer: SparkS3Transfer

    # --- where things are --------------------------------------------------------------------

    def table_key(self, asset_key: dg.AssetKey) -> str:
        """Key prefix of the asset's table, ending in ``/``."""
        return f"{self.prefix}{'/'.join(asset_key.path)}/"

    @staticmethod
    def month_folder(month: str) -> str:
        """A month's folder inside a write prefix."""
        return f"{PARTITION_KEY}={month}/"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def _s3(self):
        return boto3.client("s3", region_name=self.region)

    def _glue(self):
        return boto3.client("glue", region_name=self.region)

    # --- the Glue pointers ---------------------------------------------------------------------

    def table_location(self, asset_key: dg.AssetKey) -> str | None:
        """Where Glue points readers of an unpartitioned table, if it was ever written."""
        glue = self._glue()
        try:
            found = glue.get_table(DatabaseName=self.glue_database, Name=glue_table_name(asset_key))["Table"]
        except ClientError as error:
            if _not_found(error):
                return None
            raise
        location = found["StorageDescriptor"].get("Location", "")
        return location if _WRITE_ID.search(location) else None  # never written yet

    def partition_locations(self, asset_key: dg.AssetKey, partitions: list[str]) -> dict[str, str]:
        """``{partition: location}`` of the partitions Glue knows, in one call per thousand."""
        glue = self._glue()
        table = glue_table_name(asset_key)
        locations: dict[str, str] = {}
        for start in range(0, len(partitions), BATCH_GET_PARTITIONS):
            wanted = [{"Values": [p]} for p in partitions[start : start + BATCH_GET_PARTITIONS]]
            try:
                found = glue.batch_get_partition(
                    DatabaseName=self.glue_database, TableName=table, PartitionsToGet=wanted
                )
            except ClientError as error:
                if _not_found(error):
                    return {}
                raise
            for partition in found.get("Partitions", []):
                locations[partition["Values"][0]] = partition["StorageDescriptor"]["Location"]
        return locations

    def register_table(self, asset_key: dg.AssetKey, description: str, columns: list[dict],
                       partitioned: bool, location: str | None = None) -> None:
        """Create the asset's Glue table, or update it when its columns (or, unpartitioned, its
        location) changed; Glue keeps the previous definition as a table version."""
        glue = self._glue()
        name = glue_table_name(asset_key)
        wanted = table_input(
            name, description, columns, location or self.uri(self.table_key(asset_key)), partitioned
        )
        try:
            current = glue.get_table(DatabaseName=self.glue_database, Name=name)["Table"]
        except ClientError as error:
            if not _not_found(error):
                raise
            glue.create_table(DatabaseName=self.glue_database, TableInput=wanted)
            return
        same = (
            current["StorageDescriptor"].get("Columns") == columns
            and current.get("PartitionKeys", []) == wanted["PartitionKeys"]
            and current["StorageDescriptor"].get("Location") == wanted["StorageDescriptor"]["Location"]
        )
        if not same:
            glue.update_table(DatabaseName=self.glue_database, TableInput=wanted)

    def point_partition(self, asset_key: dg.AssetKey, partition: str, columns: list[dict],
                        location: str, write_id: str, replacing: bool) -> None:
        """One Glue call moves readers to ``location``: the atomic step of a write."""
        glue = self._glue()
        partition_input = {
            "Values": [partition],
            "StorageDescriptor": storage_descriptor(columns, location),
            "Parameters": {"gross_profit_write_id": write_id},
        }
        table = glue_table_name(asset_key)
        if replacing:
            glue.update_partition(
                DatabaseName=self.glue_database, TableName=table,
                PartitionValueList=[partition], PartitionInput=partition_input,
            )
        else:
            try:
                glue.create_partition(
                    DatabaseName=self.glue_database, TableName=table, PartitionInput=partition_input
                )
            except ClientError as error:
                # Another run created the partition since this one looked: last pointer wins,
                # as it would had this run looked a moment later.
                if error.response.get("Error", {}).get("Code") != "AlreadyExistsException":
                    raise
                glue.update_partition(
                    DatabaseName=self.glue_database, TableName=table,
                    PartitionValueList=[partition], PartitionInput=partition_input,
                )

    # --- S3 housekeeping -----------------------------------------------------------------------

    def delete_prefix(self, key_prefix: str) -> int:
        """Delete every object under ``key_prefix``; returns how many."""
        s3 = self._s3()
        deleted = 0
        keys: list[dict] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=key_prefix):
            keys.extend({"Key": o["Key"]} for o in page.get("Contents", []))
        for start in range(0, len(keys), DELETE_OBJECTS):
            batch = keys[start : start + DELETE_OBJECTS]
            s3.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            deleted += len(batch)
        return deleted

    def write_ids(self, container_prefix: str) -> list[str]:
        """The write prefixes directly under ``container_prefix``, oldest first."""
        s3 = self._s3()
        names = []
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=container_prefix, Delimiter="/"
        ):
            for common in page.get("CommonPrefixes", []):
                name = common["Prefix"][len(container_prefix):].rstrip("/")
                if _WRITE_ID.fullmatch(name):
                    names.append(name)
        return sorted(names)

    def retire_writes(self, table_prefix: str, current: str, replaced: str | None, folder: str = "") -> list[str]:
        """Delete ``folder`` (a month's, or all of it) of the writes older than the one just
        replaced (the replaced one stays for the queries still reading it; a write newer than
        ``current`` belongs to someone else). Returns the retired ``<write>/<folder>`` prefixes."""
        if replaced is None:
            return []
        retired = [w for w in self.write_ids(table_prefix) if w < replaced and w != current]
        for write_id in retired:
            self.delete_prefix(f"{table_prefix}{write_id}/{folder}")
            if folder and not self.written_months(f"{table_prefix}{write_id}/"):
                self.delete_prefix(f"{table_prefix}{write_id}/")  # its last month: the rest (_SUCCESS) too
        return [f"{w}/{folder}" for w in retired]

    def written_months(self, write_prefix: str) -> set[str]:
        """The ``billing_month=`` folders a write produced."""
        s3 = self._s3()
        months = set()
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=write_prefix, Delimiter="/"
        ):
            for common in page.get("CommonPrefixes", []):
                name, sep, month = common["Prefix"][len(write_prefix):].rstrip("/").partition("=")
                if sep and name == PARTITION_KEY:
                    months.add(month)
        return months

    # --- the IO manager -----------------------------------------------------------------------

    def handle_output(self, context: dg.OutputContext, obj: DataFrame) -> None:
        asset_key = context.asset_key
        table = self.table_key(asset_key)
        write_id = new_write_id()
        write_prefix = f"{table}{write_id}/"
        months = sorted(context.asset_partition_keys) if context.has_asset_partitions else []
        try:
            if months:
                replaced = self.partition_locations(asset_key, months)
                self._write_months(obj, write_prefix, months)
            else:
                replaced = {None: location} if (location := self.table_location(asset_key)) else {}
                self.transfer.write_parquet(obj, self.uri(write_prefix))
        except BaseException:
            # Nothing points here; a partial write left behind is retired by a later write.
            with contextlib.suppress(Exception):
                self.delete_prefix(write_prefix)
            raise
        description = _asset_description(context)
        retired: list[str] = []
        if not months:
            columns = glue_columns(obj)
            # The table's own location is the pointer of an unpartitioned table.
            self.register_table(asset_key, description, columns, partitioned=False, location=self.uri(write_prefix))
            retired = self.retire_writes(table, write_id, _write_id_of(replaced.get(None)))
        else:
            columns = glue_columns(obj.drop(PARTITION_KEY))  # Glue's partition value carries it
            self.register_table(asset_key, description, columns, partitioned=True)
            for month in months:
                location = self.uri(f"{write_prefix}{self.month_folder(month)}")
                self.point_partition(asset_key, month, columns, location, write_id, replacing=month in replaced)
            for month in months:
                retired += self.retire_writes(table, write_id, _write_id_of(replaced.get(month)), self.month_folder(month))
        # One month's location, or the write's when it carried several months.
        path = self.uri(write_prefix + (self.month_folder(months[0]) if len(months) == 1 else ""))
        context.add_output_metadata(
            {
                "path": dg.MetadataValue.path(path),
                "glue_table": f"{self.glue_database}.{glue_table_name(asset_key)}",
                "replaced_location": ", ".join(sorted(replaced.values())),
                "retired_writes": dg.MetadataValue.json(retired),
                "dagster/column_schema": column_schema(obj),
            }
        )

    def _write_months(self, frame: DataFrame, write_prefix: str, months: list[str]) -> None:
        """``frame`` under ``write_prefix``, one folder per month of ``months`` (a month without
        rows gets an empty Parquet file with the schema). Rows of any other month fail the write:
        they have no partition to go to, and dropping them would lose lines."""
        self.transfer.write_parquet(frame, self.uri(write_prefix), partition_by=PARTITION_KEY)
        written = self.written_months(write_prefix)
        unexpected = sorted(written - set(months))
        if unexpected:
            raise dg.Failure(f"rows for {PARTITION_KEY} {unexpected} in a write of {months}: nothing was replaced")
        empty = frame.drop(PARTITION_KEY).limit(0)
        for month in months:
            if month not in written:
                self.transfer.write_parquet(empty, self.uri(f"{write_prefix}{self.month_folder(month)}"))

    def load_input(self, context: dg.InputContext) -> DataFrame:
        spark = self.pyspark.spark_session
        asset_key = context.asset_key
        name = f"{self.glue_database}.{glue_table_name(asset_key)}"
        if not context.has_asset_partitions:
            location = self.table_location(asset_key)
            if location is None:
                raise dg.Failure(f"{asset_key.to_user_string()} was never materialized: Glue table {name} has no data")
            return self.transfer.read_parquet(spark, location)
        wanted = list(context.asset_partition_keys)
        locations = self.partition_locations(asset_key, wanted)
        if not locations:
            raise dg.Failure(
                f"no materialized partition of {asset_key.to_user_string()} among {wanted} in Glue table {name}"
            )
        # The partition value comes from Glue, as the local lake restores it from the directory
        # name: a text column, last.
        frames = [
            self.transfer.read_parquet(spark, locations[p]).withColumn(PARTITION_KEY, F.lit(p))
            for p in wanted
            if p in locations
        ]
        return reduce(DataFrame.unionByName, frames)


def _write_id_of(location: str | None) -> str | None:
    if not location:
        return None
    found = _WRITE_ID.search(split_s3_uri(location)[1])
    return found.group(0) if found else None


def _asset_description(context: dg.OutputContext) -> str:
    """The asset's description for the Glue table (none when the context has no definitions,
    as in a test's ``build_output_context``)."""
    try:
        return context.asset_spec.description or ""
    except dg.DagsterInvariantViolationError:
        return ""
