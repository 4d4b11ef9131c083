"""The jobs users and the CLI run: one billing month end to end, then the all-months summary."""

import dagster as dg

from gross_profit_assets.assets.keys import GROSS_PROFIT_SUMMARY

MONTH_JOB = "gross_profit_month"
SUMMARY_JOB = "gross_profit_summary_job"

gross_profit_month = dg.define_asset_job(
    MONTH_JOB,
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(GROSS_PROFIT_SUMMARY),
    description="Land -> crawl -> govern -> report for one billing month, with every check.",
)

gross_profit_summary_job = dg.define_asset_job(
    SUMMARY_JOB,
    selection=dg.AssetSelection.assets(GROSS_PROFIT_SUMMARY),
    description="Summaries, the all-months CSV and the HTML report over every reported month.",
)
