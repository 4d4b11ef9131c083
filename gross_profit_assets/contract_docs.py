"""Renders docs/data-contract.md from the contract module, so the docs cannot drift from it.

    python -m gross_profit_assets.contract_docs > docs/data-contract.md

A test compares the committed file with this output.
"""

from __future__ import annotations

from gross_profit_assets import contract as c

RULES = f"""\
## Rules

- **Billing month** = the month of `bill_date` ({c.MONTH_FORMAT}); it is the partition key
  `{c.PARTITION_KEY}`. A billing export spanning several months is split by `ingest` into one
  object per month. Units and production costs carry no date: they belong to the month they
  landed in (`--month`, or the file name).
- **Dates**: `bill_date` is ISO `YYYY-MM-DD`; `YYYY/MM/DD` (year first, so unambiguous) is read as
  the same date. Any other shape, such as `11/07/2023`, is `invalid_bill_date`: day-first and
  month-first dates cannot be told apart, so they are never guessed.
- **Credit notes**: a negative `bill_amount` is a credit note. It is reported, with negative
  revenue and its own COGS. Negative `units_sold` is quarantined (`negative_units_sold`).
- **Matching** is exact after trimming spaces: (`id`, `item_sold`) to units (`company_id`,
  `item_type`) in the same billing month; `item_sold` to production costs' `item`; (`currency`,
  month) to FX rates. `{c.BASE_CURRENCY}` needs no FX row (rate 1). Currency codes are upper-cased.
- **Money**: `revenue_usd = bill_amount × rate_to_usd` and `cogs_usd = units_sold ×
  cost_per_unit_usd`, each rounded half-up to the cent per line; `gross_profit = revenue_usd −
  cogs_usd`; `gross_margin = gross_profit / revenue_usd` (rounded half-up to 6 places, empty when
  revenue is 0). Summaries take the margin from sums. Decimal shapes: bill_amount
  DECIMAL{c.AMOUNT_DECIMAL}, cost DECIMAL{c.UNIT_COST_DECIMAL}, rate DECIMAL{c.FX_RATE_DECIMAL},
  USD amounts DECIMAL{c.USD_DECIMAL}, margin DECIMAL{c.MARGIN_DECIMAL}.
- **Duplicates**: the second and later occurrences of the same (`id`, `item_sold`) in one source
  file are quarantined as `duplicate_line`; the first is reported. Ids may repeat across files.
- **Nothing is lost**: every bill line is either in `governed_billing_lines` (and the report) or in
  `quarantined_billing_lines`, with its source file, line number, raw text and every reason that
  applies. The blocking check `every_line_accounted_for` enforces it on every run.
"""


def render() -> str:
    out = [
        "# Data contract",
        "",
        "Generated from `gross_profit_assets/contract.py` by "
        "`python -m gross_profit_assets.contract_docs`; do not edit by hand.",
        "",
        f"Landing bucket `{c.LANDING_BUCKET}`, one prefix per table, Hive-style "
        f"`{c.PARTITION_KEY}=YYYY-MM` partitions; Glue database `{c.GLUE_DATABASE}`.",
        "",
        "## Input tables",
    ]
    for table in c.INPUT_TABLES.values():
        out += ["", f"### `{table.name}`", "", table.description, ""]
        out += ["| column | type | aliases | catalog types accepted | meaning |", "|---|---|---|---|---|"]
        for col in table.columns:
            kind = f"decimal{col.decimal}" if col.decimal else col.kind
            aliases = ", ".join(f"`{a}`" for a in col.aliases) or ""
            out.append(
                f"| `{col.name}` | {kind} | {aliases} | {', '.join(col.catalog_types)} | {col.description} |"
            )
    out += ["", "## Report columns", "", "| column | meaning |", "|---|---|"]
    out += [f"| `{name}` | {c.column_description(name)} |" for name in c.REPORT_COLUMNS]
    out += [""]
    out += ["## Quarantine reason codes", "", "| code | meaning |", "|---|---|"]
    out += [f"| `{r.code}` | {r.message} |" for r in c.REASONS.values()]
    out += ["", RULES]
    return "\n".join(out)


if __name__ == "__main__":
    print(render(), end="")
