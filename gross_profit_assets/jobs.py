"""The jobs users and the CLI run: one billing month end to end, then the all-months summary."""

import dagster as dg

from gross_profit_assets.assets.keys import GROSS_PROFIT_SUMMARY

MONTH_JOB = "gross_profit_month"
SUMMARY_JOB = "gross_profit_summary_job"

gross_profit_month = dg.define_asset_job(
    MONTH_JOB,
    # The data stages only: a deployment's governance set-up (on AWS the Lake Formation policy,
    # tagged stage=governance) is reconciled on its own, not once per month.
    selection=dg.AssetSelection.all()
    - dg.AssetSelection.assets(GROSS_PROFIT_SUMMARY)
    - dg.AssetSelection.tag("stage", "governance"),
    description="Land -> crawl -> govern -> report for one billing month, with every check.",
)

gross_profit_summary_job = dg.define_asset_job(
    SUMMARY_JOB,
    selection=dg.AssetSelection.assets(GROSS_PROFIT_SUMMARY),
    description="Summaries, the all-months CSV and the HTML report over every reported month.",
)
