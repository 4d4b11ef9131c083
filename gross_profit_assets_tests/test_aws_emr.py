"""The EMR path end to end, offline: the Spark assets of a month run as EMR steps of a moto
cluster through dagster-aws's step launcher, and their materializations come back to the run.

What runs where:

- the run worker is this test process: ``execute_job`` on the reconstructable
  ``gross_profit_month`` job (``emr_harness.emr_month_job``) with a persistent Dagster instance
  (``materialize()`` cannot drive a step launcher). Landing and catalog run here, with the local
  adapters over the bundled seed sample;
- ``governed_dataset`` and ``gross_profit_report`` are handed to the EMR step launcher: it stages
  the step in the moto staging bucket and calls ``AddJobFlowSteps`` on a moto cluster started
  with ``RunJobFlow`` (``KeepJobFlowAliveWhenNoSteps``). The project is installed in the venv,
  as the bootstrap action installs it on EMR; the test package, where the job lives, is a zip
  staged in moto and passed as the launcher's ``s3_job_package_path`` (``--py-files``);
- ``EmrStepRunner`` plays the cluster: it runs each step's own command here (spark-submit mapped
  to the venv's, ``yarn`` to ``local[2]``, the staged ``s3://`` code zip and ``emr_step_main.py``
  downloaded from moto, the bucket and key arguments unchanged) and marks the step COMPLETED in
  moto; the launcher, polling every second, reads the step's events back from the staging bucket.

What the EMR-executed assets read and write, honestly stated: the pip pyspark has no S3
connector, so (1) the *real* governed asset reads the landed seed files from the local landing
zone (``file://``, the local object store, crawler catalog and Lake Formation adapters: the
test's seam), and (2) the S3 Parquet IO manager and the S3 report publisher write through
``MirroredS3Transfer``: Spark writes locally, the files are uploaded to the same keys on moto, and
the report step reads the governed lines back by downloading them from moto. The keys, Glue
tables and partitions asserted here are moto's state; the report CSV is read from moto.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import boto3
import dagster as dg
import pytest

from gross_profit_assets.aws.emr import EMR_PYTHON, bootstrap_script, cluster_spec
from gross_profit_assets.landing import land_file
from gross_profit_assets.resources.object_store import LocalObjectStore
from gross_profit_assets.settings import LocalPaths
from gross_profit_assets_tests import emr_harness
from gross_profit_assets_tests.emr_harness import EmrStepRunner, stage_test_package

pytestmark = [pytest.mark.aws, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "gross_profit_assets" / "sample_data"
EXPECTED_REPORT = Path(__file__).parent / "data" / "expected_gross_profit_report.csv"
MONTH = "2023-07"


@pytest.fixture()
def package_dir():
    # Outside pytest's tmp_path on purpose: dagster-pyspark's zip builder skips any path
    # containing "pytest".
    target = Path(tempfile.mkdtemp(prefix="gross-profit-emr-package-"))
    try:
        yield target
    finally:
        shutil.rmtree(target, ignore_errors=True)


def test_the_spark_assets_run_as_emr_steps_and_report_back(moto, tmp_path, package_dir, monkeypatch):
    started = time.monotonic()
    s3, glue, emr = boto3.client("s3"), boto3.client("glue"), boto3.client("emr")
    lake, reports = f"lake-{uuid.uuid4().hex[:10]}", f"reports-{uuid.uuid4().hex[:10]}"  # made up
    database = f"gross_profit_{uuid.uuid4().hex[:8]}"
    for bucket in (lake, reports):
        s3.create_bucket(Bucket=bucket)
    glue.create_database(DatabaseInput={"Name": database})
    s3.put_object(Bucket=lake, Key="emr-staging/bootstrap/bootstrap.sh", Body=bootstrap_script().encode())
    cluster_id = emr.run_job_flow(
        **cluster_spec(
            {"Name": "install gross-profit", "ScriptBootstrapAction": {
                "Path": f"s3://{lake}/emr-staging/bootstrap/bootstrap.sh",
                "Args": [f"s3://{lake}/emr-staging/bootstrap/gross_profit-0.1.0-py3-none-any.whl"]}},
            release_label="emr-test", service_role="gross-profit-emr-service",
            instance_profile="gross-profit-emr-instance-profile",
        )
    )["JobFlowId"]

    code_zip = stage_test_package(lake, "emr-staging/code/gross_profit_assets_tests.zip", package_dir)
    home = tmp_path / "home"
    for name, value in {
        "GROSS_PROFIT_HOME": str(home),
        "GROSS_PROFIT_LANDING_BUCKET": "billing-data",  # the local landing zone (see docstring)
        "GROSS_PROFIT_LAKE_BUCKET": lake,
        "GROSS_PROFIT_REPORTS_BUCKET": reports,
        "GROSS_PROFIT_GLUE_DATABASE": database,
        "GROSS_PROFIT_CRAWLER_ROLE_ARN": "arn:aws:iam::123456789012:role/gross-profit-crawler",
        "GROSS_PROFIT_PIPELINE_ROLE_ARN": "arn:aws:iam::123456789012:role/gross-profit-pipeline",
        "GROSS_PROFIT_EMR_CLUSTER_ID": cluster_id,
        emr_harness.MIRROR_ENV: str(tmp_path / "mirror"),
        emr_harness.PACKAGE_ENV: code_zip,
        emr_harness.POLL_ENV: "1",
    }.items():
        monkeypatch.setenv(name, value)
    store = LocalObjectStore(root=str(LocalPaths.from_env().object_store))
    for sample in sorted(SAMPLE.glob("*.csv")):
        land_file(store, sample)
    # The run worker's working directory holds no code: the step imports the job from the zip.
    monkeypatch.chdir(tmp_path)
    job = dg.reconstructable(emr_harness.emr_month_job)
    (tmp_path / "dagster_home").mkdir()

    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as instance, EmrStepRunner(
        moto, cluster_id, workdir=tmp_path
    ) as cluster:
        instance.add_dynamic_partitions("billing_month", [MONTH])
        with dg.execute_job(job, instance=instance, tags={"dagster/partition": MONTH}) as result:
            failures = [str(e.step_failure_data.error) for e in result.all_events if e.is_step_failure]
            assert result.success, failures + [r.output[-3000:] for r in cluster.runs if r.returncode]
            run_id = result.run_id
        assert not cluster.errors

        # Two EMR steps, each the launcher's own spark-submit of dagster-aws's emr_step_main.
        steps = emr.list_steps(ClusterId=cluster_id)["Steps"]
        assert sorted(s["Name"] for s in steps) == sorted(
            ["Execute Solid/Op governed_dataset", "Execute Solid/Op gross_profit_report"]
        )
        assert all(s["Status"]["State"] == "COMPLETED" for s in steps)
        for run in cluster.runs:
            args = run.args
            assert args[0] == "env" and f"GROSS_PROFIT_EMR_CLUSTER_ID={cluster_id}" in args
            assert f"PYSPARK_PYTHON={EMR_PYTHON}" in args and "GROSS_PROFIT_DEPLOYMENT=aws" in args
            submit = args.index("/usr/lib/spark/bin/spark-submit")
            assert args[submit + 1 : submit + 3] == ["--master", "yarn"]
            assert args[args.index("--py-files") + 1] == code_zip
            assert args[-3].endswith("/emr_step_main.py") and args[-2] == lake
            assert args[-1].startswith(f"emr-staging/steps/{run_id}/") and args[-1].endswith("/step_run_ref.pkl")
            # The harness changed only what exists on a node and not here.
            assert "local[2]" in run.command and args[-2:] == run.command[-2:]

        # The materializations and their metadata came back through the launcher.
        def materialization(key):
            event = instance.get_latest_materialization_event(dg.AssetKey(key))
            assert event is not None and event.run_id == run_id, key
            return event.asset_materialization.metadata

        governed = materialization("governed_billing_lines")
        assert governed["dagster/row_count"].value == 15 and governed["lines_in"].value == 15
        assert materialization("quarantined_billing_lines")["dagster/row_count"].value == 0
        report = materialization("gross_profit_report")
        assert report["dagster/row_count"].value == 15
        assert report["gross_profit_usd"].value == pytest.approx(19165.0)
        csv_location = f"s3://{reports}/reports/billing_month={MONTH}/gross_profit_report.csv"
        assert report["csv"].path == csv_location
        assert report["glue_table"].text == f"{database}.gross_profit_report"
        checks = {
            (evaluation.check_name, evaluation.passed)
            for record in instance.get_records_for_run(
                run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            ).records
            for evaluation in [record.event_log_entry.dagster_event.event_specific_data]
        }
        assert ("every_line_accounted_for", True) in checks
        assert ("totals_reconcile_with_governed_lines", True) in checks

        # What the steps left in moto: Glue partitions over Parquet, and the report CSV, which
        # equals the seed's expected report (first seven columns) line for line.
        for table in ("governed_billing_lines", "quarantined_billing_lines", "gross_profit_report"):
            location = glue.get_partition(DatabaseName=database, TableName=table, PartitionValues=[MONTH])[
                "Partition"
            ]["StorageDescriptor"]["Location"]
            key = location.removeprefix(f"s3://{lake}/")
            assert key.startswith(f"lake/{table}/write-") and key.endswith(f"/billing_month={MONTH}/")
            assert any(o["Key"].endswith(".parquet") for o in s3.list_objects_v2(Bucket=lake, Prefix=key)["Contents"])
        body = s3.get_object(Bucket=reports, Key=f"reports/billing_month={MONTH}/gross_profit_report.csv")
        assert body["ServerSideEncryption"] == "AES256"
        ours = [row[:7] for row in csv.reader(io.StringIO(body["Body"].read().decode("utf-8")))]
        with open(EXPECTED_REPORT, newline="", encoding="utf-8") as handle:
            assert ours == list(csv.reader(handle))

    elapsed = time.monotonic() - started
    print(f"EMR end to end: {elapsed:.1f} s; steps: " + ", ".join(f"{r.name} {r.seconds:.1f} s" for r in cluster.runs))
