"""The repository bundles the seed's sample (for `make demo`) and its expected report (for the
tests), so a clean clone works on its own. They must stay byte-identical to the seed."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SEED = REPO.parent / "shared" / "seed"
BUNDLED = {
    "sample/billing_data_dairy_07_2023.csv": REPO / "gross_profit_assets/sample_data/billing_data_dairy_07_2023.csv",
    "sample/units_sold_07_2023.csv": REPO / "gross_profit_assets/sample_data/units_sold_07_2023.csv",
    "sample/production_costs_07_2023.csv": REPO / "gross_profit_assets/sample_data/production_costs_07_2023.csv",
    "expected_gross_profit_report.csv": REPO / "gross_profit_assets_tests/data/expected_gross_profit_report.csv",
}


@pytest.mark.parametrize("seed_name", sorted(BUNDLED))
def test_bundled_copy_equals_the_seed(seed_name):
    if not SEED.is_dir():
        # A clone outside the workspace has no seed beside it; the copies were checked where it was.
        assert BUNDLED[seed_name].is_file()
        return
    assert BUNDLED[seed_name].read_bytes() == (SEED / seed_name).read_bytes()


def test_bundled_expected_report_totals_19165():
    from decimal import Decimal

    lines = BUNDLED["expected_gross_profit_report.csv"].read_text().splitlines()[1:]
    assert len(lines) == 15
    assert sum(Decimal(line.rsplit(",", 1)[1]) for line in lines) == Decimal("19165.0")
