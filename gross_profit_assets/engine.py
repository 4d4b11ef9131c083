"""Which engine executes the transforms: Spark (default) or DuckDB through SQLFrame.

The transforms are written once, against the PySpark DataFrame API. ``GROSS_PROFIT_ENGINE``
(read when this module is first imported, so once per process) decides what that API runs on:

- ``spark`` (default): PySpark itself, locally or on a cluster.
- ``duckdb``: SQLFrame's implementation of the same API, which turns each DataFrame into SQL
  and runs it on an in-process DuckDB. For data that fits one machine it skips the JVM, the
  task scheduler and the shuffles.

Transforms import ``F``, ``Column``, ``DataFrame``, ``Window`` and the types from here instead
of from ``pyspark.sql``. The few operations the two APIs spell differently are the functions
below (``try_cast``, ``broadcast``, ``rtrim_chars``, ``unpersist``, ...); everything else is the PySpark API as is.
See docs/engines.md for what differs and why.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

from gross_profit_assets.csv_files import join_csv_files

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


def sql_literal(value: str) -> str:
    """A DuckDB SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def sql_identifier(name: str) -> str:
    """A DuckDB SQL quoted identifier."""
    return '"' + name.replace('"', '""') + '"'


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

    def rtrim_chars(column: Column, characters: str) -> Column:
        """``column`` without the ``characters`` at its end."""
        return Column.invoke_anonymous_function(column, "RTRIM", F.lit(characters))

    def cluster_by(frame: DataFrame, *columns: str) -> DataFrame:
        return frame  # one process: nothing to distribute

    def sorted_by_group(frame: DataFrame, group: str, *order: str) -> DataFrame:
        """``frame`` in (``group``, ``order``) order."""
        return frame.orderBy(group, *order)

    def _query(frame: DataFrame) -> str:
        """The frame's query, its set-up statements (temporary views) run first."""
        *setup, query = frame.sql(dialect="duckdb", optimize=False, pretty=False, as_list=True)
        for statement in setup:
            frame.session._conn.execute(statement)
        return query

    def materialize(frame: DataFrame) -> DataFrame:
        """``frame`` computed once into a DuckDB table, so that the actions after it read the
        table instead of recomputing the plan (SQLFrame ignores ``persist`` on DuckDB)."""
        session = frame.session
        name = f"materialized_{uuid.uuid4().hex[:16]}"
        session._conn.execute(f"CREATE TABLE {name} AS {_query(frame)}")
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

    def write_parquet_by(frame: DataFrame, column: str, directory: Path) -> None:
        """``frame`` as Parquet in one ``column=value`` folder of ``directory`` per value of
        ``column`` (which the files then do not hold), in one COPY."""
        frame.session._conn.execute(
            f"COPY ({_query(frame)}) TO {sql_literal(str(directory))} "
            f"(FORMAT parquet, PARTITION_BY ({sql_identifier(column)}))"
        )

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

    def write_csv_files_by(frame: DataFrame, column: str, paths: Mapping[str, Path], options: dict) -> None:
        """One CSV file per value of ``column`` (not written), at ``paths[value]``, each with its
        rows in the frame's order: the frame computed once into a table (in order), then one
        ``COPY`` of each value's rows (a filtered scan keeps the table's order)."""
        connection = frame.session._conn
        table = f"csv_rows_{uuid.uuid4().hex[:16]}"
        columns = ", ".join(sql_identifier(c) for c in frame.columns if c != column)
        csv_options = ", ".join(
            ["FORMAT csv", f"HEADER {str(bool(options['header'])).lower()}",
             f"QUOTE {sql_literal(options['quote'])}", f"ESCAPE {sql_literal(options['escape'])}"]
        )
        connection.execute(f"CREATE TEMP TABLE {table} AS {_query(frame)}")
        try:
            for value, path in paths.items():
                connection.execute(
                    f"COPY (SELECT {columns} FROM {table} WHERE {sql_identifier(column)} = {sql_literal(value)}) "
                    f"TO {sql_literal(str(path))} ({csv_options})"
                )
        finally:
            connection.execute(f"DROP TABLE IF EXISTS {table}")

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

    def rtrim_chars(column: Column, characters: str) -> Column:
        """``column`` without the ``characters`` at its end."""
        return F.rtrim(column, F.lit(characters))

    def cluster_by(frame: DataFrame, *columns: str) -> DataFrame:
        """``frame`` hash-partitioned by ``columns`` (into the session's shuffle partitions), so
        that a window and a join keyed by them share one shuffle and one sort."""
        return frame.repartition(*columns)

    def sorted_by_group(frame: DataFrame, group: str, *order: str) -> DataFrame:
        """``frame`` with each value of ``group`` wholly in one task, its rows there in
        ``order``: a hash shuffle and a sort within each task, not a global sort (which would
        first sample the whole frame for its ranges). Enough for writing one file per group."""
        return frame.repartition(group).sortWithinPartitions(group, *order)

    def materialize(frame: DataFrame) -> DataFrame:
        """``frame`` computed now and kept as rows on the executors' local disk, for the
        actions after it; its plan starts afresh from those rows (a local checkpoint).

        Rows on disk, not Spark's cache: the cache builds compressed column batches, which on
        a 5-million-line assessment cost a third again of computing it (measured: +12 s on a
        38 s join), where writing the rows cost next to nothing; and disk, not memory, because
        a month of millions of lines would not fit the driver's heap. The rows are lost with
        an executor (a cluster run then fails and is retried, as a run that lost its node)."""
        from pyspark import StorageLevel

        return frame.localCheckpoint(eager=True, storageLevel=StorageLevel.DISK_ONLY)

    def unpersist(frame: DataFrame) -> None:
        """Frees what ``materialize`` kept: a checkpoint's rows (Spark would otherwise keep them
        until the JVM collects the plan), or a cached frame."""
        plan = frame._jdf.queryExecution().logical()
        if plan.getClass().getSimpleName() == "LogicalRDD":
            plan.rdd().unpersist(False)
        else:
            frame.unpersist()

    def write_parquet(frame: DataFrame, directory: Path) -> None:
        """``frame`` as Parquet part files in ``directory``."""
        frame.write.mode("overwrite").parquet(str(directory))

    def write_parquet_by(frame: DataFrame, column: str, directory: Path) -> None:
        """``frame`` as Parquet in one ``column=value`` folder of ``directory`` per value of
        ``column`` (which the files then do not hold), in one write."""
        frame.write.partitionBy(column).parquet(str(directory))

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
            _join_csv_parts(sorted(staging.glob("part-*.csv")), path, frame.columns, options)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def write_csv_files_by(frame: DataFrame, column: str, paths: Mapping[str, Path], options: dict) -> None:
        """One CSV file per value of ``column`` (not written), at ``paths[value]``, each with its
        rows in the frame's order, in one write.

        Within each task, ``frame`` must be sorted by ``column`` first (``sorted_by_group``
        sorts by month, then file and line), so that Spark's writer needs no sort of its own
        (which would not keep the order within a value): each task writes its rows into their
        value's folder, and each folder's parts, numbered by task, are joined in that order
        (with ``sorted_by_group`` a value has one part)."""
        staging = Path(os.path.commonpath([p.parent for p in paths.values()])) / f".csv-parts-{uuid.uuid4().hex}"
        try:
            frame.write.partitionBy(column).csv(str(staging), **options)
            written = {d.name.partition("=")[2] for d in staging.glob(f"{column}=*")}
            unexpected = sorted(written - set(paths))
            if unexpected:
                raise ValueError(f"rows for {column} {unexpected}, which no file was asked for")
            columns = [c for c in frame.columns if c != column]
            for value, path in paths.items():
                _join_csv_parts(sorted((staging / f"{column}={value}").glob("part-*.csv")), path, columns, options)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _join_csv_parts(parts: list[Path], path: Path, columns: list[str], options: dict) -> None:
        """The parts one after the other in ``path``, the header kept once (written from the
        columns when there is no part: no rows)."""
        with open(path, "wb") as out:
            if not parts and options.get("header"):
                out.write((",".join(columns) + "\n").encode())
            if not join_csv_files(parts, out, header=bool(options.get("header"))):
                raise ValueError(f"the CSV parts of {path} do not share one header")


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
    "cluster_by",
    "materialize",
    "read_parquet",
    "rtrim_chars",
    "sorted_by_group",
    "sql_identifier",
    "sql_literal",
    "try_cast",
    "unpersist",
    "write_csv_file",
    "write_csv_files_by",
    "write_parquet",
    "write_parquet_by",
]
