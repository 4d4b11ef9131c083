"""Embedded Glue Data Catalog: Glue-shaped tables, table versions and partitions in SQLite.

The pipeline reads the same dicts boto3's ``glue.get_table()`` / ``get_table_versions()`` /
``get_partitions()`` return, so code written against this adapter runs unchanged on AWS.

Several Dagster run processes crawl at once (one per billing month), so every operation opens
its own connection (resources are pickled into other processes; a connection must never ride
along), the database runs in WAL mode (readers never block the writer), and every write is a
``BEGIN IMMEDIATE`` transaction that waits up to ``BUSY_TIMEOUT_SECONDS`` for the write lock
instead of failing with "database is locked".
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from gross_profit_assets.contract import PARTITION_KEY
from gross_profit_assets.crawling.inference import merge_schemas
from gross_profit_assets.resources.glue import GlueCatalog

BUSY_TIMEOUT_SECONDS = 30.0
SCHEMA_VERSION = 1  # stored in PRAGMA user_version; bump with a migration when tables change

CSV_INPUT_FORMAT = "org.apache.hadoop.mapred.TextInputFormat"
CSV_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
CSV_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"

# Parameters a Glue CSV crawler writes on every table; the crawler's own values override them.
DEFAULT_CSV_PARAMETERS: dict[str, str] = {
    "classification": "csv",
    "delimiter": ",",
    "compressionType": "none",
    "typeOfData": "file",
    "areColumnsQuoted": "false",
    "columnsOrdered": "true",
    "CrawlerSchemaDeserializerVersion": "1.0",
    "CrawlerSchemaSerializerVersion": "1.0",
}

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS table_versions (
        database TEXT NOT NULL,
        name TEXT NOT NULL,
        version_id INTEGER NOT NULL,
        definition TEXT NOT NULL,
        PRIMARY KEY (database, name, version_id)
    )""",
    """CREATE TABLE IF NOT EXISTS partitions (
        database TEXT NOT NULL,
        table_name TEXT NOT NULL,
        billing_month TEXT NOT NULL,
        definition TEXT NOT NULL,
        PRIMARY KEY (database, table_name, billing_month)
    )""",
)

ColumnsLike = Sequence[tuple[str, str]] | Sequence[Mapping[str, str]]


class EntityNotFoundError(LookupError):
    """A partition was written for a table the catalog does not have (Glue's
    ``EntityNotFoundException``)."""


def glue_columns(columns: ColumnsLike) -> list[dict[str, str]]:
    """``[{"Name", "Type"}]`` from ``(name, type)`` pairs or Glue column dicts."""
    return [
        {"Name": c["Name"], "Type": c["Type"]}
        if isinstance(c, Mapping)
        else {"Name": c[0], "Type": c[1]}
        for c in columns
    ]


