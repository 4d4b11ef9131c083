"""The DuckDB reference is itself checked twice: against the seed's published report and
against a plain-Python ``decimal`` computation on generated data."""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from gross_profit_assets.generate import generate
from gross_profit_assets_tests.reference_duckdb import reference_totals, reported_lines

SEED = Path("/work/shared/seed")
CENT = Decimal("0.01")


def seed_files() -> list[Path]:
    return sorted((SEED / "sample").glob("*.csv"))


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8", newline="")
    return path


# --- the seed --------------------------------------------------------------------------------


def test_seed_sample_gives_the_published_total() -> None:
    totals = reference_totals(seed_files())
    assert totals["total"]["lines_in"] == 15
    assert totals["total"]["lines_reported"] == 15
    assert totals["total"]["lines_quarantined"] == 0
    assert totals["total"]["gross_profit_usd"] == Decimal("19165.00")
    assert list(totals["months"]) == ["2023-07"]
    assert totals["months"]["2023-07"] == totals["total"]


def test_seed_lines_equal_the_published_report() -> None:
    with (SEED / "expected_gross_profit_report.csv").open(encoding="utf-8", newline="") as handle:
        expected = {int(row["id"]): row for row in csv.DictReader(handle)}
    lines = reported_lines(seed_files())
    assert len(lines) == 15
    for line in lines:
        row = expected[line["id"]]
        assert line["company_name"] == row["company_name"]
        assert line["item_sold"] == row["item_sold"]
        assert line["units_sold"] == int(row["units_sold"])
        assert line["cost_per_unit_usd"] == Decimal(row["cost_per_unit_usd"])
        assert line["bill_amount"] == Decimal(row["bill_amount"])
        assert line["gross_profit_usd"] == Decimal(row["gross_profit"])
        assert line["billing_month"] == "2023-07" and line["currency"] == "USD"
    assert sorted(line["gross_profit_usd"] for line in lines)[:2] == [
        Decimal("-400.00"),
        Decimal("-120.00"),
    ]


def test_duckdb_round_on_decimal_is_half_away_from_zero() -> None:
    """The reference relies on this for half-up money rounding; pin it against upgrades."""
    con = duckdb.connect()
    rows = con.sql(
        "SELECT ROUND(CAST('2.345' AS DECIMAL(38, 10)), 2),"
        " ROUND(CAST('-2.345' AS DECIMAL(38, 10)), 2),"
        " ROUND(CAST('0.125' AS DECIMAL(38, 10)) * CAST('1' AS DECIMAL(38, 10)), 2)"
    ).fetchall()
    assert rows == [(Decimal("2.35"), Decimal("-2.35"), Decimal("0.13"))]


# --- rules on hand-made files ----------------------------------------------------------------


BILLING_HEADER = (
    "id,company_name,country,city,product_line,item_sold,bill_date,currency,bill_amount\n"
)


@pytest.fixture
def month_files(tmp_path: Path) -> list[Path]:
    """One month exercising every rule; comments give each line's expected fate."""
    billing = write(
        tmp_path / "billing_data_05_2023.csv",
        BILLING_HEADER
        + "1,Alpha,US,Dallas,Dairy,Milk,2023-05-01,USD,100.00\n"  # reported
        + "2,Beta,CA,Toronto,Dairy,Milk,2023/05/02,CAD,0.05\n"  # reported, 0.025 -> 0.03
        + "3,Gamma,MX,Puebla,Dairy,Milk,2023-05-03,MXN,10.00\n"  # no MXN rate
        + "4,Delta,US,Dallas,Dairy,Milk,2023-05-04,USD,10.00\n"  # no units record
        + "5,Eps,US,Dallas,Dairy,Cheese,2023-05-05,USD,10.00\n"  # two units records
        + "6,Zeta,US,Dallas,Dairy,Yak Butter,2023-05-06,USD,10.00\n"  # no production cost
        + "7,Eta,US,Dallas,Dairy,Milk,2023-05-07,USD,-0.05\n"  # reported, credit note
        + "8,Theta,EU,Berlin,Dairy,Milk,2023-05-08,EUR,10.00\n"  # two EUR rates
        + "9,Iota,US,Dallas,Dairy,Milk,2023-06-01,USD,10.00\n"  # June: June has no units file
        + "10,Kappa,US,Dallas,Dairy,Milk,not a date,USD,10.00\n"  # bad date
        + "11,Lambda,US,Dallas,Dairy,Milk,2023-05-11,USD,12.34567\n",  # 5 decimals
    )
    units = write(
        tmp_path / "units_sold_05_2023.csv",
        "company_id,item_type,units_sold\n"
        # Reordered on purpose: matching is on (id, item), never on position.
        + "11,Milk,1\n7,Milk,1\n5,Cheese,1\n5,Cheese,2\n2,Milk,3\n1,Milk,5\n3,Milk,1\n"
        + "6,Yak Butter,1\n8,Milk,1\n9,Milk,1\n10,Milk,1\n4,Cheese,1\n",
    )
    costs = write(
        tmp_path / "production_costs_05_2023.csv",
        "item,cost_per_unit_usd\nMilk,1.005\nCheese,2\n",
    )
    rates = write(
        tmp_path / "fx_rates_05_2023.csv",
        "currency,rate_to_usd,month\nCAD,0.5,2023-05\nEUR,1.1,2023-05\nEUR,1.2,2023-05\n",
    )
    return [billing, units, costs, rates]


