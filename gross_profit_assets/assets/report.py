"""Stage 4, report: the per-line gross-profit report per month, and the summary of all months."""


from datetime import datetime, timezone

import dagster as dg

from gross_profit_assets.assets.keys import (
    GOVERNED_BILLING_LINES,
    GROSS_PROFIT_MONTH_SUMS,
    GROSS_PROFIT_REPORT,
    GROSS_PROFIT_SUMMARY,
    OWNERS,
    stage_out,
    stage_tags,
)
from gross_profit_assets.assets.partitions import billing_months, month_backfill_policy
from gross_profit_assets.checks import OUTLIERS, SUMMARIES_RECONCILE, TOTALS_RECONCILE, WARN, result, spec
from gross_profit_assets.contract import (
    PARTITION_KEY,
    REASONS,
    REPORT_COLUMNS,
    SEED_REPORT_COLUMNS,
    SOURCE_FILE,
    SUMMARY_COLUMNS,
)
from gross_profit_assets.engine import DataFrame, F, materialize, sorted_by_group, unpersist
from gross_profit_assets.reporting.html import ReportPage, render_report_html
from gross_profit_assets.reporting.summary import markdown_table, totals_metadata
from gross_profit_assets.resources.report_publisher import ReportPublisher
from gross_profit_assets.resources.step_launcher import SparkStepLauncher
from gross_profit_assets.transforms.report import (
    REPORT_ORDER,
    month_sums,
    report_lines,
    rolled_up,
    source_files,
    summarize,
    summary_by,
)
from gross_profit_assets.transforms.quality import (
    OUTLIER_IQR_FACTOR,
    outlier_lines,
    quarantine_counts,
    reason_tally,
    summary_discrepancies,
)

PREVIEW_LINES = 10
REPORT_CSV = "gross_profit_report.csv"
REPORT_HTML = "gross_profit_report.html"


def _rows(frame: DataFrame) -> list[dict]:
    return [row.asDict() for row in frame.collect()]


def month_report_csv(month: str) -> str:
    return f"{PARTITION_KEY}={month}/{REPORT_CSV}"


RECONCILED_FIELDS = ("lines", "revenue_usd", "cogs_usd", "gross_profit_usd")


def governed_sums(governed: DataFrame) -> dict[str, dict]:
    """Lines and money of the governed lines, per month."""
    rows = governed.groupBy(PARTITION_KEY).agg(
        F.count(F.lit(1)).alias("lines"),
        F.sum("revenue_usd").alias("revenue_usd"),
        F.sum("cogs_usd").alias("cogs_usd"),
        F.sum("gross_profit_usd").alias("gross_profit_usd"),
    ).collect()
    return {r[PARTITION_KEY]: r.asDict() for r in rows}


def reconciliation(totals: dict[str, dict], governed: dict[str, dict]) -> dg.AssetCheckResult:
    """Each month of the report adds up to its governed lines, to the cent, and its margin is
    from sums. ``totals`` and ``governed`` hold each month's sums; a month without lines may be
    missing from either."""
    months = sorted(set(totals) | set(governed))
    mismatched = {
        m: [f for f in RECONCILED_FIELDS if (totals.get(m, {}).get(f) or 0) != (governed.get(m, {}).get(f) or 0)]
        for m in months
    }
    mismatched = {m: fields for m, fields in mismatched.items() if fields}
    passed = not mismatched
    summed = {
        side: {f: sum((sums.get(m, {}).get(f) or 0) for m in months) for f in RECONCILED_FIELDS}
        for side, sums in (("report", totals), ("governed", governed))
    }
    return result(
        TOTALS_RECONCILE,
        GROSS_PROFIT_REPORT,
        passed,
        "report totals equal the governed lines' totals to the cent"
        + (f", in each of {len(months)} months" if len(months) > 1 else "")
        if passed
        else "report and governed lines disagree: "
        + "; ".join(f"{m} on {fields}" for m, fields in mismatched.items()),
        # Numbers, so the check's page plots them across runs.
        metadata={f"{side}_{f}": float(v) for side, sums in summed.items() for f, v in sums.items()},
    )


