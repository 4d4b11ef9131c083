"""Pure transforms from landed text rows to assessed billing lines.

Every function takes DataFrames and returns a DataFrame; no I/O, no Dagster, no UDFs. A bill
line is never dropped: it leaves ``assess_billing_lines`` with every reason that stops it from
being reported (an empty ``reason_codes`` array means it is good), and
``governed_billing_lines`` / ``quarantined_billing_lines`` split on exactly that.

Rules worth knowing (see also docs/data-contract.md):
- ``bill_date`` is ISO ``YYYY-MM-DD``; ``YYYY/MM/DD`` (year first, so unambiguous) is accepted
  as the same date. Any other shape, such as ``11/05/2023``, is ``invalid_bill_date``.
- Negative ``bill_amount`` values are credit notes: they are reported, with negative revenue.
- Matching is exact after trimming spaces: (``id``, ``item_sold``) to units (``company_id``,
  ``item_type``), ``item_sold`` to production costs' ``item``, (``currency``, billing month) to
  FX rates. USD needs no FX row (rate 1).
- Money: ``revenue_usd`` and ``cogs_usd`` are rounded half-up to the cent per line;
  ``gross_profit_usd`` is their difference, so totals add up exactly.
"""

from __future__ import annotations

from functools import reduce
from operator import or_

from gross_profit_assets.contract import (
    AMOUNT_DECIMAL,
    BASE_CURRENCY,
    BILLING,
    FX_RATE_DECIMAL,
    ISO_4217_CURRENCIES,
    LINE_NUMBER,
    PARTITION_KEY,
    REASONS,
    SOURCE_FILE,
    UNIT_COST_DECIMAL,
    USD_DECIMAL,
)
from gross_profit_assets.engine import (
    Column,
    DataFrame,
    DecimalType,
    F,
    Window,
    broadcast,
    try_cast,
)

LINEAGE_COLUMNS = (PARTITION_KEY, SOURCE_FILE, LINE_NUMBER)
GOVERNED_COLUMNS = LINEAGE_COLUMNS + (
    "id",
    "company_name",
    "country",
    "city",
    "product_line",
    "item_sold",
    "bill_date",
    "currency",
    "bill_amount",
    "units_sold",
    "cost_per_unit_usd",
    "rate_to_usd",
    "revenue_usd",
    "cogs_usd",
    "gross_profit_usd",
)
QUARANTINE_COLUMNS = LINEAGE_COLUMNS + ("reason_codes", "reasons") + BILLING.column_names


def _text(name: str) -> Column:
    """The trimmed text of a column, with empty meaning missing."""
    trimmed = F.trim(F.col(name))
    return F.when(trimmed != "", trimmed)


def _decimal(text: Column, shape: tuple[int, int]) -> Column:
    """``text`` as DECIMAL(shape), or null when it is not a number or would lose digits."""
    exact = try_cast(text, "decimal(38,18)")
    fitted = try_cast(text, f"decimal({shape[0]},{shape[1]})")
    return F.when(exact == fitted, fitted)


def _date(text: Column, pattern: str) -> Column:
    # try_to_date is try_to_timestamp cast to a date in Spark; SQLFrame only has the latter.
    return F.try_to_timestamp(text, F.lit(pattern)).cast("date")


def _iso_or_slashed_date(text: Column) -> Column:
    return F.coalesce(_date(text, "yyyy-MM-dd"), _date(text, "yyyy/MM/dd"))


def _reason(condition: Column, code: str) -> Column:
    assert code in REASONS, code
    return F.when(condition, F.lit(code))


def _reasons(*reasons: Column) -> Column:
    return F.array_compact(F.array(*reasons))


