"""The billing transforms on tiny frames: parsing, matching, FX, money and every reason code.

Expected money is computed here with Python's decimal module, independently of Spark.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest

from gross_profit_assets.transforms.billing import (
    GOVERNED_COLUMNS,
    QUARANTINE_COLUMNS,
    assess_billing_lines,
    governed_billing_lines,
    quarantined_billing_lines,
)
from gross_profit_assets_tests.frames import bill, tables

pytestmark = pytest.mark.spark

CENT = Decimal("0.01")
UNITS = {"company_id": "1", "item_type": "Artisan Cheese", "units_sold": "900"}
COST = {"item": "Artisan Cheese", "cost_per_unit_usd": "2.5"}


def usd(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def assess(spark, billing, units=(UNITS,), costs=(COST,), fx=()):
    assessed = assess_billing_lines(*tables(spark, billing, units, costs, fx))
    return governed_billing_lines(assessed), quarantined_billing_lines(assessed)


def reasons_of(quarantined) -> list[list[str]]:
    return [r["reason_codes"] for r in quarantined.orderBy("line_number").collect()]


def test_seed_line_is_governed_with_exact_money(spark):
    governed, quarantined = assess(spark, [bill()])
    (line,) = governed.collect()
    assert quarantined.count() == 0
    assert tuple(governed.columns) == GOVERNED_COLUMNS
    assert line["units_sold"] == 900
    assert line["revenue_usd"] == Decimal("3525.00")
    assert line["cogs_usd"] == usd(Decimal(900) * Decimal("2.5"))
    assert line["gross_profit_usd"] == Decimal("1275.00")
    assert line["line_number"] == 2 and line["billing_month"] == "2023-07"


def test_units_match_on_id_and_item_not_on_position(spark):
    """The original joined on id alone; a reordered units file must not change anything."""
    billing = [bill(id="1", item_sold="Artisan Cheese"), bill(id="2", item_sold="Blue Cheese")]
    units = [
        {"company_id": "2", "item_type": "Blue Cheese", "units_sold": "800"},
        {"company_id": "1", "item_type": "Artisan Cheese", "units_sold": "900"},
        {"company_id": "1", "item_type": "Blue Cheese", "units_sold": "5"},
    ]
    costs = [COST, {"item": "Blue Cheese", "cost_per_unit_usd": "3.0"}]
    governed, _ = assess(spark, billing, units, costs)
    units_by_id = {r["id"]: r["units_sold"] for r in governed.collect()}
    assert units_by_id == {1: 900, 2: 800}


def test_foreign_currency_converted_half_up_to_the_cent(spark):
    rate = "0.7412345"
    governed, _ = assess(
        spark,
        [bill(currency="cad", bill_amount="1000.005")],
        fx=[{"currency": "CAD", "rate_to_usd": rate, "month": "2023-07"}],
    )
    (line,) = governed.collect()
    expected_revenue = usd(Decimal("1000.005") * Decimal(rate))
    assert line["currency"] == "CAD"
    assert line["revenue_usd"] == expected_revenue
    assert line["gross_profit_usd"] == expected_revenue - usd(Decimal(900) * Decimal("2.5"))


def test_credit_note_is_reported_with_negative_revenue(spark):
    governed, quarantined = assess(spark, [bill(bill_amount="-150.00")])
    (line,) = governed.collect()
    assert quarantined.count() == 0
    assert line["revenue_usd"] == Decimal("-150.00")
    assert line["gross_profit_usd"] == Decimal("-150.00") - Decimal("2250.00")


def test_slashed_iso_date_is_the_same_date(spark):
    governed, _ = assess(spark, [bill(bill_date="2023/07/11")])
    assert str(governed.first()["bill_date"]) == "2023-07-11"


# (what is wrong, bill line, units rows, cost rows, expected reason codes). Each case gets its
# own id and item so that all of them run through the transform together, in one Spark job.
REASON_CASES = [
    ("no units record", {}, [], [COST], ["missing_units"]),
    ("no production cost", {}, [UNITS], [], ["missing_production_cost"]),
    ("no FX rate for MXN", {"currency": "MXN"}, [UNITS], [COST], ["missing_fx_rate"]),
    ("malformed currency", {"currency": "US$"}, [UNITS], [COST], ["unknown_currency"]),
    ("not an ISO code", {"currency": "XYZ"}, [UNITS], [COST], ["unknown_currency"]),
    ("day-first date", {"bill_date": "11/07/2023"}, [UNITS], [COST], ["invalid_bill_date"]),
    ("date in August", {"bill_date": "2023-08-01"}, [UNITS], [COST], ["bill_date_outside_billing_month"]),
    ("thousands separator", {"bill_amount": "3,525.00"}, [UNITS], [COST], ["invalid_bill_amount"]),
    ("sub-mil amount", {"bill_amount": "1.23456"}, [UNITS], [COST], ["invalid_bill_amount"]),
    ("no company", {"company_name": " "}, [UNITS], [COST], ["missing_required_value"]),
    ("no id", {"id": ""}, [UNITS], [COST], ["missing_required_value", "missing_units"]),
    ("text id", {"id": "A7"}, [UNITS], [COST], ["invalid_id", "missing_units"]),
    ("negative units", {}, [UNITS | {"units_sold": "-3"}], [COST], ["negative_units_sold"]),
    ("fractional units", {}, [UNITS | {"units_sold": "9.5"}], [COST], ["invalid_units_sold"]),
    ("two units records", {}, [UNITS, UNITS | {"units_sold": "1"}], [COST], ["ambiguous_units"]),
    ("two costs", {}, [UNITS], [COST, COST | {"cost_per_unit_usd": "9"}], ["ambiguous_production_cost"]),
    ("cost not a number", {}, [UNITS], [COST | {"cost_per_unit_usd": "n/a"}], ["invalid_production_cost"]),
    (
        "three things at once",
        {"currency": "CAD"},
        [],
        [],
        ["missing_fx_rate", "missing_production_cost", "missing_units"],
    ),
]


def test_every_reason_that_applies_is_given(spark):
    billing, units, costs = [], [], []
    for n, (_, line, case_units, case_costs, _) in enumerate(REASON_CASES, start=100):
        item = f"Item {n}"
        billing.append(bill(id=str(n), item_sold=item) | line)
        units += [u | {"company_id": str(n), "item_type": item} for u in case_units]
        costs += [c | {"item": item} for c in case_costs]
    governed, quarantined = assess(spark, billing, units, costs)
    assert governed.count() == 0
    got = dict(zip((case[0] for case in REASON_CASES), reasons_of(quarantined)))
    assert got == {case[0]: case[4] for case in REASON_CASES}


def test_quarantine_keeps_source_line_and_raw_text(spark):
    _, quarantined = assess(spark, [bill(), bill(id="7", bill_amount="lots")])
    (row,) = quarantined.collect()
    assert tuple(quarantined.columns) == QUARANTINE_COLUMNS
    assert row["line_number"] == 3
    assert row["source_file"] == "billing/billing_month=2023-07/billing.csv"
    assert row["bill_amount"] == "lots" and row["id"] == "7"
    assert row["reasons"].startswith("invalid_bill_amount: ")


def test_duplicate_line_in_one_file_quarantines_the_repeat_only(spark):
    governed, quarantined = assess(spark, [bill(), bill(bill_amount="1.00")])
    assert [r["line_number"] for r in governed.collect()] == [2]
    assert reasons_of(quarantined) == [["duplicate_line"]]


def test_no_line_is_lost(spark):
    billing = [bill(id=str(i), item_sold=item) for i, item in enumerate(["Artisan Cheese", "X", "Y"] * 5)]
    governed, quarantined = assess(spark, billing)
    assert governed.count() + quarantined.count() == len(billing)


# bill_amount text -> what the governed line holds (None: invalid_bill_amount). The value must
# fit DECIMAL(18,4) exactly: at most 4 decimals (trailing zeros are no digits), 14 whole digits.
AMOUNTS = {
    "3525": Decimal("3525.0000"),
    "-0.0001": Decimal("-0.0001"),
    "1.23450": Decimal("1.2345"),  # a trailing zero is no fifth decimal
    "1.5e3": Decimal("1500.0000"),
    "12345678901234.1234": Decimal("12345678901234.1234"),
    "1.23456": None,
    "1.2e-9": None,  # a tiny exponent hides digits after the fourth decimal
    "123456789012345.0": None,  # 15 whole digits
    "1,000.00": None,
}


def test_amounts_fit_the_contract_decimal_exactly_or_are_invalid(spark):
    billing = [bill(id=str(n), item_sold=f"Item {n}", bill_amount=text) for n, text in enumerate(AMOUNTS)]
    units = [UNITS | {"company_id": str(n), "item_type": f"Item {n}"} for n in range(len(AMOUNTS))]
    costs = [COST | {"item": f"Item {n}"} for n in range(len(AMOUNTS))]
    governed, quarantined = assess(spark, billing, units, costs)
    kept = {r["id"]: r["bill_amount"] for r in governed.collect()}
    refused = {r["id"]: r["reason_codes"] for r in quarantined.collect()}
    for n, (text, expected) in enumerate(AMOUNTS.items()):
        if expected is None:
            assert refused.get(str(n)) == ["invalid_bill_amount"], text
        else:
            assert kept.get(n) == expected, text