def outlier_result(report: DataFrame) -> dg.AssetCheckResult:
    """A warning, not a failure: a huge amount may be real, but a person should look."""
    outliers = _rows(outlier_lines(report).orderBy(F.desc("revenue_usd")).limit(20))
    return result(
        OUTLIERS,
        GROSS_PROFIT_REPORT,
        passed=not outliers,
        severity=WARN,
        description=f"no line above Q3 + {OUTLIER_IQR_FACTOR} x IQR of its month's revenue"
        if not outliers
        else f"{len(outliers)} line(s) far above the month's amounts: "
        + "; ".join(f"{r['source_file']} line {r['line_number']} ({r['company_name']}): {r['revenue_usd']} USD"
                    for r in outliers),
        metadata={"lines": dg.MetadataValue.md(markdown_table(outliers, ["source_file", "line_number", "company_name", "revenue_usd", "threshold_usd"]))},
    )


def _governed_column(name: str) -> dg.TableColumnDep:
    return dg.TableColumnDep(asset_key=GOVERNED_BILLING_LINES, column_name=name)


# How the report's computed columns derive from the governed lines (shown in the UI).
REPORT_COLUMN_LINEAGE = dg.TableColumnLineage(
    deps_by_column={
        "gross_profit": [_governed_column(c) for c in ("bill_amount", "units_sold", "cost_per_unit_usd", "rate_to_usd")],
        "revenue_usd": [_governed_column(c) for c in ("bill_amount", "rate_to_usd")],
        "cogs_usd": [_governed_column(c) for c in ("units_sold", "cost_per_unit_usd")],
        "gross_margin": [_governed_column(c) for c in ("bill_amount", "units_sold", "cost_per_unit_usd", "rate_to_usd")],
        **{c: [_governed_column(c)] for c in ("id", "company_name", "item_sold", "units_sold", "cost_per_unit_usd",
                                              "bill_amount", "currency", "country", "product_line", "source_file",
                                              "line_number", PARTITION_KEY)},
    }
)
SUMMARY_TABLE_COLUMNS = ["key", "lines", "units_sold", "revenue_usd", "cogs_usd", "gross_profit_usd", "gross_margin"]


def quarantine_metadata(counts: dict) -> dict:
    """A month's quarantine in the report's metadata, from its row of ``quarantine_counts``."""
    reasons = reason_tally(counts)
    return {
        "lines_quarantined": dg.MetadataValue.int(int(counts.get("lines") or 0)),
        "quarantine_reasons": dg.MetadataValue.md(
            markdown_table(
                [{"reason": code, "lines": n, "meaning": REASONS[code].message} for code, n in reasons],
                ["reason", "lines", "meaning"],
            )
            if reasons
            else "No line quarantined this month."
        ),
    }


