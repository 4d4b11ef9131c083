"""Stage 3, governed: validated, joined, currency-converted bill lines, and the quarantine."""


import dagster as dg
from dagster_pyspark import LazyPySparkResource

from gross_profit_assets.assets.keys import (
    CATALOGED_KEYS,
    GOVERNED_BILLING_LINES,
    OWNERS,
    QUARANTINED_BILLING_LINES,
    stage_tags,
)
from gross_profit_assets.assets.partitions import billing_months
from gross_profit_assets.checks import (
    FX_COVERAGE,
    LINES_ACCOUNTED_FOR,
    LINES_UNIQUE,
    REQUIRED_VALUES,
    result,
    spec,
)
from gross_profit_assets.contract import INPUT_TABLES, REASONS
from gross_profit_assets.engine import materialize, unpersist
from gross_profit_assets.governed_read import read_governed_table
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


def governed_check_results(lines_in: int, quality: dict, repeated: int):
    """The blocking checks of the governed stage: nothing lost, duplicated, unpriced or empty.
    ``quality`` is the row of ``assessment_counts``, ``repeated`` that of
    ``repeated_governed_lines``."""
    lines_governed, lines_quarantined = quality["lines"] or 0, quality["lines_quarantined"] or 0
    accounted = lines_in == lines_governed + lines_quarantined
    yield result(
        LINES_ACCOUNTED_FOR,
        GOVERNED_BILLING_LINES,
        accounted,
        f"{lines_in} lines in {'=' if accounted else '!='} {lines_governed} governed + "
        f"{lines_quarantined} quarantined",
        metadata={"lines_in": lines_in, "lines_governed": lines_governed, "lines_quarantined": lines_quarantined},
    )
    yield result(LINES_UNIQUE, GOVERNED_BILLING_LINES, repeated == 0,
                 f"{repeated} repeated (source_file, id, item_sold) among {quality['lines']} lines")
    missing = quality["lines_missing_values"] or 0
    yield result(REQUIRED_VALUES, GOVERNED_BILLING_LINES, missing == 0,
                 f"{missing} governed line(s) with a required value missing")
    unpriced = quality["lines_without_fx_rate"] or 0
    yield result(
        FX_COVERAGE, GOVERNED_BILLING_LINES, unpriced == 0,
        f"{unpriced} foreign-currency line(s) without an FX rate; currencies: {quality['currencies']}",
        metadata={"currencies": dg.MetadataValue.json(quality["currencies"])},
    )


@dg.multi_asset(
    outs={
        GOVERNED_BILLING_LINES.path[-1]: dg.AssetOut(
            description="Bill lines that passed every rule, joined to units sold on (id, "
            "item_sold), to production costs on item and to FX rates on (currency, month); "
            "money in USD as decimals.",
            group_name="governed",
            kinds={"lakeformation", "spark", "parquet"},
            owners=OWNERS,
            tags=stage_tags("governed"),
        ),
        QUARANTINED_BILLING_LINES.path[-1]: dg.AssetOut(
            description="Bill lines the report must not use, each with its source file, line "
            "number, raw values and every reason code that applies.",
            group_name="governed",
            kinds={"lakeformation", "spark", "parquet"},
            owners=OWNERS,
            tags=stage_tags("governed"),
        ),
    },
    deps=CATALOGED_KEYS,
    partitions_def=billing_months,
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
    """Reads the month's cataloged tables through Lake Formation and assesses every bill line."""
    month = context.partition_key
    tables = {
        name: read_governed_table(
            pyspark.spark_session, glue_catalog, object_store, lake_formation, table, month
        )
        for name, table in INPUT_TABLES.items()
    }
    # The bill lines are read once, into the assessed cache; counting them is a scan that only
    # splits lines, so it stays independent of the assessment without a cache of its own.
    billing = tables["billing"].frame
    assessed = materialize(assess_billing_lines(
        billing, tables["units_sold"].frame, tables["production_costs"].frame, tables["fx_rates"].frame
    ))
    governed = governed_billing_lines(assessed)
    quarantined = quarantined_billing_lines(assessed)
    # Three actions measure everything the metadata and checks need: lines in, one aggregate
    # over the assessed lines (which fills their cache for the two writes), and the repeats.
    lines_in = billing.count()
    quality = assessment_counts(assessed).first().asDict()
    repeated = repeated_governed_lines(assessed).first()["repeated_lines"]
    lines_governed, lines_quarantined = quality["lines"] or 0, quality["lines_quarantined"] or 0
    reasons = dict(reason_tally(quality))
    rejected = [f"{r.key}: {r.reason}" for t in tables.values() for r in t.rejected]
    context.log.info(
        f"{month}: {lines_in} lines in, {lines_governed} governed, {lines_quarantined} quarantined"
    )
    yield dg.Output(
        governed,
        GOVERNED_BILLING_LINES.path[-1],
        metadata={
            "dagster/row_count": lines_governed,
            "lines_in": lines_in,
            "source_files": dg.MetadataValue.json(tables["billing"].files),
            "rejected_files": dg.MetadataValue.json(rejected),
        },
    )
    yield dg.Output(
        quarantined,
        QUARANTINED_BILLING_LINES.path[-1],
        metadata={
            "dagster/row_count": lines_quarantined,
            "reasons": dg.MetadataValue.json(
                {code: {"lines": n, "message": REASONS[code].message} for code, n in reasons.items()}
            ),
        },
    )
    yield from governed_check_results(lines_in, quality, repeated)
    # Outputs are written as they are yielded; the cached frames are no longer needed.
    unpersist(assessed)
