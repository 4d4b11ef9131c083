"""Pure data-quality measurements behind the asset checks: DataFrames in, small frames out."""

from __future__ import annotations

from functools import reduce
from operator import or_

from gross_profit_assets.contract import (
    BASE_CURRENCY,
    LINE_NUMBER,
    PARTITION_KEY,
    REASONS,
    SOURCE_FILE,
)
from gross_profit_assets.engine import DataFrame, F, broadcast
from gross_profit_assets.transforms.report import margin

GOVERNED_REQUIRED = (
    "id", "company_name", "country", "city", "product_line", "item_sold", "bill_date", "currency",
    "bill_amount", "units_sold", "cost_per_unit_usd", "rate_to_usd", "revenue_usd", "cogs_usd",
    "gross_profit_usd",
)
# An amount is an outlier when it is this many interquartile ranges above the third quartile
# of its month: far enough that only a typo or a wrong unit gets there, yet robust to skew.
OUTLIER_IQR_FACTOR = 10


def repeated_governed_lines(assessed: DataFrame, *by: str) -> DataFrame:
    """``repeated_lines`` (one row, or one per group of ``by``): governed lines (no reasons)
    beyond the first with their (source_file, id, item_sold). A grouped count, not a distinct
    count inside a wider aggregate: Spark would expand every line once per distinct aggregate
    for that. A group without governed lines has no row."""
    per_key = (
        assessed.where(F.size("reason_codes") == 0)
        .groupBy(*by, SOURCE_FILE, "id", "item_sold")
        .agg(F.count(F.lit(1)).alias("lines"))
    )
    return per_key.groupBy(*by).agg(
        F.coalesce(F.sum(F.col("lines") - 1), F.lit(0)).cast("bigint").alias("repeated_lines")
    )


def _reason_sums(reasons: str = "reason_codes") -> list:
    return [
        F.sum(F.when(F.array_contains(reasons, code), 1).otherwise(0)).alias(f"reason:{code}")
        for code in REASONS
    ]


def assessment_counts(assessed: DataFrame, *by: str) -> DataFrame:
    """One row over assessed lines (or one per group of ``by``), in one pass: over the lines
    without reasons (the governed ones) how many there are, how many miss a required value, how
    many non-USD lines have no FX rate and which currencies occur; how many lines have reasons
    (the quarantined ones), and how many carry each reason code (``reason:<code>`` columns)."""
    good = F.size("reason_codes") == 0
    any_missing = reduce(or_, [F.col(c).isNull() for c in GOVERNED_REQUIRED])
    return assessed.groupBy(*by).agg(
        F.sum(F.when(good, 1).otherwise(0)).alias("lines"),
        F.sum(F.when(good & any_missing, 1).otherwise(0)).alias("lines_missing_values"),
        F.sum(
            F.when(good & (F.col("currency") != BASE_CURRENCY) & F.col("rate_to_usd").isNull(), 1).otherwise(0)
        ).alias("lines_without_fx_rate"),
        # array_compact: Spark's collect_set skips nulls, DuckDB's list keeps them.
        F.sort_array(F.array_compact(F.collect_set(F.when(good, F.col("currency"))))).alias("currencies"),
        F.sum(F.when(good, 0).otherwise(1)).alias("lines_quarantined"),
        *_reason_sums(),
    )


def quarantine_counts(quarantined: DataFrame, *by: str) -> DataFrame:
    """One row (or one per group of ``by``): how many quarantined lines there are and how many
    carry each reason code (``reason:<code>`` columns), in one pass."""
    return quarantined.groupBy(*by).agg(F.count(F.lit(1)).alias("lines"), *_reason_sums())


def reason_tally(counts: dict) -> list[tuple[str, int]]:
    """(code, lines) for each reason that occurs in a counts row, most frequent first (ties by
    code), as ``reason_counts`` orders them."""
    tally = [(code, int(counts.get(f"reason:{code}") or 0)) for code in REASONS]
    return sorted(((c, n) for c, n in tally if n), key=lambda cn: (-cn[1], cn[0]))


def reason_counts(quarantined: DataFrame) -> DataFrame:
    """How many quarantined lines carry each reason code, most frequent first."""
    return (
        quarantined.select(F.explode("reason_codes").alias("code"))
        .groupBy("code")
        .count()
        .orderBy(F.desc("count"), "code")
    )


def outlier_lines(report: DataFrame) -> DataFrame:
    """Report lines whose USD revenue is far above their month's distribution."""
    quartiles = report.groupBy(PARTITION_KEY).agg(
        F.percentile_approx("revenue_usd", [0.25, 0.75], 10_000).alias("q")
    )
    threshold = F.col("q")[1] + F.lit(OUTLIER_IQR_FACTOR) * (F.col("q")[1] - F.col("q")[0])
    return (
        report.join(broadcast(quartiles), on=PARTITION_KEY, how="inner")
        .where(F.col("revenue_usd") > threshold)
        .select(PARTITION_KEY, SOURCE_FILE, LINE_NUMBER, "id", "company_name", "revenue_usd",
                threshold.alias("threshold_usd"))
    )


def summary_discrepancies(summary: DataFrame, totals: DataFrame) -> DataFrame:
    """Summary rows whose margin is not from their own sums, and dimensions whose sums differ
    from the report totals (each dimension splits the same lines, so both must agree)."""
    bad_margin = summary.where(
        ~F.col("gross_margin").eqNullSafe(margin(F.col("gross_profit_usd"), F.col("revenue_usd")))
    ).select("dimension", "key", F.lit("margin is not gross_profit_usd / revenue_usd").alias("problem"))
    per_dimension = summary.groupBy("dimension").agg(
        *[F.sum(c).alias(c) for c in ("lines", "units_sold", "revenue_usd", "cogs_usd", "gross_profit_usd")]
    )
    t = totals.select(*[F.col(c).alias(f"total_{c}") for c in ("lines", "units_sold", "revenue_usd", "cogs_usd", "gross_profit_usd")])
    mismatch = F.array_compact(F.array(*[
        F.when(~F.col(c).eqNullSafe(F.col(f"total_{c}")), F.lit(c))
        for c in ("lines", "units_sold", "revenue_usd", "cogs_usd", "gross_profit_usd")
    ]))
    bad_sums = per_dimension.crossJoin(t).where(F.size(mismatch) > 0).select(
        "dimension", F.lit(None).cast("string").alias("key"),
        F.concat(F.lit("sums differ from the report totals: "), F.array_join(mismatch, ", ")).alias("problem"),
    )
    return bad_margin.unionByName(bad_sums)
