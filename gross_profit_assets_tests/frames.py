"""Tiny landed-shaped frames for transform tests: text columns as a landed CSV gives them."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from gross_profit_assets.contract import (
    BILLING,
    FX_RATES,
    LINE_NUMBER,
    PARTITION_KEY,
    PRODUCTION_COSTS,
    SOURCE_FILE,
    UNITS_SOLD,
    TableContract,
)
from gross_profit_assets.landed_csv import landed_schema

MONTH = "2023-07"


def landed(
    spark: SparkSession,
    table: TableContract,
    rows: list[dict],
    month: str = MONTH,
    source_file: str | None = None,
) -> DataFrame:
    """Rows of ``table`` (missing columns empty) numbered like lines of one file."""
    source = source_file or f"{table.name}/{PARTITION_KEY}={month}/{table.name}.csv"
    records = [
        tuple(row.get(c) for c in table.column_names) + (source, index + 2, month)
        for index, row in enumerate(rows)
    ]
    return spark.createDataFrame(records, landed_schema(table))


def bill(**overrides) -> dict:
    """A good USD bill line; override any field."""
    base = {
        "id": "1",
        "company_name": "Lone Star Lactose",
        "country": "US",
        "city": "San Antonio",
        "product_line": "Dairy",
        "item_sold": "Artisan Cheese",
        "bill_date": "2023-07-01",
        "currency": "USD",
        "bill_amount": "3525.00",
    }
    return base | overrides


def tables(spark, billing, units, costs, fx=()):
    return (
        landed(spark, BILLING, list(billing)),
        landed(spark, UNITS_SOLD, list(units)),
        landed(spark, PRODUCTION_COSTS, list(costs)),
        landed(spark, FX_RATES, list(fx)),
    )


__all__ = ["landed", "bill", "tables", "MONTH", "SOURCE_FILE", "LINE_NUMBER"]
