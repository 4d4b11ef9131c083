"""(c) The same report in hand-written DuckDB SQL, for comparison.

    python benchmarks/duckdb_sql.py DATA_DIR OUT_DIR [--staged]

The same work as ``bare_spark.py`` (joins, FX conversion, decimals rounded half-up per line,
per-line Parquet and CSV, per-company summary), as a person fluent in DuckDB would write it.
``--staged`` (lane f) adds what the design itself adds, as ``bare_spark.py --staged`` does:
the priced lines written as a governed Parquet table (a folder per billing month), and the
report computed from that table read back.

The last stdout line is JSON: lines in, lines reported, revenue, COGS and gross profit.
"""

import json
import sys
import time
from pathlib import Path

import duckdb


def main(data: str, out: str, staged: bool = False) -> dict:
    Path(out).mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    month = r"regexp_extract(filename, '_(\d{2})_(\d{4})\.csv$', 2) || '-' || regexp_extract(filename, '_(\d{2})_(\d{4})\.csv$', 1)"
    con.execute(f"""
        CREATE TEMP VIEW billing AS
        SELECT *, substr(bill_date, 1, 7) AS billing_month, parse_filename(filename) AS source_file
        FROM read_csv('{data}/billing_data_*.csv', header = true, filename = true, columns = {{
            'id': 'BIGINT', 'company_name': 'VARCHAR', 'country': 'VARCHAR', 'city': 'VARCHAR',
            'product_line': 'VARCHAR', 'item_sold': 'VARCHAR', 'bill_date': 'VARCHAR',
            'currency': 'VARCHAR', 'bill_amount': 'DECIMAL(18,4)'}});
        CREATE TEMP VIEW units AS
        SELECT {month} AS billing_month, company_id AS id, item_type AS item_sold, units_sold
        FROM read_csv('{data}/units_sold_*.csv', header = true, filename = true, columns = {{
            'company_id': 'BIGINT', 'item_type': 'VARCHAR', 'units_sold': 'BIGINT'}});
        CREATE TEMP VIEW costs AS
        SELECT {month} AS billing_month, item AS item_sold, cost_per_unit_usd
        FROM read_csv('{data}/production_costs_*.csv', header = true, filename = true, columns = {{
            'item': 'VARCHAR', 'cost_per_unit_usd': 'DECIMAL(18,6)'}});
        CREATE TEMP VIEW fx AS
        SELECT month AS billing_month, currency, rate_to_usd
        FROM read_csv('{data}/fx_rates_*.csv', header = true, columns = {{
            'currency': 'VARCHAR', 'rate_to_usd': 'DECIMAL(20,10)', 'month': 'VARCHAR'}});
        CREATE TEMP VIEW priced_lines AS
        WITH priced AS (
            SELECT b.*, u.units_sold, c.cost_per_unit_usd,
                   CASE WHEN b.currency = 'USD' THEN 1::DECIMAL(20,10) ELSE f.rate_to_usd END AS rate_to_usd
            FROM billing b
            JOIN units u USING (billing_month, id, item_sold)
            JOIN costs c USING (billing_month, item_sold)
            LEFT JOIN fx f USING (billing_month, currency)
        ), money AS (
            SELECT *, round(bill_amount * rate_to_usd, 2)::DECIMAL(20,2) AS revenue_usd,
                      round(units_sold::DECIMAL(20,0) * cost_per_unit_usd, 2)::DECIMAL(20,2) AS cogs_usd
            FROM priced WHERE rate_to_usd IS NOT NULL
        )
        SELECT * FROM money;
    """)
    priced = "priced_lines"
    if staged:
        con.execute(f"COPY priced_lines TO '{out}/governed_parquet' (FORMAT parquet, PARTITION_BY (billing_month), OVERWRITE_OR_IGNORE)")
        priced = f"read_parquet('{out}/governed_parquet/**/*.parquet', hive_partitioning = true, hive_types_autocast = false)"
    con.execute(f"""
        CREATE TEMP TABLE report AS
        SELECT id, company_name, item_sold, units_sold, cost_per_unit_usd, bill_amount,
               (revenue_usd - cogs_usd)::DECIMAL(20,2) AS gross_profit, billing_month, currency,
               revenue_usd, cogs_usd, country, product_line, source_file
        FROM {priced};
    """)
    con.execute(f"COPY report TO '{out}/report_parquet' (FORMAT parquet, PARTITION_BY (billing_month), OVERWRITE_OR_IGNORE)")
    con.execute(f"COPY report TO '{out}/report.csv' (HEADER)")
    con.execute(f"""
        COPY (SELECT company_name, count(*) AS lines, sum(units_sold) AS units_sold,
                     sum(revenue_usd) AS revenue_usd, sum(cogs_usd) AS cogs_usd,
                     sum(gross_profit) AS gross_profit_usd,
                     round(sum(gross_profit) / sum(revenue_usd), 6) AS gross_margin
              FROM report GROUP BY company_name ORDER BY company_name)
        TO '{out}/summary_by_company.csv' (HEADER)
    """)
    reported, revenue, cogs, profit = con.execute(
        "SELECT count(*), sum(revenue_usd), sum(cogs_usd), sum(gross_profit) FROM report"
    ).fetchone()
    (lines_in,) = con.execute("SELECT count(*) FROM billing").fetchone()
    return {
        "lines_in": lines_in,
        "lines_reported": reported,
        "lines_quarantined": lines_in - reported,
        "revenue_usd": str(revenue),
        "cogs_usd": str(cogs),
        "gross_profit_usd": str(profit),
    }


if __name__ == "__main__":
    started = time.monotonic()
    result = main(sys.argv[1], sys.argv[2], staged="--staged" in sys.argv[3:])
    result["seconds"] = round(time.monotonic() - started, 3)
    print(json.dumps(result))
