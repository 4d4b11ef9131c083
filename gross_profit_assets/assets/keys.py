"""Asset keys, named as finance and AWS people say them."""

import dagster as dg

from gross_profit_assets.contract import INPUT_TABLES


def landed_key(table: str) -> dg.AssetKey:
    """The files of one input table in the landing bucket."""
    return dg.AssetKey(f"landed_{table}_files")


def cataloged_key(table: str) -> dg.AssetKey:
    """The Glue Data Catalog table of one input table."""
    return dg.AssetKey(f"{table}_glue_table")


GOVERNED_BILLING_LINES = dg.AssetKey("governed_billing_lines")
QUARANTINED_BILLING_LINES = dg.AssetKey("quarantined_billing_lines")
GROSS_PROFIT_REPORT = dg.AssetKey("gross_profit_report")
GROSS_PROFIT_MONTH_SUMS = dg.AssetKey("gross_profit_month_sums")
GROSS_PROFIT_SUMMARY = dg.AssetKey("gross_profit_summary")

LANDED_KEYS = [landed_key(t) for t in INPUT_TABLES]
CATALOGED_KEYS = [cataloged_key(t) for t in INPUT_TABLES]

# Who answers for these assets, and the tags the UI filters on.
OWNERS = ["team:finance-data-platform"]


def stage_tags(stage: str) -> dict[str, str]:
    return {"stage": stage, "domain": "finance"}


def stage_out(stage: str, description: str, kinds: set[str]) -> dg.AssetOut:
    """One output of a step that writes several assets of ``stage`` (its group, owners, tags)."""
    return dg.AssetOut(description=description, group_name=stage, kinds=kinds, owners=OWNERS, tags=stage_tags(stage))
