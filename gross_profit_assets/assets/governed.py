"""Stage 3, governed: validated, joined, currency-converted bill lines, and the quarantine."""


import dagster as dg
from dagster_pyspark import LazyPySparkResource

from gross_profit_assets.assets.keys import (
    CATALOGED_KEYS,
    GOVERNED_BILLING_LINES,
    QUARANTINED_BILLING_LINES,
    stage_out,
)
from gross_profit_assets.assets.partitions import billing_months, month_backfill_policy
from gross_profit_assets.checks import (
    FX_COVERAGE,
    LINES_ACCOUNTED_FOR,
    LINES_UNIQUE,
    REQUIRED_VALUES,
    result,
    spec,
)
from gross_profit_assets.contract import INPUT_TABLES, PARTITION_KEY, REASONS
from gross_profit_assets.engine import materialize, unpersist
from gross_profit_assets.governed_read import read_governed_table
from gross_profit_assets.landing import month_of_key
from gross_profit_assets.resources.glue import GlueCatalog
from gross_profit_assets.resources.lake_formation import LakeFormation
from gross_profit_assets.resources.object_store import ObjectStore
from gross_profit_assets.resources.step_launcher import SparkStepLauncher
from gross_profit_assets.transforms.billing import (
    assess_billing_lines,
    governed_billing_lines,
    quarantined_billing_lines,
)
from gross_profit_assets.transforms.quality import (
    assessment_counts,
    reason_tally,
    repeated_governed_lines,
)


def governed_check_results(lines_in: dict[str, int], quality: dict[str, dict], repeated: dict[str, int]):
    """The blocking checks of the governed stage over the run's months: nothing lost,
    duplicated, unpriced or empty. ``lines_in`` counts each month's bill lines as read,
    ``quality`` holds each month's row of ``assessment_counts``, ``repeated`` each month's
    ``repeated_governed_lines``; a month missing from them has no line."""
    months = sorted(lines_in)
    counts = {m: month_counts(lines_in[m], quality.get(m, {})) for m in months}
    unbalanced = [m for m, c in counts.items() if c["lines_in"] != c["lines_governed"] + c["lines_quarantined"]]
    totals = {name: sum(c[name] for c in counts.values()) for name in ("lines_in", "lines_governed", "lines_quarantined")}
    yield result(
        LINES_ACCOUNTED_FOR,
        GOVERNED_BILLING_LINES,
        not unbalanced,
        "; ".join(
            f"{m}: {c['lines_in']} lines in {'=' if m not in unbalanced else '!='} {c['lines_governed']} "
            f"governed + {c['lines_quarantined']} quarantined"
            for m, c in counts.items()
            if m in unbalanced or len(months) == 1
        )
        or f"{totals['lines_in']} lines in = {totals['lines_governed']} governed + "
        f"{totals['lines_quarantined']} quarantined, in each of {len(months)} months",
        metadata={**totals, "by_month": dg.MetadataValue.json(counts)},
    )
    total_repeated = sum(repeated.values())
    yield result(LINES_UNIQUE, GOVERNED_BILLING_LINES, total_repeated == 0,
                 f"{total_repeated} repeated (source_file, id, item_sold) among {totals['lines_governed']} lines"
                 + _by_month(repeated))
    missing = {m: q["lines_missing_values"] or 0 for m, q in quality.items()}
    yield result(REQUIRED_VALUES, GOVERNED_BILLING_LINES, sum(missing.values()) == 0,
                 f"{sum(missing.values())} governed line(s) with a required value missing" + _by_month(missing))
    unpriced = {m: q["lines_without_fx_rate"] or 0 for m, q in quality.items()}
    currencies = sorted({c for q in quality.values() for c in q["currencies"] or []})
    yield result(
        FX_COVERAGE, GOVERNED_BILLING_LINES, sum(unpriced.values()) == 0,
        f"{sum(unpriced.values())} foreign-currency line(s) without an FX rate; currencies: {currencies}"
        + _by_month(unpriced),
        metadata={"currencies": dg.MetadataValue.json(currencies)},
    )


def month_counts(lines_in: int, quality: dict) -> dict[str, int]:
    return {
        "lines_in": lines_in,
        "lines_governed": quality.get("lines") or 0,
        "lines_quarantined": quality.get("lines_quarantined") or 0,
    }


def _by_month(counts: dict[str, int]) -> str:
    """`` (2023-07: 2, 2023-09: 1)`` for the months with a count, when there are several months."""
    found = [f"{m}: {n}" for m, n in sorted(counts.items()) if n]
    return f" ({', '.join(found)})" if found and len(counts) > 1 else ""


