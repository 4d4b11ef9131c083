"""Pure transforms that turn typed frames into the text people read in CSV files.

Decimals are written exactly, in their shortest form with at least one decimal place
(``3525.0000`` -> ``3525.0``, ``2.500000`` -> ``2.5``, ``-120.00`` -> ``-120.0``): the seed's
report format, with no float ever involved. Text cells that a spreadsheet would execute are
neutralised with the same rule as :mod:`gross_profit_assets.reporting.safe_text`.
"""

from __future__ import annotations

import re

from gross_profit_assets.engine import Column, DataFrame, DecimalType, F, StringType
from gross_profit_assets.reporting.safe_text import FORMULA_ESCAPE, FORMULA_TRIGGERS

_FORMULA_START = "^[" + "".join(re.escape(c) for c in FORMULA_TRIGGERS) + "]"


def canonical_decimal(value: Column) -> Column:
    """A decimal as plain text without trailing zeros, keeping one decimal place."""
    plain = value.cast("string")
    trimmed = F.regexp_replace(plain, r"0+$", "")
    return F.when(plain.contains("."), F.regexp_replace(trimmed, r"\.$", ".0")).otherwise(plain)


def neutralized_text(value: Column) -> Column:
    return F.when(value.rlike(_FORMULA_START), F.concat(F.lit(FORMULA_ESCAPE), value)).otherwise(value)


def as_csv_text(frame: DataFrame) -> DataFrame:
    """Every column as the text a CSV file should hold, in the same order."""
    columns = []
    for field in frame.schema.fields:
        column = F.col(field.name)
        if isinstance(field.dataType, DecimalType):
            column = canonical_decimal(column)
        elif isinstance(field.dataType, StringType):
            column = neutralized_text(column)
        else:
            column = column.cast("string")
        columns.append(column.alias(field.name))
    return frame.select(*columns)
