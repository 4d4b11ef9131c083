"""Pure transforms that turn typed frames into the text people read in CSV files.

Decimals are written exactly, in their shortest form with at least one decimal place
(``3525.0000`` -> ``3525.0``, ``2.500000`` -> ``2.5``, ``-120.00`` -> ``-120.0``): the seed's
report format, with no float ever involved. Text cells that a spreadsheet would execute are
neutralised with the same rule as :mod:`gross_profit_assets.reporting.safe_text`.
"""

from __future__ import annotations

from collections.abc import Sequence

from gross_profit_assets.engine import Column, DataFrame, DecimalType, F, StringType, rtrim_chars
from gross_profit_assets.reporting.safe_text import FORMULA_ESCAPE, FORMULA_TRIGGERS


def canonical_decimal(value: Column, shape: DecimalType) -> Column:
    """A decimal of type ``shape`` as plain text without trailing zeros, keeping one decimal
    place: its text at its own scale with the zeros after the point trimmed (a decimal with a
    scale always prints a point, so no digit before it is touched), and a ``0`` put back after
    a bare point. One cast and a trim per cell: cheaper than regular expressions or casts to
    every shorter scale."""
    text = value.cast("string")
    if shape.scale == 0:
        return text
    # Ends-with tests compare bytes; trimming (and counting characters) runs only where needed.
    trimmed = rtrim_chars(text, "0")
    return F.when(~text.endswith("0"), text).when(trimmed.endswith("."), F.concat(trimmed, F.lit("0"))).otherwise(trimmed)


def neutralized_text(value: Column) -> Column:
    """``value`` with the formula escape before it when its first character would make a
    spreadsheet execute it."""
    return F.when(
        F.substring(value, 1, 1).isin(*FORMULA_TRIGGERS), F.concat(F.lit(FORMULA_ESCAPE), value)
    ).otherwise(value)


def as_csv_text(frame: DataFrame, passthrough: Sequence[str] = ()) -> DataFrame:
    """Every column as the text a CSV file should hold, in the same order; the ``passthrough``
    columns are left as they are (a column that says which file a row goes to is no cell)."""
    columns = []
    for field in frame.schema.fields:
        column = F.col(field.name)
        if field.name in passthrough:
            pass
        elif isinstance(field.dataType, DecimalType):
            column = canonical_decimal(column, field.dataType)
        elif isinstance(field.dataType, StringType):
            column = neutralized_text(column)
        else:
            column = column.cast("string")
        columns.append(column.alias(field.name))
    return frame.select(*columns)
