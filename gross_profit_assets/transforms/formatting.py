"""Pure transforms that turn typed frames into the text people read in CSV files.

Decimals are written exactly, in their shortest form with at least one decimal place
(``3525.0000`` -> ``3525.0``, ``2.500000`` -> ``2.5``, ``-120.00`` -> ``-120.0``): the seed's
report format, with no float ever involved. Text cells that a spreadsheet would execute are
neutralised with the same rule as :mod:`gross_profit_assets.reporting.safe_text`.
"""

from __future__ import annotations

from gross_profit_assets.engine import Column, DataFrame, DecimalType, F, StringType
from gross_profit_assets.reporting.safe_text import FORMULA_ESCAPE, FORMULA_TRIGGERS


def canonical_decimal(value: Column, shape: DecimalType) -> Column:
    """A decimal of type ``shape`` as plain text without trailing zeros, keeping one decimal
    place: the value at the smallest scale that holds it exactly (decimal comparisons and
    casts, cheaper per cell than regular expressions over its text)."""
    whole_digits = shape.precision - shape.scale
    shorter = [DecimalType(whole_digits + k, k) for k in range(1, shape.scale)]
    return F.coalesce(
        *[F.when(value == value.cast(short), value.cast(short).cast("string")) for short in shorter],
        value.cast("string"),
    )


def neutralized_text(value: Column) -> Column:
    """``value`` with the formula escape before it when its first character would make a
    spreadsheet execute it."""
    return F.when(
        F.substring(value, 1, 1).isin(*FORMULA_TRIGGERS), F.concat(F.lit(FORMULA_ESCAPE), value)
    ).otherwise(value)


def as_csv_text(frame: DataFrame) -> DataFrame:
    """Every column as the text a CSV file should hold, in the same order."""
    columns = []
    for field in frame.schema.fields:
        column = F.col(field.name)
        if isinstance(field.dataType, DecimalType):
            column = canonical_decimal(column, field.dataType)
        elif isinstance(field.dataType, StringType):
            column = neutralized_text(column)
        else:
            column = column.cast("string")
        columns.append(column.alias(field.name))
    return frame.select(*columns)
