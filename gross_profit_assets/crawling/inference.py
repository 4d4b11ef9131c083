"""Infer a CSV file's schema the way an AWS Glue CSV crawler (built-in classifier) does.

Pure functions over bytes: no Dagster, no Spark. The local crawler uses them so that a laptop
catalog holds the same column names and types Glue would write for the same files, and the
drift checks behave the same in both deployments.

What Glue does and we mirror:
- Column types come from a sample of rows; each non-empty cell votes for the narrowest type
  that reads it, and votes widen (bigint + double -> double, date + timestamp -> timestamp,
  anything + string -> string). A column with no values at all is a string.
- The first row is a header only if it looks like one: every cell a non-empty, unique string,
  and the rest of the file shows it is different (some column is not a string). Because our
  inputs are often all-text (``units_sold``'s item names, ``fx_rates``' codes), we also accept
  an all-string first row whose cells are all known contract column names.
- Without a header, columns are called ``col0, col1, ...``.
- Header cells become lowercase, trimmed names with spaces as underscores. The catalog keeps
  the file's own names (extra columns included); mapping aliases to contract names is the
  reader's job, not the catalog's.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from gross_profit_assets.contract import INPUT_TABLES, normalize_header_cell
from gross_profit_assets.landing import drop_stray_header_quote

BOOLEAN = "boolean"
BIGINT = "bigint"
DOUBLE = "double"
DECIMAL = "decimal"
DATE = "date"
TIMESTAMP = "timestamp"
STRING = "string"

# Delimiters Glue's built-in CSV classifier recognizes, in order of preference on a tie.
CANDIDATE_DELIMITERS = (",", "\t", "|", ";")
# A double keeps 15 significant decimal digits exactly; beyond that only a decimal is faithful.
DOUBLE_SIGNIFICANT_DIGITS = 15
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
# Rows read to choose the delimiter: enough to see a pattern, cheap on a 1 MiB sample.
DELIMITER_PROBE_ROWS = 20

# Types that widen into each other instead of collapsing to string, narrowest first.
_WIDENING_CHAINS: tuple[tuple[str, ...], ...] = ((BIGINT, DOUBLE, DECIMAL), (DATE, TIMESTAMP))

_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(\.\d{1,9})?")

KNOWN_COLUMN_NAMES: frozenset[str] = frozenset(
    name
    for table in INPUT_TABLES.values()
    for column in table.columns
    for name in (column.name, *column.aliases)
)


@dataclass(frozen=True)
class InferredSchema:
    """What a crawler learns from one file's sample.

    ``columns`` are ``(name, glue_type)`` pairs in file order; ``rows_sampled`` counts the data
    rows that voted on the types (the header is not one of them).
    """

    header_present: bool
    columns: list[tuple[str, str]] = field(default_factory=list)
    delimiter: str = ","
    rows_sampled: int = 0


def infer_csv_schema(
    sample: bytes, *, max_rows: int = 1000, complete: bool = True
) -> InferredSchema:
    """Infer the Glue schema of a CSV file from ``sample``, its first bytes.

    ``complete`` says whether ``sample`` is the whole file; when it is not, a final line cut
    mid-way is dropped so a truncated value (``2023-0``) cannot vote for the wrong type.
    """
    # The same repair the reader makes: a lone quote before the header would otherwise turn
    # the whole sample into one quoted cell.
    text = drop_stray_header_quote(decode_csv_bytes(drop_incomplete_last_line(sample, complete=complete)))
    delimiter = detect_delimiter(text)
    rows = read_records(text, delimiter, limit=max_rows + 1)
    if not rows:
        return InferredSchema(header_present=False, columns=[], delimiter=delimiter)

    header_present = is_header(rows[0], rows[1:])
    data = rows[1:] if header_present else rows[:max_rows]
    width = max(len(row) for row in rows)
    names = _column_names(rows[0] if header_present else [], width)
    types = [column_type(_cells(data, i)) for i in range(width)]
    return InferredSchema(
        header_present=header_present,
        columns=list(zip(names, types)),
        delimiter=delimiter,
        rows_sampled=len(data),
    )


def drop_incomplete_last_line(sample: bytes, *, complete: bool) -> bytes:
    """``sample`` up to its last line break, unless it is the whole file or ends on a break.

    Cutting on bytes (before decoding) also drops a multi-byte character split by the sample.
    A sample ending in ``\\r`` is the CR of a CRLF pair: the line's content is whole.
    """
    if complete or sample.endswith((b"\n", b"\r")):
        return sample
    cut = max(sample.rfind(b"\n"), sample.rfind(b"\r"))
    return sample[: cut + 1]


def decode_csv_bytes(data: bytes) -> str:
    """Text of a CSV file: UTF-8 (BOM stripped), or latin-1 when the bytes are not UTF-8.

    Latin-1 never fails, so a Windows export with accented names still gets a schema.
    """
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def detect_delimiter(text: str) -> str:
    """The candidate delimiter that splits the first rows into the most consistent columns.

    A delimiter must split the first row into at least two cells to count; ties go to the
    wider split, then to the earlier candidate (comma first). Single-column files get a comma.
    """

    def score(delimiter: str) -> tuple[int, int]:
        rows = read_records(text, delimiter, limit=DELIMITER_PROBE_ROWS)
        if not rows or len(rows[0]) < 2:
            return (0, 0)
        width = len(rows[0])
        return (sum(len(row) == width for row in rows), width)

    scores = {delimiter: score(delimiter) for delimiter in CANDIDATE_DELIMITERS}
    best = max(CANDIDATE_DELIMITERS, key=scores.__getitem__)
    return best if scores[best] > (0, 0) else ","


def read_records(text: str, delimiter: str, *, limit: int) -> list[list[str]]:
    """Up to ``limit`` non-blank records, parsed with the csv module (quotes, CRLF, no final
    newline). A record the csv module rejects (a NUL byte, a giant field) ends the sample:
    the schema comes from what came before it."""
    records: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                records.append(row)
            if len(records) >= limit:
                break
    except csv.Error:
        pass
    return records


def cell_type(value: str) -> str | None:
    """The narrowest Glue type that reads ``value``; None for an empty cell (no vote)."""
    value = value.strip()
    if not value:
        return None
    if value.lower() in ("true", "false"):
        return BOOLEAN
    if _INTEGER.fullmatch(value) and BIGINT_MIN <= int(value) <= BIGINT_MAX:
        return BIGINT
    if _NUMBER.fullmatch(value):
        return DECIMAL if _significant_digits(value) > DOUBLE_SIGNIFICANT_DIGITS else DOUBLE
    if _DATE.fullmatch(value) and _parses(value, "%Y-%m-%d"):
        return DATE
    timestamp = _TIMESTAMP.fullmatch(value)
    if timestamp and _parses(timestamp.group(1), "%Y-%m-%d %H:%M:%S"):
        return TIMESTAMP
    return STRING


def widen_type(a: str, b: str) -> str:
    """The type that holds values of both ``a`` and ``b``, as Glue widens across rows/files."""
    if a == b:
        return a
    for chain in _WIDENING_CHAINS:
        if a in chain and b in chain:
            return max(a, b, key=chain.index)
    return STRING


def column_type(values: Iterable[str]) -> str:
    """The widened type of a column's cells; a column without any value is a string."""
    widened: str | None = None
    for value in values:
        voted = cell_type(value)
        if voted is not None:
            widened = voted if widened is None else widen_type(widened, voted)
        if widened == STRING:
            break
    return widened or STRING


