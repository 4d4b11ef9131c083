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
import uuid
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
_MATERIALIZED: dict[int, str] = {}  # DuckDB tables behind materialized frames, by frame id

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

    def materialize(frame: DataFrame) -> DataFrame:
        """``frame`` computed once into a DuckDB table, so that the actions after it read the
        table instead of recomputing the plan (SQLFrame ignores ``persist`` on DuckDB)."""
        session = frame.session
        *setup, query = frame.sql(dialect="duckdb", optimize=False, pretty=False, as_list=True)
        name = f"materialized_{uuid.uuid4().hex[:16]}"
        for statement in setup:
            session._conn.execute(statement)
        session._conn.execute(f"CREATE TABLE {name} AS {query}")
        _MATERIALIZED[id(frame_ := session.table(name))] = name
        return frame_

    def unpersist(frame: DataFrame) -> None:
        name = _MATERIALIZED.pop(id(frame), None)
        if name:
            frame.session._conn.execute(f"DROP TABLE IF EXISTS {name}")

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

    def materialize(frame: DataFrame) -> DataFrame:
        """``frame`` cached on local disk on its first action, for the next ones. Disk, not
        memory: a month of millions of lines would not fit the driver's heap, and on a
        416,666-line month the disk cache measured no slower."""
        from pyspark import StorageLevel

        return frame.persist(StorageLevel.DISK_ONLY)

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
        """``frame`` (all text columns) as one CSV file at ``path``, rows in the frame's order.

        Every task writes its part (an ordered frame's parts are consecutive ranges, numbered
        in order), and the parts are joined in that order with the header kept once: the
        formatting runs on every core instead of in one task."""
        staging = path.parent / f".{path.name}-parts"
        try:
            frame.write.csv(str(staging), **options)
            parts = sorted(staging.glob("part-*.csv"))
            with open(path, "wb") as out:
                if not parts and options.get("header"):  # no rows and no part: the header alone
                    out.write((",".join(frame.columns) + "\n").encode())
                for index, part in enumerate(parts):
                    with open(part, "rb") as handle:
                        header = handle.readline() if options.get("header") else b""
                        if index == 0:
                            out.write(header)
                        shutil.copyfileobj(handle, out, 1 << 20)
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
    "materialize",
    "read_parquet",
    "try_cast",
    "unpersist",
    "write_csv_file",
    "write_parquet",
]
