"""Reading a cataloged table the governed way: catalog -> landed files -> Lake Formation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from pyspark.sql import SparkSession

from gross_profit_assets.contract import TableContract
from gross_profit_assets.landed_csv import LandedTable, read_landed_table
from gross_profit_assets.landing import landed_objects
from gross_profit_assets.resources.glue import GlueCatalog
from gross_profit_assets.resources.lake_formation import LakeFormation
from gross_profit_assets.resources.object_store import ObjectStore


def cataloged_months(catalog: GlueCatalog, table: str) -> set[str]:
    return {p["Values"][0] for p in catalog.get_partitions(table) if p["Values"]}


def read_governed_table(
    spark: SparkSession,
    catalog: GlueCatalog,
    store: ObjectStore,
    lake_formation: LakeFormation,
    table: TableContract,
    billing_months: Sequence[str],
) -> LandedTable:
    """The rows of ``table`` in ``billing_months`` that the pipeline's principal may read, in
    one DataFrame (each row knows its month).

    Only what the crawler cataloged is read: a file that landed after the crawl waits for the
    next one, as it would behind Glue and Lake Formation.
    """
    cataloged = cataloged_months(catalog, table.name)
    objects = [o for month in billing_months if month in cataloged for o in landed_objects(store, table.name, month)]
    landed = read_landed_table(spark, store, table, objects)
    frame = lake_formation.governed_read(
        table.name, landed.frame, list(landed.frame.columns), partitions=list(billing_months)
    )
    return replace(landed, frame=frame)
