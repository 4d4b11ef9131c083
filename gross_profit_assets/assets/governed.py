"""Stage 3, governed: validated, joined, currency-converted bill lines, and the quarantine."""


import dagster as dg
from dagster_pyspark import LazyPySparkResource
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from gross_profit_assets.assets.keys import (
    CATALOGED_KEYS,
    GOVERNED_BILLING_LINES,
    QUARANTINED_BILLING_LINES,
)
from gross_profit_assets.assets.partitions import billing_months
from gross_profit_assets.contract import INPUT_TABLES, REASONS
from gross_profit_assets.governed_read import read_governed_table
from gross_profit_assets.resources.glue import GlueCatalog
from gross_profit_assets.resources.lake_formation import LakeFormation
from gross_profit_assets.resources.object_store import ObjectStore
from gross_profit_assets.transforms.billing import (
    assess_billing_lines,
    governed_billing_lines,
    quarantined_billing_lines,
)

LINES_ACCOUNTED_FOR = "every_line_accounted_for"


def reason_counts(quarantined: DataFrame) -> dict[str, int]:
    rows = quarantined.select(F.explode("reason_codes").alias("code")).groupBy("code").count()
    return {r["code"]: r["count"] for r in rows.orderBy(F.desc("count"), "code").collect()}


@dg.multi_asset(
    outs={
        GOVERNED_BILLING_LINES.path[-1]: dg.AssetOut(
            description="Bill lines that passed every rule, joined to units sold on (id, "
            "item_sold), to production costs on item and to FX rates on (currency, month); "
            "money in USD as decimals.",
            group_name="governed",
            kinds={"spark", "parquet"},
        ),
        QUARANTINED_BILLING_LINES.path[-1]: dg.AssetOut(
            description="Bill lines the report must not use, each with its source file, line "
            "number, raw values and every reason code that applies.",
            group_name="governed",
            kinds={"spark", "parquet"},
        ),
    },
    deps=CATALOGED_KEYS,
    partitions_def=billing_months,
    check_specs=[
        dg.AssetCheckSpec(
            LINES_ACCOUNTED_FOR,
            asset=GOVERNED_BILLING_LINES,
            additional_deps=[QUARANTINED_BILLING_LINES],
            blocking=True,
            description="Lines in = lines governed + lines quarantined.",
        )
    ],
)
def governed_dataset(
    context: dg.AssetExecutionContext,
    pyspark: LazyPySparkResource,
    glue_catalog: GlueCatalog,
    object_store: ObjectStore,
    lake_formation: LakeFormation,
):
    """Reads the month's cataloged tables through Lake Formation and assesses every bill line."""
    month = context.partition_key
    tables = {
        name: read_governed_table(
            pyspark.spark_session, glue_catalog, object_store, lake_formation, table, month
        )
        for name, table in INPUT_TABLES.items()
    }
    billing = tables["billing"].frame.persist(StorageLevel.MEMORY_AND_DISK)
    assessed = assess_billing_lines(
        billing, tables["units_sold"].frame, tables["production_costs"].frame, tables["fx_rates"].frame
    ).persist(StorageLevel.MEMORY_AND_DISK)
    governed = governed_billing_lines(assessed)
    quarantined = quarantined_billing_lines(assessed)
    lines_in = billing.count()
    lines_governed = governed.count()
    lines_quarantined = quarantined.count()
    reasons = reason_counts(quarantined)
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
    yield dg.AssetCheckResult(
        check_name=LINES_ACCOUNTED_FOR,
        asset_key=GOVERNED_BILLING_LINES,
        passed=lines_in == lines_governed + lines_quarantined,
        metadata={
            "lines_in": lines_in,
            "lines_governed": lines_governed,
            "lines_quarantined": lines_quarantined,
        },
        description=f"{lines_in} lines in = {lines_governed} governed + {lines_quarantined} quarantined"
        if lines_in == lines_governed + lines_quarantined
        else f"{lines_in} lines in, but {lines_governed} governed + {lines_quarantined} quarantined",
    )
    # Outputs are written as they are yielded; the cached frames are no longer needed.
    assessed.unpersist()
    billing.unpersist()
