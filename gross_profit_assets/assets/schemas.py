"""Column schemas declared with the assets, so the UI shows every table's columns (with their
meaning) before its first materialization. Each materialization then records the columns it
actually wrote; the end-to-end tests hold the two equal for the tables the pipeline produces."""

from collections.abc import Sequence

import dagster as dg

from gross_profit_assets.assets.keys import cataloged_key, landed_key
from gross_profit_assets.contract import (
    INPUT_TABLES,
    PRODUCED_SCHEMAS,
    TableContract,
    column_description,
)


def contract_columns_schema(table: TableContract) -> dg.TableSchema:
    """An input table's contract columns with their logical kinds (as files land, before parsing)."""
    return dg.TableSchema(
        columns=[dg.TableColumn(c.name, c.kind, description=c.description) for c in table.columns]
    )


def produced_schema(table: str) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, spark_type, description=column_description(name))
            for name, spark_type in PRODUCED_SCHEMAS[table]
        ]
    )


DECLARED_SCHEMAS: dict[dg.AssetKey, dg.TableSchema] = {
    **{landed_key(name): contract_columns_schema(t) for name, t in INPUT_TABLES.items()},
    **{cataloged_key(name): contract_columns_schema(t) for name, t in INPUT_TABLES.items()},
    **{dg.AssetKey(name): produced_schema(name) for name in PRODUCED_SCHEMAS},
}


def _declare_schema(spec: dg.AssetSpec) -> dg.AssetSpec:
    schema = DECLARED_SCHEMAS.get(spec.key)
    return spec.merge_attributes(metadata={"dagster/column_schema": schema}) if schema else spec


def with_declared_schemas(assets: Sequence[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    return list(dg.map_asset_specs(_declare_schema, assets))
