"""Compute on AWS: the Spark assets run on an EMR cluster through dagster-aws's step launcher.

The run itself (landing, crawling, the orchestration) stays in the Dagster run worker. Each
Spark step (the governed lines, the report, the summary) is handed to dagster-aws's EMR PySpark
step launcher: it stages the step (a pickled step reference and dagster-aws's
``emr_step_main.py``) under the staging prefix in S3, adds an EMR step running ``spark-submit``
on the cluster, polls the step, and relays the step's events (materializations, metadata, check
results, logs) into the run's event log as the remote process writes them to S3.

On the cluster the step rebuilds the same definitions, so it needs two things:

- the project installed: :func:`bootstrap_script` is the bootstrap action
  (``deploy/emr/bootstrap.sh``) that installs the project wheel, staged by
  :func:`stage_bootstrap`, into ``/opt/gross-profit/venv`` on every node;
- the deployment's settings: they travel with each step. The launcher here prefixes the step's
  command with ``env GROSS_PROFIT_DEPLOYMENT=aws GROSS_PROFIT_...=...`` (see
  :func:`step_environment`), so the step always sees the settings of the run that launched it,
  including the cluster's own id, which a cluster-level configuration could not know when the
  cluster is created. None of them is a secret; credentials come from the instance profile.

See ``docs/aws.md`` for the order of things from an empty account.
"""

from dataclasses import dataclass, field
from pathlib import Path

import boto3
import dagster as dg
from dagster_aws.emr import emr_pyspark_step_launcher
from dagster_aws.emr.pyspark_step_launcher import EmrPySparkStepLauncher
from dagster_pyspark import LazyPySparkResource

import gross_profit_assets
from gross_profit_assets.aws.report_publisher import S3ReportPublisher
from gross_profit_assets.aws.s3_io_manager import S3ParquetIOManager
from gross_profit_assets.aws.settings import ENV_VARS, AwsSettings
from gross_profit_assets.aws.spark_s3 import EmrfsTransfer, SparkS3Transfer, sse_args
from gross_profit_assets.resources.spark import LOCAL_SPARK_CONF
from gross_profit_assets.settings import DEPLOYMENT_ENV_VAR

# Where the bootstrap action installs the project on every node, and the Python the steps use.
EMR_VENV = "/opt/gross-profit/venv"
EMR_PYTHON = f"{EMR_VENV}/bin/python"
DEFAULT_POLL_INTERVAL_SECONDS = 15.0  # dagster-aws's own interval; EMR throttles DescribeStep
BOOTSTRAP_SCRIPT_PATH = Path("deploy/emr/bootstrap.sh")
BOOTSTRAP_PREFIX = "bootstrap/"  # under the staging prefix: the wheel and the script
STEPS_PREFIX = "steps"  # under the staging prefix: dagster-aws's per-run step artifacts
CLUSTER_TAGS = {"application": "gross-profit", "for-use-with-amazon-emr-managed-policies": "true"}

# The session settings the results depend on, shared with the local deployment. Master, memory
# and UI are the cluster's business (spark-submit on EMR runs on YARN with EMR's defaults).
SESSION_CONF_KEYS = (
    "spark.app.name",
    "spark.sql.session.timeZone",
    "spark.sql.sources.partitionOverwriteMode",
    "spark.sql.sources.partitionColumnTypeInference.enabled",
)
EMR_SESSION_CONF = {key: LOCAL_SPARK_CONF[key] for key in SESSION_CONF_KEYS}


def emr_spark_resource() -> LazyPySparkResource:
    """The Spark session inside an EMR step. Lazy: the run worker that launches the step never
    starts Spark, and no master is set, so the session is the one ``spark-submit`` configured."""
    return LazyPySparkResource(spark_config=dict(EMR_SESSION_CONF))


# --- the step launcher ------------------------------------------------------------------------


