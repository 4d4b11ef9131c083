"""Stage 1, landing: the billing files of a month as they sit in the landing bucket."""


import hashlib

import dagster as dg

from gross_profit_assets.assets.keys import OWNERS, landed_key, stage_tags
from gross_profit_assets.assets.partitions import billing_months, month_backfill_policy
from gross_profit_assets.assets.schemas import contract_columns_schema
from gross_profit_assets.checks import LANDED_FILES_READABLE, readable_files_result, spec
from gross_profit_assets.contract import INPUT_TABLES, LANDING_BUCKET
from gross_profit_assets.landed_csv import inspect_landed_file
from gross_profit_assets.landing import landed_objects
from gross_profit_assets.resources.object_store import ObjectInfo, ObjectStore


def objects_fingerprint(objects: list[ObjectInfo]) -> str:
    """Changes whenever a file of the month is added, removed or replaced."""
    digest = hashlib.sha256()
    for obj in objects:
        digest.update(f"{obj.key}\0{obj.version}\n".encode())
    return digest.hexdigest()[:16]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            landed_key(table.name),
            description=f"Landed `{table.name}` CSV files of the billing month "
            f"(s3://{LANDING_BUCKET}/{table.name}/billing_month=YYYY-MM/). {table.description}",
            group_name="landing",
            kinds={"s3", "csv"},
            owners=OWNERS,
            tags=stage_tags("landing"),
        )
        for table in INPUT_TABLES.values()
    ],
    partitions_def=billing_months,
    backfill_policy=month_backfill_policy(),
    check_specs=[
        spec(
            LANDED_FILES_READABLE,
            landed_key(table),
            "Every landed file is UTF-8 and has the table's required columns. A file that is not "
            "is rejected whole and left in the landing zone; the month's other files go on.",
        )
        for table in INPUT_TABLES
    ],
)
def landed_files(context: dg.AssetExecutionContext, object_store: ObjectStore):
    """Lists what has landed for each month of the run; a month's data version changes with
    its files (set when the run has one month, as the landing sensor's runs do: Dagster keeps
    one data version per materialization event of a run, not one per partition)."""
    months = context.partition_keys
    for name, table in INPUT_TABLES.items():
        key = landed_key(name)
        problems: dict[str, str] = {}
        fingerprints = []
        files = 0
        for month in months:
            objects = landed_objects(object_store, name, month)
            inspections = {o.key: inspect_landed_file(object_store, table, o) for o in objects}
            problems |= {k: i.problem for k, i in inspections.items() if i.problem}
            files += len(objects)
            fingerprints.append(objects_fingerprint(objects))
            context.add_asset_metadata(
                {
                    "files": len(objects),
                    "dagster/row_count": sum(i.data_lines for i in inspections.values()),
                    "bytes": sum(o.size for o in objects),
                    "keys": dg.MetadataValue.json([o.key for o in objects]),
                    "empty_files": dg.MetadataValue.json([o.key for o in objects if o.size == 0]),
                },
                asset_key=key,
                partition_key=month,
            )
        yield dg.MaterializeResult(
            asset_key=key,
            data_version=dg.DataVersion(fingerprints[0]) if len(months) == 1 else None,
            metadata={
                "dagster/column_schema": contract_columns_schema(table),
                "location": dg.MetadataValue.url(object_store.uri(f"{name}/")),
            },
        )
        yield readable_files_result(key, problems, files)
