"""The code location: assets of the four stages, their checks, jobs, the hands-free sensors
(landing sensor and automation, see ``automation.py``), and the deployment's resources
(``GROSS_PROFIT_DEPLOYMENT``, default ``local``)."""

import warnings

import dagster as dg
from dagster_shared.utils.warnings import BetaWarning

from gross_profit_assets.assets.catalog import cataloged_tables
from gross_profit_assets.assets.governed import governed_dataset
from gross_profit_assets.assets.landing import landed_files
from gross_profit_assets.assets.report import gross_profit_report, gross_profit_summary
from gross_profit_assets.assets.schemas import with_declared_schemas
from gross_profit_assets.automation import automation_sensor, with_automation
from gross_profit_assets.deployments import assets_for, resources_for
from gross_profit_assets.jobs import gross_profit_month, gross_profit_summary_job
from gross_profit_assets.sensors import landing_zone_sensor

ASSETS = with_automation(
    with_declared_schemas(
        [landed_files, cataloged_tables, governed_dataset, gross_profit_report, gross_profit_summary]
    )
)

with warnings.catch_warnings():
    # Code references (the UI's "open source" link on every asset) are beta in Dagster 1.13; we
    # opt in knowingly, so Dagster's beta notices for this one call are silenced here and nowhere else.
    warnings.simplefilter("ignore", category=BetaWarning)
    ASSETS = dg.with_source_code_references(ASSETS)

defs = dg.Definitions(
    # On AWS, also the Lake Formation policy asset and its drift check (deployments.py).
    assets=[*ASSETS, *assets_for()],
    # One process per run: every step shares the run's Spark session (a session per step would
    # pay Spark's start-up for each), exactly as `gross-profit run` does.
    executor=dg.in_process_executor,
    jobs=[gross_profit_month, gross_profit_summary_job],
    sensors=[landing_zone_sensor, automation_sensor()],
    resources=resources_for(),
)