class EmrStepLauncher(EmrPySparkStepLauncher):
    """dagster-aws's EMR PySpark step launcher with two additions: a configurable poll interval
    (its own is a fixed 15 s, right against AWS, slow against a local AWS-compatible server), and
    the step's environment carried in the step's own command (``env K=V ... spark-submit ...``;
    EMR runs ``command-runner.jar`` arguments without a shell)."""

    def __init__(self, *, poll_interval_seconds: float, step_environment: dict[str, str], **kwargs):
        super().__init__(**kwargs)
        self.poll_interval_seconds = poll_interval_seconds
        self.step_environment = dict(step_environment)

    def wait_for_completion(self, step_context, s3, run_id, step_key, emr_step_id, check_interval=None):
        return super().wait_for_completion(
            step_context, s3, run_id, step_key, emr_step_id, check_interval=self.poll_interval_seconds
        )

    def _get_emr_step_def(self, run_id, step_key, solid_name):
        step = super()._get_emr_step_def(run_id, step_key, solid_name)
        if self.step_environment:
            assignments = [f"{key}={value}" for key, value in sorted(self.step_environment.items())]
            jar_step = step["HadoopJarStep"]
            jar_step["Args"] = ["env", *assignments, *jar_step["Args"]]
        return step


_STOCK_FIELDS = emr_pyspark_step_launcher.config_schema.config_type.fields
_LAUNCHER_FIELDS = (
    "spark_config", "cluster_id", "region_name", "action_on_failure", "staging_bucket",
    "staging_prefix", "wait_for_logs", "local_job_package_path", "deploy_local_job_package",
    "s3_job_package_path",
)


@dg.resource(
    config_schema={
        **{name: _STOCK_FIELDS[name] for name in _LAUNCHER_FIELDS},
        "poll_interval_seconds": dg.Field(
            float,
            default_value=DEFAULT_POLL_INTERVAL_SECONDS,
            description="Seconds between two DescribeStep calls while an EMR step runs.",
        ),
        "step_environment": dg.Field(
            dg.Map(str, str),
            default_value={},
            description="Environment variables of the step's driver (set with `env` in its command).",
        ),
    },
    description="Runs the step on an EMR cluster (dagster-aws's emr_pyspark_step_launcher).",
)
def emr_step_launcher(context) -> EmrStepLauncher:
    config = context.resource_config
    return EmrStepLauncher(
        poll_interval_seconds=config["poll_interval_seconds"],
        step_environment=config["step_environment"],
        region_name=config["region_name"],
        staging_bucket=config["staging_bucket"],
        staging_prefix=config["staging_prefix"],
        wait_for_logs=config["wait_for_logs"],
        action_on_failure=config["action_on_failure"],
        cluster_id=config["cluster_id"],
        spark_config=config.get("spark_config") or {},
        local_job_package_path=config["local_job_package_path"],
        deploy_local_job_package=config["deploy_local_job_package"],
        s3_job_package_path=config.get("s3_job_package_path"),
    )


def project_root() -> str:
    """The directory holding the ``gross_profit_assets`` package (the repository, or
    site-packages for an installed wheel)."""
    return str(Path(gross_profit_assets.__file__).resolve().parent.parent)


@dataclass(frozen=True)
class EmrOptions:
    """How steps reach the cluster; the defaults are the production ones."""

    poll_interval_seconds: float = DEFAULT_POLL_INTERVAL_SECONDS
    # The project is installed on every node by the bootstrap action, so no code is zipped per
    # step. It has to be installed, not zipped: it reads package data (the Lake Formation policy
    # YAML) from files, which a zip on --py-files cannot serve. s3_job_package_path adds a staged
    # zip of pure-Python code on top (the tests put their job module there);
    # deploy_local_job_package zips local_job_package_path into each step (same caveat).
    deploy_local_job_package: bool = False
    local_job_package_path: str = field(default_factory=project_root)
    s3_job_package_path: str | None = None
    # A failed step must not cancel the steps of other runs queued on a shared cluster.
    action_on_failure: str = "CONTINUE"
    python: str = EMR_PYTHON
    # More variables for the steps' environment, on top of the deployment's settings.
    extra_environment: dict[str, str] = field(default_factory=dict)
    # spark-submit --conf entries for the cluster's size (executors, shuffle partitions, ...).
    spark_conf: dict[str, str] = field(default_factory=dict)


