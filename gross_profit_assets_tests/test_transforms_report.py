"""Report, summary and CSV-text transforms on tiny frames; expectations computed in Python."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from pyspark.sql import functions as F

from gross_profit_assets.contract import MONTH_SUMS_COLUMNS, REPORT_COLUMNS, SUMMARY_COLUMNS, SUMMARY_DIMENSIONS
from gross_profit_assets.transforms.billing import assess_billing_lines, governed_billing_lines
from gross_profit_assets.transforms.formatting import as_csv_text
from gross_profit_assets.transforms.report import (
    month_sums,
    report_lines,
    rolled_up,
    source_files,
    summarize,
    summary_by,
)
from gross_profit_assets_tests.frames import bill, tables

pytestmark = pytest.mark.spark

LINES = [
    # (id, company, item, country, product line, amount, units, cost)
    ("1", "Acme", "Brie", "US", "Dairy", "1000.00", "100", "2.5"),
    ("2", "Acme", "Bread", "US", "Bakery", "500.00", "300", "2.0"),
    ("3", "=cmd|' /C calc'!A0", "Brie", "CA", "Dairy", "300.00", "10", "2.5"),
]


@pytest.fixture(scope="module")
def report(spark):
    billing = [
        bill(id=i, company_name=c, item_sold=item, country=country, product_line=pl, bill_amount=amount)
        for i, c, item, country, pl, amount, _, _ in LINES
    ]
    units = [{"company_id": i, "item_type": item, "units_sold": u} for i, _, item, *_, u, _ in LINES]
    costs = [{"item": "Brie", "cost_per_unit_usd": "2.5"}, {"item": "Bread", "cost_per_unit_usd": "2.0"}]
    governed = governed_billing_lines(assess_billing_lines(*tables(spark, billing, units, costs)))
    return report_lines(governed).cache()


def gross_profit(amount: str, units: str, cost: str) -> Decimal:
    return Decimal(amount) - (Decimal(units) * Decimal(cost)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def test_report_columns_start_with_the_seed_columns(report):
    assert tuple(report.columns) == REPORT_COLUMNS
    assert REPORT_COLUMNS[:7] == (
        "id", "company_name", "item_sold", "units_sold", "cost_per_unit_usd", "bill_amount", "gross_profit",
    )


def test_line_margin_is_profit_over_revenue(report):
    by_id = {r["id"]: r for r in report.collect()}
    expected = gross_profit("500.00", "300", "2.0") / Decimal("500.00")
    assert by_id[2]["gross_margin"] == expected.quantize(Decimal("0.000001"), ROUND_HALF_UP)


def test_summary_margin_comes_from_sums_not_line_averages(report):
    rows = {(r["dimension"], r["key"]): r for r in summarize(month_sums(report)).collect()}
    acme = rows[("company", "Acme")]
    profit = gross_profit("1000.00", "100", "2.5") + gross_profit("500.00", "300", "2.0")
    assert acme["gross_profit_usd"] == profit
    assert acme["gross_margin"] == (profit / Decimal("1500.00")).quantize(Decimal("0.000001"), ROUND_HALF_UP)
    assert acme["units_sold"] == 400 and acme["lines"] == 2
    assert set(d for d, _ in rows) == {"month", "company", "item", "product_line", "country"}
    assert tuple(summarize(month_sums(report)).columns) == SUMMARY_COLUMNS


def test_month_sums_are_the_lines_summed_by_each_dimension_of_each_month(report):
    doubled = report.unionByName(report)  # every line twice
    rows = {(r["billing_month"], r["dimension"], r["key"]): r.asDict() for r in month_sums(doubled).collect()}
    (month,) = {m for m, _, _ in rows}
    (file,) = {r["source_file"] for r in report.collect()}
    expected: dict[tuple[str, str], dict] = {}
    for line in [*LINES, *LINES]:
        _, company, item, country, product_line, amount, units, cost = line
        keys = {"month": month, "company": company, "item": item, "product_line": product_line,
                "country": country, "file": file}
        for dimension, key in keys.items():
            sums = expected.setdefault((dimension, key), {"lines": 0, "units_sold": 0, "revenue_usd": Decimal(0),
                                                          "cogs_usd": Decimal(0), "gross_profit_usd": Decimal(0)})
            cogs = (Decimal(units) * Decimal(cost)).quantize(Decimal("0.01"), ROUND_HALF_UP)
            sums["lines"] += 1
            sums["units_sold"] += int(units)
            sums["revenue_usd"] += Decimal(amount)
            sums["cogs_usd"] += cogs
            sums["gross_profit_usd"] += Decimal(amount) - cogs
    assert {(d, k): {f: r[f] for f in expected[(d, k)]} for (_, d, k), r in rows.items()} == expected
    assert tuple(month_sums(report).columns) == MONTH_SUMS_COLUMNS
    assert [r["source_file"] for r in source_files(month_sums(doubled)).collect()] == [file]


def test_summary_counts_each_line_once_per_dimension(report):
    sums = month_sums(report.unionByName(report))
    rows = {(r["dimension"], r["key"]): r.asDict() for r in summarize(sums).collect()}
    assert rows[("company", "Acme")]["lines"] == 4
    assert rows[("company", "Acme")]["revenue_usd"] == Decimal("3000.00")
    assert rows[("item", "Brie")]["units_sold"] == 2 * (100 + 10)
    for dimension in SUMMARY_DIMENSIONS:
        for row in summary_by(sums, dimension).collect():
            assert rows[(dimension, row["key"])] == row.asDict()
    assert len(rows) == sum(summary_by(sums, d).count() for d in SUMMARY_DIMENSIONS)


def test_totals(report):
    (total,) = rolled_up(month_sums(report)).collect()
    expected = sum(gross_profit(a, u, c) for *_, a, u, c in LINES)
    assert total["gross_profit_usd"] == expected
    assert total["revenue_usd"] == Decimal("1800.00")
    assert total["lines"] == 3


def test_totals_of_no_lines_count_zero_lines(report):
    (total,) = rolled_up(month_sums(report.limit(0))).collect()
    assert total["lines"] == 0
    assert total["revenue_usd"] is None and total["gross_margin"] is None


def test_csv_text_is_exact_and_formula_safe(report):
    rows = {r["id"]: r for r in as_csv_text(report).collect()}
    assert rows["1"]["bill_amount"] == "1000.0"
    assert rows["1"]["cost_per_unit_usd"] == "2.5"
    assert rows["2"]["gross_profit"] == "-100.0"  # numbers keep their sign
    assert rows["3"]["company_name"] == "'=cmd|' /C calc'!A0"


def test_canonical_decimal_never_goes_through_floats(spark):
    frame = spark.range(1).select(
        F.lit(Decimal("12345678901234.10")).cast("decimal(20,2)").alias("big"),
        F.lit(Decimal("0.000001")).cast("decimal(12,6)").alias("tiny"),
        F.lit(Decimal("0")).cast("decimal(20,2)").alias("zero"),
        F.lit(Decimal("-0.50")).cast("decimal(20,2)").alias("credit"),
        F.lit(Decimal("1.25")).cast("decimal(20,10)").alias("rate"),
        F.lit(Decimal("7")).cast("decimal(18,4)").alias("whole"),
        F.lit(Decimal("42")).cast("decimal(10,0)").alias("integral"),
    )
    (row,) = as_csv_text(frame).collect()
    assert (row["big"], row["tiny"], row["zero"]) == ("12345678901234.1", "0.000001", "0.0")
    assert (row["credit"], row["rate"], row["whole"], row["integral"]) == ("-0.5", "1.25", "7.0", "42")


def test_every_formula_trigger_is_neutralised_and_only_at_the_start(spark):
    cells = ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "a=b", "", None]
    frame = spark.createDataFrame([(c,) for c in cells], "text string")
    assert [r["text"] for r in as_csv_text(frame).collect()] == [
        "'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", "'\rx", "a=b", "", None
    ]
