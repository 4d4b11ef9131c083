"""Reads landed CSV objects into contract-shaped Spark DataFrames, with Spark's own CSV reader.

Each file's header is peeked at (a few KB) to map its columns onto the contract: case, spaces
and aliases (``item`` -> ``item_sold``) are resolved here, extra columns are dropped (the
catalog keeps them). Every value is read as text; parsing and validation happen in the pure
transforms, so a bad value becomes a quarantine reason instead of a failed job.

Two costs are avoided on purpose (issue 7):

- A landed file is scanned for UTF-8 validity once per version: the landing stage and the
  governed reader both ask, so the verdict is kept per (object URI, version) in this process.
- Line numbers come from Spark's row ids within each input split plus the number of records in
  the file's earlier splits (a tiny aggregate over a column-pruned scan, collected once per
  read), not from a window over the whole file, which would shuffle and sort every row into
  one task. Each file is its own scan, so its key and month are literals: asking Spark which
  file a row came from (``_metadata``) cost a 5-million-line read about half again.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import reduce
from threading import Lock
from urllib.parse import unquote, urlparse

from gross_profit_assets.contract import (
    LINE_NUMBER,
    PARTITION_KEY,
    SOURCE_FILE,
    TableContract,
)
from gross_profit_assets.engine import (
    DUCKDB,
    ENGINE,
    DataFrame,
    Column,
    F,
    LongType,
    StringType,
    StructField,
    StructType,
    sql_identifier,
    sql_literal,
)
from gross_profit_assets.landing import drop_stray_header_quote, month_of_key
from gross_profit_assets.resources.object_store import ObjectInfo, ObjectStore
from gross_profit_assets.utf8 import utf8_problem

HEADER_PEEK_BYTES = 64 * 1024
# (object URI, version) -> (UTF-8 problem or None, physical lines, header cells); bounded.
_SCANNED: OrderedDict[tuple[str, str], tuple[str | None, int, tuple[str, ...]]] = OrderedDict()
_SCANNED_MAX = 4096
_SCANNED_LOCK = Lock()


@dataclass(frozen=True)
class RejectedFile:
    key: str
    reason: str


@dataclass(frozen=True)
class LandedTable:
    """Rows of one table (contract columns as text + ``source_file``, ``line_number``, null
    unless the table numbers its lines, and ``billing_month``), the files read, the files that
    could not be read at all, and, for a table that numbers its lines, how many records the
    reader found in each file read (counted while numbering them, before any transform)."""

    frame: DataFrame
    files: list[str] = field(default_factory=list)
    rejected: list[RejectedFile] = field(default_factory=list)
    records: dict[str, int] = field(default_factory=dict)


def landed_schema(table: TableContract) -> StructType:
    text = [StructField(name, StringType()) for name in table.column_names]
    lineage = [
        StructField(SOURCE_FILE, StringType()),
        StructField(LINE_NUMBER, LongType()),
        StructField(PARTITION_KEY, StringType()),
    ]
    return StructType(text + lineage)


def read_header(store: ObjectStore, key: str) -> list[str]:
    """The header cells. A lone quote before the header (``"id,company_name,...``), which some
    exports write, is dropped: Spark reads line by line, so it cannot swallow the rows below."""
    head = store.read_bytes(key, length=HEADER_PEEK_BYTES)
    first_line = head.decode("utf-8-sig", errors="replace").splitlines()[:1]
    if not first_line:
        return []
    return next(csv.reader(io.StringIO(drop_stray_header_quote(first_line[0]))), [])


@dataclass(frozen=True)
class FileInspection:
    problem: str | None  # why the file cannot be read at all; None when it can
    data_lines: int  # physical lines after the header
    header: tuple[str, ...] = ()  # the header cells, when the file could be decoded


def scan_utf8(store: ObjectStore, key: str) -> tuple[str | None, int]:
    """(where the object stops being UTF-8 or None, its number of lines), in one pass over
    every byte, a chunk at a time."""
    problem, lines = utf8_problem(store.iter_bytes(key))
    return (f"not UTF-8: {problem}" if problem else None), lines


def _scanned(store: ObjectStore, obj: ObjectInfo) -> tuple[str | None, int, tuple[str, ...]]:
    """The object's UTF-8 verdict, line count and header, read once per object version."""
    cache_key = (store.uri(obj.key), obj.version)
    with _SCANNED_LOCK:
        if cache_key in _SCANNED:
            _SCANNED.move_to_end(cache_key)
            return _SCANNED[cache_key]
    encoding, lines = scan_utf8(store, obj.key)
    header = () if encoding else tuple(read_header(store, obj.key))
    with _SCANNED_LOCK:
        _SCANNED[cache_key] = (encoding, lines, header)
        while len(_SCANNED) > _SCANNED_MAX:
            _SCANNED.popitem(last=False)
    return encoding, lines, header


def inspect_landed_file(store: ObjectStore, table: TableContract, obj: ObjectInfo) -> FileInspection:
    """Whether a landed file can be read as ``table`` at all, and how many lines it holds.
    An empty file is fine: it simply has no lines."""
    if obj.size == 0:
        return FileInspection(None, 0)
    encoding, lines, header = _scanned(store, obj)
    if encoding:
        return FileInspection(encoding, 0)
    missing = table.missing_columns(list(header))
    problem = f"missing required columns {missing}" if missing else None
    return FileInspection(problem, max(lines - 1, 0), header)


def read_landed_table(
    spark, store: ObjectStore, table: TableContract, objects: list[ObjectInfo]
) -> LandedTable:
    """One DataFrame over every readable landed file of ``table``."""
    readable: list[tuple[str, tuple[str, ...]]] = []  # (key, the file's columns in contract names)
    rejected: list[RejectedFile] = []
    for obj in objects:
        inspection = inspect_landed_file(store, table, obj)
        if inspection.problem:
            rejected.append(RejectedFile(obj.key, inspection.problem))
            continue
        if obj.size == 0:
            continue
        names = tuple(
            name or f"_extra_{i}" for i, name in enumerate(table.map_header(list(inspection.header)))
        )
        readable.append((obj.key, names))
    if not readable:
        return LandedTable(empty_landed_frame(spark, table), [], rejected)
    read_files = _read_files_duckdb if ENGINE == DUCKDB else _read_files
    frame, records = read_files(spark, store, table, readable)
    return LandedTable(frame, [key for key, _ in readable], rejected, records)


def empty_landed_frame(spark, table: TableContract) -> DataFrame:
    """No rows, the landed schema. Built in the JVM: ``createDataFrame([])`` would start Python
    workers (and need Python on every executor) just to produce nothing."""
    return spark.range(1).where(F.lit(False)).select(
        *[F.lit(None).cast(f.dataType).alias(f.name) for f in landed_schema(table).fields]
    )


_ROW_IN_SPLIT_BITS = 33  # monotonically_increasing_id(): split (partition) index << 33 | row


def _read_file(spark, store: ObjectStore, table: TableContract, key: str, names: tuple[str, ...]) -> DataFrame:
    """One landed file with an all-text schema: its contract columns, its key and month as
    literals (no row pays for finding out which file it came from), and Spark's row id."""
    schema = StructType([StructField(n, StringType()) for n in names])
    # RFC 4180: a quote inside a quoted field is written "" (Spark's default escape is \).
    raw = spark.read.csv(
        store.uri(key), schema=schema, header=True, mode="PERMISSIVE", encoding="UTF-8", quote='"', escape='"'
    )
    return raw.select(
        *[F.col(n) if n in names else F.lit(None).cast("string").alias(n) for n in table.column_names],
        F.lit(key).alias(SOURCE_FILE),
        F.lit(month_of_key(key)).alias(PARTITION_KEY),
        F.monotonically_increasing_id().alias("_row_id"),
    )


def _read_files(spark, store: ObjectStore, table: TableContract, files) -> tuple[DataFrame, dict[str, int]]:
    """Every file read by Spark, one scan each, as one DataFrame; and the records of each file
    when the table numbers its lines (counted on the way, see below)."""
    located = [_read_file(spark, store, table, key, names) for key, names in files]
    if not table.numbered_lines:
        # No line numbers to find: no extra job to count the records of every split.
        return _union([f.select(*table.column_names, SOURCE_FILE, F.lit(None).cast("long").alias(LINE_NUMBER),
                                PARTITION_KEY) for f in located]), {}
    # Spark reads each split of a file in one task, in order, and numbers that task's rows
    # consecutively (the row id's low bits; the split's index is in the high bits, in file
    # order), so a record's place in its file is its place in its split plus the records of
    # the file's earlier splits. Those counts come from one scan without data columns (Spark
    # only splits lines for it), collected here: a few rows, that become literal maps instead
    # of a subquery every later action would scan the files again for. Both scans are the same
    # files split the same way, so both number the rows alike. Line 1 is the header.
    split = F.shiftright("_row_id", _ROW_IN_SPLIT_BITS)
    counted = (
        _union([f.select(SOURCE_FILE, split.alias("_split")) for f in located])
        .groupBy(SOURCE_FILE, "_split")
        .agg(F.count(F.lit(1)).alias("records"))
        .collect()
    )
    before, records = records_before_splits(counted)
    row_in_split = F.col("_row_id").bitwiseAND(F.lit((1 << _ROW_IN_SPLIT_BITS) - 1))
    numbered = []
    for (key, _), frame in zip(files, located):
        # No split has a record when the file is a bare header: there is nothing to number.
        earlier = F.element_at(_literal_map(before[key]), split) if key in before else F.lit(0)
        numbered.append(frame.select(
            *table.column_names,
            SOURCE_FILE,
            (row_in_split + earlier + 2).cast("long").alias(LINE_NUMBER),
            PARTITION_KEY,
        ))
    return _union(numbered), {key: records.get(key, 0) for key, _ in files}


def _union(frames: list[DataFrame]) -> DataFrame:
    return reduce(DataFrame.unionByName, frames)


def _literal_map(mapping: dict) -> Column:
    return F.create_map(*[F.lit(x) for pair in mapping.items() for x in pair])


def records_before_splits(splits) -> tuple[dict[str, dict[int, int]], dict[str, int]]:
    """From rows of (source_file, _split, records): ``{file: {split: records in the file's
    earlier splits}}`` and ``{file: records}``."""
    before: dict[str, dict[int, int]] = {}
    records: dict[str, int] = {}
    for split in sorted(splits, key=lambda s: (s[SOURCE_FILE], s["_split"])):
        file = split[SOURCE_FILE]
        before.setdefault(file, {})[split["_split"]] = records.get(file, 0)
        records[file] = records.get(file, 0) + split["records"]
    return before, records


def _local_path(uri: str) -> str:
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        raise ValueError(f"the DuckDB engine reads local files only, not {uri}")
    return unquote(parsed.path)


def _read_files_duckdb(session, store: ObjectStore, table: TableContract, files) -> tuple[DataFrame, dict[str, int]]:
    """The DuckDB engine's reader: DuckDB's CSV reader with the same reading rules as Spark's
    here. The header line is skipped as a line (a stray quote in it cannot open a field),
    blank and whitespace-only lines are not records (Spark drops them), short rows are padded
    with nulls and extra cells dropped (Spark's PERMISSIVE mode), and a file's records are
    numbered in file order (one file per scan, DuckDB keeps insertion order). Line 1 is the
    header. The records of each file are counted when the table numbers its lines."""
    from gross_profit_assets.resources.duckdb_engine import duckdb_connection

    line_number = "CAST(row_number() OVER () + 1 AS BIGINT)" if table.numbered_lines else "CAST(NULL AS BIGINT)"
    selects = []
    for key, names in files:
        columns = "{" + ", ".join(f"{sql_literal(n)}: 'VARCHAR'" for n in names) + "}"
        blank = " AND ".join(
            [f"trim(coalesce({sql_identifier(names[0])}, '')) = ''"] + [f"{sql_identifier(n)} IS NULL" for n in names[1:]]
        )
        source = (
            f"read_csv({sql_literal(_local_path(store.uri(key)))}, header = false, skip = 1, "
            f"auto_detect = false, delim = ',', quote = '\"', escape = '\"', null_padding = true, "
            f"strict_mode = false, columns = {columns})"
        )
        values = [sql_identifier(n) if n in names else f"CAST(NULL AS VARCHAR) AS {sql_identifier(n)}" for n in table.column_names]
        month = month_of_key(key)
        selects.append(
            f"SELECT {', '.join(values)}, {sql_literal(key)} AS {SOURCE_FILE}, "
            f"{line_number} AS {LINE_NUMBER}, "
            f"{sql_literal(month) if month else 'CAST(NULL AS VARCHAR)'} AS {PARTITION_KEY} "
            f"FROM (SELECT * FROM {source} WHERE NOT ({blank}))"
        )
    view = f"landed_{table.name}_{uuid.uuid4().hex[:12]}"
    connection = duckdb_connection(session)
    connection.execute(f"CREATE VIEW {view} AS " + " UNION ALL ".join(selects))
    records = {}
    if table.numbered_lines:
        counted = dict(connection.execute(f"SELECT {SOURCE_FILE}, count(*) FROM {view} GROUP BY 1").fetchall())
        records = {key: counted.get(key, 0) for key, _ in files}
    return session.table(view), records