class LocalGlueCatalog(GlueCatalog):
    """A Glue Data Catalog database kept in one SQLite file at ``path``."""

    path: str

    def get_table(self, table: str) -> dict | None:
        with self._connection() as conn:
            return self._current_table(conn, table)

    def get_table_version(self, table: str, version_id: str) -> dict | None:
        """One version's table definition (Glue's ``GetTableVersion``), or None."""
        with self._connection() as conn:
            row = conn.execute(
                "SELECT definition FROM table_versions"
                " WHERE database = ? AND name = ? AND version_id = ?",
                (self.database, table, int(version_id)),
            ).fetchone()
        return json.loads(row[0]) if row else None

    def get_table_versions(self, table: str) -> list[dict]:
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT version_id, definition FROM table_versions"
                " WHERE database = ? AND name = ? ORDER BY version_id",
                (self.database, table),
            ).fetchall()
        return [{"VersionId": str(v), "Table": json.loads(d)} for v, d in rows]

    def get_partitions(self, table: str) -> list[dict]:
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT definition FROM partitions"
                " WHERE database = ? AND table_name = ? ORDER BY billing_month",
                (self.database, table),
            ).fetchall()
        return [json.loads(d) for (d,) in rows]

    def put_table(
        self,
        name: str,
        columns: ColumnsLike,
        location: str,
        parameters: Mapping[str, object],
        *,
        merge: bool = False,
    ) -> tuple[dict, bool]:
        """Create or update ``name``; returns the table and whether a new version was created.

        A new version only when the columns (names, types or order) differ from the current
        version's, as Glue versions a table on schema change; otherwise the current version's
        location, parameters and UpdateTime change in place. ``merge=True`` unions ``columns``
        with the current version's inside the same transaction, so two month crawls running
        at once cannot drop each other's new columns.
        """
        wanted = glue_columns(columns)
        now = _now()
        with self._write() as conn:
            current = self._current_table(conn, name)
            if current is not None and merge:
                wanted = glue_columns(
                    merge_schemas(_pairs(current["StorageDescriptor"]["Columns"]), _pairs(wanted))
                )
            if current is not None and current["StorageDescriptor"]["Columns"] == wanted:
                table = self._table_definition(
                    name, current["VersionId"], wanted, location, parameters,
                    created=current["CreateTime"], updated=now,
                )
                conn.execute(
                    "UPDATE table_versions SET definition = ?"
                    " WHERE database = ? AND name = ? AND version_id = ?",
                    (json.dumps(table), self.database, name, int(current["VersionId"])),
                )
                return table, False
            version_id = int(current["VersionId"]) + 1 if current else 1
            table = self._table_definition(
                name, str(version_id), wanted, location, parameters,
                created=current["CreateTime"] if current else now, updated=now,
            )
            conn.execute(
                "INSERT INTO table_versions (database, name, version_id, definition)"
                " VALUES (?, ?, ?, ?)",
                (self.database, name, version_id, json.dumps(table)),
            )
            return table, True

    def put_partition(
        self,
        table: str,
        billing_month: str,
        location: str,
        columns: ColumnsLike,
        parameters: Mapping[str, object],
    ) -> dict:
        """Create or replace the ``billing_month`` partition of ``table`` (keeps CreationTime)."""
        now = _now()
        with self._write() as conn:
            if self._current_table(conn, table) is None:
                raise EntityNotFoundError(f"table {self.database}.{table} not found")
            row = conn.execute(
                "SELECT definition FROM partitions"
                " WHERE database = ? AND table_name = ? AND billing_month = ?",
                (self.database, table, billing_month),
            ).fetchone()
            created = json.loads(row[0])["CreationTime"] if row else now
            merged = _csv_parameters(parameters)
            partition = {
                "Values": [billing_month],
                "DatabaseName": self.database,
                "TableName": table,
                "CreationTime": created,
                "LastAnalyzedTime": now,
                "StorageDescriptor": _storage_descriptor(glue_columns(columns), location, merged),
                "Parameters": merged,
            }
            conn.execute(
                "INSERT OR REPLACE INTO partitions"
                " (database, table_name, billing_month, definition) VALUES (?, ?, ?, ?)",
                (self.database, table, billing_month, json.dumps(partition)),
            )
        return partition

    def delete_table(self, name: str) -> None:
        """Drop ``name`` with its versions and partitions, as Glue's ``DeleteTable`` does."""
        with self._write() as conn:
            conn.execute(
                "DELETE FROM table_versions WHERE database = ? AND name = ?", (self.database, name)
            )
            conn.execute(
                "DELETE FROM partitions WHERE database = ? AND table_name = ?",
                (self.database, name),
            )

    def _table_definition(
        self,
        name: str,
        version_id: str,
        columns: list[dict[str, str]],
        location: str,
        parameters: Mapping[str, object],
        *,
        created: str,
        updated: str,
    ) -> dict:
        """A table dict shaped like boto3's ``glue.get_table()["Table"]``."""
        merged = _csv_parameters(parameters)
        return {
            "Name": name,
            "DatabaseName": self.database,
            "Owner": "owner",
            "CreateTime": created,
            "UpdateTime": updated,
            "Retention": 0,
            "StorageDescriptor": _storage_descriptor(columns, location, merged),
            "PartitionKeys": [{"Name": PARTITION_KEY, "Type": "string"}],
            "TableType": "EXTERNAL_TABLE",
            "Parameters": merged,
            "CreatedBy": "local-glue-crawler",
            "IsRegisteredWithLakeFormation": False,
            "VersionId": version_id,
        }

    def _current_table(self, conn: sqlite3.Connection, name: str) -> dict | None:
        row = conn.execute(
            "SELECT definition FROM table_versions"
            " WHERE database = ? AND name = ? ORDER BY version_id DESC LIMIT 1",
            (self.database, name),
        ).fetchone()
        return json.loads(row[0]) if row else None

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A fresh connection for one operation, on a database whose schema exists."""
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        try:
            _prepare(conn)
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE takes the write lock up front, so a
        read-then-write (versioning) can never be interleaved with another writer's."""
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")


def _prepare(conn: sqlite3.Connection) -> None:
    """WAL mode and the schema, created lazily and idempotently by whichever process is
    first; the rest find ``user_version`` already set and skip the write lock.

    ``synchronous = NORMAL`` is SQLite's recommended pairing with WAL: a crash of the process
    never loses a commit, only a power cut can drop the latest ones, and a re-crawl rebuilds
    them; it saves an fsync per write, which matters with many crawls writing at once."""
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
    conn.execute("PRAGMA synchronous = NORMAL")
    _use_wal(conn)
    if conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch the database to WAL once. The switch needs the database to itself, and SQLite
    answers "database is locked" at once instead of waiting for it (the busy timeout does not
    cover it), which processes creating the catalog together do meet: retried until the
    timeout, as any other lock would be waited for."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _csv_parameters(parameters: Mapping[str, object]) -> dict[str, str]:
    """Glue's CSV defaults overlaid with ``parameters``; Glue parameter values are strings."""
    return DEFAULT_CSV_PARAMETERS | {key: str(value) for key, value in parameters.items()}


def _storage_descriptor(
    columns: list[dict[str, str]], location: str, parameters: dict[str, str]
) -> dict:
    """The ``StorageDescriptor`` of a CSV table or partition (Glue copies the parameters in)."""
    return {
        "Columns": columns,
        "Location": location,
        "InputFormat": CSV_INPUT_FORMAT,
        "OutputFormat": CSV_OUTPUT_FORMAT,
        "Compressed": False,
        "NumberOfBuckets": -1,
        "SerdeInfo": {
            "SerializationLibrary": CSV_SERDE,
            "Parameters": {"field.delim": parameters["delimiter"]},
        },
        "BucketColumns": [],
        "SortColumns": [],
        "Parameters": parameters,
        "StoredAsSubDirectories": False,
    }


def _pairs(columns: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(c["Name"], c["Type"]) for c in columns]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
