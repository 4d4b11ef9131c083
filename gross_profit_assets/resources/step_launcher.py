"""Compute placement port: where a Spark asset's step runs.

The Spark assets (``governed_dataset``, ``gross_profit_report``, ``gross_profit_summary``) ask
for a ``step_launcher`` resource and never look at it. Dagster does: when a step's resources
include a ``StepLauncher``, the step is handed to it (on AWS, dagster-aws's EMR step launcher,
see ``gross_profit_assets/aws/emr.py``); when the resource is ``None``, as in the local
deployment, the step runs in the run's own process with the run's Spark session.
"""

import dagster as dg
from dagster._core.definitions.step_launcher import StepLauncher

STEP_LAUNCHER = "step_launcher"

# What the Spark assets declare: a step launcher, or None for "run here".
SparkStepLauncher = dg.ResourceParam[StepLauncher | None]


def in_process_steps() -> dg.ResourceDefinition:
    """The local deployment's step launcher: none, so every step runs in the run's process."""
    return dg.ResourceDefinition.none_resource(
        description="No step launcher: Spark steps run in the run's own process."
    )
