"""The EMR side of the AWS deployment short of running a step (that is test_aws_emr.py):

- the step launcher the deployment configures from ``AwsSettings``, and the local deployment's
  "no launcher" (steps run in the run's process);
- the bootstrap action: the committed ``deploy/emr/bootstrap.sh`` is what the project generates,
  and it really installs a wheel it downloads from S3 (run here against moto, with ``aws`` and
  ``sudo`` stubbed and a stand-in wheel; the real wheel's dependencies need a package index);
- ``gross-profit aws create-cluster`` stages the wheel and the script (encrypted) and starts a
  tagged, long-running cluster on moto with the bootstrap action.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import boto3
import dagster as dg
import pytest

from gross_profit_assets.aws.emr import (
    BOOTSTRAP_SCRIPT_PATH,
    CLUSTER_TAGS,
    EMR_PYTHON,
    EmrOptions,
    EmrStepLauncher,
    bootstrap_script,
    emr_resources,
)
from gross_profit_assets.aws.settings import AwsSettings
from gross_profit_assets.cli import main
from gross_profit_assets.deployments import local_resources
from gross_profit_assets.settings import LocalPaths

pytestmark = pytest.mark.aws

REPO = Path(__file__).resolve().parents[1]

SETTINGS = AwsSettings(
    region="us-east-1",
    landing_bucket="landing-example",
    lake_bucket="lake-example",
    crawler_role_arn="arn:aws:iam::123456789012:role/gross-profit-crawler",
    pipeline_role_arn="arn:aws:iam::123456789012:role/gross-profit-report-job",
    emr_cluster_id="j-EXAMPLE",
)


def launcher(options: EmrOptions | None = None) -> EmrStepLauncher:
    definition = emr_resources(SETTINGS, options)["step_launcher"]
    with dg.build_resources({"step_launcher": definition}) as built:
        return built.step_launcher


def test_the_launcher_is_dagster_aws_emr_configured_from_the_settings():
    built = launcher()
    assert isinstance(built, EmrStepLauncher)
    assert (built.cluster_id, built.region_name) == ("j-EXAMPLE", "us-east-1")
    assert (built.staging_bucket, built.staging_prefix) == ("lake-example", "emr-staging/steps")
    assert built.wait_for_logs is False and built.deploy_local_job_package is False
    assert built.poll_interval_seconds == 15.0
    assert built.action_on_failure == "CONTINUE"
    assert built.spark_config["spark.pyspark.python"] == EMR_PYTHON
    # The step gets the deployment's settings in its own command.
    env = built.step_environment
    assert env["GROSS_PROFIT_DEPLOYMENT"] == "aws" and env["GROSS_PROFIT_EMR_CLUSTER_ID"] == "j-EXAMPLE"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1" and env["GROSS_PROFIT_LAKE_BUCKET"] == "lake-example"
    step = built._get_emr_step_def("run-1", "governed_dataset", "governed_dataset")
    args = step["HadoopJarStep"]["Args"]
    assert step["HadoopJarStep"]["Jar"] == "command-runner.jar"
    assert args[0] == "env" and "GROSS_PROFIT_PIPELINE_ROLE_ARN=" + SETTINGS.pipeline_role_arn in args
    assert args[args.index("/usr/lib/spark/bin/spark-submit") + 1 : args.index("/usr/lib/spark/bin/spark-submit") + 3] == [
        "--master", "yarn"
    ]
    assert args[-2:] == ["lake-example", "emr-staging/steps/run-1/governed_dataset/step_run_ref.pkl"]


def test_the_poll_interval_and_extra_settings_are_options():
    built = launcher(EmrOptions(poll_interval_seconds=1.5, spark_conf={"spark.executor.memory": "8g"},
                                extra_environment={"TZ": "UTC"}))
    assert built.poll_interval_seconds == 1.5
    assert built.spark_config["spark.executor.memory"] == "8g"
    assert built.step_environment["TZ"] == "UTC"


def test_the_aws_spark_session_leaves_the_master_to_spark_submit():
    pyspark = emr_resources(SETTINGS)["pyspark"]
    assert "spark.master" not in pyspark.spark_config
    assert pyspark.spark_config["spark.sql.session.timeZone"] == "UTC"


def test_locally_there_is_no_launcher_and_steps_run_in_process(tmp_path):
    with dg.build_resources({"step_launcher": local_resources(LocalPaths(tmp_path))["step_launcher"]}) as built:
        assert built.step_launcher is None


def test_the_committed_bootstrap_script_is_the_generated_one_and_valid_bash(tmp_path):
    committed = REPO / BOOTSTRAP_SCRIPT_PATH
    assert committed.read_text(encoding="utf-8") == bootstrap_script(), "run: gross-profit aws bootstrap-script"
    assert os.access(committed, os.X_OK)
    subprocess.run(["bash", "-n", str(committed)], check=True)
    out = tmp_path / "bootstrap.sh"
    assert main(["aws", "bootstrap-script", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == bootstrap_script()


def stand_in_wheel(directory: Path) -> Path:
    """A minimal pure-Python wheel with the two modules the bootstrap's final check imports."""
    files = {
        "gross_profit_assets/__init__.py": "",
        "gross_profit_assets/aws/__init__.py": "",
        "gross_profit_assets/aws/emr.py": "INSTALLED_BY = 'bootstrap test'\n",
        "dagster_aws/__init__.py": "",
        "dagster_aws/emr/__init__.py": "",
        "dagster_aws/emr/emr_step_main.py": "",
        "gross_profit-0.1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: gross-profit\nVersion: 0.1.0\n",
        "gross_profit-0.1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    record.append("gross_profit-0.1.0.dist-info/RECORD,,")
    files["gross_profit-0.1.0.dist-info/RECORD"] = "\n".join(record) + "\n"
    wheel = directory / "gross_profit-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel


AWS_STUB = """\
#!{python}
# `aws s3 cp [--only-show-errors] [--recursive] s3://bucket/key DEST`, against the test's moto.
import sys
from pathlib import Path

import boto3

args = [a for a in sys.argv[1:] if a != "--only-show-errors"]
assert args[:2] == ["s3", "cp"], args
recursive = "--recursive" in args
source, target = [a for a in args[2:] if a != "--recursive"]
bucket, _, key = source[len("s3://"):].partition("/")
s3 = boto3.client("s3")
if recursive:
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", []):
        local = Path(target) / obj["Key"][len(key):]
        local.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, obj["Key"], str(local))
else:
    local = Path(target) / Path(key).name if target.endswith("/") else Path(target)
    s3.download_file(bucket, key, str(local))
"""


def test_the_bootstrap_script_installs_the_wheel_it_downloads(moto, tmp_path):
    bucket = f"staging-{uuid.uuid4().hex[:10]}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    wheel = stand_in_wheel(tmp_path)
    s3.upload_file(str(wheel), bucket, f"emr-staging/bootstrap/{wheel.name}")
    s3.upload_file(str(wheel), bucket, f"emr-staging/wheelhouse/{wheel.name}")

    stubs = tmp_path / "bin"
    stubs.mkdir()
    (stubs / "aws").write_text(AWS_STUB.format(python=sys.executable))
    (stubs / "sudo").write_text('#!/bin/bash\nexec "$@"\n')  # the node's root is us
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    script = tmp_path / "bootstrap.sh"
    script.write_text(bootstrap_script())
    venv = tmp_path / "opt" / "gross-profit" / "venv"
    env = {
        **{k: v for k, v in os.environ.items() if k.startswith("AWS_") or k in ("HOME", "LANG")},
        "PATH": f"{stubs}:{os.environ['PATH']}",
        "GROSS_PROFIT_VENV": str(venv),
        "GROSS_PROFIT_PYTHON": sys.executable,  # Python 3.11, as on the node
    }
    done = subprocess.run(
        ["bash", str(script), f"s3://{bucket}/emr-staging/bootstrap/{wheel.name}", f"s3://{bucket}/emr-staging/wheelhouse/"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"gross-profit installed in {venv}" in done.stdout
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import gross_profit_assets.aws.emr as m; print(m.INSTALLED_BY)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )
    assert installed.stdout.strip() == "bootstrap test"

    # Without the wheel the bootstrap fails, and so would the cluster, instead of a step later.
    missing = subprocess.run(
        ["bash", str(script), f"s3://{bucket}/emr-staging/bootstrap/nothing.whl"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False,
    )
    assert missing.returncode != 0


@pytest.fixture
def lake_bucket(moto, tmp_path, monkeypatch) -> str:
    """A fresh lake bucket in moto and the AWS deployment's environment for `gross-profit aws`,
    without a cluster id (the command creates the cluster)."""
    bucket = f"lake-{uuid.uuid4().hex[:10]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    for name, value in {
        "GROSS_PROFIT_LANDING_BUCKET": "landing-example",
        "GROSS_PROFIT_LAKE_BUCKET": bucket,
        "GROSS_PROFIT_CRAWLER_ROLE_ARN": SETTINGS.crawler_role_arn,
        "GROSS_PROFIT_PIPELINE_ROLE_ARN": SETTINGS.pipeline_role_arn,
        "GROSS_PROFIT_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GROSS_PROFIT_EMR_CLUSTER_ID", raising=False)
    return bucket


def test_create_cluster_stages_the_bootstrap_encrypted_and_starts_a_tagged_cluster(lake_bucket, tmp_path, capsys):
    bucket = lake_bucket
    s3 = boto3.client("s3")
    wheel = stand_in_wheel(tmp_path)

    assert main([
        "aws", "create-cluster", "--wheel", str(wheel), "--release-label", "emr-test",
        "--service-role", "gross-profit-emr-service", "--instance-profile", "gross-profit-report-job",
        "--subnet-id", "subnet-0example", "--log-uri", f"s3://{bucket}/emr-staging/logs/",
    ]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("export GROSS_PROFIT_EMR_CLUSTER_ID=j-")
    cluster_id = printed.split("=", 1)[1]

    emr = boto3.client("emr")
    cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    assert cluster["Status"]["State"] == "WAITING"  # alive with no steps, waiting for runs
    assert cluster["AutoTerminate"] is False
    assert {t["Key"]: t["Value"] for t in cluster["Tags"]} == CLUSTER_TAGS
    assert cluster["ServiceRole"] == "gross-profit-emr-service"
    assert cluster["Ec2InstanceAttributes"]["IamInstanceProfile"] == "gross-profit-report-job"
    (action,) = emr.list_bootstrap_actions(ClusterId=cluster_id)["BootstrapActions"]
    assert action["ScriptPath"] == f"s3://{bucket}/emr-staging/bootstrap/bootstrap.sh"
    assert action["Args"] == [f"s3://{bucket}/emr-staging/bootstrap/{wheel.name}"]
    script = s3.get_object(Bucket=bucket, Key="emr-staging/bootstrap/bootstrap.sh")
    assert script["Body"].read().decode() == bootstrap_script()
    assert script["ServerSideEncryption"] == "AES256"
    staged_wheel = s3.head_object(Bucket=bucket, Key=f"emr-staging/bootstrap/{wheel.name}")
    assert staged_wheel["ServerSideEncryption"] == "AES256"


def test_create_cluster_dry_run_prints_the_request(lake_bucket, tmp_path, capsys):
    clusters_before = len(boto3.client("emr").list_clusters()["Clusters"])
    assert main([
        "aws", "create-cluster", "--wheel", str(stand_in_wheel(tmp_path)), "--release-label", "emr-test",
        "--service-role", "svc", "--instance-profile", "profile", "--dry-run",
    ]) == 0
    request = json.loads(capsys.readouterr().out)
    assert request["Instances"]["KeepJobFlowAliveWhenNoSteps"] is True
    assert request["ReleaseLabel"] == "emr-test"
    assert len(boto3.client("emr").list_clusters()["Clusters"]) == clusters_before
