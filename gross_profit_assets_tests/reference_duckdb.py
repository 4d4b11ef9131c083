"""An independent reference computation of the gross-profit report, in DuckDB SQL.

Test helper only; the product never imports it. It exists so the Spark platform's numbers are
checked against a second implementation that shares none of its code: different engine,
different CSV reader, written from the rules below rather than from the platform's
transforms. If both agree to the cent on millions of lines, neither is likely to be wrong.

Rules (from DESIGN.md and the contract's reason list):

- Files are recognised by name: ``billing_data*``, ``units_sold*``, ``production_costs*``,
  ``fx_rates*``; any other file is an error. Units, cost and fx files apply to the month in
  their name (``_MM_YYYY``); an fx row whose ``month`` column disagrees with its file name is
  an error in the test data.
- A bill line's billing month is the month of its ``bill_date``.
- A bill line is reported iff its values parse (id a whole number, bill_date a date written
  ``YYYY-MM-DD`` or ``YYYY/MM/DD``, bill_amount a plain decimal with at most 4 decimals,
  currency three capital letters, no empty value), its (id, item_sold) has not already appeared earlier in its
  file, it has exactly one units record on (id = company_id, item_sold = item_type) in its
  month with a non-negative whole units_sold, exactly one parseable production cost for its
  item in its month, and, unless it is in USD, exactly one parseable fx rate for
  (currency, month). Everything else is quarantined.
- ``revenue_usd = round_half_up(bill_amount * rate_to_usd, 2)``,
  ``cogs_usd = round_half_up(units_sold * cost_per_unit_usd, 2)``,
  ``gross_profit_usd = revenue_usd - cogs_usd``, all in DECIMAL. DuckDB's ROUND on DECIMAL
  rounds half away from zero (pinned by a test), which is half-up for both signs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

CENT = Decimal("0.01")
FILE_MONTH = re.compile(r"_(\d{2})_(\d{4})\.csv$", re.IGNORECASE)

# Table -> (file name prefix, columns in the seed's order).
TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "billing": (
        "billing_data",
        ("id", "company_name", "country", "city", "product_line", "item_sold", "bill_date",
         "currency", "bill_amount"),
    ),
    "units_sold": ("units_sold", ("company_id", "item_type", "units_sold")),
    "production_costs": ("production_costs", ("item", "cost_per_unit_usd")),
    "fx_rates": ("fx_rates", ("currency", "rate_to_usd", "month")),
}
# Header spellings real exports use for a column, besides its own name.
HEADER_ALIASES = {"billing": {"item": "item_sold"}}

TOTAL_KEYS = (
    "lines_in",
    "lines_reported",
    "lines_quarantined",
    "units_sold",
    "revenue_usd",
    "cogs_usd",
    "gross_profit_usd",
)
MONEY_KEYS = ("revenue_usd", "cogs_usd", "gross_profit_usd")

PLAIN_DECIMAL = r"[+-]?[0-9]+(\.[0-9]+)?"
AMOUNT_DECIMAL = r"[+-]?[0-9]+(\.[0-9]{1,4})?"
WHOLE_NUMBER = r"[+-]?[0-9]+"
NON_NEGATIVE_WHOLE = r"\+?[0-9]+"

# Parsed bill lines with the facts needed to decide reported vs quarantined.
CLASSIFIED_LINES_SQL = f"""
WITH bills AS (
    SELECT
        source_file,
        file_month,
        line_number,
        CASE WHEN regexp_full_match(trim(id), '{WHOLE_NUMBER}')
             THEN TRY_CAST(trim(id) AS BIGINT) END AS id,
        trim(company_name) AS company_name,
        trim(country) AS country,
        trim(city) AS city,
        trim(product_line) AS product_line,
        trim(item_sold) AS item_sold,
        CASE WHEN regexp_full_match(trim(bill_date), '[0-9]{{4}}[-/][0-9]{{2}}[-/][0-9]{{2}}')
             THEN TRY_CAST(replace(trim(bill_date), '/', '-') AS DATE) END AS bill_date,
        trim(currency) AS currency,
        trim(bill_amount) AS bill_amount_text,
        CASE WHEN regexp_full_match(trim(bill_amount), '{AMOUNT_DECIMAL}')
             THEN CAST(trim(bill_amount) AS DECIMAL(38, 10)) END AS bill_amount
    FROM raw_billing
),
bills_with_month AS (
    SELECT
        b.*,
        coalesce(strftime(b.bill_date, '%Y-%m'), b.file_month, 'unknown') AS billing_month,
        -- A repeated (id, item_sold) in one file: the first occurrence counts, repeats don't.
        b.id IS NULL OR row_number() OVER (
            PARTITION BY b.source_file, b.id, b.item_sold ORDER BY b.line_number
        ) = 1 AS unique_in_file
    FROM bills AS b
),
units AS (
    SELECT
        file_month AS month,
        CASE WHEN regexp_full_match(trim(company_id), '{WHOLE_NUMBER}')
             THEN TRY_CAST(trim(company_id) AS BIGINT) END AS id,
        trim(item_type) AS item,
        count(*) AS records,
        min(CASE WHEN regexp_full_match(trim(units_sold), '{NON_NEGATIVE_WHOLE}')
                 THEN TRY_CAST(trim(units_sold) AS BIGINT) END) AS units_sold,
        bool_and(regexp_full_match(trim(units_sold), '{NON_NEGATIVE_WHOLE}')) AS units_valid
    FROM raw_units_sold
    GROUP BY ALL
),
costs AS (
    SELECT
        file_month AS month,
        trim(item) AS item,
        count(*) AS records,
        min(CASE WHEN regexp_full_match(trim(cost_per_unit_usd), '{PLAIN_DECIMAL}')
                 THEN CAST(trim(cost_per_unit_usd) AS DECIMAL(38, 10)) END) AS cost_per_unit_usd,
        min(trim(cost_per_unit_usd)) AS cost_text
    FROM raw_production_costs
    GROUP BY ALL
),
rates AS (
    SELECT
        file_month AS month,
        trim(currency) AS currency,
        count(*) AS records,
        min(CASE WHEN regexp_full_match(trim(rate_to_usd), '{PLAIN_DECIMAL}')
                 THEN CAST(trim(rate_to_usd) AS DECIMAL(38, 10)) END) AS rate_to_usd
    FROM raw_fx_rates
    GROUP BY ALL
),
joined AS (
    SELECT
        b.*,
        u.records AS units_records,
        u.units_sold,
        u.units_valid,
        c.records AS cost_records,
        c.cost_per_unit_usd,
        c.cost_text,
        r.records AS rate_records,
        CASE WHEN b.currency = 'USD' THEN CAST(1 AS DECIMAL(38, 10)) ELSE r.rate_to_usd END
            AS rate_to_usd
    FROM bills_with_month AS b
    LEFT JOIN units AS u
        ON u.month = b.billing_month AND u.id = b.id AND u.item = b.item_sold
    LEFT JOIN costs AS c
        ON c.month = b.billing_month AND c.item = b.item_sold
    LEFT JOIN rates AS r
        ON r.month = b.billing_month AND r.currency = b.currency
)
SELECT
    *,
    (
        id IS NOT NULL
        AND bill_date IS NOT NULL
        AND bill_amount IS NOT NULL
        AND coalesce(company_name, '') <> ''
        AND coalesce(country, '') <> ''
        AND coalesce(city, '') <> ''
        AND coalesce(product_line, '') <> ''
        AND coalesce(item_sold, '') <> ''
        AND regexp_full_match(coalesce(currency, ''), '[A-Z]{{3}}')
        AND unique_in_file
        AND units_records = 1 AND units_valid AND units_sold IS NOT NULL
        AND cost_records = 1 AND cost_per_unit_usd IS NOT NULL
        AND (currency = 'USD' OR (rate_records = 1 AND rate_to_usd IS NOT NULL))
    ) IS TRUE AS reported
