"""The code location: assets of the four stages, their checks, jobs, the hands-free sensors
(landing sensor and automation, see ``automation.py``), and the deployment's resources
(``GROSS_PROFIT_DEPLOYMENT``, default ``local``)."""

import dagster as dg

from gross_profit_assets.assets.catalog import cataloged_tables
from gross_profit_assets.assets.governed import governed_dataset
from gross_profit_assets.assets.landing import landed_files
from gross_profit_assets.assets.report import gross_profit_report, gross_profit_summary
from gross_profit_assets.automation import automation_sensor, with_automation
from gross_profit_assets.deployments import resources_for
from gross_profit_assets.jobs import gross_profit_month, gross_profit_summary_job
from gross_profit_assets.sensors import landing_zone_sensor

defs = dg.Definitions(
    assets=with_automation(
        [landed_files, cataloged_tables, governed_dataset, gross_profit_report, gross_profit_summary]
    ),
    jobs=[gross_profit_month, gross_profit_summary_job],
    sensors=[landing_zone_sensor, automation_sensor()],
    resources=resources_for(),
)
