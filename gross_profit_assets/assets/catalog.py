"""Stage 2, catalog: the crawler infers each table's schema into the Glue Data Catalog."""


import dagster as dg

from gross_profit_assets.assets.keys import OWNERS, cataloged_key, landed_key, stage_tags
from gross_profit_assets.assets.partitions import billing_months, month_backfill_policy
from gross_profit_assets.checks import SCHEMA_MATCHES_CONTRACT, SCHEMA_UNCHANGED, schema_results, spec
from gross_profit_assets.contract import GLUE_DATABASE, INPUT_TABLES
from gross_profit_assets.resources.glue import CrawlOutcome, GlueCrawler


def column_schema(columns: list[dict]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(c["Name"], c["Type"]) for c in columns])


def crawl_metadata(outcome: CrawlOutcome) -> dict:
    """What a crawl tells about its table (the same for every month it crawled)."""
    metadata = {
        "glue_table": f"{GLUE_DATABASE}.{outcome.table}",
        "table_version": outcome.version_id,
        "schema_changed": outcome.schema_changed,
        "dagster/column_schema": column_schema(outcome.columns),
    }
    if outcome.schema_changed and outcome.previous_columns is not None:
        metadata["previous_columns"] = column_schema(outcome.previous_columns)
    return metadata


def month_crawl_metadata(outcome: CrawlOutcome, month: str) -> dict:
    """What a crawl counted in one month's partition."""
    files, records = outcome.month_counts.get(month, (0, 0))
    # Glue's recordCount: estimated from a sample of each file, like the crawler's own.
    return {"files_crawled": files, "dagster/row_count": records}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            cataloged_key(table.name),
            deps=[landed_key(table.name)],
            description=f"Glue Data Catalog table `{GLUE_DATABASE}.{table.name}`: columns and "
            "types as the crawler inferred them, one partition per billing month.",
            group_name="catalog",
            kinds={"glue", "lakeformation"},
            owners=OWNERS,
            tags=stage_tags("catalog"),
        )
        for table in INPUT_TABLES.values()
    ],
    partitions_def=billing_months,
    backfill_policy=month_backfill_policy(),
    check_specs=[
        check
        for table in INPUT_TABLES
        for check in (
            spec(SCHEMA_MATCHES_CONTRACT, cataloged_key(table),
                 "The cataloged columns cover the contract's required columns (aliases honoured) "
                 "with types the contract accepts."),
            spec(SCHEMA_UNCHANGED, cataloged_key(table),
                 "Warns when a crawl created a new table version, with the old and new columns."),
        )
    ],
)
def cataloged_tables(context: dg.AssetExecutionContext, glue_crawler: GlueCrawler):
    """Crawls the landed files of the run's months; a changed schema becomes a new table version."""
    months = context.partition_keys
    outcomes = glue_crawler.crawl(list(INPUT_TABLES), billing_months=months)
    for outcome in outcomes:
        key = cataloged_key(outcome.table)
        for month in months:
            context.add_asset_metadata(month_crawl_metadata(outcome, month), asset_key=key, partition_key=month)
        yield dg.MaterializeResult(asset_key=key, metadata=crawl_metadata(outcome))
        yield from schema_results(key, INPUT_TABLES[outcome.table], outcome)
