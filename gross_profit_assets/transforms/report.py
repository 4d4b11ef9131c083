"""Pure transforms from governed billing lines to the gross-profit report and its summaries."""

from __future__ import annotations

from gross_profit_assets import contract
from gross_profit_assets.contract import (
    LINE_NUMBER,
    MARGIN_DECIMAL,
    MONTH_SUMS_KEYS,
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
    """The report's lines summed per month, company, item, product line, country and source
    file (``contract.MONTH_SUMS_KEYS``): far fewer rows than lines, since a company bills the
    same items month after month, and every summary and total is a sum of these rows (exact:
    money is decimal). So a summary over all months reads each month's sums, not its lines."""
    return report.groupBy(*MONTH_SUMS_KEYS).agg(*_summed(F.count(F.lit(1)), "gross_profit"))


def _resummed(sums: DataFrame, *group_by: Column | str) -> DataFrame:
    """Sums of rows that are sums themselves (``month_sums`` or summary rows), per group, and
    the margin from them. No rows at all sum to 0 lines (and no money)."""
    return sums.groupBy(*group_by).agg(*_summed(F.coalesce(F.sum("lines"), F.lit(0)), "gross_profit_usd")).withColumn(
        "gross_margin", margin(F.col("gross_profit_usd"), F.col("revenue_usd"))
    )


def summary_by(sums: DataFrame, dimension: str, *by: str) -> DataFrame:
    """One dimension of the summary (see ``contract.SUMMARY_DIMENSIONS``) from ``month_sums``
    rows, over all of them or within each group of ``by`` (such as each month)."""
    column = SUMMARY_DIMENSIONS[dimension]
    return _resummed(
        sums, *by, F.lit(dimension).alias("dimension"), F.col(column).cast("string").alias("key")
    ).select(*by, *SUMMARY_COLUMNS)


def summarize(sums: DataFrame) -> DataFrame:
    """Units, revenue, COGS, gross profit and margin by month, company, item, product line and
    country from ``month_sums`` rows, in one long table (``dimension``, ``key``, ...), the same
    rows as ``summary_by`` for each dimension: each row of sums counts once per dimension."""
    per_dimension = F.explode(
        F.array(*[
            F.struct(F.lit(d).alias("dimension"), F.col(c).cast("string").alias("key"))
            for d, c in SUMMARY_DIMENSIONS.items()
        ])
    ).alias("_by")
    exploded = sums.select("lines", "units_sold", "revenue_usd", "cogs_usd", "gross_profit_usd", per_dimension)
    return _resummed(
        exploded, F.col("_by.dimension").alias("dimension"), F.col("_by.key").alias("key")
    ).select(*SUMMARY_COLUMNS)


def rolled_up(sums: DataFrame, *by: str) -> DataFrame:
    """Lines, units, revenue, COGS, gross profit and margin from ``month_sums`` or summary
    rows: over all of them (one row), or per group of ``by`` (a row per group that has some)."""
    return _resummed(sums, *by).select(*by, *SUMMARY_COLUMNS[2:])
