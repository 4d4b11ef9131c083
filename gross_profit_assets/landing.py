"""The landing zone: how billing files are laid out in the object store, and how they get there.

Layout (the same on S3 and locally)::

    billing-data/<table>/billing_month=YYYY-MM/<file name>

``<table>`` is recognised from the file's header, not its name. The billing month of a row is
the month of its date (``bill_date`` for billing, ``month`` for FX rates); a billing export
spanning several months is split into one object per month, each with the original header and
the original lines byte for byte. Units and production costs carry no date: their month comes
from ``--month`` or from the file name (``..._07_2023.csv``, ``...2023-07...``).
"""

from __future__ import annotations

import contextlib
import csv
import re
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gross_profit_assets.contract import (
    INPUT_TABLES,
    MONTH_PATTERN,
    PARTITION_KEY,
    TableContract,
    recognize_table,
)
from gross_profit_assets.resources.object_store import ObjectInfo, ObjectStore
from gross_profit_assets.utf8 import utf8_problem

_KEY_MONTH = re.compile(rf"(?:^|/){PARTITION_KEY}=(\d{{4}}-\d{{2}})(?:/|$)")
_NAME_MONTH_PATTERNS = (
    re.compile(r"(?<!\d)(?P<m>0[1-9]|1[0-2])[_\-.](?P<y>(?:19|20)\d{2})(?!\d)"),  # 07_2023
    re.compile(r"(?<!\d)(?P<y>(?:19|20)\d{2})[_\-.]?(?P<m>0[1-9]|1[0-2])(?!\d)"),  # 2023-07
)
_ROW_MONTH = re.compile(r"^\s*(\d{4})[-/](0[1-9]|1[0-2])(?:[-/]\d{1,2})?\s*$")


class LandingError(ValueError):
    """A file that cannot be landed; the message names the file and what to do."""


def partition_prefix(table: str, billing_month: str) -> str:
    return f"{table}/{PARTITION_KEY}={billing_month}/"


def month_of_key(key: str) -> str | None:
    match = _KEY_MONTH.search(key)
    return match.group(1) if match else None


def landed_objects(store: ObjectStore, table: str, billing_month: str) -> list[ObjectInfo]:
    return store.list_objects(partition_prefix(table, billing_month))


def landed_months(store: ObjectStore) -> list[str]:
    """Every billing month that has at least one landed file, in order."""
    months = {month_of_key(o.key) for t in INPUT_TABLES for o in store.list_objects(f"{t}/")}
    return sorted(m for m in months if m)


def month_from_file_name(name: str) -> str | None:
    for pattern in _NAME_MONTH_PATTERNS:
        match = pattern.search(name)
        if match:
            return f"{match.group('y')}-{match.group('m')}"
    return None


def row_month(value: str) -> str | None:
    """``2023-07-01``, ``2023/07/01`` or ``2023-07`` -> ``2023-07``; anything else -> None."""
    match = _ROW_MONTH.match(value or "")
    return f"{match.group(1)}-{match.group(2)}" if match else None


CHUNK_BYTES = 1 << 20


def _not_utf8(path: Path) -> LandingError:
    """Where ``path`` stops being UTF-8. Read again a chunk at a time: only a refused file pays."""
    with open(path, "rb") as handle:
        problem, _ = utf8_problem(iter(lambda: handle.read(CHUNK_BYTES), b""))
    return LandingError(f"{path.name}: not UTF-8 ({problem}); re-export the file as UTF-8")