def launcher_config(settings: AwsSettings, options: EmrOptions | None = None) -> dict:
    """The step launcher's configuration for the deployment's cluster and staging prefix."""
    options = options or EmrOptions()
    config = {
        "cluster_id": settings.emr_cluster_id,
        "region_name": settings.region,
        "staging_bucket": settings.emr_staging_bucket,
        "staging_prefix": f"{settings.emr_staging_prefix}{STEPS_PREFIX}",
        "wait_for_logs": False,  # EMR copies logs to S3 every 5 minutes; the events carry the logs
        "action_on_failure": options.action_on_failure,
        "local_job_package_path": options.local_job_package_path,
        "deploy_local_job_package": options.deploy_local_job_package,
        "poll_interval_seconds": float(options.poll_interval_seconds),
        "step_environment": step_environment(settings, options.python) | options.extra_environment,
        # spark-submit's own settings: the driver and the executors run the bootstrapped Python.
        "spark_config": {
            "spark.pyspark.python": options.python,
            "spark.pyspark.driver.python": options.python,
            **options.spark_conf,
        },
    }
    if options.s3_job_package_path:
        config["s3_job_package_path"] = options.s3_job_package_path
    return config


def emr_resources(
    settings: AwsSettings, options: EmrOptions | None = None, transfer: SparkS3Transfer | None = None
) -> dict:
    """The compute side of the AWS deployment: the Spark session (on the cluster), the step
    launcher, the S3 Parquet IO manager with its Glue tables, and the S3 report publisher.

    ``transfer`` is how Spark reaches S3: EMRFS (the default, on the cluster); the offline tests
    pass a local mirror instead (see ``gross_profit_assets/aws/spark_s3.py``).
    """
    transfer = transfer or EmrfsTransfer()
    pyspark = emr_spark_resource()
    return {
        "pyspark": pyspark,
        "step_launcher": emr_step_launcher.configured(launcher_config(settings, options)),
        "io_manager": S3ParquetIOManager(
            bucket=settings.lake_bucket,
            prefix=settings.lake_prefix,
            glue_database=settings.glue_database,
            region=settings.region,
            pyspark=pyspark,
            transfer=transfer,
        ),
        "report_publisher": S3ReportPublisher(
            bucket=settings.reports_bucket,
            prefix=settings.reports_prefix,
            region=settings.region,
            kms_key_id=settings.kms_key_id,
            transfer=transfer,
        ),
    }


# --- the cluster: the steps' environment, the bootstrap action, the cluster --------------------


def step_environment(settings: AwsSettings, python: str = EMR_PYTHON) -> dict[str, str]:
    """What a step's driver needs in its environment to build the same definitions as the run
    worker: the deployment, its settings, the region (dagster-aws's ``emr_step_main`` builds its
    S3 client without one) and the bootstrapped Python."""
    env = {DEPLOYMENT_ENV_VAR: "aws", "AWS_REGION": settings.region, "AWS_DEFAULT_REGION": settings.region}
    for name, variable in ENV_VARS.items():
        if value := getattr(settings, name):
            env[variable] = value
    env["PYSPARK_PYTHON"] = python
    env["PYSPARK_DRIVER_PYTHON"] = python
    return env


def bootstrap_script() -> str:
    """The bootstrap action that installs the project on every node of the cluster.

    Arguments: the ``s3://`` URI of the project wheel, then optionally the ``s3://`` prefix of a
    wheelhouse (every dependency as a wheel) for clusters without access to a package index.
    """
    return f"""#!/bin/bash
# EMR bootstrap action: installs the gross-profit project on this node.
# Generated by `gross-profit aws bootstrap-script` (gross_profit_assets/aws/emr.py); do not edit.
# Usage: bootstrap.sh s3://<staging>/<prefix>bootstrap/<wheel> [s3://<staging>/<prefix>wheelhouse/]
set -euo pipefail

WHEEL_URI="${{1:?the s3:// URI of the gross-profit wheel}}"
WHEELHOUSE_URI="${{2:-}}"
# Where and with which Python (the defaults are the EMR node's; the tests point them elsewhere).
VENV="${{GROSS_PROFIT_VENV:-{EMR_VENV}}}"
PYTHON="${{GROSS_PROFIT_PYTHON:-python3.11}}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# The project needs Python 3.11 (Amazon Linux 2023 packages it, EMR's default is older).
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  sudo dnf install -y -q python3.11 python3.11-pip
fi
sudo mkdir -p "$(dirname "$VENV")"
sudo "$PYTHON" -m venv "$VENV"

aws s3 cp --only-show-errors "$WHEEL_URI" "$WORK/"
if [ -n "$WHEELHOUSE_URI" ]; then
  aws s3 cp --only-show-errors --recursive "$WHEELHOUSE_URI" "$WORK/wheelhouse/"
  sudo "$VENV/bin/pip" install --quiet --no-index --find-links "$WORK/wheelhouse" "$WORK"/*.whl
else
  sudo "$VENV/bin/pip" install --quiet "$WORK"/*.whl
fi

# Fail the bootstrap (and so the cluster) now rather than the first step later.
"$VENV/bin/python" -c "import gross_profit_assets.aws.emr, dagster_aws.emr.emr_step_main"
echo "gross-profit installed in $VENV"
"""


