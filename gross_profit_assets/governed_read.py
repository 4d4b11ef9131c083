"""Reading a cataloged table the governed way: catalog -> landed files -> Lake Formation."""

from __future__ import annotations

from dataclasses import replace

from pyspark.sql import SparkSession

from gross_profit_assets.contract import TableContract
from gross_profit_assets.landed_csv import LandedTable, read_landed_table
from gross_profit_assets.landing import landed_objects
from gross_profit_assets.resources.glue import GlueCatalog
from gross_profit_assets.resources.lake_formation import LakeFormation
from gross_profit_assets.resources.object_store import ObjectStore


def cataloged_partition_exists(catalog: GlueCatalog, table: str, billing_month: str) -> bool:
    return any(p["Values"] == [billing_month] for p in catalog.get_partitions(table))


def read_governed_table(
    spark: SparkSession,
    catalog: GlueCatalog,
    store: ObjectStore,
    lake_formation: LakeFormation,
    table: TableContract,
    billing_month: str,
) -> LandedTable:
    """The month's rows of ``table`` that the pipeline's principal may read.

    Only what the crawler cataloged is read: a file that landed after the crawl waits for the
    next one, as it would behind Glue and Lake Formation.
    """
    cataloged = cataloged_partition_exists(catalog, table.name, billing_month)
    objects = landed_objects(store, table.name, billing_month) if cataloged else []
    landed = read_landed_table(spark, store, table, objects)
    frame = lake_formation.governed_read(
        table.name, landed.frame, list(landed.frame.columns), partition=billing_month
    )
    return replace(landed, frame=frame)
