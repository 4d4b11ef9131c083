"""IO manager: Spark DataFrames as Parquet tables under the lake root, one directory per asset
and one Hive-style ``billing_month=YYYY-MM`` directory per partition.

Writes are atomic per partition: Spark writes into a hidden staging directory next to the
target, and only a complete write is swapped in. A run of several months writes them all in one
Spark write (one ``billing_month=`` folder each), then swaps each month in. A failed write
leaves every previous partition exactly as it was. Readers (Spark, DuckDB, Athena) skip hidden
``.staging`` directories.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import dagster as dg
from dagster_pyspark import LazyPySparkResource
from pyspark.sql import DataFrame

from gross_profit_assets.contract import PARTITION_KEY, column_description
from gross_profit_assets.engine import read_parquet, write_parquet, write_parquet_by

STAGING_DIR = ".staging"


class LakeParquetIOManager(dg.ConfigurableIOManager):
    """Parquet under ``lake_root`` (a local directory)."""

    lake_root: str
    pyspark: LazyPySparkResource

    def table_path(self, asset_key: dg.AssetKey) -> Path:
        return Path(self.lake_root).resolve().joinpath(*asset_key.path)

    def partition_path(self, asset_key: dg.AssetKey, partition: str | None) -> Path:
        table = self.table_path(asset_key)
        return table / f"{PARTITION_KEY}={partition}" if partition else table

    def handle_output(self, context: dg.OutputContext, obj: DataFrame) -> None:
        table = self.table_path(context.asset_key)
        if not context.has_asset_partitions:
            target = table
            write_atomically(obj, table)
        else:
            months = sorted(context.asset_partition_keys)
            # One month's folder, or the table's when the run wrote several months.
            target = self.partition_path(context.asset_key, months[0]) if len(months) == 1 else table
            write_partitions_atomically(obj, table, months)
        context.add_output_metadata(
            {"path": dg.MetadataValue.path(str(target)), "dagster/column_schema": column_schema(obj)}
        )

    def load_input(self, context: dg.InputContext) -> DataFrame:
        spark = self.pyspark.spark_session
        table = self.table_path(context.asset_key)
        if not context.has_asset_partitions:
            return read_parquet(spark, [str(table)])
        paths = [
            str(p)
            for p in (self.partition_path(context.asset_key, k) for k in context.asset_partition_keys)
            if p.exists()
        ]
        if not paths:
            raise dg.Failure(
                f"no materialized partition of {context.asset_key.to_user_string()} among "
                f"{context.asset_partition_keys} under {table}"
            )
        # basePath makes Spark restore billing_month from the directory names, as text.
        return read_parquet(spark, paths, base_path=str(table))


def column_schema(frame: DataFrame) -> dg.TableSchema:
    """The DataFrame's columns and Spark types, as the Dagster UI shows them."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                f.name,
                f.dataType.simpleString(),
                description=column_description(f.name),
                constraints=dg.TableColumnConstraints(nullable=f.nullable),
            )
            for f in frame.schema.fields
        ]
    )


def write_atomically(frame: DataFrame, target: Path) -> None:
    """Write ``frame`` as Parquet to ``target`` so that ``target`` is always whole."""
    staging_root = target.parent / STAGING_DIR
    staging = staging_root / f"{target.name}-{uuid.uuid4().hex}"
    staging_root.mkdir(parents=True, exist_ok=True)
    try:
        write_parquet(frame, staging)
        swap_in(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_partitions_atomically(frame: DataFrame, table: Path, months: list[str]) -> None:
    """Write ``frame`` (with a ``billing_month`` column) as the ``months`` partitions of
    ``table``, so that each of them is always whole: one write into staging, one folder per
    month (a month without rows gets an empty Parquet file with the schema), then each folder
    swapped in. Rows of a month not in ``months`` fail the write: they have no partition to go
    to, and dropping them would lose lines."""
    staging_root = table / STAGING_DIR
    staging = staging_root / f"write-{uuid.uuid4().hex}"
    staging_root.mkdir(parents=True, exist_ok=True)
    folder = {month: f"{PARTITION_KEY}={month}" for month in months}
    try:
        write_parquet_by(frame, PARTITION_KEY, staging)
        written = {d.name for d in staging.glob(f"{PARTITION_KEY}=*")}
        unexpected = sorted(written - set(folder.values()))
        if unexpected:
            raise dg.Failure(
                f"rows for {unexpected} in a write of {months} to {table}: nothing was replaced"
            )
        empty = frame.drop(PARTITION_KEY).limit(0)
        for month in months:
            if folder[month] not in written:
                write_parquet(empty, staging / folder[month])
        for month in months:
            swap_in(staging / folder[month], table / folder[month])
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def swap_in(staging: Path, target: Path) -> None:
    """Replace ``target`` with ``staging``: two renames, the old copy removed last."""
    retired = target.parent / STAGING_DIR / f"{target.name}-retired-{uuid.uuid4().hex}"
    if target.exists():
        os.rename(target, retired)
    os.rename(staging, target)
    shutil.rmtree(retired, ignore_errors=True)
