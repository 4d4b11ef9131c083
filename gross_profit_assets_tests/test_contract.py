"""The contract module: header recognition, aliases, and the docs generated from it."""

from pathlib import Path

from gross_profit_assets.contract import BILLING, REASONS, normalize_header_cell, recognize_table
from gross_profit_assets.contract_docs import render

DOC = Path(__file__).resolve().parents[1] / "docs" / "data-contract.md"


def test_docs_are_generated_from_the_contract():
    assert DOC.read_text() == render(), "run: python -m gross_profit_assets.contract_docs > docs/data-contract.md"


def test_header_cells_are_normalized_like_exports_write_them():
    assert normalize_header_cell('\ufeff "Item Sold" ') == "item_sold"
    assert BILLING.canonical_column(" ITEM ") == "item_sold"


def test_tables_are_recognized_from_headers():
    billing = ["id", "company_name", "country", "city", "product_line", "item", "bill_date", "currency", "bill_amount"]
    assert recognize_table(billing).name == "billing"
    assert recognize_table(["item", "cost_per_unit_usd"]).name == "production_costs"
    assert recognize_table(["Company_ID", "item_type", "units_sold", "extra"]).name == "units_sold"
    assert recognize_table(["currency", "rate_to_usd", "month"]).name == "fx_rates"
    assert recognize_table(["a", "b"]) is None


def test_reason_codes_are_stable_snake_case():
    assert all(code == r.code and code.islower() and " " not in code for code, r in REASONS.items())
