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
    cluster_by,
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
    """``text`` as DECIMAL(shape), or null when it is not a number or would lose digits.

    A cast to the shape rounds what does not fit, so a value with more decimals than the
    shape has is parsed a second time at a wide scale and must come out the same. Only text
    with more characters after its point than the shape's decimals (or an exponent) can have
    more decimals: the plain amounts, nearly all of them, are parsed once."""
    fitted = try_cast(text, f"decimal({shape[0]},{shape[1]})")
    point = F.instr(text, ".")
    plain = ((point == 0) | (F.length(text) - point <= shape[1])) & ~F.lower(text).contains("e")
    return F.when(plain, fitted).when(try_cast(text, "decimal(38,18)") == fitted, fitted)


def _iso_date_text(text: Column) -> Column:
    """``YYYY-MM-DD`` text, or null when ``text`` is not ``YYYY-MM-DD`` or ``YYYY/MM/DD``
    (one separator throughout, four-digit year first). A shape check and a slash swap instead
    of date patterns: the cast that follows is Spark's (and DuckDB's) own fast ISO parser."""
    separator = F.substring(text, 5, 1)
    shaped = (
        (F.length(text) == 10)
        & F.substring(text, 1, 1).between("0", "9")
        & separator.isin("-", "/")
        & (F.substring(text, 8, 1) == separator)
    )
    # Only slashed dates are rewritten: translate() costs every row a map lookup per character.
    return F.when(shaped & (separator == "-"), text).when(shaped, F.translate(text, "/", "-"))


def _reason(condition: Column, code: str) -> Column:
    assert code in REASONS, code
    return F.when(condition, F.lit(code))


def _reasons(*reasons: Column) -> Column:
    return F.array_compact(F.array(*reasons))


# What a bill line is matched on, trimmed and typed once, before the join.
MATCH_ID, MATCH_ITEM, MATCH_CURRENCY = "match_id", "match_item_sold", "match_currency"


def match_keys(billing: DataFrame) -> DataFrame:
    """The landed bill lines as they are (text), plus what they are matched on: the id as a
    number, the item and the currency code. Only this narrow text row crosses the units join's
    shuffle; parsing the rest waits until after it."""
    return billing.select(
        *LINEAGE_COLUMNS,
        *BILLING.column_names,
        try_cast(_text("id"), "bigint").alias(MATCH_ID),
        _text("item_sold").alias(MATCH_ITEM),
        F.upper(_text("currency")).alias(MATCH_CURRENCY),
    )


def index_units_sold(units: DataFrame) -> DataFrame:
    """One row per (billing_month, id, item_sold): how many units records claim it, and the
    units sold (null when not a whole number; meaningful only for a single record).

    Counted with a window over the match key rather than grouped: a units file has one record
    per bill line, so a pre-shuffle partial aggregate would reduce nothing and hash every
    record for it; the window needs the records clustered and sorted by the match key, which
    the join with the bill lines then uses as it is."""
    keyed = units.select(
        PARTITION_KEY,
        try_cast(_text("company_id"), "bigint").alias(MATCH_ID),
        _text("item_type").alias(MATCH_ITEM),
        try_cast(_text("units_sold"), "bigint").alias("units_sold"),
    )
    per_key = Window.partitionBy(PARTITION_KEY, MATCH_ID, MATCH_ITEM)
    return (
        keyed.select(
            "*",
            F.count(F.lit(1)).over(per_key).alias("units_records"),
            F.row_number().over(per_key.orderBy("units_sold")).alias("_record"),
        )
        .where(F.col("_record") == 1)
        .drop("_record")
    )


def index_production_costs(costs: DataFrame) -> DataFrame:
    """One row per (billing_month, item_sold): how many cost records claim it, and the cost
    per unit (null when not a number of the contract's shape)."""
    return (
        costs.select(
            PARTITION_KEY,
            _text("item").alias(MATCH_ITEM),
            _decimal(_text("cost_per_unit_usd"), UNIT_COST_DECIMAL).alias("cost_per_unit_usd"),
        )
        .groupBy(PARTITION_KEY, MATCH_ITEM)
        .agg(F.count(F.lit(1)).alias("cost_records"), F.min("cost_per_unit_usd").alias("cost_per_unit_usd"))
    )


def index_fx_rates(fx_rates: DataFrame) -> DataFrame:
    """One row per (month, currency): how many rates claim it, and the rate (null when not a
    number of the contract's shape); the row's own month wins."""
    return (
        fx_rates.select(
            F.coalesce(_text("month"), F.col(PARTITION_KEY)).alias(PARTITION_KEY),
            F.upper(_text("currency")).alias(MATCH_CURRENCY),
            _decimal(_text("rate_to_usd"), FX_RATE_DECIMAL).alias("fx_rate"),
        )
        .groupBy(PARTITION_KEY, MATCH_CURRENCY)
        .agg(F.count(F.lit(1)).alias("fx_records"), F.min("fx_rate").alias("fx_rate"))
    )


def repeated_in_file() -> Column:
    """True for the second and later occurrences of (id, item_sold) in one file.

    The first occurrence is kept: a re-sent line must not count twice, and quarantining both
    would hide a real sale. The window is keyed by the units join's key first (month, id, item;
    a file holds one month), so that the lines, clustered by that key (``cluster_by``), are
    sorted once for both the window and the join.
    """
    occurrence = Window.partitionBy(PARTITION_KEY, MATCH_ID, MATCH_ITEM, SOURCE_FILE).orderBy(LINE_NUMBER)
    return F.col(MATCH_ID).isNotNull() & (F.row_number().over(occurrence) > 1)


