"""Playing EMR for a moto cluster: run each submitted step's own command here, then complete it.

moto accepts ``AddJobFlowSteps`` and leaves every step RUNNING. :class:`EmrStepRunner` watches
the cluster over the EMR API and, for each new step, does what the cluster's step runner would:

- takes the step's own ``spark-submit`` command (``Config.Args``) and changes only what exists
  on an EMR node and not here: ``/usr/lib/spark/bin/spark-submit`` becomes the venv's
  ``spark-submit``, ``--master yarn`` becomes ``local[2]``, the bootstrapped Python
  (``/opt/gross-profit/venv/bin/python``, where the project is installed) becomes this
  interpreter (where the project is installed too), and each ``s3://`` file argument (the
  staged code zip, dagster-aws's ``emr_step_main.py``) is downloaded from moto and passed as a
  local file. The staging bucket and step-reference key arguments stay as they are,
  so the step fetches its pickled step reference from moto and writes its events back to it;
- gives the process only what a node has of its own (``PATH``, ``JAVA_HOME``, ...) and the
  credentials and endpoint that stand in for the instance profile: nothing else of the test's
  environment. The deployment's settings reach the step the way they do on EMR, through the
  ``env K=V ...`` prefix the launcher puts in the step's command;
- sets the step COMPLETED (or FAILED, with the tail of its output as the reason) in moto's EMR
  backend, which needs the server in this process (``ThreadedMotoServer``).

:func:`emr_month_job` is the job the EMR test runs; the step process reconstructs it by module
and name from the staged code zip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Self

import boto3

from gross_profit_assets.aws.emr import EMR_PYTHON
from gross_profit_assets.settings import HOME_ENV_VAR

REPO = Path(__file__).resolve().parents[1]
LOCAL_SPARK_SUBMIT = str(Path(sys.executable).parent / "spark-submit")
LOCAL_MASTER = "local[2]"
# Sizing of the step for one small machine, as a cluster's would be for its executors (only the
# tests set these; production steps keep Spark's and EMR's defaults).
LOCAL_STEP_CONF = {
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    # Short-lived test JVMs: C1 only and a serial GC start faster and burn less CPU than the defaults.
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    # Fifteen lines: interpreting the plans beats compiling generated code for each query.
    "spark.sql.codegen.wholeStage": "false",
}

# Test seams the job reads when the step process rebuilds it (exported through the cluster's
# spark-env configuration, like the deployment's own settings).
MIRROR_ENV = "GROSS_PROFIT_TEST_S3_MIRROR"
PACKAGE_ENV = "GROSS_PROFIT_TEST_JOB_PACKAGE"  # s3:// URI of the zipped test package
POLL_ENV = "GROSS_PROFIT_TEST_EMR_POLL_SECONDS"
TEST_SEAMS = (MIRROR_ENV, PACKAGE_ENV, POLL_ENV, HOME_ENV_VAR)

# What a node has that is not the cluster's configuration: its own basics, and the instance
# profile's credentials (here moto's dummy ones) and the endpoint of the local AWS server.
NODE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "JAVA_HOME", "TMPDIR", "SPARK_LOCAL_IP")
CREDENTIALS_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")


def emr_month_job():
    """``gross_profit_month`` over the seed's landing zone, with the AWS deployment's compute.

    Landing, catalog and governance are the local adapters (``GROSS_PROFIT_HOME``): Spark here
    cannot read ``s3://`` landing files, and those adapters are not what this test is about.
    The Spark assets get :func:`~gross_profit_assets.aws.emr.emr_resources` (the EMR step
    launcher, the S3 Parquet IO manager with its Glue tables, the S3 report publisher) with the
    local-mirror transfer in place of EMRFS.
    """
    import dagster as dg

    from gross_profit_assets.assets.catalog import cataloged_tables
    from gross_profit_assets.assets.governed import governed_dataset
    from gross_profit_assets.assets.landing import landed_files
    from gross_profit_assets.assets.report import (
        gross_profit_report,
        gross_profit_summary,
    )
    from gross_profit_assets.aws.emr import EmrOptions, emr_resources
    from gross_profit_assets.aws.settings import AwsSettings
    from gross_profit_assets.deployments import local_resources
    from gross_profit_assets.jobs import gross_profit_month
    from gross_profit_assets.settings import LocalPaths
    from gross_profit_assets_tests.s3_mirror import MirroredS3Transfer

    settings = AwsSettings.from_env()
    local = local_resources(LocalPaths.from_env())
    options = EmrOptions(
        poll_interval_seconds=float(os.environ.get(POLL_ENV, "1")),
        s3_job_package_path=os.environ[PACKAGE_ENV],
        spark_conf=LOCAL_STEP_CONF,
    )
    transfer = MirroredS3Transfer(mirror_root=os.environ[MIRROR_ENV], region=settings.region)
    options = replace(options, extra_environment={k: os.environ[k] for k in TEST_SEAMS if k in os.environ})
    resources = {
        **{key: local[key] for key in ("object_store", "glue_catalog", "glue_crawler", "lake_formation")},
        **emr_resources(settings, options, transfer=transfer),
    }
    defs = dg.Definitions(
        assets=[landed_files, cataloged_tables, governed_dataset, gross_profit_report, gross_profit_summary],
        jobs=[gross_profit_month],
        resources=resources,
        executor=dg.in_process_executor,
    )
    return defs.resolve_job_def(gross_profit_month.name)


def stage_test_package(bucket: str, key: str, workdir: Path) -> str:
    """Zip this test package (the job module lives here) with dagster-pyspark's own zip builder,
    stage it in S3 and return its ``s3://`` URI, the launcher's ``s3_job_package_path``.

    The project itself is not in the zip: on EMR the bootstrap action installs its wheel, here
    the venv has it installed, and it must be installed rather than zipped (it reads its
    package data from files). ``workdir`` must not contain "pytest" in its path: the zip
    builder skips every file whose path matches ``.*pytest.*``.
    """
    from dagster_pyspark.utils import build_pyspark_zip

    source = workdir / "package"
    shutil.copytree(REPO / "gross_profit_assets_tests", source / "gross_profit_assets_tests",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "corpus", "data"))
    archive = workdir / "gross_profit_assets_tests.zip"
    build_pyspark_zip(str(archive), str(source))
    boto3.client("s3").upload_file(str(archive), bucket, key)
    return f"s3://{bucket}/{key}"


@dataclass
class StepRun:
    step_id: str
    name: str
    args: list[str]
    command: list[str]
    returncode: int
    seconds: float
    output: str


@dataclass
class EmrStepRunner:
    """Runs the steps submitted to ``cluster_id`` on moto, one at a time, in a thread."""

    moto: object  # gross_profit_assets_tests.aws_server.MotoServer
    cluster_id: str
    workdir: Path
    poll_seconds: float = 0.2
    runs: list[StepRun] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        self._thread = threading.Thread(target=self._loop, name="emr-step-runner", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        emr = boto3.client("emr")
        seen: set[str] = set()
        while not self._stop.is_set():
            try:
                steps = emr.list_steps(ClusterId=self.cluster_id)["Steps"]
                for step in reversed(steps):  # ListSteps is newest first
                    if step["Id"] not in seen and step["Status"]["State"] in ("PENDING", "RUNNING"):
                        seen.add(step["Id"])
                        self._run(emr, step)
            except BaseException as error:  # noqa: BLE001 - reported by the test, not lost in a thread
                self.errors.append(error)
                return
            self._stop.wait(self.poll_seconds)

    @staticmethod
    def node_environment() -> dict[str, str]:
        return {k: os.environ[k] for k in (*NODE_ENV, *CREDENTIALS_ENV) if k in os.environ}

    def local_command(self, args: list[str], into: Path) -> list[str]:
        s3 = boto3.client("s3")
        command = []
        previous = None
        for arg in args:
            local = arg
            if arg.endswith("/bin/spark-submit"):
                local = LOCAL_SPARK_SUBMIT
            elif previous == "--master" and arg == "yarn":
                local = LOCAL_MASTER
            elif arg.endswith(f"={EMR_PYTHON}"):  # --conf spark.pyspark.python=, PYSPARK_PYTHON=
                local = arg.replace(EMR_PYTHON, sys.executable)
            elif arg.startswith("s3://"):
                bucket, _, key = arg[len("s3://"):].partition("/")
                local = str(into / Path(key).name)
                s3.download_file(bucket, key, local)
            command.append(local)
            previous = arg
        return command

    def _run(self, emr, step: dict) -> None:
        backend = self.moto.backend("emr")
        moto_step = next(s for s in backend.clusters[self.cluster_id].steps if s.id == step["Id"])
        moto_step.state = "RUNNING"
        moto_step.start()
        into = Path(tempfile.mkdtemp(prefix=f"step-{step['Id']}-", dir=self.workdir))
        args = list(step["Config"]["Args"])
        command = self.local_command(args, into)
        started = time.monotonic()
        done = subprocess.run(
            command, check=False, cwd=into, env=self.node_environment(), capture_output=True, text=True,
            timeout=300,
        )
        output = done.stdout + done.stderr
        (into / "step.log").write_text(output, encoding="utf-8")
        self.runs.append(
            StepRun(step["Id"], step["Name"], args, command, done.returncode, time.monotonic() - started, output)
        )
        if done.returncode == 0:
            moto_step.state = "COMPLETED"
        else:
            moto_step.state = "FAILED"
            moto_step.last_state_change_reason = output[-2000:]