@dg.multi_asset(
    outs={
        GROSS_PROFIT_REPORT.path[-1]: stage_out(
            "report",
            "Gross profit per bill line for the billing month: the seed's columns "
            "(id, company_name, item_sold, units_sold, cost_per_unit_usd, bill_amount, gross_profit) "
            "then billing_month, currency, revenue_usd, cogs_usd, gross_margin, country, product_line, "
            "source_file, line_number. The month's quarantine is read for its count and reasons.",
            {"spark", "parquet", "csv"},
        ),
        GROSS_PROFIT_MONTH_SUMS.path[-1]: stage_out(
            "report",
            "The month's report lines summed by month (its total), company, item, product "
            "line, country and source file, a row per (dimension, key): lines, units, revenue, COGS "
            "and gross profit. The all-months summary adds these up, so a new month costs its own "
            "lines and a few rows per company and item, not every month's lines again.",
            {"spark", "parquet"},
        ),
    },
    partitions_def=billing_months,
    backfill_policy=month_backfill_policy(),
    check_specs=[
        spec(TOTALS_RECONCILE, GROSS_PROFIT_REPORT, "Each month's totals, added up from its month "
             "sums, equal its governed lines' totals to the cent.", blocking=True, additional_deps=[GROSS_PROFIT_MONTH_SUMS]),
        spec(OUTLIERS, GROSS_PROFIT_REPORT, f"Warns about lines whose USD revenue is more than "
             f"{OUTLIER_IQR_FACTOR} interquartile ranges above the month's third quartile."),
    ],
)
def gross_profit_report(
    context: dg.AssetExecutionContext,
    governed_billing_lines: DataFrame,
    quarantined_billing_lines: DataFrame,
    report_publisher: ReportPublisher,
    step_launcher: SparkStepLauncher,  # where Dagster runs this step: here, or on EMR
):
    """The report lines of the run's months, one CSV per month, their sums, and each month's
    figures."""
    months = context.partition_keys
    # Not cached: every pass below reads only its columns of the governed Parquet. Measured on a
    # 416,666-line month no slower than building a cached copy of every column first, and a
    # large month's report stays out of the driver's memory.
    report = report_lines(governed_billing_lines)
    csv_names = {m: month_report_csv(m) for m in months}
    csv_paths = report_publisher.publish_month_csvs(sorted_by_group(report, *REPORT_ORDER), csv_names)
    # One pass over the lines for their sums; each month's companies and totals add them up.
    sums = materialize(month_sums(report))
    by_company = _rows(summary_by(sums, "company", PARTITION_KEY).orderBy(F.desc("gross_profit_usd")))
    totals = {r[PARTITION_KEY]: r.asDict() for r in rolled_up(sums, PARTITION_KEY).collect()}
    sum_rows = {r[PARTITION_KEY]: r["rows"] for r in sums.groupBy(PARTITION_KEY).agg(F.count(F.lit(1)).alias("rows")).collect()}
    quarantine = {r[PARTITION_KEY]: r.asDict() for r in quarantine_counts(quarantined_billing_lines, PARTITION_KEY).collect()}
    for month in months:
        month_totals = totals.get(month) or dict.fromkeys(SUMMARY_COLUMNS[2:])
        context.add_asset_metadata(
            {
                "dagster/row_count": int(month_totals["lines"] or 0),
                **totals_metadata(month_totals),
                **quarantine_metadata(quarantine.get(month, {})),
                "csv": dg.MetadataValue.path(csv_paths[month]),
                # The month's CSV as published, its first lines read back.
                "preview": dg.MetadataValue.md(
                    markdown_table(report_publisher.csv_head(csv_names[month], PREVIEW_LINES), SEED_REPORT_COLUMNS)
                ),
                "by_company": dg.MetadataValue.md(
                    markdown_table([r for r in by_company if r[PARTITION_KEY] == month], SUMMARY_TABLE_COLUMNS)
                ),
            },
            asset_key=GROSS_PROFIT_REPORT,
            partition_key=month,
        )
        context.add_asset_metadata(
            {"dagster/row_count": sum_rows.get(month, 0)}, asset_key=GROSS_PROFIT_MONTH_SUMS, partition_key=month
        )
    yield dg.Output(
        report,
        GROSS_PROFIT_REPORT.path[-1],
        metadata={
            "dagster/column_lineage": REPORT_COLUMN_LINEAGE,
            "html": dg.MetadataValue.path(report_publisher.location(REPORT_HTML)),
        },
    )
    yield dg.Output(sums, GROSS_PROFIT_MONTH_SUMS.path[-1])
    yield reconciliation(totals, governed_sums(governed_billing_lines))
    yield outlier_result(report)
    # Outputs are written as they are yielded; the sums are no longer needed.
    unpersist(sums)