def write_bootstrap_script(path: Path | str = BOOTSTRAP_SCRIPT_PATH) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(bootstrap_script(), encoding="utf-8")
    target.chmod(0o755)
    return target


def stage_bootstrap(settings: AwsSettings, wheel: Path | str) -> dict:
    """Upload the project wheel and the bootstrap script under the staging prefix (encrypted)
    and return the ``BootstrapActions`` entry of ``RunJobFlow`` that installs it."""
    wheel = Path(wheel)
    s3 = boto3.client("s3", region_name=settings.region)
    prefix = f"{settings.emr_staging_prefix}{BOOTSTRAP_PREFIX}"
    script_key = f"{prefix}bootstrap.sh"
    wheel_key = f"{prefix}{wheel.name}"
    s3.upload_file(str(wheel), settings.emr_staging_bucket, wheel_key, ExtraArgs=sse_args(settings.kms_key_id))
    s3.put_object(
        Bucket=settings.emr_staging_bucket, Key=script_key, Body=bootstrap_script().encode("utf-8"),
        ContentType="text/x-shellscript", **sse_args(settings.kms_key_id),
    )
    return {
        "Name": "install gross-profit",
        "ScriptBootstrapAction": {
            "Path": f"s3://{settings.emr_staging_bucket}/{script_key}",
            "Args": [f"s3://{settings.emr_staging_bucket}/{wheel_key}"],
        },
    }


def cluster_spec(
    bootstrap_action: dict,
    *,
    release_label: str,
    service_role: str,
    instance_profile: str,
    **overrides,
) -> dict:
    """A ``RunJobFlow`` request for a long-running cluster the steps are submitted to (``gross-profit
    aws cluster-spec`` prints it for ``aws emr create-cluster``; the tests start it on moto).

    ``release_label`` must name an EMR release whose Spark is 4.x: the project is built and
    tested on pyspark 4.3.0, and a step's Python runs against the cluster's own Spark.
    ``service_role`` and ``instance_profile`` are the outputs of ``deploy/aws/iam.yaml``.
    """
    spec = {
        "Name": "gross-profit",
        "ReleaseLabel": release_label,
        "Applications": [{"Name": "Spark"}],
        "Instances": {
            "InstanceGroups": [
                {"Name": "primary", "InstanceRole": "MASTER", "InstanceType": "m7g.xlarge", "InstanceCount": 1},
                {"Name": "core", "InstanceRole": "CORE", "InstanceType": "m7g.xlarge", "InstanceCount": 2},
            ],
            # Steps arrive one run at a time; the cluster waits for them between runs.
            "KeepJobFlowAliveWhenNoSteps": True,
        },
        "BootstrapActions": [bootstrap_action],
        "JobFlowRole": instance_profile,
        "ServiceRole": service_role,
        "VisibleToAllUsers": True,
        # The run worker's IAM policy acts only on clusters tagged as this application's, and
        # AmazonEMRServicePolicy_v2 only on resources tagged for it (deploy/aws/iam.yaml).
        "Tags": [{"Key": k, "Value": v} for k, v in CLUSTER_TAGS.items()],
    }
    return spec | overrides
