"""The code location loads cleanly, and its asset graph is the one we mean (a snapshot)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

LOAD_DEFINITIONS = "import gross_profit_assets.definitions as d; d.defs.resolve_asset_graph()"

# Dagster's own notices about its API's status (dagster_shared.utils.warnings): they say
# something about Dagster, not about this project. Everything else is a finding.
ALLOWED_WARNING_CATEGORIES = {"SupersessionWarning", "PreviewWarning", "BetaWarning"}

# Python's warning format: "<file>:<line>: <Category>: <message>", then the source line indented.
WARNING_LINE = re.compile(r"^(?P<file>\S.*?):(?P<line>\d+): (?P<category>[A-Za-z_][\w.]*): (?P<message>.*)$")

BILLING_MONTH = "dynamic:billing_month"
GLUE_TABLES = [
    "billing_glue_table",
    "fx_rates_glue_table",
    "production_costs_glue_table",
    "units_sold_glue_table",
]

# asset key -> group, partitioning, upstream asset keys (sorted)
EXPECTED_ASSET_GRAPH = {
    "landed_billing_files": {"group": "landing", "partitions": BILLING_MONTH, "deps": []},
    "landed_units_sold_files": {"group": "landing", "partitions": BILLING_MONTH, "deps": []},
    "landed_production_costs_files": {"group": "landing", "partitions": BILLING_MONTH, "deps": []},
    "landed_fx_rates_files": {"group": "landing", "partitions": BILLING_MONTH, "deps": []},
    "billing_glue_table": {
        "group": "catalog",
        "partitions": BILLING_MONTH,
        "deps": ["landed_billing_files"],
    },
    "units_sold_glue_table": {
        "group": "catalog",
        "partitions": BILLING_MONTH,
        "deps": ["landed_units_sold_files"],
    },
    "production_costs_glue_table": {
        "group": "catalog",
        "partitions": BILLING_MONTH,
        "deps": ["landed_production_costs_files"],
    },
    "fx_rates_glue_table": {
        "group": "catalog",
        "partitions": BILLING_MONTH,
        "deps": ["landed_fx_rates_files"],
    },
    "governed_billing_lines": {"group": "governed", "partitions": BILLING_MONTH, "deps": GLUE_TABLES},
    "quarantined_billing_lines": {"group": "governed", "partitions": BILLING_MONTH, "deps": GLUE_TABLES},
    "gross_profit_report": {
        "group": "report",
        "partitions": BILLING_MONTH,
        "deps": ["governed_billing_lines", "quarantined_billing_lines"],
    },
    "gross_profit_month_sums": {
        "group": "report",
        "partitions": BILLING_MONTH,
        "deps": ["governed_billing_lines", "quarantined_billing_lines"],
    },
    "gross_profit_summary": {
        "group": "report",
        "partitions": None,
        "deps": ["gross_profit_month_sums", "gross_profit_report", "quarantined_billing_lines"],
    },
}

# (asset key, check name) -> blocking
TABLES = ("billing", "units_sold", "production_costs", "fx_rates")
EXPECTED_ASSET_CHECKS = {
    # (asset, check): blocking
    **{(f"landed_{t}_files", "landed_files_readable"): False for t in TABLES},
    **{(f"{t}_glue_table", "schema_matches_contract"): False for t in TABLES},
    **{(f"{t}_glue_table", "schema_unchanged_since_last_crawl"): False for t in TABLES},
    ("governed_billing_lines", "every_line_accounted_for"): True,
    ("governed_billing_lines", "one_line_per_source_id_and_item"): True,
    ("governed_billing_lines", "no_missing_required_values"): True,
    ("governed_billing_lines", "fx_rate_for_every_foreign_line"): True,
    ("gross_profit_report", "totals_reconcile_with_governed_lines"): True,
    ("gross_profit_report", "bill_amount_outliers"): False,
    ("gross_profit_summary", "summaries_reconcile_with_report"): False,
}


@dataclass
class EmittedWarning:
    file: str
    line: int
    category: str
    message: str
    source: list[str]

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.category}: {self.message}"


def parse_warnings(stderr: str) -> tuple[list[EmittedWarning], list[str]]:
    """The warnings printed on ``stderr``, and every line that belongs to none of them."""
    emitted: list[EmittedWarning] = []
    unexplained: list[str] = []
    for text in stderr.splitlines():
        match = WARNING_LINE.match(text)
        if match:
            emitted.append(
                EmittedWarning(
                    match["file"], int(match["line"]), match["category"], match["message"], []
                )
            )
        elif emitted and text[:1].isspace():
            emitted[-1].source.append(text.strip())
        elif text.strip():
            unexplained.append(text)
    return emitted, unexplained


def partitioning(partitions_def: dg.PartitionsDefinition | None) -> str | None:
    if partitions_def is None:
        return None
    if isinstance(partitions_def, dg.DynamicPartitionsDefinition):
        return f"dynamic:{partitions_def.name}"
    return repr(partitions_def)


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from gross_profit_assets.definitions import defs

    return defs


def test_loading_the_definitions_emits_only_dagsters_own_notices(tmp_path: Path):
    home = tmp_path / "gross_profit_home"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    env["GROSS_PROFIT_HOME"] = str(home)
    loaded = subprocess.run(
        [sys.executable, "-W", "always", "-c", LOAD_DEFINITIONS],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout == ""
    emitted, unexplained = parse_warnings(loaded.stderr)
    findings = [str(w) for w in emitted if w.category not in ALLOWED_WARNING_CATEGORIES]
    assert not findings and not unexplained, (
        "loading the definitions printed more than Dagster's own notices:\n"
        + "\n".join(findings + unexplained)
        + f"\n--- full stderr ---\n{loaded.stderr}"
    )


def test_the_definitions_are_loadable(defs):
    dg.Definitions.validate_loadable(defs)


def test_asset_graph_snapshot(defs):
    graph = defs.resolve_asset_graph()
    actual = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        actual[key.to_user_string()] = {
            "group": node.group_name,
            "partitions": partitioning(node.partitions_def),
            "deps": sorted(parent.to_user_string() for parent in node.parent_keys),
        }
    assert actual == EXPECTED_ASSET_GRAPH


def test_asset_checks_snapshot(defs):
    graph = defs.resolve_asset_graph()
    actual = {
        (check.asset_key.to_user_string(), check.name): graph.get_check_spec(check).blocking
        for check in graph.asset_check_keys
    }
    assert actual == EXPECTED_ASSET_CHECKS


def test_every_partitioned_asset_shares_the_one_billing_month_definition(defs):
    from gross_profit_assets.assets.partitions import billing_months

    graph = defs.resolve_asset_graph()
    partitioned = [graph.get(k) for k in graph.get_all_asset_keys() if graph.get(k).partitions_def]
    assert partitioned
    assert all(node.partitions_def == billing_months for node in partitioned)
