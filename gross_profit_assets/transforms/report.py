"""Pure transforms from governed billing lines to the gross-profit report and its summaries."""

from __future__ import annotations

from gross_profit_assets import contract
from gross_profit_assets.contract import (
    LINE_NUMBER,
    MARGIN_DECIMAL,
    MONTH_FILES,
    MONTH_SUMS_COLUMNS,
    MONTH_SUMS_DIMENSIONS,
    MONTH_TOTAL,
    PARTITION_KEY,
    REPORT_COLUMNS,
    SOURCE_FILE,
    SUMMARY_COLUMNS,
    SUMMARY_DIMENSIONS,
)
from gross_profit_assets.engine import Column, DataFrame, DecimalType, F

SUM_DECIMAL = DecimalType(*contract.SUM_DECIMAL)
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


def _summed(lines: Column, gross_profit: str) -> list[Column]:
    """The sums every summary row carries; ``lines`` counts or sums the lines."""
    return [
        lines.cast("bigint").alias("lines"),
        # bigint as in Spark (DuckDB would widen a sum of bigints to a 128-bit integer)
        F.sum("units_sold").cast("bigint").alias("units_sold"),
        F.sum("revenue_usd").cast(SUM_DECIMAL).alias("revenue_usd"),
        F.sum("cogs_usd").cast(SUM_DECIMAL).alias("cogs_usd"),
        F.sum(gross_profit).cast(SUM_DECIMAL).alias("gross_profit_usd"),
    ]


def month_sums(report: DataFrame) -> DataFrame:
    """The report's lines summed per month, by each of ``contract.MONTH_SUMS_DIMENSIONS``: a
    row per (``billing_month``, ``dimension``, ``key``), ``contract.MONTH_SUMS_COLUMNS``. Every
    summary and total is a sum of these rows (exact: money is decimal), so a summary over all
    months reads a few rows per company, item and file of each month, not its lines. Summed per
    combination of the keys first (one pass over the lines), then that per dimension."""
    keys = dict.fromkeys([PARTITION_KEY, *MONTH_SUMS_DIMENSIONS.values()])  # the month once
    combined = report.groupBy(*keys).agg(*_summed(F.count(F.lit(1)), "gross_profit"))
    per_dimension = F.explode(
        F.array(*[
            F.struct(F.lit(d).alias("dimension"), F.col(c).cast("string").alias("key"))
            for d, c in MONTH_SUMS_DIMENSIONS.items()
        ])
    ).alias("_by")
    exploded = combined.select(PARTITION_KEY, "lines", "units_sold", "revenue_usd", "cogs_usd", "gross_profit_usd", per_dimension)
    return _resummed(
        exploded, PARTITION_KEY, F.col("_by.dimension").alias("dimension"), F.col("_by.key").alias("key")
    ).select(*MONTH_SUMS_COLUMNS)


def _resummed(sums: DataFrame, *group_by: Column | str) -> DataFrame:
    """Sums of rows that are sums themselves (``month_sums`` rows), per group, and the margin
    from them. No rows at all sum to 0 lines (and no money)."""
    return sums.groupBy(*group_by).agg(*_summed(F.coalesce(F.sum("lines"), F.lit(0)), "gross_profit_usd")).withColumn(
        "gross_margin", margin(F.col("gross_profit_usd"), F.col("revenue_usd"))
    )


def summary_by(sums: DataFrame, dimension: str, *by: str) -> DataFrame:
    """One dimension of the summary (see ``contract.SUMMARY_DIMENSIONS``) from ``month_sums``
    rows, over all of them or within each group of ``by`` (such as each month)."""
    return _resummed(sums.where(F.col("dimension") == dimension), *by, "dimension", "key").select(*by, *SUMMARY_COLUMNS)


def summarize(sums: DataFrame) -> DataFrame:
    """Units, revenue, COGS, gross profit and margin by month, company, item, product line and
    country from ``month_sums`` rows, in one long table (``dimension``, ``key``, ...), the same
    rows as ``summary_by`` for each dimension."""
    return _resummed(sums.where(F.col("dimension").isin(*SUMMARY_DIMENSIONS)), "dimension", "key").select(
        *SUMMARY_COLUMNS
    )


def rolled_up(sums: DataFrame, *by: str) -> DataFrame:
    """Lines, units, revenue, COGS, gross profit and margin from ``month_sums`` rows (each
    month's total row): over all of them (one row), or per group of ``by`` (a row per group
    that has some)."""
    return _resummed(sums.where(F.col("dimension") == MONTH_TOTAL), *by).select(*by, *SUMMARY_COLUMNS[2:])


def source_files(sums: DataFrame) -> DataFrame:
    """The source files that ``month_sums`` rows have lines from (``key``), once each."""
    return sums.where(F.col("dimension") == MONTH_FILES).select(F.col("key").alias(SOURCE_FILE)).distinct()
