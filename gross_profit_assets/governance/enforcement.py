"""Apply a Lake Formation read decision to a Spark DataFrame.

On AWS the query engine enforces Lake Formation's row and column filtering; locally this
function does the same to the DataFrame an asset is about to read, so the pipeline sees
exactly what the policy lets its principal see. DataFrame API only (no UDFs).
"""

from __future__ import annotations

from gross_profit_assets.engine import Column, DataFrame, F
from gross_profit_assets.governance.policy import ReadGrant


def apply_read_grant(df: DataFrame, grant: ReadGrant, columns: list[str]) -> DataFrame:
    """The rows the grant's row filter lets through, projected to exactly ``columns``.

    The row filter runs before the projection, so a filter may test a column the caller
    does not select (``country = 'US'`` while reading only amounts), as a data cells
    filter may. Columns outside the grant are refused rather than read.
    """
    grant.require_columns(columns)
    return _project_granted_cells(_filter_granted_rows(df, grant), grant, columns)


def _filter_granted_rows(df: DataFrame, grant: ReadGrant) -> DataFrame:
    """Keep the rows whose row filter is true; NULL counts as false, as in SQL WHERE."""
    if grant.row_filter is None:
        return df
    return df.where(F.expr(grant.row_filter))


def _project_granted_cells(df: DataFrame, grant: ReadGrant, columns: list[str]) -> DataFrame:
    """Select the requested columns; a column readable on fewer rows than the row filter
    (cell-level security) reads as NULL on the other rows."""
    return df.select(*(_granted_cell(column, grant) for column in columns))


def _granted_cell(column: str, grant: ReadGrant) -> Column:
    cell_filter = grant.masked_columns.get(column)
    if cell_filter is None:
        return F.col(column)
    return F.when(F.expr(cell_filter), F.col(column)).alias(column)
