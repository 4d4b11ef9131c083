"""Reading landed CSV files with Spark: every record keeps its physical line number, however
Spark splits the file across tasks."""

from __future__ import annotations

import contextlib

from gross_profit_assets.contract import BILLING, LINE_NUMBER, SOURCE_FILE
from gross_profit_assets.landed_csv import read_landed_table
from gross_profit_assets.resources.object_store import LocalObjectStore

HEADER = ",".join(BILLING.column_names)


@contextlib.contextmanager
def spark_conf(spark, **entries):
    before = {k: spark.conf.get(k) for k in entries}
    for k, v in entries.items():
        spark.conf.set(k, v)
    try:
        yield
    finally:
        for k, v in before.items():
            spark.conf.set(k, v)


def _write_export(path, lines: int) -> dict[str, int]:
    """A billing export whose ids are unique; returns {id: physical line number}."""
    rows, where = [HEADER], {}
    for i in range(lines):
        rows.append(f"{i},Company {i},US,Austin,Dairy,Cheese,2023-07-01,USD,{i}.50")
        where[str(i)] = len(rows)  # 1-based: the header is line 1
    path.write_text("\n".join(rows) + "\n")
    return where


def test_line_numbers_hold_across_splits_and_files(spark, tmp_path):
    store = LocalObjectStore(root=str(tmp_path / "store"))
    expected = {}
    for name, lines in (("a_07_2023.csv", 6000), ("b_07_2023.csv", 2500)):
        source = tmp_path / name
        where = _write_export(source, lines)
        key = f"billing/billing_month=2023-07/{name}"
        store.put_file(str(source), key)
        expected |= {(key, i): n for i, n in where.items()}
    # Splits of 32 KB: the larger file is read by several tasks, the smaller one shares a task.
    with spark_conf(spark, **{"spark.sql.files.maxPartitionBytes": "32768",
                              "spark.sql.files.openCostInBytes": "0"}):
        table = read_landed_table(spark, store, BILLING, store.list_objects("billing/"))
        frame = table.frame
        assert frame.rdd.getNumPartitions() > 4
        rows = frame.select(SOURCE_FILE, "id", LINE_NUMBER).collect()
    got = {(r[SOURCE_FILE], r["id"]): r[LINE_NUMBER] for r in rows}
    assert len(rows) == len(expected)
    assert got == expected
