"""IO manager: Spark DataFrames as Parquet tables under the lake root, one directory per asset
and one Hive-style ``billing_month=YYYY-MM`` directory per partition.

Writes are atomic per partition: Spark writes into a hidden staging directory next to the
target, and only a complete write is swapped in. A failed write leaves the previous partition
exactly as it was. Readers (Spark, DuckDB, Athena) skip hidden ``.staging`` directories.
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
from gross_profit_assets.engine import read_parquet, write_parquet

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
        partition = context.partition_key if context.has_asset_partitions else None
        target = self.partition_path(context.asset_key, partition)
        data = obj.drop(PARTITION_KEY) if partition else obj  # the directory name carries it
        write_atomically(data, target)
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


def swap_in(staging: Path, target: Path) -> None:
    """Replace ``target`` with ``staging``: two renames, the old copy removed last."""
    retired = target.parent / STAGING_DIR / f"{target.name}-retired-{uuid.uuid4().hex}"
    if target.exists():
        os.rename(target, retired)
    os.rename(staging, target)
    shutil.rmtree(retired, ignore_errors=True)