def _lines(path: Path) -> Iterator[str]:
    """The file's lines, endings kept, decoded as UTF-8 (a BOM dropped) a buffer at a time:
    an export of any size is read in constant memory; anything not UTF-8 is refused, with where."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            first = next(handle, None)
            if first is None:
                return
            yield drop_stray_header_quote(first)
            yield from handle
    except UnicodeDecodeError:
        raise _not_utf8(path) from None


def drop_stray_header_quote(text: str) -> str:
    """Some exports write a lone ``"`` before the header (``"id,company_name,...``). Left in, a
    CSV parser would read the whole file as one quoted field; it carries nothing, so drop it."""
    end = text.find("\n")
    header = text if end < 0 else text[:end]
    stripped = header.lstrip()
    if stripped.startswith('"') and header.count('"') % 2 == 1:
        return stripped[1:] + ("" if end < 0 else text[end:])
    return text


@dataclass(frozen=True)
class _Record:
    cells: list[str]
    raw: str  # the physical line(s) of this record, line endings included


def _records(path: Path) -> Iterator[_Record]:
    """CSV records together with the exact text they came from (quoted newlines included)."""
    consumed: list[str] = []

    def lines() -> Iterator[str]:
        for line in _lines(path):
            consumed.append(line)
            yield line

    for cells in csv.reader(lines()):
        yield _Record(cells, "".join(consumed))
        consumed.clear()


@dataclass(frozen=True)
class LandedFile:
    table: str
    billing_month: str
    key: str
    rows: int


@dataclass(frozen=True)
class LandingPlan:
    """Where a file lands: its table, the rows per billing month, and (for an export spanning
    months) which column dates a row and where rows without a readable date go."""

    table: TableContract
    rows: dict[str, int]
    default_month: str
    month_position: int | None = None  # set only when the file is split by month

    def month_of(self, record: _Record) -> str:
        return _dated_month(record, self.month_position) or self.default_month


def _dated_month(record: _Record, position: int) -> str | None:
    return row_month(record.cells[position]) if position < len(record.cells) else None


def plan_landing(path: Path, month: str | None = None) -> LandingPlan:
    """Decide where a file lands, in one streaming pass over it (nothing is held in memory)."""
    records = _records(path)
    header = next(records, None)
    if header is None:
        raise LandingError(f"{path.name}: the file is empty; there is nothing to land")
    table = recognize_table(header.cells)
    if table is None:
        expected = "; ".join(f"{t.name}: {', '.join(t.column_names)}" for t in INPUT_TABLES.values())
        raise LandingError(
            f"{path.name}: header {header.cells} matches no input table (expected {expected})"
        )
    if month is not None and not MONTH_PATTERN.match(month):
        raise LandingError(f"--month {month!r} is not a month (YYYY-MM)")
    fallback = month or month_from_file_name(path.name)
    if table.month_column is None:
        rows = sum(1 for _ in records)
        if fallback is None:
            raise LandingError(
                f"{path.name}: {table.name} rows carry no date, and no month is in the file "
                "name; pass --month YYYY-MM"
            )
        return LandingPlan(table, {fallback: rows}, fallback)
    position = table.map_header(header.cells).index(table.month_column)
    months = Counter(_dated_month(r, position) for r in records)
    dated = Counter({m: n for m, n in months.items() if m})
    default = month or (dated.most_common(1)[0][0] if dated else fallback)
    if default is None:
        raise LandingError(
            f"{path.name}: no row has a readable {table.month_column} and no month is in the "
            "file name; pass --month YYYY-MM"
        )
    per_month = Counter()
    for row_m, n in months.items():
        per_month[row_m or default] += n
    if month is not None or len(per_month) <= 1:
        return LandingPlan(table, {default: sum(months.values())}, default)
    return LandingPlan(table, dict(sorted(per_month.items())), default, position)


def land_file(store: ObjectStore, path: Path, month: str | None = None) -> list[LandedFile]:
    """Put one export into the landing zone, as a user uploading to the bucket would."""
    plan = plan_landing(path, month)
    name = plan.table.name
    if plan.month_position is None:
        ((billing_month, rows),) = plan.rows.items()
        key = partition_prefix(name, billing_month) + path.name
        store.put_file(str(path), key)
        return [LandedFile(name, billing_month, key, rows)]
    # An export spanning months: one more pass writes each month's part (the header, then that
    # month's lines byte for byte), a line at a time.
    with tempfile.TemporaryDirectory() as tmp:
        parts = {m: Path(tmp) / f"{m}-{path.name}" for m in plan.rows}
        with contextlib.ExitStack() as stack:
            handles = {m: stack.enter_context(open(part, "w", encoding="utf-8", newline=""))
                       for m, part in parts.items()}
            records = _records(path)
            header = next(records)
            for handle in handles.values():
                handle.write(header.raw)
            for record in records:
                handles[plan.month_of(record)].write(record.raw)
        landed = []
        for billing_month, part in parts.items():
            key = partition_prefix(name, billing_month) + path.name
            store.put_file(str(part), key)
            landed.append(LandedFile(name, billing_month, key, plan.rows[billing_month]))
    return landed
