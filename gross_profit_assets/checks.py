"""The asset checks of every stage: their specs and how a measurement becomes a result.

Blocking checks guard what downstream must never build on (lines lost, duplicated, unpriced, a
report that doesn't add up). Non-blocking ERROR checks flag a problem that spares the rest of
the month (one unreadable file); WARN checks flag what a person should look at (schema drift,
outlier amounts). `gross-profit run` exits non-zero on any failed ERROR check.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from gross_profit_assets.contract import GLUE_DATABASE, TableContract

ERROR = dg.AssetCheckSeverity.ERROR
WARN = dg.AssetCheckSeverity.WARN

# Stage 1, landing
LANDED_FILES_READABLE = "landed_files_readable"
# Stage 2, catalog
SCHEMA_MATCHES_CONTRACT = "schema_matches_contract"
SCHEMA_UNCHANGED = "schema_unchanged_since_last_crawl"
# Stage 3, governed
LINES_ACCOUNTED_FOR = "every_line_accounted_for"
LINES_UNIQUE = "one_line_per_source_id_and_item"
REQUIRED_VALUES = "no_missing_required_values"
FX_COVERAGE = "fx_rate_for_every_foreign_line"
# Stage 4, report
TOTALS_RECONCILE = "totals_reconcile_with_governed_lines"
OUTLIERS = "bill_amount_outliers"
SUMMARIES_RECONCILE = "summaries_reconcile_with_report"


def spec(name: str, asset: dg.AssetKey, description: str, blocking: bool = False, **kwargs) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=asset, description=description, blocking=blocking, **kwargs)


def result(
    name: str,
    asset: dg.AssetKey,
    passed: bool,
    description: str,
    severity: dg.AssetCheckSeverity = ERROR,
    metadata: dict | None = None,
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=name,
        asset_key=asset,
        passed=passed,
        severity=severity,
        description=description,
        metadata=metadata or {},
    )


def readable_files_result(asset: dg.AssetKey, problems: dict[str, str], files: int) -> dg.AssetCheckResult:
    """Every landed file decodes as UTF-8 and has its table's required columns."""
    listing = "; ".join(f"{key}: {problem}" for key, problem in problems.items())
    return result(
        LANDED_FILES_READABLE,
        asset,
        passed=not problems,
        description=f"{files} file(s) readable" if not problems
        else f"{len(problems)} of {files} file(s) rejected (left in the landing zone): {listing}",
        metadata={"rejected_files": dg.MetadataValue.json(problems)},
    )


def contract_mismatches(table: TableContract, columns: Iterable[dict]) -> tuple[list[str], list[str]]:
    """(missing required columns, columns whose cataloged type the contract doesn't accept)."""
    by_name: dict[str, list[str]] = {}
    for column in columns:
        canonical = table.canonical_column(column["Name"])
        if canonical:
            by_name.setdefault(canonical, []).append(column["Type"])
    missing = [c.name for c in table.columns if c.required and c.name not in by_name]
    mistyped = [
        f"{c.name} is {'/'.join(by_name[c.name])}, expected {' or '.join(c.catalog_types)}"
        for c in table.columns
        if c.name in by_name and not all(t.split("(")[0] in c.catalog_types for t in by_name[c.name])
    ]
    return missing, mistyped


def schema_results(asset: dg.AssetKey, table: TableContract, outcome) -> list[dg.AssetCheckResult]:
    """The cataloged schema against the contract, and against the previous crawl."""
    name = f"{GLUE_DATABASE}.{table.name}"
    missing, mistyped = contract_mismatches(table, outcome.columns)
    if not outcome.columns:
        contract = result(SCHEMA_MATCHES_CONTRACT, asset, True, f"{name}: nothing landed yet")
    else:
        problems = ([f"missing {missing}"] if missing else []) + mistyped
        contract = result(
            SCHEMA_MATCHES_CONTRACT,
            asset,
            passed=not problems,
            severity=WARN if mistyped and not missing else ERROR,
            description=f"{name} matches the contract" if not problems else f"{name}: " + "; ".join(problems),
        )
    drifted = outcome.schema_changed and outcome.previous_columns is not None
    before = [f"{c['Name']}:{c['Type']}" for c in outcome.previous_columns or []]
    after = [f"{c['Name']}:{c['Type']}" for c in outcome.columns]
    drift = result(
        SCHEMA_UNCHANGED,
        asset,
        passed=not drifted,
        severity=WARN,
        description=f"{name} schema changed: version {outcome.version_id}; old columns {before}, new columns {after}"
        if drifted
        else f"{name} schema unchanged (version {outcome.version_id or 'none'})",
        metadata={"old_columns": dg.MetadataValue.json(before), "new_columns": dg.MetadataValue.json(after)},
    )
    return [contract, drift]
