"""The synthetic data generator writes the seed's format, deterministically, with planted flaws."""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from gross_profit_assets.generate import GeneratedData, consecutive_months, generate, spread

SEED_SAMPLE = Path("/work/shared/seed/sample")
SEED_HEADER_FILES = {
    "billing_data": "billing_data_dairy_07_2023.csv",
    "units_sold": "units_sold_07_2023.csv",
    "production_costs": "production_costs_07_2023.csv",
}


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def seed_header(prefix: str) -> list[str]:
    text = (SEED_SAMPLE / SEED_HEADER_FILES[prefix]).read_text(encoding="utf-8-sig")
    return text.splitlines()[0].split(",")


def files_with(data: GeneratedData, prefix: str) -> list[Path]:
    return sorted(path for path in data.files if path.name.startswith(prefix))


def month_of(path: Path) -> str:
    match = re.search(r"_(\d{2})_(\d{4})\.csv$", path.name)
    assert match, path
    return f"{match.group(2)}-{match.group(1)}"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> GeneratedData:
    return generate(
        tmp_path_factory.mktemp("generated"), 3001, 3, start_month="2023-11", unmatched_rate=0.02
    )


def test_same_seed_same_bytes_other_seed_other_data(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", 500, 2, seed=11)
    second = generate(tmp_path / "b", 500, 2, seed=11)
    third = generate(tmp_path / "c", 500, 2, seed=12)
    assert [p.name for p in first.files] == [p.name for p in second.files]
    for one, two in zip(first.files, second.files):
        assert one.read_bytes() == two.read_bytes(), one.name
    assert first.files[0].read_bytes() != third.files[0].read_bytes()


def test_headers_match_the_seed_exactly(data: GeneratedData) -> None:
    for prefix in SEED_HEADER_FILES:
        for path in files_with(data, prefix):
            assert read_rows(path)[0] == seed_header(prefix), path.name
    for path in files_with(data, "fx_rates"):
        assert read_rows(path)[0] == ["currency", "rate_to_usd", "month"]


def test_months_are_consecutive_and_each_has_all_four_files(data: GeneratedData) -> None:
    assert data.months == ["2023-11", "2023-12", "2024-01"]
    for month in data.months:
        mm, yyyy = month[5:], month[:4]
        for prefix in ("billing_data", "units_sold", "production_costs", "fx_rates"):
            assert (data.out_dir / f"{prefix}_{mm}_{yyyy}.csv").exists()
    assert len(data.files) == 4 * len(data.months)


def test_rows_are_spread_evenly_over_months_and_sum_to_rows(data: GeneratedData) -> None:
    per_month: Counter[str] = Counter()
    for path in files_with(data, "billing_data"):
        _, rows = read_rows(path)
        assert [int(row[0]) for row in rows] == list(range(1, len(rows) + 1))
        for row in rows:
            assert row[6][:7] == month_of(path), "bill_date within the file's month"
            per_month[row[6][:7]] += 1
    assert sum(per_month.values()) == 3001 == data.rows["billing"]
    assert dict(per_month) == data.billing_rows_per_month == {
        "2023-11": 1001,
        "2023-12": 1000,
        "2024-01": 1000,
    }


def test_values_have_the_seed_shapes(data: GeneratedData) -> None:
    for path in files_with(data, "billing_data"):
        for row in read_rows(path)[1]:
            assert len(row) == 9
            assert re.fullmatch(r"-?\d+\.\d{2}", row[8]), row
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", row[6])
    for path in files_with(data, "units_sold"):
        for row in read_rows(path)[1]:
            assert re.fullmatch(r"[1-9]\d*", row[2]), row
    for path in files_with(data, "production_costs"):
        for row in read_rows(path)[1]:
            assert re.fullmatch(r"\d+\.\d{1,2}", row[1]), row
    for path in files_with(data, "fx_rates"):
        for row in read_rows(path)[1]:
            assert re.fullmatch(r"\d+\.\d{1,6}", row[1]), row
            assert row[2] == month_of(path)


def test_files_use_lf_and_end_with_a_newline(data: GeneratedData) -> None:
    for path in data.files:
        raw = path.read_bytes()
        assert b"\r" not in raw, path.name
        assert raw.endswith(b"\n"), path.name


def test_some_lines_lack_units_and_some_lack_production_costs(data: GeneratedData) -> None:
    without_units = without_cost = quarantined = 0
    for month in data.months:
        mm, yyyy = month[5:], month[:4]
        units = Counter(
            (row[0], row[1]) for row in read_rows(data.out_dir / f"units_sold_{mm}_{yyyy}.csv")[1]
        )
        costs = {row[0] for row in read_rows(data.out_dir / f"production_costs_{mm}_{yyyy}.csv")[1]}
        assert max(units.values()) == 1, "a units record never matches two lines"
        for row in read_rows(data.out_dir / f"billing_data_{mm}_{yyyy}.csv")[1]:
            missing_units = (row[0], row[5]) not in units
            missing_cost = row[5] not in costs
            if missing_cost:
                assert row[5].startswith("Discontinued ")
            without_units += missing_units
            without_cost += missing_cost
            quarantined += missing_units or missing_cost
    assert without_units == data.lines_without_units > 0
    assert without_cost == data.lines_without_production_cost > 0
    assert quarantined == data.lines_quarantined
    assert data.rows["units_sold"] == data.rows["billing"] - without_units


def test_every_currency_is_billed_and_every_foreign_one_has_a_rate_each_month(
    tmp_path: Path,
) -> None:
    data = generate(tmp_path, 900, 3, currencies=("USD", "CAD", "MXN", "EUR"))
    billed: dict[str, set[str]] = defaultdict(set)
    for path in files_with(data, "billing_data"):
        for row in read_rows(path)[1]:
            billed[month_of(path)].add(row[7])
    for month in data.months:
        assert billed[month] == {"USD", "CAD", "MXN", "EUR"}
        mm, yyyy = month[5:], month[:4]
        _, rates = read_rows(tmp_path / f"fx_rates_{mm}_{yyyy}.csv")
        assert sorted(row[0] for row in rates) == ["CAD", "EUR", "MXN"]
        assert all(row[2] == month for row in rates)


def test_several_files_per_month_are_named_by_product_line(tmp_path: Path) -> None:
    data = generate(tmp_path, 600, 2, files_per_month=3, unmatched_rate=0.05)
    names = sorted(path.name for path in files_with(data, "billing_data"))
    assert names == [
        "billing_data_bakery_01_2023.csv",
        "billing_data_bakery_02_2023.csv",
        "billing_data_beverages_01_2023.csv",
        "billing_data_beverages_02_2023.csv",
        "billing_data_dairy_01_2023.csv",
        "billing_data_dairy_02_2023.csv",
    ]
    for path in files_with(data, "billing_data"):
        _, rows = read_rows(path)
        line = path.name.split("_")[2].capitalize()
        assert {row[4] for row in rows} == {line}
        assert [int(row[0]) for row in rows] == list(range(1, 101))
    units = read_rows(tmp_path / "units_sold_01_2023.csv")[1]
    assert max(Counter((row[0], row[1]) for row in units).values()) == 1


def test_progress_is_reported_once_per_file(tmp_path: Path) -> None:
    messages: list[str] = []
    data = generate(tmp_path, 50, 2, progress=messages.append)
    assert len(messages) == len(data.files) == 8


def test_edge_sizes_and_bad_arguments(tmp_path: Path) -> None:
    data = generate(tmp_path / "tiny", 1, 3)
    assert data.billing_rows_per_month == {"2023-01": 1, "2023-02": 0, "2023-03": 0}
    assert read_rows(tmp_path / "tiny" / "billing_data_02_2023.csv")[1] == []
    with pytest.raises(ValueError):
        generate(tmp_path / "bad", 10, 0)
    with pytest.raises(ValueError):
        generate(tmp_path / "bad", 10, 1, start_month="2023-13")
    with pytest.raises(ValueError):
        generate(tmp_path / "bad", 10, 1, currencies=("usd",))
    with pytest.raises(ValueError):
        generate(tmp_path / "bad", 10, 1, files_per_month=99)


def test_helpers() -> None:
    assert consecutive_months("2023-11", 4) == ["2023-11", "2023-12", "2024-01", "2024-02"]
    assert spread(10, 3) == [4, 3, 3]
    assert spread(2, 3) == [1, 1, 0]
