"""Landing files in the object store: table recognised from the header, months from the rows."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from gross_profit_assets.landing import (
    LandingError,
    land_file,
    landed_months,
    month_from_file_name,
    plan_landing,
)
from gross_profit_assets.resources.object_store import LocalObjectStore

SEED = Path(__file__).resolve().parents[1] / "gross_profit_assets" / "sample_data"
BILLING_HEADER = "id,company_name,country,city,product_line,item_sold,bill_date,currency,bill_amount\n"


@pytest.fixture()
def store(tmp_path) -> LocalObjectStore:
    return LocalObjectStore(root=str(tmp_path / "store"))


def test_seed_files_land_under_table_and_month(store):
    for path in sorted(SEED.glob("*.csv")):
        land_file(store, path)
    keys = [o.key for o in store.list_objects()]
    assert keys == [
        "billing/billing_month=2023-07/billing_data_dairy_07_2023.csv",
        "production_costs/billing_month=2023-07/production_costs_07_2023.csv",
        "units_sold/billing_month=2023-07/units_sold_07_2023.csv",
    ]
    # Landed byte for byte, as an upload to S3 would be.
    assert store.read_bytes(keys[0]) == (SEED / "billing_data_dairy_07_2023.csv").read_bytes()
    assert landed_months(store) == ["2023-07"]


def test_table_is_recognised_by_header_not_name(tmp_path, store):
    odd_name = tmp_path / "export (3).csv"
    odd_name.write_text(" Company_ID ,ITEM_TYPE,units_sold\n1,Brie,3\n")
    (landed,) = land_file(store, odd_name, month="2024-02")
    assert landed.key == "units_sold/billing_month=2024-02/export (3).csv"


def test_billing_export_spanning_months_is_split_by_bill_date(tmp_path, store):
    export = tmp_path / "billing_q3.csv"
    export.write_text(
        BILLING_HEADER
        + "1,A,US,X,Dairy,Brie,2023-07-30,USD,1.00\r\n"
        + '2,"B, Inc.",US,X,Dairy,Brie,2023/08/02,USD,2.00\r\n'
        + "3,C,US,X,Dairy,Brie,2023-07-31,USD,3.00\r\n"
    )
    landed = land_file(store, export)
    assert [(x.billing_month, x.rows) for x in landed] == [("2023-07", 2), ("2023-08", 1)]
    august = store.read_bytes("billing/billing_month=2023-08/billing_q3.csv").decode()
    assert august == BILLING_HEADER + '2,"B, Inc.",US,X,Dairy,Brie,2023/08/02,USD,2.00\r\n'


def test_unreadable_dates_stay_with_the_files_main_month(tmp_path, store):
    export = tmp_path / "b.csv"
    export.write_text(BILLING_HEADER + "1,A,US,X,D,Brie,2023-07-01,USD,1\n2,A,US,X,D,Brie,soon,USD,1\n")
    assert [(x.billing_month, x.rows) for x in land_file(store, export)] == [("2023-07", 2)]


@pytest.mark.parametrize(
    ("name", "month"),
    [("units_sold_07_2023.csv", "2023-07"), ("costs-2024-11.csv", "2024-11"), ("costs.csv", None)],
)
def test_month_from_file_name(name, month):
    assert month_from_file_name(name) == month


def test_undated_table_without_month_is_refused_clearly(tmp_path):
    costs = tmp_path / "costs.csv"
    costs.write_text("item,cost_per_unit_usd\nBrie,2.5\n")
    with pytest.raises(LandingError, match=r"costs.csv: production_costs rows carry no date.*--month"):
        plan_landing(costs)


def test_unknown_header_names_the_file_and_the_expected_tables(tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(LandingError, match=r"other.csv: header \['a', 'b'\] matches no input table.*billing: id"):
        plan_landing(other)


def test_non_utf8_file_is_refused_with_byte_offset(tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes(BILLING_HEADER.encode() + "1,Lecher\xeda,MX,X,D,Brie,2023-07-01,USD,1\n".encode("latin-1"))
    offset = len(BILLING_HEADER) + len("1,Lecher")
    with pytest.raises(LandingError, match=rf"latin.csv: not UTF-8 \(invalid byte 0xed at byte offset {offset}\)"):
        plan_landing(latin)


def test_reupload_replaces_the_object(tmp_path, store):
    costs = tmp_path / "production_costs_07_2023.csv"
    costs.write_text("item,cost_per_unit_usd\nBrie,2.5\n")
    first = land_file(store, costs)[0]
    costs.write_text("item,cost_per_unit_usd\nBrie,2.75\n")
    land_file(store, costs)
    assert store.read_bytes(first.key).decode().endswith("Brie,2.75\n")
    assert len(store.list_objects()) == 1


def test_non_utf8_byte_deep_in_a_large_file_is_located_exactly(tmp_path):
    line = "1,A,US,X,D,Brie,2023-07-01,USD,1\n"
    good = BILLING_HEADER + line * 60_000  # about 2 MB: past the first chunks read
    export = tmp_path / "big.csv"
    export.write_bytes(b"\xef\xbb\xbf" + good.encode() + b"2,Caf\xe9,MX,X,D,Brie,2023-07-01,USD,1\n")
    offset = 3 + len(good.encode()) + len("2,Caf")
    with pytest.raises(LandingError, match=rf"big.csv: not UTF-8 \(invalid byte 0xe9 at byte offset {offset}\)"):
        plan_landing(export)


def test_landing_streams_an_export_spanning_months_in_bounded_memory(tmp_path, store):
    rows = 100_000
    export = tmp_path / "billing_2023.csv"
    with open(export, "w", newline="") as out:
        out.write(BILLING_HEADER)
        for i in range(rows):
            out.write(f"{i},Company {i},US,Austin,Dairy,Brie,2023-0{7 + i % 3}-15,USD,{i}.25\n")
    size = export.stat().st_size
    tracemalloc.start()
    try:
        landed = land_file(store, export)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(x.billing_month, x.rows) for x in landed] == [
        ("2023-07", 33_334), ("2023-08", 33_333), ("2023-09", 33_333)
    ]
    assert peak < size / 4, f"landing a {size:,}-byte export held {peak:,} bytes at its peak"
    # Byte for byte: the parts hold every line once, each under its own month, header first.
    parts = [store.read_bytes(x.key).decode() for x in landed]
    assert all(p.startswith(BILLING_HEADER) for p in parts)
    assert sum(len(p) - len(BILLING_HEADER) for p in parts) == size - len(BILLING_HEADER)
    assert ",2023-08-15," not in parts[0] and ",2023-07-15," in parts[0]