def line_reasons(text: dict[str, Column], bill_date: Column, bill_amount: Column) -> list[Column]:
    """What is wrong with a bill line itself, whatever it is matched to."""
    missing = reduce(or_, [value.isNull() for value in text.values()])
    return [
        _reason(missing, "missing_required_value"),
        _reason(text["id"].isNotNull() & F.col(MATCH_ID).isNull(), "invalid_id"),
        _reason(text["bill_date"].isNotNull() & bill_date.isNull(), "invalid_bill_date"),
        _reason(text["bill_amount"].isNotNull() & bill_amount.isNull(), "invalid_bill_amount"),
        _reason(
            bill_date.isNotNull() & (F.substring(_iso_date_text(text["bill_date"]), 1, 7) != F.col(PARTITION_KEY)),
            "bill_date_outside_billing_month",
        ),
        _reason(~F.col(MATCH_CURRENCY).isin(*sorted(ISO_4217_CURRENCIES)), "unknown_currency"),
    ]


def lookup_reasons(units_sold: Column, cost: Column, rate: Column) -> list[Column]:
    """What stops a line from being priced: its units, production cost and FX rate."""
    # An unknown currency is unknown_currency alone: looking up its FX rate means nothing.
    needs_fx = (F.col(MATCH_CURRENCY) != BASE_CURRENCY) & F.col(MATCH_CURRENCY).isin(*sorted(ISO_4217_CURRENCIES))
    single = {name: F.col(name) == 1 for name in ("units_records", "cost_records", "fx_records")}
    return [
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
    ]


def assess_billing_lines(
    billing: DataFrame, units: DataFrame, costs: DataFrame, fx_rates: DataFrame
) -> DataFrame:
    """Every bill line, joined to its units, cost and rate, with money computed where it can be
    and every reason it cannot. The raw text is kept only for lines with a reason (the
    quarantine shows it); the others carry their typed values alone."""
    match = [PARTITION_KEY, MATCH_ID, MATCH_ITEM]
    lines = cluster_by(match_keys(billing), *match)
    flagged = (
        lines.select("*", repeated_in_file().alias("repeated_in_file"))
        .join(index_units_sold(units), on=match, how="left")
        .join(broadcast(index_production_costs(costs)), on=[PARTITION_KEY, MATCH_ITEM], how="left")
        .join(broadcast(index_fx_rates(fx_rates)), on=[PARTITION_KEY, MATCH_CURRENCY], how="left")
    )
    # The joined columns by name, once: SQLFrame (the DuckDB engine) cannot otherwise resolve a
    # bill line's column inside an expression after three joins; Spark drops the projection.
    flagged = flagged.select(*flagged.columns)
    text = {name: _text(name) for name in BILLING.column_names}
    bill_date = try_cast(_iso_date_text(text["bill_date"]), "date")
    bill_amount = _decimal(text["bill_amount"], AMOUNT_DECIMAL)
    units_sold = F.col("units_sold")
    cost = F.col("cost_per_unit_usd")
    rate = F.when(F.col(MATCH_CURRENCY) == BASE_CURRENCY, F.lit(1).cast(DecimalType(*FX_RATE_DECIMAL))).otherwise(
        F.col("fx_rate")
    )
    parsed = {
        "id": F.col(MATCH_ID),
        "item_sold": F.col(MATCH_ITEM),
        "currency": F.col(MATCH_CURRENCY),
        "bill_date": bill_date,
        "bill_amount": bill_amount,
    }
    reasons = _reasons(
        *line_reasons(text, bill_date, bill_amount),
        _reason(F.col("repeated_in_file"), "duplicate_line"),
        *lookup_reasons(units_sold, cost, rate),
    )
    assessed = flagged.select(
        *LINEAGE_COLUMNS,
        F.struct(*[F.col(c) for c in BILLING.column_names]).alias("raw"),
        *[parsed.get(c, text[c]).alias(c) for c in BILLING.column_names],
        units_sold.alias("units_sold"),
        cost.alias("cost_per_unit_usd"),
        rate.alias("rate_to_usd"),
        reasons.alias("reason_codes"),
    )
    return with_money(assessed)


def _usd(value: Column) -> Column:
    return F.round(value, 2).cast(DecimalType(*USD_DECIMAL))


def with_money(lines: DataFrame) -> DataFrame:
    """USD revenue, COGS and gross profit for lines that have no reasons against them; the raw
    text (``raw``) only for the lines that have."""
    good = F.size("reason_codes") == 0
    revenue = F.when(good, _usd(F.col("bill_amount") * F.col("rate_to_usd")))
    cogs = F.when(good, _usd(F.col("units_sold").cast(DecimalType(20, 0)) * F.col("cost_per_unit_usd")))
    # One projection, not three: every step of a DataFrame costs plan analysis (Spark) or SQL
    # generation (SQLFrame), and a month's run pays it per action.
    return lines.select(
        *[F.when(~good, F.col("raw")).alias("raw") if c == "raw" else F.col(c) for c in lines.columns],
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
