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
  one task.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
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
    F,
    LongType,
    StringType,
    StructField,
    StructType,
)
from gross_profit_assets.landing import drop_stray_header_quote, month_of_key
from gross_profit_assets.resources.object_store import ObjectInfo, ObjectStore

HEADER_PEEK_BYTES = 64 * 1024
_LOCAL_SCHEME = re.compile(r"^file:/+")
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
    unless the table numbers its lines, and ``billing_month``) and the files that could not be
    read at all."""

    frame: DataFrame
    files: list[str] = field(default_factory=list)
    rejected: list[RejectedFile] = field(default_factory=list)


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
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, lines, last = 0, 0, b"\n"
    for chunk in store.iter_bytes(key):
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            return f"not UTF-8: invalid byte 0x{chunk[exc.start]:02x} at byte offset {offset + exc.start}", 0
        offset += len(chunk)
        lines += chunk.count(b"\n")
        last = chunk[-1:]
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return f"not UTF-8: truncated character at the end (byte offset {offset})", 0
    return None, lines + (last != b"\n")


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
    layouts: dict[tuple[str, ...], list[str]] = {}
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
        layouts.setdefault(names, []).append(obj.key)
    read_layout = _read_layout_duckdb if ENGINE == DUCKDB else _read_layout
    frames = [read_layout(spark, store, table, names, keys) for names, keys in layouts.items()]
    frame = reduce(DataFrame.unionByName, frames) if frames else empty_landed_frame(spark, table)
    files = [k for keys in layouts.values() for k in keys]
    return LandedTable(frame, files, rejected)


def empty_landed_frame(spark, table: TableContract) -> DataFrame:
    """No rows, the landed schema. Built in the JVM: ``createDataFrame([])`` would start Python
    workers (and need Python on every executor) just to produce nothing."""
    return spark.range(1).where(F.lit(False)).select(
        *[F.lit(None).cast(f.dataType).alias(f.name) for f in landed_schema(table).fields]
    )


def _read_layout(
    spark,
    store: ObjectStore,
    table: TableContract,
    names: tuple[str, ...],
    keys: list[str],
) -> DataFrame:
    """Files sharing one header layout, read in one pass with an all-text schema."""
    schema = StructType([StructField(n, StringType()) for n in names])
    uris = [store.uri(k) for k in keys]
    # RFC 4180: a quote inside a quoted field is written "" (Spark's default escape is \).
    raw = spark.read.csv(
        uris, schema=schema, header=True, mode="PERMISSIVE", encoding="UTF-8", quote='"', escape='"'
    )
    key_of_path = F.create_map(
        *[item for uri, key in zip(uris, keys) for item in (F.lit(_spark_path(spark, uri)), F.lit(key))]
    )
    month_of_file = F.create_map(
        *[item for key in keys for item in (F.lit(key), F.lit(month_of_key(key)))]
    )
    columns = [F.col(n) if n in names else F.lit(None).cast("string").alias(n) for n in table.column_names]
    source_file = F.element_at(
        key_of_path, F.regexp_replace("_metadata.file_path", _LOCAL_SCHEME.pattern, "file:///")
    ).alias(SOURCE_FILE)
    month = F.element_at(month_of_file, F.col(SOURCE_FILE)).alias(PARTITION_KEY)
    if not table.numbered_lines:
        # No line numbers to find: one scan, no extra job to count the records of every split.
        return raw.select(*columns, source_file).select(
            *table.column_names, SOURCE_FILE, F.lit(None).cast("long").alias(LINE_NUMBER), month
        )
    located = raw.select(
        *columns,
        source_file,
        F.col("_metadata.file_block_start").alias("_block_start"),
        F.monotonically_increasing_id().alias("_row_id"),
    )
    # Spark reads each split of a file in one task, in order, and numbers that task's rows
    # consecutively, so a record's place in its file is its place in its split plus the records
    # of the file's earlier splits. Those counts come from one scan without data columns (Spark
    # only splits lines for it), collected here: a few rows, that become a literal map instead
    # of a subquery every later action would scan the files again for. Both scans are the same
    # files split the same way, so both number the rows alike. Line 1 is the header.
    offsets = split_offsets(
        located.groupBy(SOURCE_FILE, "_block_start")
        .agg(F.count(F.lit(1)).alias("records"), F.min("_row_id").alias("first_row_id"))
        .collect()
    )
    split = F.concat_ws(_SPLIT_SEPARATOR, SOURCE_FILE, F.col("_block_start").cast("string"))
    # No split has a record when every file is a bare header: there is nothing to number.
    offset = F.element_at(F.create_map(*[F.lit(x) for pair in offsets.items() for x in pair]), split) if offsets else F.lit(0)
    return located.select(
        *table.column_names,
        SOURCE_FILE,
        (F.col("_row_id") + offset + 2).cast("long").alias(LINE_NUMBER),
        month,
    )


_SPLIT_SEPARATOR = "\u0000"


def split_offsets(splits) -> dict[str, int]:
    """``{"<file>\\0<split start>": offset}``: what to add to a split's row ids to number its
    records from 0 in its file, given rows of (source_file, _block_start, records, first_row_id)."""
    offsets, earlier = {}, {}
    for split in sorted(splits, key=lambda s: (s[SOURCE_FILE], s["_block_start"])):
        before = earlier.get(split[SOURCE_FILE], 0)
        offsets[f"{split[SOURCE_FILE]}{_SPLIT_SEPARATOR}{split['_block_start']}"] = before - split["first_row_id"]
        earlier[split[SOURCE_FILE]] = before + split["records"]
    return offsets


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _local_path(uri: str) -> str:
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        raise ValueError(f"the DuckDB engine reads local files only, not {uri}")
    return unquote(parsed.path)


def _read_layout_duckdb(
    session, store: ObjectStore, table: TableContract, names: tuple[str, ...], keys: list[str]
) -> DataFrame:
    """The DuckDB engine's reader: DuckDB's CSV reader with the same reading rules as Spark's
    here. The header line is skipped as a line (a stray quote in it cannot open a field),
    blank and whitespace-only lines are not records (Spark drops them), short rows are padded
    with nulls and extra cells dropped (Spark's PERMISSIVE mode), and a file's records are
    numbered in file order (one file per scan, DuckDB keeps insertion order). Line 1 is the
    header."""
    from gross_profit_assets.resources.duckdb_engine import duckdb_connection

    columns = "{" + ", ".join(f"{_sql_text(n)}: 'VARCHAR'" for n in names) + "}"
    blank = " AND ".join(
        [f"trim(coalesce({_sql_name(names[0])}, '')) = ''"] + [f"{_sql_name(n)} IS NULL" for n in names[1:]]
    )
    line_number = "CAST(row_number() OVER () + 1 AS BIGINT)" if table.numbered_lines else "CAST(NULL AS BIGINT)"
    selects = []
    for key in keys:
        source = (
            f"read_csv({_sql_text(_local_path(store.uri(key)))}, header = false, skip = 1, "
            f"auto_detect = false, delim = ',', quote = '\"', escape = '\"', null_padding = true, "
            f"strict_mode = false, columns = {columns})"
        )
        values = [_sql_name(n) if n in names else f"CAST(NULL AS VARCHAR) AS {_sql_name(n)}" for n in table.column_names]
        month = month_of_key(key)
        selects.append(
            f"SELECT {', '.join(values)}, {_sql_text(key)} AS {SOURCE_FILE}, "
            f"{line_number} AS {LINE_NUMBER}, "
            f"{_sql_text(month) if month else 'CAST(NULL AS VARCHAR)'} AS {PARTITION_KEY} "
            f"FROM (SELECT * FROM {source} WHERE NOT ({blank}))"
        )
    view = f"landed_{table.name}_{uuid.uuid4().hex[:12]}"
    duckdb_connection(session).execute(f"CREATE VIEW {view} AS " + " UNION ALL ".join(selects))
    return session.table(view)


def _spark_path(spark, uri: str) -> str:
    """The path as Spark's ``_metadata.file_path`` spells it: Hadoop percent-encodes some
    characters, such as spaces, and writes ``file:/`` or ``file:///`` (normalised to the latter)."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return _LOCAL_SCHEME.sub("file:///", path.toUri().toString())
