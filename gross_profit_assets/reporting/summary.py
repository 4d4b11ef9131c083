"""Turns collected report rows into the plain values people and the UI see (no Spark here)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import dagster as dg

TOTAL_FIELDS = ("lines", "units_sold", "revenue_usd", "cogs_usd", "gross_profit_usd", "gross_margin")
MONEY_FIELDS = ("revenue_usd", "cogs_usd", "gross_profit_usd")


def exact_text(value: Any) -> str:
    """Decimals as their exact plain text; None as an empty cell."""
    if value is None:
        return ""
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def totals_metadata(totals: Mapping[str, Any]) -> dict[str, dg.MetadataValue]:
    """Totals as numbers (so the UI plots them across materializations) plus the exact text."""
    metadata: dict[str, dg.MetadataValue] = {
        "lines_reported": dg.MetadataValue.int(int(totals["lines"] or 0)),
        "units_sold": dg.MetadataValue.int(int(totals["units_sold"] or 0)),
        "gross_margin": dg.MetadataValue.float(float(totals["gross_margin"] or 0)),
    }
    for name in MONEY_FIELDS:
        metadata[name] = dg.MetadataValue.float(float(totals[name] or 0))
    metadata["totals_exact"] = dg.MetadataValue.json({k: exact_text(totals[k]) for k in TOTAL_FIELDS})
    return metadata


def markdown_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A small Markdown table; pipes in values are escaped so a name cannot break the layout."""
    def cell(value: Any) -> str:
        return exact_text(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines)