def parse_billing_lines(billing: DataFrame) -> DataFrame:
    """Typed bill lines, the raw text kept beside them, and what is wrong with each line itself."""
    text = {name: _text(name) for name in BILLING.column_names}
    parsed = {
        "id": try_cast(text["id"], "bigint"),
        "bill_date": _iso_or_slashed_date(text["bill_date"]),
        "bill_amount": _decimal(text["bill_amount"], AMOUNT_DECIMAL),
        "currency": F.upper(text["currency"]),
    }
    missing = reduce(or_, [value.isNull() for value in text.values()])
    reasons = _reasons(
        _reason(missing, "missing_required_value"),
        _reason(text["id"].isNotNull() & parsed["id"].isNull(), "invalid_id"),
        _reason(text["bill_date"].isNotNull() & parsed["bill_date"].isNull(), "invalid_bill_date"),
        _reason(
            text["bill_amount"].isNotNull() & parsed["bill_amount"].isNull(), "invalid_bill_amount"
        ),
        _reason(
            F.date_format(parsed["bill_date"], "yyyy-MM") != F.col(PARTITION_KEY),
            "bill_date_outside_billing_month",
        ),
        _reason(~parsed["currency"].isin(*sorted(ISO_4217_CURRENCIES)), "unknown_currency"),
    )
    return billing.select(
        *LINEAGE_COLUMNS,
        F.struct(*[F.col(c) for c in BILLING.column_names]).alias("raw"),
        *[parsed.get(c, text[c]).alias(c) for c in BILLING.column_names],
        reasons.alias("reason_codes"),
    )


def flag_duplicate_lines(lines: DataFrame) -> DataFrame:
    """The second and later occurrences of (id, item_sold) in one file are ``duplicate_line``.

    The first occurrence is kept: a re-sent line must not count twice, and quarantining both
    would hide a real sale.
    """
    # A file holds one billing month, so adding the month changes no group; it lets the window
    # reuse the partitioning of the units join on (month, id, item_sold) instead of shuffling
    # every line again.
    occurrence = Window.partitionBy(PARTITION_KEY, SOURCE_FILE, "id", "item_sold").orderBy(LINE_NUMBER)
    repeated = F.col("id").isNotNull() & (F.row_number().over(occurrence) > 1)
    return lines.withColumn(
        "reason_codes",
        # concat, not array_union: the codes of the two arrays never overlap, and a union
        # builds a hash set for every line.
        F.concat(F.col("reason_codes"), _reasons(_reason(repeated, "duplicate_line"))),
    )


def index_units_sold(units: DataFrame) -> DataFrame:
    """One row per (billing_month, id, item_sold) with how many units records claim it."""
    return (
        units.select(
            PARTITION_KEY,
            try_cast(_text("company_id"), "bigint").alias("id"),
            _text("item_type").alias("item_sold"),
            _text("units_sold").alias("units_text"),
        )
        .groupBy(PARTITION_KEY, "id", "item_sold")
        .agg(F.count(F.lit(1)).alias("units_records"), F.min("units_text").alias("units_text"))
    )


def index_production_costs(costs: DataFrame) -> DataFrame:
    """One row per (billing_month, item_sold) with how many cost records claim it."""
    return (
        costs.select(
            PARTITION_KEY,
            _text("item").alias("item_sold"),
            _text("cost_per_unit_usd").alias("cost_text"),
        )
        .groupBy(PARTITION_KEY, "item_sold")
        .agg(F.count(F.lit(1)).alias("cost_records"), F.min("cost_text").alias("cost_text"))
    )


def index_fx_rates(fx_rates: DataFrame) -> DataFrame:
    """One row per (month, currency) with how many rates claim it; the row's own month wins."""
    return (
        fx_rates.select(
            F.coalesce(_text("month"), F.col(PARTITION_KEY)).alias(PARTITION_KEY),
            F.upper(_text("currency")).alias("currency"),
            _text("rate_to_usd").alias("rate_text"),
        )
        .groupBy(PARTITION_KEY, "currency")
        .agg(F.count(F.lit(1)).alias("fx_records"), F.min("rate_text").alias("rate_text"))
    )


