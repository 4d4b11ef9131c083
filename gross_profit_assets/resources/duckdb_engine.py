"""Compute port, DuckDB adapter: the same ``spark_session`` the assets ask the Spark resource
for, but a SQLFrame ``DuckDBSession`` over one in-process DuckDB connection.

It subclasses Dagster's ``LazyPySparkResource`` so that it plugs into the ``pyspark`` resource
key, the IO manager and every asset unchanged: they only ever call ``.spark_session`` and the
PySpark DataFrame API on what it returns. Chosen by ``GROSS_PROFIT_ENGINE=duckdb``.

``spark_config`` carries DuckDB settings instead (``threads``, ``memory_limit``,
``temp_directory``); one connection per process, shared by every asset of a run.
"""

import threading
from typing import Any

from dagster_pyspark import LazyPySparkResource

_SESSION: Any = None
_LOCK = threading.Lock()
DUCKDB_SETTINGS = ("threads", "memory_limit", "temp_directory", "preserve_insertion_order")


def shared_duckdb_session(settings: dict[str, Any] | None = None):
    """The process-wide SQLFrame session (created on first use)."""
    global _SESSION
    with _LOCK:
        if _SESSION is None:
            import duckdb
            from sqlframe.duckdb import DuckDBSession

            conn = duckdb.connect()
            conn.execute("SET enable_progress_bar = false")
            conn.execute("SET TimeZone = 'UTC'")
            for key, value in (settings or {}).items():
                if key in DUCKDB_SETTINGS:
                    conn.execute(f"SET {key} = ?", [value])
            _SESSION = _exact_decimal_session_class(DuckDBSession)(conn=conn)
        return _SESSION


def _exact_decimal_session_class(session_class):
    """SQLFrame's rows turn every DECIMAL into a float (``sqlframe.base.types._create_row``),
    so a collected total such as 4514.00 would come back as 4514.0, and large sums would lose
    cents. Money is decimal end to end here: rows keep DuckDB's ``Decimal`` values, as
    PySpark's rows do."""
    from sqlframe.base.types import Row

    class ExactDecimalSession(session_class):
        @classmethod
        def _to_row(cls, columns, values):
            row = Row(*[cls._to_value(value) for value in values])
            row.__fields__ = columns
            return row

    return ExactDecimalSession


class DuckDBSessionResource(LazyPySparkResource):
    """``.spark_session`` is a SQLFrame DuckDB session (the PySpark API on DuckDB)."""

    def _init_session(self) -> None:
        if self._spark_session is None:
            self._spark_session = shared_duckdb_session(self.spark_config)


def duckdb_connection(session) -> Any:
    """The DuckDB connection under a SQLFrame session (for the reader and the writers)."""
    return session._conn
