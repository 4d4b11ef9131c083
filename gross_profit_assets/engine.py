"""Which engine executes the transforms: Spark (default) or DuckDB through SQLFrame.

The transforms are written once, against the PySpark DataFrame API. ``GROSS_PROFIT_ENGINE``
(read when this module is first imported, so once per process) decides what that API runs on:

- ``spark`` (default): PySpark itself, locally or on a cluster.
- ``duckdb``: SQLFrame's implementation of the same API, which turns each DataFrame into SQL
  and runs it on an in-process DuckDB. For data that fits one machine it skips the JVM, the
  task scheduler and the shuffles.

Transforms import ``F``, ``Column``, ``DataFrame``, ``Window`` and the types from here instead
of from ``pyspark.sql``. The few operations the two APIs spell differently are the functions
below (``try_cast``, ``broadcast``, ``unpersist``); everything else is the PySpark API as is.
See docs/engines.md for what differs and why.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

ENGINE_ENV_VAR = "GROSS_PROFIT_ENGINE"
SPARK = "spark"
DUCKDB = "duckdb"
ENGINES = (SPARK, DUCKDB)


class UnknownEngine(ValueError):
    pass


def engine_name(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    name = (environ.get(ENGINE_ENV_VAR) or SPARK).strip().lower()
    if name not in ENGINES:
        raise UnknownEngine(f"{ENGINE_ENV_VAR}={name!r} is not an engine; choose one of {list(ENGINES)}")
    return name


ENGINE = engine_name()

if ENGINE == DUCKDB:
    from sqlframe.base.types import (
        DecimalType,
        LongType,
        StringType,
        StructField,
        StructType,
    )
    from sqlframe.duckdb import Column, Window
    from sqlframe.duckdb import DuckDBDataFrame as DataFrame
    from sqlframe.duckdb import functions as F
    from sqlglot import exp

    def try_cast(column: Column, type_name: str) -> Column:
        """``column`` as ``type_name``, or null where it does not convert (SQL ``TRY_CAST``)."""
        return Column(exp.TryCast(this=column.column_expression, to=exp.DataType.build(type_name, dialect="spark")))

    def broadcast(frame: DataFrame) -> DataFrame:
        return frame  # DuckDB plans its own joins; there is nothing to ship to executors

    def unpersist(frame: DataFrame) -> None:
        return None  # a cached SQLFrame frame is a temporary table, dropped with the connection

    def write_parquet(frame: DataFrame, directory: Path) -> None:
        """``frame`` as Parquet in ``directory`` (one file, as DuckDB's COPY writes it)."""
        directory.mkdir(parents=True, exist_ok=True)
        frame.write.parquet(str(directory / "part-00000.parquet"), mode="overwrite")

    def read_parquet(session, paths: list[str], base_path: str | None = None) -> DataFrame:
        """Parquet directories; with ``base_path``, Hive-style ``key=value`` directory names
        become text columns, as Spark's ``basePath`` option makes them."""
        files = [f"{p}/*.parquet" if base_path else f"{p}/**/*.parquet" for p in paths]
        return session.read.load(files, format="parquet", hive_partitioning=bool(base_path),
                                 hive_types_autocast=False)

    def write_csv_file(frame: DataFrame, path: Path, options: dict) -> None:
        """``frame`` (all text columns) as one CSV file at ``path``, rows in the frame's order."""
        frame.write.csv(str(path), mode="overwrite", header=options["header"], quote=options["quote"],
                        escape=options["escape"])

else:
    from pyspark.sql import Column, DataFrame, Window
    from pyspark.sql import functions as F
    from pyspark.sql.types import (
        DecimalType,
        LongType,
        StringType,
        StructField,
        StructType,
    )

    def try_cast(column: Column, type_name: str) -> Column:
        """``column`` as ``type_name``, or null where it does not convert (SQL ``TRY_CAST``)."""
        return column.try_cast(type_name)

    def broadcast(frame: DataFrame) -> DataFrame:
        return F.broadcast(frame)

    def unpersist(frame: DataFrame) -> None:
        frame.unpersist()

    def write_parquet(frame: DataFrame, directory: Path) -> None:
        """``frame`` as Parquet part files in ``directory``."""
        frame.write.mode("overwrite").parquet(str(directory))

    def read_parquet(session, paths: list[str], base_path: str | None = None) -> DataFrame:
        """Parquet directories; with ``base_path``, Hive-style ``key=value`` directory names
        become columns (text: the session turns partition type inference off)."""
        if base_path:
            return session.read.option("basePath", base_path).parquet(*paths)
        return session.read.parquet(*paths)

    def write_csv_file(frame: DataFrame, path: Path, options: dict) -> None:
        """``frame`` (all text columns) as one CSV file at ``path``, rows in the frame's order:
        one writer task keeps the order, then its single part file is moved into place."""
        staging = path.parent / f".{path.name}-parts"
        try:
            frame.coalesce(1).write.csv(str(staging), **options)
            (part,) = staging.glob("part-*.csv")
            os.replace(part, path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


__all__ = [
    "ENGINE",
    "Column",
    "DataFrame",
    "DecimalType",
    "F",
    "LongType",
    "StringType",
    "StructField",
    "StructType",
    "Window",
    "broadcast",
    "read_parquet",
    "try_cast",
    "unpersist",
    "write_csv_file",
    "write_parquet",
]