def is_header(first: Sequence[str], rest: Sequence[Sequence[str]]) -> bool:
    """Glue's header test, plus the contract's names for files whose data is all text."""
    names = [normalize_header_cell(cell) for cell in first]
    if not all(names) or any(cell_type(cell) != STRING for cell in first):
        return False
    if len(set(names)) != len(names):
        return False
    data_types = (column_type(_cells(rest, i)) for i in range(len(first)))
    return any(t != STRING for t in data_types) or set(names) <= KNOWN_COLUMN_NAMES


def merge_schemas(
    a: Sequence[tuple[str, str]], b: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Union of two schemas by column name, first-seen order, types widened.

    This is how one Glue table holds several compatible files (and months): a column only one
    file has is still a column of the table.
    """
    merged: dict[str, str] = {}
    for name, glue_type in (*a, *b):
        merged[name] = widen_type(merged[name], glue_type) if name in merged else glue_type
    return list(merged.items())


def estimate_record_count(
    sample: bytes, object_size: int, *, complete: bool, header_present: bool
) -> int:
    """Data rows in a file, counted in the sample and scaled to the file's size when the sample
    is only its beginning. An estimate, like Glue's ``recordCount``: a quoted field spanning
    lines counts twice."""
    body = drop_incomplete_last_line(sample, complete=complete)
    lines = sum(1 for line in body.splitlines() if line.strip())
    records = max(lines - int(header_present), 0)
    if complete or not body:
        return records
    return round(records * object_size / len(body))


def _cells(rows: Sequence[Sequence[str]], index: int) -> Iterable[str]:
    """Column ``index`` of ``rows``; a short (ragged) row has no value there."""
    return (row[index] for row in rows if index < len(row))


def _column_names(header: Sequence[str], width: int) -> list[str]:
    """Header names, then Glue's ``colN`` for positions the header does not name."""
    named = [normalize_header_cell(cell) for cell in header]
    return named + [f"col{i}" for i in range(len(named), width)]


def _significant_digits(number: str) -> int:
    """Significant digits of a numeric literal, ignoring leading and trailing zeros
    (``3525.00`` has 4; ``1234567890.1234567`` has 17)."""
    try:
        return len(Decimal(number).normalize().as_tuple().digits)
    except InvalidOperation:
        return 0


def _parses(value: str, pattern: str) -> bool:
    """Whether ``value`` is a real calendar date/time (``2023-02-30`` is not)."""
    try:
        datetime.strptime(value, pattern)
    except ValueError:
        return False
    return True