def test_rules_decide_reported_and_quarantined_lines(month_files: list[Path]) -> None:
    lines = {line["id"]: line for line in reported_lines(month_files)}
    assert sorted(lines) == [1, 2, 7]
    # 100.00 * 1 = 100.00; 5 * 1.005 = 5.025 -> 5.03 (half-up)
    assert (lines[1]["revenue_usd"], lines[1]["cogs_usd"]) == (Decimal("100.00"), Decimal("5.03"))
    # 0.05 CAD * 0.5 = 0.025 -> 0.03; 3 * 1.005 = 3.015 -> 3.02
    assert (lines[2]["revenue_usd"], lines[2]["cogs_usd"]) == (Decimal("0.03"), Decimal("3.02"))
    # -0.05 * 1 = -0.05; 1.005 -> 1.01
    assert lines[7]["gross_profit_usd"] == Decimal("-1.06")
    totals = reference_totals(month_files)
    may = totals["months"]["2023-05"]
    assert may["lines_in"] == 10  # line 9 is billed in June, line 10 falls back to the file's month
    assert (may["lines_reported"], may["lines_quarantined"]) == (3, 7)
    assert may["units_sold"] == 9
    assert may["gross_profit_usd"] == Decimal("94.97") + Decimal("-2.99") + Decimal("-1.06")
    june = totals["months"]["2023-06"]
    assert (june["lines_in"], june["lines_reported"]) == (1, 0)
    assert totals["total"]["lines_in"] == 11
    assert totals["total"]["lines_in"] == (
        totals["total"]["lines_reported"] + totals["total"]["lines_quarantined"]
    )


def test_messy_export_shapes_are_read(tmp_path: Path) -> None:
    """BOM, CRLF, no final newline and the `item` header alias, as real exports have them."""
    billing = tmp_path / "billing_data_bakery_05_2023.csv"
    billing.write_bytes(
        "\ufeffid,company_name,country,city,product_line,item,bill_date,currency,bill_amount\r\n"
        "1,Panadería Ñandú,MX,Puebla,Bakery,Pan Dulce,2023-05-01,USD,10.00".encode("utf-8")
    )
    units = write(
        tmp_path / "units_sold_05_2023.csv", "company_id,item_type,units_sold\r\n1,Pan Dulce,4"
    )
    costs = write(
        tmp_path / "production_costs_05_2023.csv", "item,cost_per_unit_usd\r\nPan Dulce,1.5"
    )
    lines = reported_lines([billing, units, costs])
    assert [(line["company_name"], line["gross_profit_usd"]) for line in lines] == [
        ("Panadería Ñandú", Decimal("4.00"))
    ]


def test_fx_rows_for_another_month_are_rejected(tmp_path: Path) -> None:
    rates = write(
        tmp_path / "fx_rates_05_2023.csv", "currency,rate_to_usd,month\nCAD,0.5,2023-06\n"
    )
    with pytest.raises(ValueError, match="does not match the file name"):
        reference_totals([rates])


