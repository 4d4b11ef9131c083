"""Beyond one machine: the same pipeline on a real Spark standalone cluster, and its settings.

One cluster for the module (a master and two one-core workers on 127.0.0.1, from the installed
pyspark). The CLI runs generated data (two months, two currencies, unmatched lines) against it
(``GROSS_PROFIT_SPARK_MASTER=spark://…``) in a fresh ``--home``. Every line of the cluster's
report must equal the independent DuckDB reference's line, and the totals must equal it to the
cent (the same reference the local end-to-end tests hold the default master to); the master
must list the application as finished and both workers must have run executors for it. The lake
is a local path that driver and workers share because they are on one machine
(docs/scale-out.md says what a real cluster needs).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from gross_profit_assets.generate import generate
from gross_profit_assets.resources.spark import (
    CONF_ENV_VAR,
    CONF_FILE_ENV_VAR,
    LOCAL_SPARK_CONF,
    MASTER_ENV_VAR,
    SparkSettingsError,
    checked_master,
    parse_conf_entries,
    parse_conf_file,
    spark_conf_from_env,
)
from gross_profit_assets_tests.reference_duckdb import assert_report_equals_reference, reference_totals
from gross_profit_assets_tests.spark_cluster import StandaloneCluster, live_group_members, start_standalone_cluster

CLI = [sys.executable, "-m", "gross_profit_assets.cli"]
CLI_TIMEOUT_SECONDS = 600
SPARK_SETTINGS = (MASTER_ENV_VAR, CONF_ENV_VAR, CONF_FILE_ENV_VAR)
EXECUTOR_MEMORY_MB = 512


# --- the settings, without a cluster --------------------------------------------------------


def test_conf_entries_split_on_commas_and_newlines_keeping_commas_inside_values():
    text = "spark.executor.memory=512m, spark.cores.max = 2\nspark.jars=a.jar,b.jar"
    assert parse_conf_entries(text) == {
        "spark.executor.memory": "512m",
        "spark.cores.max": "2",
        "spark.jars": "a.jar,b.jar",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("spark.cores.max=2,spark.executor.memory 512m", "entry 2 'spark.executor.memory 512m': not key=value"),
        ("executor.memory=512m", "'executor.memory' is not a Spark property"),
        ("spark.cores.max=", "spark.cores.max has no value"),
        ("=2", "no key before '='"),
    ],
)
def test_a_malformed_conf_entry_is_named_with_its_source(text, message):
    with pytest.raises(SparkSettingsError, match=f"^{CONF_ENV_VAR} ") as raised:
        parse_conf_entries(text)
    assert message in str(raised.value)


def test_a_spark_defaults_file_takes_key_value_and_key_equals_value_lines(tmp_path):
    defaults = tmp_path / "spark-defaults.conf"
    defaults.write_text(
        "# sizing for the team cluster\n"
        "spark.executor.memory   4g\n"
        "\n"
        "spark.sql.shuffle.partitions=64\n"
        "spark.executor.extraJavaOptions -XX:+UseG1GC -Dzone=a\n"
    )
    assert parse_conf_file(defaults) == {
        "spark.executor.memory": "4g",
        "spark.sql.shuffle.partitions": "64",
        "spark.executor.extraJavaOptions": "-XX:+UseG1GC -Dzone=a",
    }


def test_a_malformed_conf_file_line_is_named_with_file_and_line(tmp_path):
    defaults = tmp_path / "spark-defaults.conf"
    defaults.write_text("spark.executor.memory 4g\nspark.executor.cores\n")
    with pytest.raises(SparkSettingsError) as raised:
        parse_conf_file(defaults)
    assert f"{CONF_FILE_ENV_VAR}={defaults} line 2 'spark.executor.cores'" in str(raised.value)


def test_a_missing_conf_file_is_an_error_naming_it(tmp_path):
    missing = tmp_path / "nowhere.conf"
    with pytest.raises(SparkSettingsError, match=f"{CONF_FILE_ENV_VAR}={missing}: cannot read it"):
        spark_conf_from_env({CONF_FILE_ENV_VAR: str(missing)})


def test_env_conf_overrides_file_overrides_defaults_and_the_master_variable_wins(tmp_path):
    defaults = tmp_path / "spark-defaults.conf"
    defaults.write_text("spark.executor.memory 4g\nspark.sql.shuffle.partitions 64\nspark.master yarn\n")
    conf = spark_conf_from_env(
        {
            CONF_FILE_ENV_VAR: str(defaults),
            CONF_ENV_VAR: "spark.executor.memory=1g",
            MASTER_ENV_VAR: "spark://10.0.0.5:7077",
        }
    )
    assert conf["spark.executor.memory"] == "1g"  # the variable over the file
    assert conf["spark.sql.shuffle.partitions"] == "64"  # the file over the project default
    assert conf["spark.master"] == "spark://10.0.0.5:7077"  # the master variable over both
    assert conf["spark.sql.session.timeZone"] == LOCAL_SPARK_CONF["spark.sql.session.timeZone"]


def test_without_settings_the_session_is_local():
    assert spark_conf_from_env({}) == LOCAL_SPARK_CONF
    assert spark_conf_from_env({})["spark.master"] == "local[*]"


@pytest.mark.parametrize("url", ["local[2]", "local[*]", "spark://a:7077,b:7077", "k8s://https://api:6443", "yarn"])
def test_spark_master_urls_are_accepted(url):
    assert checked_master(url) == url


@pytest.mark.parametrize("url", ["spark:/oops", "mesos://host:5050", "local[0]", "yarn-client"])
def test_an_unknown_master_is_refused_naming_the_variable(url):
    with pytest.raises(SparkSettingsError, match=f"^{MASTER_ENV_VAR}='"):
        checked_master(url)


def test_spark_connect_is_refused_with_what_blocks_it():
    with pytest.raises(SparkSettingsError) as raised:
        spark_conf_from_env({MASTER_ENV_VAR: "sc://127.0.0.1:15002"})
    message = str(raised.value)
    assert "pyspark[connect]" in message and "landed_csv.py" in message and "docs/scale-out.md" in message


def test_the_cli_reports_a_malformed_setting_before_doing_anything(tmp_path):
    done = gross_profit(tmp_path / "home", "run", env={CONF_ENV_VAR: "spark.executor.memory"}, check=False)
    assert done.returncode != 0
    assert f"{CONF_ENV_VAR} entry 1 'spark.executor.memory': not key=value" in done.stderr


# --- the pipeline on a cluster ----------------------------------------------------------------


def gross_profit(home: Path, *args: str, env: dict | None = None, check: bool = True):
    """The CLI in a subprocess, as a user runs it; Spark settings only from ``env``."""
    environment = {k: v for k, v in os.environ.items() if k not in SPARK_SETTINGS and k != "DAGSTER_HOME"}
    environment |= {"SPARK_LOCAL_IP": "127.0.0.1"} | (env or {})
    done = subprocess.run(
        [*CLI, "--home", str(home), *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=CLI_TIMEOUT_SECONDS,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"gross-profit {' '.join(args)} exited {done.returncode}:\n{done.stderr[-4000:]}")
    return done


@dataclass(frozen=True)
class Dataset:
    name: str
    files: list[Path]


@dataclass(frozen=True)
class PipelineRun:
    result: dict  # the last line of `run --json`

    @property
    def report_lines(self) -> list[str]:
        return Path(self.result["report"]["lines_csv"]).read_text(encoding="utf-8").splitlines()


def run_pipeline(home: Path, dataset: Dataset, env: dict | None = None) -> PipelineRun:
    """``ingest`` every file of ``dataset`` into a fresh ``home``, then ``run --json``."""
    gross_profit(home, "ingest", *map(str, dataset.files), env=env)
    done = gross_profit(home, "run", "--json", env=env)
    return PipelineRun(json.loads(done.stdout.strip().splitlines()[-1]))


def cluster_settings(cluster: StandaloneCluster, dataset: Dataset, work_dir: Path) -> dict[str, str]:
    """The master and pass-through conf for one cluster run. Executor memory comes from a
    spark-defaults file (1g) overridden by ``GROSS_PROFIT_SPARK_CONF`` (512m), so the master's
    record of the application shows which source won. The executors start Python for the empty
    frames the landed-CSV reader unions (``createDataFrame``), so they get this interpreter."""
    defaults = work_dir / f"spark-defaults-{dataset.name}.conf"
    defaults.write_text("# cluster sizing for the test\nspark.executor.memory 1g\nspark.cores.max 2\n")
    return {
        MASTER_ENV_VAR: cluster.master_url,
        CONF_FILE_ENV_VAR: str(defaults),
        CONF_ENV_VAR: f"spark.executor.memory={EXECUTOR_MEMORY_MB}m,spark.app.name=gross-profit-{dataset.name}",
        "PYSPARK_PYTHON": sys.executable,
    }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    started = start_standalone_cluster(tmp_path_factory.mktemp("spark-standalone"), workers=2)
    yield started
    started.stop()  # idempotent: the last test already stopped it when everything passed


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> list[Dataset]:
    generated = generate(
        tmp_path_factory.mktemp("generated"), rows=3_000, months=2, start_month="2024-05", currencies=("USD", "CAD")
    )
    # The seed sample alone is covered by the local end-to-end tests; on the cluster, data that
    # spans months, currencies and quarantine reasons says more per minute of the suite.
    return [Dataset("generated", sorted(Path(f) for f in generated.files))]


@pytest.fixture(scope="module")
def runs(cluster, datasets, tmp_path_factory) -> dict[str, PipelineRun]:
    """Every dataset on the cluster, one after the other (each gets both workers)."""
    work_dir = tmp_path_factory.mktemp("runs")
    return {d.name: run_pipeline(work_dir / d.name, d, cluster_settings(cluster, d, work_dir)) for d in datasets}


DATASETS = ["generated"]


@pytest.mark.e2e
@pytest.mark.parametrize("dataset", DATASETS)
def test_every_line_of_the_cluster_report_equals_the_duckdb_reference(runs, datasets, dataset):
    (files,) = [d.files for d in datasets if d.name == dataset]
    run = runs[dataset]
    assert run.result["ok"], run.result["failures"]
    published = list(csv.DictReader(run.report_lines))
    assert len(published) == run.result["lines_reported"]
    assert_report_equals_reference(published, files)


@pytest.mark.e2e
@pytest.mark.parametrize("dataset", DATASETS)
def test_totals_equal_the_duckdb_reference_to_the_cent(runs, datasets, dataset):
    (files,) = [d.files for d in datasets if d.name == dataset]
    expected = reference_totals(files)["total"]
    result = runs[dataset].result
    for count in ("lines_in", "lines_reported", "lines_quarantined"):
        assert result[count] == expected[count], count
    for money in ("revenue_usd", "cogs_usd", "gross_profit_usd"):
        assert Decimal(result[money]) == expected[money], money


@pytest.mark.e2e
def test_the_master_lists_every_cluster_run_as_a_finished_application(runs, cluster):
    finished = {app["name"]: app for app in cluster.status()["completedapps"]}
    for dataset in DATASETS:
        app = finished[f"gross-profit-{dataset}"]
        assert app["state"] == "FINISHED"
        assert app["cores"] == 2  # spark.cores.max from the conf file
        assert app["memoryperexecutor"] == EXECUTOR_MEMORY_MB  # GROSS_PROFIT_SPARK_CONF over the file
    assert cluster.status()["activeapps"] == []


@pytest.mark.e2e
def test_both_workers_ran_executors_for_every_cluster_run(runs, cluster):
    apps = {app["id"] for app in cluster.status()["completedapps"]}
    for worker in cluster.status()["workers"]:
        with urllib.request.urlopen(f"{worker['webuiaddress']}/json/", timeout=10) as response:
            ran = {executor["appid"] for executor in json.load(response)["finishedexecutors"]}
        assert ran == apps, worker["id"]


@pytest.mark.e2e
def test_stopping_the_cluster_leaves_no_process_behind(runs, cluster):
    groups = [process.pid for process in cluster.processes]
    cluster.stop(timeout=30)
    assert all(process.returncode is not None for process in cluster.processes)
    assert [pid for group in groups for pid in live_group_members(group)] == []