@dg.multi_asset(
    outs={
        GOVERNED_BILLING_LINES.path[-1]: stage_out(
            "governed",
            "Bill lines that passed every rule, joined to units sold on (id, "
            "item_sold), to production costs on item and to FX rates on (currency, month); "
            "money in USD as decimals.",
            {"lakeformation", "spark", "parquet"},
        ),
        QUARANTINED_BILLING_LINES.path[-1]: stage_out(
            "governed",
            "Bill lines the report must not use, each with its source file, line "
            "number, raw values and every reason code that applies.",
            {"lakeformation", "spark", "parquet"},
        ),
    },
    deps=CATALOGED_KEYS,
    partitions_def=billing_months,
    backfill_policy=month_backfill_policy(),
    check_specs=[
        spec(LINES_ACCOUNTED_FOR, GOVERNED_BILLING_LINES, "Lines in = lines governed + lines quarantined.",
             blocking=True, additional_deps=[QUARANTINED_BILLING_LINES]),
        spec(LINES_UNIQUE, GOVERNED_BILLING_LINES, "(source_file, id, item_sold) is unique.", blocking=True),
        spec(REQUIRED_VALUES, GOVERNED_BILLING_LINES, "No governed line misses a required value.", blocking=True),
        spec(FX_COVERAGE, GOVERNED_BILLING_LINES, "Every non-USD governed line has its FX rate.", blocking=True),
    ],
)
def governed_dataset(
    context: dg.AssetExecutionContext,
    pyspark: LazyPySparkResource,
    glue_catalog: GlueCatalog,
    object_store: ObjectStore,
    lake_formation: LakeFormation,
    step_launcher: SparkStepLauncher,  # where Dagster runs this step: here, or on EMR
):
    """Reads the cataloged tables of the run's months through Lake Formation and assesses
    every bill line, all months in one pass."""
    months = context.partition_keys
    tables = {
        name: read_governed_table(
            pyspark.spark_session, glue_catalog, object_store, lake_formation, table, months
        )
        for name, table in INPUT_TABLES.items()
    }
    billing = tables["billing"].frame
    # Computed once (the join and the duplicate window are the costly part) and kept for the
    # measurements and the two writes below.
    assessed = materialize(assess_billing_lines(
        billing, tables["units_sold"].frame, tables["production_costs"].frame, tables["fx_rates"].frame
    ))
    governed = governed_billing_lines(assessed)
    quarantined = quarantined_billing_lines(assessed)
    # Lines in are the records the reader found in the landed files (counted while numbering
    # them), independently of the assessment; then one aggregate and the repeats over the
    # kept lines.
    lines_in = dict.fromkeys(months, 0)
    for key, records in tables["billing"].records.items():
        lines_in[month_of_key(key)] += records
    quality = {r[PARTITION_KEY]: r.asDict() for r in assessment_counts(assessed, PARTITION_KEY).collect()}
    repeated = {r[PARTITION_KEY]: r["repeated_lines"] for r in repeated_governed_lines(assessed, PARTITION_KEY).collect()}
    for month in months:
        counts = month_counts(lines_in[month], quality.get(month, {}))
        context.log.info(
            f"{month}: {counts['lines_in']} lines in, {counts['lines_governed']} governed, "
            f"{counts['lines_quarantined']} quarantined"
        )
        context.add_asset_metadata(
            {
                "dagster/row_count": counts["lines_governed"],
                "lines_in": counts["lines_in"],
                "source_files": dg.MetadataValue.json([f for f in tables["billing"].files if month_of_key(f) == month]),
                "rejected_files": dg.MetadataValue.json(
                    [f"{r.key}: {r.reason}" for t in tables.values() for r in t.rejected if month_of_key(r.key) == month]
                ),
            },
            asset_key=GOVERNED_BILLING_LINES,
            partition_key=month,
        )
        reasons = dict(reason_tally(quality.get(month, {})))
        context.add_asset_metadata(
            {
                "dagster/row_count": counts["lines_quarantined"],
                "reasons": dg.MetadataValue.json(
                    {code: {"lines": n, "message": REASONS[code].message} for code, n in reasons.items()}
                ),
            },
            asset_key=QUARANTINED_BILLING_LINES,
            partition_key=month,
        )
    yield dg.Output(governed, GOVERNED_BILLING_LINES.path[-1])
    yield dg.Output(quarantined, QUARANTINED_BILLING_LINES.path[-1])
    yield from governed_check_results(lines_in, quality, repeated)
    # Outputs are written as they are yielded; the kept lines are no longer needed.
    unpersist(assessed)