def test_unrecognised_files_are_an_error_not_skipped(tmp_path: Path) -> None:
    stray = write(tmp_path / "invoices_05_2023.csv", "a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a billing, units, cost or fx file"):
        reference_totals([stray])


# --- cross-check with plain Python -----------------------------------------------------------


def half_up(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def name_month(path: Path) -> str:
    match = re.search(r"_(\d{2})_(\d{4})\.csv$", path.name)
    assert match
    return f"{match.group(2)}-{match.group(1)}"


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def python_report(files: list[Path]) -> tuple[dict[str, dict[str, Any]], list[tuple]]:
    """The same rules with csv + decimal, for well-formed (generated) files."""
    units: Counter = Counter()
    units_value: dict = {}
    costs: Counter = Counter()
    cost_value: dict = {}
    rates: Counter = Counter()
    rate_value: dict = {}
    for path in files:
        month = name_month(path)
        if path.name.startswith("units_sold"):
            for row in csv_rows(path):
                key = (month, int(row["company_id"]), row["item_type"])
                units[key] += 1
                units_value[key] = int(row["units_sold"])
        elif path.name.startswith("production_costs"):
            for row in csv_rows(path):
                costs[(month, row["item"])] += 1
                cost_value[(month, row["item"])] = Decimal(row["cost_per_unit_usd"])
        elif path.name.startswith("fx_rates"):
            for row in csv_rows(path):
                rates[(row["month"], row["currency"])] += 1
                rate_value[(row["month"], row["currency"])] = Decimal(row["rate_to_usd"])
    keys = ("lines_in", "lines_reported", "lines_quarantined", "units_sold")
    money_keys = ("revenue_usd", "cogs_usd", "gross_profit_usd")
    months: dict[str, dict[str, Any]] = defaultdict(
        lambda: {**dict.fromkeys(keys, 0), **dict.fromkeys(money_keys, Decimal("0.00"))}
    )
    lines = []
    for path in files:
        if not path.name.startswith("billing_data"):
            continue
        for row in csv_rows(path):
            month = row["bill_date"][:7]
            line_id, item, currency = int(row["id"]), row["item_sold"], row["currency"]
            totals = months[month]
            totals["lines_in"] += 1
            unit_key, cost_key, rate_key = (month, line_id, item), (month, item), (month, currency)
            if (
                units[unit_key] != 1
                or costs[cost_key] != 1
                or (currency != "USD" and rates[rate_key] != 1)
            ):
                totals["lines_quarantined"] += 1
                continue
            rate = Decimal(1) if currency == "USD" else rate_value[rate_key]
            revenue = half_up(Decimal(row["bill_amount"]) * rate)
            cogs = half_up(units_value[unit_key] * cost_value[cost_key])
            totals["lines_reported"] += 1
            totals["units_sold"] += units_value[unit_key]
            totals["revenue_usd"] += revenue
            totals["cogs_usd"] += cogs
            totals["gross_profit_usd"] += revenue - cogs
            lines.append((month, str(path), line_id, revenue, cogs, revenue - cogs))
    return dict(months), sorted(lines)


def test_reference_agrees_with_plain_python_on_generated_data(tmp_path: Path) -> None:
    data = generate(
        tmp_path,
        4000,
        3,
        start_month="2023-12",
        currencies=("USD", "CAD", "MXN", "EUR"),
        unmatched_rate=0.03,
        files_per_month=2,  # ids repeat across the two files of a month
    )
    expected_months, expected_lines = python_report(data.files)
    totals = reference_totals(data.files)
    assert totals["months"] == expected_months
    assert totals["total"]["lines_in"] == 4000
    assert totals["total"]["lines_quarantined"] == data.lines_quarantined > 0
    assert totals["total"]["gross_profit_usd"] == sum(
        (month["gross_profit_usd"] for month in expected_months.values()), Decimal(0)
    )
    fields = ("billing_month", "source_file", "id", "revenue_usd", "cogs_usd", "gross_profit_usd")
    lines = [tuple(line[field] for field in fields) for line in reported_lines(data.files)]
    assert sorted(lines) == expected_lines
    assert {line[3] for line in lines} and all(line[3].as_tuple().exponent == -2 for line in lines)
