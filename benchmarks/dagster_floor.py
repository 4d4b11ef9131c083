"""Dagster alone: the platform's asset graph with no work in it, for the fixed-cost run.

    python benchmarks/dagster_floor.py WORK_DIR

The platform's steps, assets and checks (``PLATFORM_STEPS``), run as ``gross-profit run``
runs them: the 12 billing months as one run, then the summary as a second, in process, on a
Dagster instance on disk (SQLite, like the CLI's) in ``WORK_DIR``. No asset
reads, computes or stores anything. What this process takes is what any Dagster-orchestrated
implementation of the design pays before it reads a byte: starting Python, importing Dagster,
building the definitions, two runs and their events. The last stdout line is JSON.
"""

import json
import os
import sys
import time
from pathlib import Path

MONTHS = [f"2023-{m:02d}" for m in range(1, 13)]
TABLES = ("billing", "units_sold", "production_costs", "fx_rates")
GOVERNED = ("governed_billing_lines", "quarantined_billing_lines")
REPORT = ("gross_profit_report", "gross_profit_month_sums")


def _checked(assets: dict, checks: list[tuple[str, str]]) -> dict:
    return {"assets": assets, "checks": checks}


# The platform's steps (multi-assets) as Dagster plans them: each step's assets with their
# upstream assets, and its checks as (check, asset). test_bench_scripts holds this to the
# platform's own definitions, so the two cannot drift apart.
PLATFORM_STEPS = {
    "landed_files": _checked({f"landed_{t}_files": [] for t in TABLES},
                             [("landed_files_readable", f"landed_{t}_files") for t in TABLES]),
    "cataloged_tables": _checked(
        {f"{t}_glue_table": [f"landed_{t}_files"] for t in TABLES},
        [(c, f"{t}_glue_table") for t in TABLES for c in ("schema_matches_contract", "schema_unchanged_since_last_crawl")],
    ),
    "governed_dataset": _checked(
        {a: [f"{t}_glue_table" for t in TABLES] for a in GOVERNED},
        [(c, GOVERNED[0]) for c in ("every_line_accounted_for", "one_line_per_source_id_and_item",
                                    "no_missing_required_values", "fx_rate_for_every_foreign_line")],
    ),
    "gross_profit_report": _checked({a: list(GOVERNED) for a in REPORT},
                                    [(c, REPORT[0]) for c in ("totals_reconcile_with_governed_lines", "bill_amount_outliers")]),
    "gross_profit_summary": _checked({"gross_profit_summary": [*REPORT, GOVERNED[1]]},
                                     [("summaries_reconcile_with_report", "gross_profit_summary")]),
}
SUMMARY_STEP = "gross_profit_summary"  # not partitioned: the second run, over all months


def definitions():
    import dagster as dg

    months = dg.StaticPartitionsDefinition(MONTHS)

    def step(name: str, assets: dict, checks: list[tuple[str, str]]):
        partitioned = name != SUMMARY_STEP
        specs = [dg.AssetSpec(a, deps=deps, partitions_def=months if partitioned else None) for a, deps in assets.items()]

        @dg.multi_asset(name=name, specs=specs,
                        check_specs=[dg.AssetCheckSpec(c, asset=a, blocking=True) for c, a in checks],
                        backfill_policy=dg.BackfillPolicy.single_run() if partitioned else None)
        def run_step(context: dg.AssetExecutionContext):
            for asset in assets:
                yield dg.MaterializeResult(asset_key=asset)
            for check, asset in checks:
                yield dg.AssetCheckResult(check_name=check, asset_key=asset, passed=True)

        return run_step

    summary = dg.AssetSelection.assets(*PLATFORM_STEPS[SUMMARY_STEP]["assets"])
    return dg.Definitions(
        assets=[step(name, **parts) for name, parts in PLATFORM_STEPS.items()],
        jobs=[dg.define_asset_job("months", selection=dg.AssetSelection.all() - summary),
              dg.define_asset_job("summary", selection=summary)],
        executor=dg.in_process_executor,
    )


def main(work: str) -> dict:
    home = Path(work) / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home)
    import dagster as dg

    # The CLI's own run config and partition tags.
    from gross_profit_assets.assets.partitions import run_partitions
    from gross_profit_assets.cli import QUIET_RUN_CONFIG

    defs = definitions()
    instance = dg.DagsterInstance.get()
    months = defs.resolve_job_def("months").execute_in_process(
        instance=instance, run_config=QUIET_RUN_CONFIG, **run_partitions(MONTHS)
    )
    summary = defs.resolve_job_def("summary").execute_in_process(instance=instance, run_config=QUIET_RUN_CONFIG)
    results = [months, summary]
    return {"ok": all(r.success for r in results),
            "materializations": sum(len(r.get_asset_materialization_events()) for r in results)}


if __name__ == "__main__":
    started = time.monotonic()
    result = main(sys.argv[1])
    result["seconds"] = round(time.monotonic() - started, 3)
    print(json.dumps(result))
    sys.exit(0 if result["ok"] else 1)
