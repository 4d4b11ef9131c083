"""Corpus cases through ``CasePipeline`` on whichever engine this process runs
(``GROSS_PROFIT_ENGINE``, fixed at import), in one process for many cases.

The parity test runs its Spark side in the test process and its DuckDB side here, as::

    GROSS_PROFIT_ENGINE=duckdb python -m gross_profit_assets_tests.engine_lane SPEC.json OUT.json

SPEC is a list of ``{"home": ..., "directory": ..., "landings": [{"file", "via", "month",
"key"}]}``; OUT gets each case's totals (``engine_totals``) in the same order. One process for
every case pays Python's and Dagster's start-up once instead of once per case and command.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from gross_profit_assets_tests.corpus_runner import MONEY_FIELDS, CasePipeline, Landing


def engine_totals(home: Path, directory: Path, landings: tuple[Landing, ...]) -> dict:
    """Land the files in a fresh deployment under ``home``, run every month and the summary;
    the run's totals (money as exact decimal strings)."""
    pipeline = CasePipeline(home)
    pipeline.land(directory, landings)
    outcome = pipeline.run(summary=True)
    assert outcome.runs_succeeded, outcome.failures
    return {
        "lines_in": outcome.lines_in,
        "lines_reported": outcome.lines_reported,
        "lines_quarantined": outcome.lines_quarantined,
        **{name: str(outcome.totals[name]) for name in MONEY_FIELDS},
    }


def case_spec(home: Path, directory: Path, landings: tuple[Landing, ...]) -> dict:
    return {"home": str(home), "directory": str(directory), "landings": [asdict(landing) for landing in landings]}


def main(spec_path: str, out_path: str) -> int:
    cases = json.loads(Path(spec_path).read_text())
    totals = [
        engine_totals(
            Path(case["home"]),
            Path(case["directory"]),
            tuple(Landing(**{**landing, "error": tuple(landing["error"])}) for landing in case["landings"]),
        )
        for case in cases
    ]
    Path(out_path).write_text(json.dumps(totals))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
