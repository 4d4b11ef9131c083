"""(b) A bare, correct, single PySpark script doing the report's core work, for comparison.

    python benchmarks/bare_spark.py DATA_DIR OUT_DIR [--staged]

What a competent engineer would write by hand for this data: explicit schemas, joins on
(billing month, id, item) and (billing month, item), FX conversion (USD needs no rate), money
in decimals rounded half-up to the cent per line, per-line Parquet and CSV, a per-company
summary. Lines without a units record, a production cost or an FX rate are left out (the
inner joins). No validation beyond that, no quarantine, no line numbers, no checks, no
catalog or governance: that is what the platform adds, and what the ratio a/b prices.

``--staged`` (lane e) keeps the one thing the design itself adds to that work: the priced lines
are written as a governed Parquet table (a folder per billing month) and the report is computed
from that table read back, as the platform's report stage reads the governed stage's output
through its IO manager (DESIGN.md: "IO managers move DataFrames between assets as Parquet").
Everything else stays bare, so e/b is what the stage boundary alone costs.

The last stdout line is JSON: lines in, lines reported, revenue, COGS and gross profit.
"""

import json
import os
import sys
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType, LongType, StringType, StructField, StructType


def strings(*names: str) -> StructType:
    return StructType([StructField(n, StringType()) for n in names])


BILLING = StructType(
    [StructField("id", LongType())]
    + [StructField(n, StringType()) for n in ("company_name", "country", "city", "product_line", "item_sold")]
    + [StructField("bill_date", StringType()), StructField("currency", StringType()),
       StructField("bill_amount", DecimalType(18, 4))]
)
UNITS = StructType([StructField("company_id", LongType()), StructField("item_type", StringType()),
                    StructField("units_sold", LongType())])
COSTS = StructType([StructField("item", StringType()), StructField("cost_per_unit_usd", DecimalType(18, 6))])
FX = StructType([StructField("currency", StringType()), StructField("rate_to_usd", DecimalType(20, 10)),
                 StructField("month", StringType())])
FILE_MONTH = r"_(\d{2})_(\d{4})\.csv$"


def file_month():
    path = F.col("_metadata.file_path")
    return F.concat_ws("-", F.regexp_extract(path, FILE_MONTH, 2), F.regexp_extract(path, FILE_MONTH, 1))


def session() -> SparkSession:
    cores = os.cpu_count() or 2
    spark = (
        SparkSession.builder.master("local[*]").appName("bare-spark")
        .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(2 * cores))
        .config("spark.driver.memory", os.environ.get("BENCH_SPARK_DRIVER_MEMORY", "4g"))
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def main(data: str, out: str, staged: bool = False, spark: SparkSession | None = None) -> dict:
    """The report of ``data`` in ``out``, and its totals. With ``spark`` given (a test's
    session), that session is used and left running."""
    own_session = spark is None
    spark = spark or session()
    read = spark.read.option("header", True)
    billing = read.schema(BILLING).csv(f"{data}/billing_data_*.csv").select(
        "*", F.substring("bill_date", 1, 7).alias("billing_month"),
        F.col("_metadata.file_name").alias("source_file"),
    )
    units = read.schema(UNITS).csv(f"{data}/units_sold_*.csv").select(
        file_month().alias("billing_month"), F.col("company_id").alias("id"),
        F.col("item_type").alias("item_sold"), "units_sold",
    )
    costs = read.schema(COSTS).csv(f"{data}/production_costs_*.csv").select(
        file_month().alias("billing_month"), F.col("item").alias("item_sold"), "cost_per_unit_usd",
    )
    fx = read.schema(FX).csv(f"{data}/fx_rates_*.csv").select(
        F.col("month").alias("billing_month"), "currency", "rate_to_usd"
    )
    lines = (
        billing.join(units, ["billing_month", "id", "item_sold"], "inner")
        .join(F.broadcast(costs), ["billing_month", "item_sold"], "inner")
        .join(F.broadcast(fx), ["billing_month", "currency"], "left")
        .withColumn("rate_to_usd", F.when(F.col("currency") == "USD", F.lit(1)).otherwise(F.col("rate_to_usd"))
                    .cast(DecimalType(20, 10)))
        .where(F.col("rate_to_usd").isNotNull())
    )
    revenue = F.round(F.col("bill_amount") * F.col("rate_to_usd"), 2).cast(DecimalType(20, 2))
    cogs = F.round(F.col("units_sold").cast(DecimalType(20, 0)) * F.col("cost_per_unit_usd"), 2).cast(DecimalType(20, 2))
    priced = lines.select("*", revenue.alias("revenue_usd"), cogs.alias("cogs_usd"))
    if staged:
        priced.write.mode("overwrite").partitionBy("billing_month").parquet(f"{out}/governed_parquet")
        priced = spark.read.parquet(f"{out}/governed_parquet")
    report = priced.select(
        "id", "company_name", "item_sold", "units_sold", "cost_per_unit_usd", "bill_amount",
        (F.col("revenue_usd") - F.col("cogs_usd")).cast(DecimalType(20, 2)).alias("gross_profit"), "billing_month",
        "currency", "revenue_usd", "cogs_usd", "country", "product_line", "source_file",
    )
    report.write.mode("overwrite").partitionBy("billing_month").parquet(f"{out}/report_parquet")
    written = spark.read.parquet(f"{out}/report_parquet")
    written.write.mode("overwrite").option("header", True).csv(f"{out}/report_csv")
    written.groupBy("company_name").agg(
        F.count(F.lit(1)).alias("lines"), F.sum("units_sold").alias("units_sold"),
        F.sum("revenue_usd").alias("revenue_usd"), F.sum("cogs_usd").alias("cogs_usd"),
        F.sum("gross_profit").alias("gross_profit_usd"),
    ).withColumn("gross_margin", F.round(F.col("gross_profit_usd") / F.col("revenue_usd"), 6)).coalesce(1) \
        .write.mode("overwrite").option("header", True).csv(f"{out}/summary_by_company_csv")
    totals = written.agg(
        F.count(F.lit(1)).alias("lines_reported"), F.sum("revenue_usd").alias("revenue_usd"),
        F.sum("cogs_usd").alias("cogs_usd"), F.sum("gross_profit").alias("gross_profit_usd"),
    ).first()
    lines_in = spark.read.schema(BILLING).option("header", True).csv(f"{data}/billing_data_*.csv").count()
    if own_session:
        spark.stop()
    return {
        "lines_in": lines_in,
        "lines_reported": totals["lines_reported"],
        "lines_quarantined": lines_in - totals["lines_reported"],
        **{k: str(totals[k]) for k in ("revenue_usd", "cogs_usd", "gross_profit_usd")},
    }


if __name__ == "__main__":
    started = time.monotonic()
    result = main(sys.argv[1], sys.argv[2], staged="--staged" in sys.argv[3:])
    result["seconds"] = round(time.monotonic() - started, 3)
    print(json.dumps(result))