@dg.asset(
    key=GROSS_PROFIT_SUMMARY,
    ins={
        name: dg.AssetIn(partition_mapping=dg.AllPartitionMapping())
        for name in ("gross_profit_month_sums", "gross_profit_report", "quarantined_billing_lines")
    },
    group_name="report",
    kinds={"spark", "parquet", "csv", "html"},
    owners=OWNERS,
    tags=stage_tags("report"),
    check_specs=[
        spec(SUMMARIES_RECONCILE, GROSS_PROFIT_SUMMARY, "Each dimension's sums equal the report "
             "totals and every margin is its own gross profit over its own revenue.")
    ],
    description="Units, revenue, COGS, gross profit and margin (from sums) by month, company, "
    "item, product line and country over every reported month, added up from the month sums; "
    "publishes the all-months CSV and the HTML report with charts.",
)
def gross_profit_summary(
    context: dg.AssetExecutionContext,
    gross_profit_month_sums: DataFrame,
    gross_profit_report: DataFrame,
    quarantined_billing_lines: DataFrame,
    report_publisher: ReportPublisher,
    step_launcher: SparkStepLauncher,  # where Dagster runs this step: here, or on EMR
):
    # Every figure comes from the months' sums (a few rows per company and item), so the
    # summary's cost does not grow with the lines of every month reported so far. The report
    # lines are read only where a month's published CSV is missing (the all-months CSV below).
    sums = materialize(gross_profit_month_sums)
    summary = materialize(summarize(sums))
    rows = _rows(summary.orderBy("dimension", "key"))
    summaries = {d: [r for r in rows if r["dimension"] == d] for d in {r["dimension"] for r in rows}}
    months = sorted(r["key"] for r in summaries.get("month", []))
    # The all-months CSV is the month CSVs one after the other (the report is ordered by month
    # first), so it is joined from them instead of rewriting every month through one task.
    # The lake restores billing_month from directory names (last); the contract sets the order.
    csv_path = report_publisher.publish_combined_csv(
        gross_profit_report.select(*REPORT_COLUMNS).orderBy(*REPORT_ORDER),
        [month_report_csv(m) for m in months],
        REPORT_CSV,
    )
    summary_csv = report_publisher.publish_csv(
        summary.orderBy("dimension", "key"), "gross_profit_summary.csv"
    )
    # The totals, kept for the summaries' check below.
    all_sums = materialize(rolled_up(sums))
    totals = all_sums.first().asDict()
    quarantine = quarantine_counts(quarantined_billing_lines).first().asDict()
    quarantined = int(quarantine["lines"])
    reason_rows = [{"code": code, "count": n} for code, n in reason_tally(quarantine)]
    files = sorted(r[SOURCE_FILE] for r in _rows(source_files(sums)))
    page = ReportPage(
        title="Gross profit report",
        generated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        months=months,
        source_files=files,
        totals={
            **totals,
            "lines_reported": totals["lines"],
            "lines_quarantined": quarantined,
            "lines_in": totals["lines"] + quarantined,
        },
        summaries=summaries,
        quarantine_reasons=[(r["code"], REASONS[r["code"]].message, r["count"]) for r in reason_rows],
        files={"Per-line CSV": csv_path, "Summary CSV": summary_csv},
    )
    html_path = report_publisher.publish_text(render_report_html(page), REPORT_HTML)
    company_rows = summaries.get("company", [])
    yield dg.Output(
        summary,
        metadata={
            "dagster/row_count": len(rows),
            **totals_metadata(totals),
            "lines_quarantined": quarantined,
            "months": dg.MetadataValue.json(months),
            "csv": dg.MetadataValue.path(csv_path),
            "summary_csv": dg.MetadataValue.path(summary_csv),
            "html": dg.MetadataValue.path(html_path),
            "by_company": dg.MetadataValue.md(
                markdown_table(company_rows, SUMMARY_TABLE_COLUMNS)
            ),
        },
    )
    problems = _rows(summary_discrepancies(summary, all_sums))
    yield result(
        SUMMARIES_RECONCILE,
        GROSS_PROFIT_SUMMARY,
        passed=not problems,
        description="every dimension adds up to the report totals; margins from sums"
        if not problems
        else "; ".join(f"{p['dimension']} {p['key'] or ''}: {p['problem']}" for p in problems[:20]),
    )
    for frame in (summary, all_sums, sums):
        unpersist(frame)