FROM joined
"""

REPORTED_LINES_SQL = """
SELECT
    *,
    CAST(ROUND(bill_amount * rate_to_usd, 2) AS DECIMAL(38, 2)) AS revenue_usd,
    CAST(ROUND(CAST(units_sold AS DECIMAL(38, 0)) * cost_per_unit_usd, 2) AS DECIMAL(38, 2))
        AS cogs_usd
FROM classified_lines
WHERE reported
"""

MONTH_TOTALS_SQL = """
SELECT
    c.billing_month,
    count(*) AS lines_in,
    count(*) FILTER (WHERE c.reported) AS lines_reported,
    count(*) FILTER (WHERE NOT c.reported) AS lines_quarantined,
    coalesce(sum(c.units_sold) FILTER (WHERE c.reported), 0) AS units_sold
FROM classified_lines AS c
GROUP BY c.billing_month
"""

MONTH_MONEY_SQL = """
SELECT
    billing_month,
    coalesce(sum(revenue_usd), 0) AS revenue_usd,
    coalesce(sum(cogs_usd), 0) AS cogs_usd,
    coalesce(sum(revenue_usd - cogs_usd), 0) AS gross_profit_usd
FROM reported_lines
GROUP BY billing_month
"""


def sql_string(text: str) -> str:
    """A SQL string literal (paths may contain quotes)."""
    return "'" + text.replace("'", "''") + "'"


def file_month(path: Path) -> str | None:
    """YYYY-MM from a name ending ``_MM_YYYY.csv``, or None."""
    match = FILE_MONTH.search(path.name)
    return f"{match.group(2)}-{match.group(1)}" if match else None


def table_of(path: Path) -> str | None:
    """Which input table a file holds, by its name, as the seed names them."""
    name = path.name.lower()
    for table, (prefix, _) in TABLES.items():
        if name.startswith(prefix):
            return table
    return None


def normalize_header(cell: str) -> str:
    return re.sub(r"[\s\-]+", "_", cell.replace("\ufeff", "").strip().strip('"').strip().lower())


def read_csv_sql(path: Path) -> str:
    return (
        f"read_csv({sql_string(str(path))}, all_varchar = true, header = true, "
        "delim = ',', quote = '\"', escape = '\"')"
    )


def file_select(con: duckdb.DuckDBPyConnection, table: str, path: Path) -> str:
    """SELECT one file's rows as the table's columns (all VARCHAR) plus its lineage."""
    columns = TABLES[table][1]
    aliases = HEADER_ALIASES.get(table, {})
    header = con.sql(f"SELECT * FROM {read_csv_sql(path)} LIMIT 0").columns
    found: dict[str, str] = {}
    for cell in header:
        name = normalize_header(cell)
        name = aliases.get(name, name)
        if name in columns and name not in found:
            found[name] = cell
    select = [
        f'"{found[col].replace(chr(34), chr(34) * 2)}" AS {col}' if col in found
        else f"CAST(NULL AS VARCHAR) AS {col}"
        for col in columns
    ]
    month = file_month(path)
    select.append(f"{sql_string(str(path))} AS source_file")
    select.append(f"{sql_string(month) if month else 'CAST(NULL AS VARCHAR)'} AS file_month")
    # DuckDB keeps a single file's rows in file order (preserve_insertion_order); line 1 is the header.
    select.append("row_number() OVER () + 1 AS line_number")
    return f"SELECT {', '.join(select)} FROM {read_csv_sql(path)}"


def empty_select(table: str) -> str:
    columns = [f"CAST(NULL AS VARCHAR) AS {col}" for col in TABLES[table][1]]
    columns += ["CAST(NULL AS VARCHAR) AS source_file", "CAST(NULL AS VARCHAR) AS file_month",
                "CAST(NULL AS BIGINT) AS line_number"]
    return f"SELECT {', '.join(columns)} WHERE false"


def check_fx_months(con: duckdb.DuckDBPyConnection) -> None:
    """An fx file must only hold rates for the month in its name; anything else is bad data."""
    wrong = con.sql(
        "SELECT source_file, trim(month) FROM raw_fx_rates "
        "WHERE file_month IS NOT NULL AND trim(month) IS DISTINCT FROM file_month LIMIT 1"
    ).fetchall()
    if wrong:
        path, month = wrong[0]
        raise ValueError(f"{path}: fx month {month!r} does not match the file name")


def load(files: Iterable[Path | str]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a raw_<table> view per input table (the CSVs are read once,
    by the classification) and the classified bill lines materialised."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    by_table: dict[str, list[Path]] = {table: [] for table in TABLES}
    for file in sorted(Path(f) for f in files):
        table = table_of(file)
        if table is None:
            # A silently skipped file would make a wrong total look right.
            raise ValueError(f"{file}: not a billing, units, cost or fx file by its name")
        by_table[table].append(file)
    for table, paths in by_table.items():
        selects = [file_select(con, table, path) for path in paths] or [empty_select(table)]
        con.execute(f"CREATE TEMP VIEW raw_{table} AS " + " UNION ALL ".join(selects))
    check_fx_months(con)
    con.execute(f"CREATE TEMP TABLE classified_lines AS {CLASSIFIED_LINES_SQL}")
    con.execute(f"CREATE TEMP VIEW reported_lines AS {REPORTED_LINES_SQL}")
    return con


def money(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(CENT)


def month_totals(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    months: dict[str, dict[str, Any]] = {}
    for month, lines_in, reported, quarantined, units in con.sql(MONTH_TOTALS_SQL).fetchall():
        months[month] = {
            "lines_in": int(lines_in),
            "lines_reported": int(reported),
            "lines_quarantined": int(quarantined),
            "units_sold": int(units),
            "revenue_usd": money(0),
            "cogs_usd": money(0),
            "gross_profit_usd": money(0),
        }
    for month, revenue, cogs, profit in con.sql(MONTH_MONEY_SQL).fetchall():
        months[month].update(
            revenue_usd=money(revenue), cogs_usd=money(cogs), gross_profit_usd=money(profit)
        )
    return dict(sorted(months.items()))


def sum_totals(months: Iterable[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {key: 0 for key in TOTAL_KEYS}
    total.update({key: money(0) for key in MONEY_KEYS})
    for month in months:
        for key in TOTAL_KEYS:
            total[key] += month[key]
    return total


def reference_totals(files: Sequence[Path | str]) -> dict[str, Any]:
    """Per billing month and overall: lines in/reported/quarantined, units, revenue, COGS and
    gross profit in USD (exact ``Decimal`` to the cent)."""
    con = load(files)
    try:
        months = month_totals(con)
    finally:
        con.close()
    return {"months": months, "total": sum_totals(months.values())}


def reported_lines(files: Sequence[Path | str]) -> list[dict[str, Any]]:
    """Every reported line with its report values, ordered by month, source file and id."""
    con = load(files)
    try:
        result = con.sql(
            """
            SELECT id, company_name, item_sold, units_sold, cost_text AS cost_per_unit_usd,
                   bill_amount_text AS bill_amount, revenue_usd - cogs_usd AS gross_profit_usd,
                   billing_month, currency, revenue_usd, cogs_usd, source_file
            FROM reported_lines
            ORDER BY billing_month, source_file, id, item_sold
            """
        )
        names = result.columns
        rows = result.fetchall()
    finally:
        con.close()
    lines = [dict(zip(names, row)) for row in rows]
    for line in lines:
        # Amounts as written in the files (2.5, 3525.00), not widened to DECIMAL(38,10).
        line["cost_per_unit_usd"] = Decimal(line["cost_per_unit_usd"])
        line["bill_amount"] = Decimal(line["bill_amount"])
    return lines


def assert_report_equals_reference(
    published: Sequence[dict[str, str]], files: Sequence[Path | str], landed_name: dict[str, str] | None = None
) -> None:
    """Every row of a published report CSV (``csv.DictReader`` rows) is the reference's line, and
    no line is missing or extra. ``landed_name`` maps a reference file name to the name the file
    was landed under, where ``ingest`` renamed it (an export split by month keeps its own name)."""
    expected = reported_lines(files)
    assert len(published) == len(expected)
    got = {(r["billing_month"], Path(r["source_file"]).name, r["id"], r["item_sold"]): r for r in published}
    for line in expected:
        name = Path(line["source_file"]).name
        row = got[(line["billing_month"], (landed_name or {}).get(name, name), str(line["id"]), line["item_sold"])]
        assert Decimal(row["revenue_usd"]) == line["revenue_usd"]
        assert Decimal(row["cogs_usd"]) == line["cogs_usd"]
        assert Decimal(row["gross_profit"]) == line["gross_profit_usd"]
        assert (row["currency"], int(row["units_sold"])) == (line["currency"], line["units_sold"])
