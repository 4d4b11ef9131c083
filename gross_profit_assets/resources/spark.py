"""Compute port: the Spark session, built once per process and shared by every asset."""

from __future__ import annotations

import os
from pathlib import Path

from dagster_pyspark import LazyPySparkResource

# Small, fast defaults for one machine; GROSS_PROFIT_SPARK_CONF-style overrides come later.
LOCAL_SPARK_CONF: dict[str, str] = {
    "spark.master": "local[*]",
    "spark.app.name": "gross-profit",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.driver.memory": "2g",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={Path(__file__).with_name('log4j2.properties').as_uri()}",
}


def local_spark_resource() -> LazyPySparkResource:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return LazyPySparkResource(spark_config=LOCAL_SPARK_CONF)


def shared_spark_session():
    """The process-wide session (``getOrCreate`` returns the same one on every call)."""
    return local_spark_resource().spark_session
