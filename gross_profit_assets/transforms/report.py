"""Pure transforms from governed billing lines to the gross-profit report and its summaries."""

from __future__ import annotations

from gross_profit_assets.contract import (
    LINE_NUMBER,
    MARGIN_DECIMAL,
    PARTITION_KEY,
    REPORT_COLUMNS,
    SOURCE_FILE,
    SUMMARY_COLUMNS,
    SUMMARY_DIMENSIONS,
)
from gross_profit_assets.engine import Column, DataFrame, DecimalType, F

SUM_DECIMAL = DecimalType(38, 2)
REPORT_ORDER = (PARTITION_KEY, SOURCE_FILE, LINE_NUMBER)


def margin(gross_profit: Column, revenue: Column) -> Column:
    """Gross margin from sums (never an average of line ratios); null when revenue is zero."""
    return F.round(F.try_divide(gross_profit, revenue), MARGIN_DECIMAL[1]).cast(
        DecimalType(*MARGIN_DECIMAL)
    )


def report_lines(governed: DataFrame) -> DataFrame:
    """One report line per governed bill line, in the contract's column order (the seed's
    columns first, then ours)."""
    return governed.select(
        "*",
        F.col("gross_profit_usd").alias("gross_profit"),
        margin(F.col("gross_profit_usd"), F.col("revenue_usd")).alias("gross_margin"),
    ).select(*REPORT_COLUMNS)


def _sums(frame: DataFrame, *group_by: Column | str, lines: Column | None = None) -> DataFrame:
    """Sums per group; ``lines`` counts the rows unless given (a sum of earlier counts)."""
    sums = frame.groupBy(*group_by).agg(
        (F.count(F.lit(1)) if lines is None else lines).cast("bigint").alias("lines"),
        # bigint as in Spark (DuckDB would widen a sum of bigints to a 128-bit integer)
        F.sum("units_sold").cast("bigint").alias("units_sold"),
        F.sum("revenue_usd").cast(SUM_DECIMAL).alias("revenue_usd"),
        F.sum("cogs_usd").cast(SUM_DECIMAL).alias("cogs_usd"),
        F.sum("gross_profit").cast(SUM_DECIMAL).alias("gross_profit_usd"),
    )
    return sums.withColumn("gross_margin", margin(F.col("gross_profit_usd"), F.col("revenue_usd")))


def summary_by(report: DataFrame, dimension: str, *by: str) -> DataFrame:
    """One dimension of the summary (see ``contract.SUMMARY_DIMENSIONS``), over all lines or
    within each group of ``by`` (such as each month)."""
    column = SUMMARY_DIMENSIONS[dimension]
    return _sums(
        report, *by, F.lit(dimension).alias("dimension"), F.col(column).cast("string").alias("key")
    ).select(*by, *SUMMARY_COLUMNS)


def summarize(report: DataFrame) -> DataFrame:
    """Units, revenue, COGS, gross profit and margin by month, company, item, product line and
    country, in one long table (``dimension``, ``key``, ...), the same rows as ``summary_by``
    for each dimension.

    One pass over the lines sums them per combination of the five dimensions' values (far fewer
    rows than lines: a company bills the same items month after month); each dimension is then
    summed from those combinations, so every line counts once per dimension without the lines
    themselves being repeated five times. Sums of sums are exact: money is decimal."""
    columns = list(dict.fromkeys(SUMMARY_DIMENSIONS.values()))
    combinations = report.groupBy(*columns).agg(
        F.count(F.lit(1)).alias("lines"),
        *[F.sum(c).alias(c) for c in ("units_sold", "revenue_usd", "cogs_usd", "gross_profit")],
    )
    per_dimension = F.explode(
        F.array(*[
            F.struct(F.lit(d).alias("dimension"), F.col(c).cast("string").alias("key"))
            for d, c in SUMMARY_DIMENSIONS.items()
        ])
    ).alias("_by")
    sums = combinations.select("lines", "units_sold", "revenue_usd", "cogs_usd", "gross_profit", per_dimension)
    return _sums(
        sums, F.col("_by.dimension").alias("dimension"), F.col("_by.key").alias("key"), lines=F.sum("lines")
    ).select(*SUMMARY_COLUMNS)


def report_totals(report: DataFrame, *by: str) -> DataFrame:
    """Lines, units, revenue, COGS, gross profit and margin over the whole report (one row), or
    per group of ``by`` (a row per group that has lines)."""
    return _sums(report, *by).select(*by, *SUMMARY_COLUMNS[2:])


def rolled_up(summary: DataFrame, *by: str) -> DataFrame:
    """Totals as ``report_totals`` gives them, from rows of a summary (``summary_by``) instead
    of from the lines: sums of its sums (exact, money is decimal), the margin from them."""
    return _sums(summary.withColumnRenamed("gross_profit_usd", "gross_profit"), *by, lines=F.sum("lines")).select(
        *by, *SUMMARY_COLUMNS[2:]
    )
