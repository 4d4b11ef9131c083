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

import csv
import io
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


def decode_export(data: bytes, name: str) -> str:
    """Billing exports are UTF-8 (a BOM is dropped); anything else is refused, with where."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LandingError(
            f"{name}: not UTF-8 (invalid byte 0x{data[exc.start]:02x} at byte offset "
            f"{exc.start}); re-export the file as UTF-8"
        ) from exc


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


def _records(text: str) -> Iterator[_Record]:
    """CSV records together with the exact text they came from (quoted newlines included)."""
    consumed: list[str] = []

    def lines() -> Iterator[str]:
        for line in io.StringIO(text, newline=""):
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


def plan_landing(
    path: Path, month: str | None = None
) -> tuple[TableContract, dict[str, tuple[str, int]]]:
    """Decide where a file lands: its table and, per billing month, (content, rows)."""
    text = drop_stray_header_quote(decode_export(path.read_bytes(), path.name))
    records = _records(text)
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
    rows = list(records)
    if table.month_column is None:
        if fallback is None:
            raise LandingError(
                f"{path.name}: {table.name} rows carry no date, and no month is in the file "
                "name; pass --month YYYY-MM"
            )
        return table, {fallback: (text, len(rows))}
    position = table.map_header(header.cells).index(table.month_column)
    months = [row_month(r.cells[position]) if position < len(r.cells) else None for r in rows]
    dominant = Counter(m for m in months if m).most_common(1)
    default = month or (dominant[0][0] if dominant else fallback)
    if default is None:
        raise LandingError(
            f"{path.name}: no row has a readable {table.month_column} and no month is in the "
            "file name; pass --month YYYY-MM"
        )
    if month is not None or len({m or default for m in months}) <= 1:
        return table, {default: (text, len(rows))}
    parts: dict[str, list[str]] = {}
    for record, row_m in zip(rows, months):
        parts.setdefault(row_m or default, [header.raw]).append(record.raw)
    return table, {m: ("".join(lines), len(lines) - 1) for m, lines in sorted(parts.items())}


def land_file(store: ObjectStore, path: Path, month: str | None = None) -> list[LandedFile]:
    """Put one export into the landing zone, as a user uploading to the bucket would."""
    table, parts = plan_landing(path, month)
    if len(parts) == 1:
        ((billing_month, (_, rows)),) = parts.items()
        key = partition_prefix(table.name, billing_month) + path.name
        store.put_file(str(path), key)
        return [LandedFile(table.name, billing_month, key, rows)]
    landed = []
    with tempfile.TemporaryDirectory() as tmp:
        for billing_month, (content, rows) in parts.items():
            part = Path(tmp) / f"{billing_month}-{path.name}"
            part.write_text(content, encoding="utf-8", newline="")
            key = partition_prefix(table.name, billing_month) + path.name
            store.put_file(str(part), key)
            landed.append(LandedFile(table.name, billing_month, key, rows))
    return landed