def assess_billing_lines(
    billing: DataFrame, units: DataFrame, costs: DataFrame, fx_rates: DataFrame
) -> DataFrame:
    """Every bill line, joined to its units, cost and rate, with money computed where it can be
    and every reason it cannot."""
    lines = parse_billing_lines(billing)
    joined = flag_duplicate_lines(
        lines.join(index_units_sold(units), on=[PARTITION_KEY, "id", "item_sold"], how="left")
        .join(broadcast(index_production_costs(costs)), on=[PARTITION_KEY, "item_sold"], how="left")
        .join(broadcast(index_fx_rates(fx_rates)), on=[PARTITION_KEY, "currency"], how="left")
    )
    units_sold = try_cast(F.col("units_text"), "bigint")
    cost = _decimal(F.col("cost_text"), UNIT_COST_DECIMAL)
    is_usd = F.col("currency") == BASE_CURRENCY
    # An unknown currency is unknown_currency alone: looking up its FX rate means nothing.
    needs_fx = ~is_usd & F.col("currency").isin(*sorted(ISO_4217_CURRENCIES))
    rate = F.when(is_usd, F.lit(1).cast(DecimalType(*FX_RATE_DECIMAL))).otherwise(
        _decimal(F.col("rate_text"), FX_RATE_DECIMAL)
    )
    single = {name: F.col(name) == 1 for name in ("units_records", "cost_records", "fx_records")}
    lookup_reasons = _reasons(
        _reason(F.col("units_records").isNull(), "missing_units"),
        _reason(F.col("units_records") > 1, "ambiguous_units"),
        _reason(single["units_records"] & units_sold.isNull(), "invalid_units_sold"),
        _reason(units_sold < 0, "negative_units_sold"),
        _reason(F.col("cost_records").isNull(), "missing_production_cost"),
        _reason(F.col("cost_records") > 1, "ambiguous_production_cost"),
        _reason(single["cost_records"] & cost.isNull(), "invalid_production_cost"),
        _reason(needs_fx & F.col("fx_records").isNull(), "missing_fx_rate"),
        _reason(needs_fx & (F.col("fx_records") > 1), "ambiguous_fx_rate"),
        _reason(needs_fx & single["fx_records"] & rate.isNull(), "missing_fx_rate"),
    )
    assessed = joined.select(
        *LINEAGE_COLUMNS,
        "raw",
        *BILLING.column_names,
        units_sold.alias("units_sold"),
        cost.alias("cost_per_unit_usd"),
        rate.alias("rate_to_usd"),
        F.concat(F.col("reason_codes"), lookup_reasons).alias("reason_codes"),
    )
    return with_money(assessed)


def _usd(value: Column) -> Column:
    return F.round(value, 2).cast(DecimalType(*USD_DECIMAL))


def with_money(lines: DataFrame) -> DataFrame:
    """USD revenue, COGS and gross profit for lines that have no reasons against them."""
    good = F.size("reason_codes") == 0
    revenue = F.when(good, _usd(F.col("bill_amount") * F.col("rate_to_usd")))
    cogs = F.when(good, _usd(F.col("units_sold").cast(DecimalType(20, 0)) * F.col("cost_per_unit_usd")))
    # One projection, not three: every step of a DataFrame costs plan analysis (Spark) or SQL
    # generation (SQLFrame), and a month's run pays it per action.
    return lines.select(
        "*",
        revenue.alias("revenue_usd"),
        cogs.alias("cogs_usd"),
        (revenue - cogs).cast(DecimalType(*USD_DECIMAL)).alias("gross_profit_usd"),
    )


def governed_billing_lines(assessed: DataFrame) -> DataFrame:
    """The lines the report may use: every number computable, nothing against them."""
    return assessed.where(F.size("reason_codes") == 0).select(*GOVERNED_COLUMNS)


def quarantined_billing_lines(assessed: DataFrame) -> DataFrame:
    """The lines the report must not use, with their raw text and every reason."""
    messages = F.transform(
        "reason_codes",
        lambda code: F.concat(code, F.lit(": "), F.element_at(_reason_messages(), code)),
    )
    return assessed.where(F.size("reason_codes") > 0).select(
        *LINEAGE_COLUMNS,
        F.array_sort("reason_codes").alias("reason_codes"),
        F.array_join(F.array_sort(messages), "; ").alias("reasons"),
        *[F.col(f"raw.{c}").alias(c) for c in BILLING.column_names],
    )


def _reason_messages() -> Column:
    return F.create_map(*[F.lit(x) for r in REASONS.values() for x in (r.code, r.message)])
