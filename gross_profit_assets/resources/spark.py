"""Compute port: the Spark session, built once per process and shared by every asset.

Where Spark runs is configuration, not code. The same assets run on one machine or hand their
work to a cluster, chosen by environment variables read when the definitions load:

- ``GROSS_PROFIT_SPARK_MASTER``: any Spark master URL (``local[N]``, ``spark://host:port``,
  ``k8s://https://host:port``, ``yarn``); default ``local[*]``.
- ``GROSS_PROFIT_SPARK_CONF_FILE``: a ``spark-defaults.conf``-style file (``key value`` or
  ``key=value`` per line, ``#`` comments).
- ``GROSS_PROFIT_SPARK_CONF``: ``key=value`` entries separated by commas or newlines.

Later sources win: project defaults (``LOCAL_SPARK_CONF``) < the file < ``GROSS_PROFIT_SPARK_CONF``
< ``GROSS_PROFIT_SPARK_MASTER``. A malformed entry fails the definitions' load with a message
naming the entry and its source, rather than a Spark error deep inside a run. See
``docs/scale-out.md`` for clusters, shared storage and why Spark Connect is refused for now.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from dagster_pyspark import LazyPySparkResource

from gross_profit_assets.engine import DUCKDB, engine_name

MASTER_ENV_VAR = "GROSS_PROFIT_SPARK_MASTER"
CONF_ENV_VAR = "GROSS_PROFIT_SPARK_CONF"
CONF_FILE_ENV_VAR = "GROSS_PROFIT_SPARK_CONF_FILE"
DEFAULT_MASTER = "local[*]"

# Small, fast defaults for one machine; every one of them can be overridden by the sources above.
LOCAL_SPARK_CONF: dict[str, str] = {
    "spark.master": DEFAULT_MASTER,
    "spark.app.name": "gross-profit",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # Two shuffle partitions per core keeps both cores busy on a month of millions of lines;
    # adaptive execution coalesces them for small months, so a 15-line month pays for few tasks.
    "spark.sql.shuffle.partitions": str(max(4, 2 * (os.cpu_count() or 2))),
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.driver.memory": "2g",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={Path(__file__).with_name('log4j2.properties').as_uri()}",
}

# Master URLs Spark 4 can schedule on. Checked here so a typo is reported against the variable
# that holds it, not as "Could not parse Master URL" from inside the first asset.
_CLUSTER_MASTER = re.compile(
    r"local(\[(\*|[1-9]\d*)(,[1-9]\d*)?\])?"  # local, local[4], local[*], local[4,2] (with retries)
    r"|local-cluster\[[1-9]\d*,[1-9]\d*,[1-9]\d*\]"  # Spark's own multi-JVM test cluster
    r"|spark://\S+"  # standalone, one or several masters
    r"|k8s://\S+"  # Kubernetes API server
    r"|yarn"
)
_CONNECT_SCHEME = "sc://"
# A comma starts a new entry only when `spark.` follows it, so `spark.jars=a.jar,b.jar` keeps
# its comma-separated value.
_ENTRY_BOUNDARY = re.compile(r"\n|,(?=\s*spark\.)")
# spark-defaults.conf: the key, then `=` or whitespace, then the value (which may contain either).
_FILE_LINE = re.compile(r"(?P<key>[^\s=]+)\s*(?:=|\s)\s*(?P<value>.*)")
_SPARK_KEY = re.compile(r"spark\.[^\s=]+")


class SparkSettingsError(ValueError):
    """A Spark master or configuration entry the project cannot use; the message names the
    entry and the variable or file it came from."""


def _checked_entry(key: str, value: str, where: str) -> tuple[str, str]:
    """A (key, value) pair that is worth handing to Spark. Spark ignores non-``spark.`` keys with
    a warning nobody reads, so a misspelt key is an error here."""
    if not key:
        raise SparkSettingsError(f"{where}: no key before '='")
    if not _SPARK_KEY.fullmatch(key):
        raise SparkSettingsError(
            f"{where}: {key!r} is not a Spark property (keys start with 'spark.'; Hadoop "
            "options go in as 'spark.hadoop.<key>')"
        )
    if not value:
        raise SparkSettingsError(f"{where}: {key} has no value")
    return key, value


def parse_conf_entries(text: str, source: str = CONF_ENV_VAR) -> dict[str, str]:
    """``key=value`` entries separated by commas or newlines, as ``GROSS_PROFIT_SPARK_CONF``
    holds them. A later entry for the same key wins."""
    conf: dict[str, str] = {}
    entries = [entry.strip() for entry in _ENTRY_BOUNDARY.split(text)]
    for number, entry in enumerate((e for e in entries if e), start=1):
        where = f"{source} entry {number} {entry!r}"
        key, equals, value = entry.partition("=")
        if not equals:
            raise SparkSettingsError(f"{where}: not key=value")
        conf.update([_checked_entry(key.strip(), value.strip(), where)])
    return conf


def parse_conf_file(path: Path, source: str = CONF_FILE_ENV_VAR) -> dict[str, str]:
    """A ``spark-defaults.conf``-style file: ``key value`` or ``key=value`` per line, blank lines
    and ``#`` comments ignored (no line continuations or escapes)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SparkSettingsError(f"{source}={path}: cannot read it ({exc.strerror or exc})") from exc
    conf: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}={path} line {number} {line!r}"
        match = _FILE_LINE.fullmatch(line)
        if not match:
            raise SparkSettingsError(f"{where}: not 'key value' or 'key=value'")
        conf.update([_checked_entry(match["key"], match["value"].strip(), where)])
    return conf


def _refuse_spark_connect(url: str, where: str) -> None:
    """Spark Connect would need the ``pyspark[connect]`` client packages, which the project does
    not install, and the landed-CSV reader asks the driver JVM how Hadoop spells a path, which a
    Connect client has no access to. Refusing up front beats failing inside the first asset."""
    raise SparkSettingsError(
        f"{where}: Spark Connect ({url}) is not supported yet: the Connect client needs the "
        "pyspark[connect] packages (pandas, pyarrow, grpcio-status, googleapis-common-protos, "
        "zstandard), which are not installed, and gross_profit_assets/landed_csv.py uses the "
        "driver JVM (spark.sparkContext._jvm), which Connect does not expose. Use a master URL "
        "(spark://, k8s://, yarn); see docs/scale-out.md"
    )


def checked_master(url: str, where: str = MASTER_ENV_VAR) -> str:
    """``url`` when Spark can schedule on it; otherwise an error saying what is accepted."""
    url = url.strip()
    if url.startswith(_CONNECT_SCHEME):
        _refuse_spark_connect(url, where)
    if not _CLUSTER_MASTER.fullmatch(url):
        raise SparkSettingsError(
            f"{where}={url!r} is not a Spark master URL; use local[N], local[*], "
            "spark://host:port, k8s://https://host:port or yarn"
        )
    return url


def spark_conf_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The session's configuration: project defaults, then the conf file, then the conf
    variable, then the master variable, each overriding the ones before."""
    environ = os.environ if environ is None else environ
    conf = dict(LOCAL_SPARK_CONF)
    if conf_file := environ.get(CONF_FILE_ENV_VAR, "").strip():
        conf |= parse_conf_file(Path(conf_file).expanduser())
    if conf_text := environ.get(CONF_ENV_VAR, "").strip():
        conf |= parse_conf_entries(conf_text)
    if "spark.remote" in conf:
        _refuse_spark_connect(conf["spark.remote"], "spark.remote")
    master = environ.get(MASTER_ENV_VAR, "").strip()
    conf["spark.master"] = checked_master(master) if master else checked_master(conf["spark.master"], "spark.master")
    return conf


def is_local_master(master: str) -> bool:
    return master.startswith("local")


def spark_resource(environ: Mapping[str, str] | None = None) -> LazyPySparkResource:
    """The deployment's Spark resource, configured from the environment. The session itself is
    built on first use and then shared by every asset in the process (``getOrCreate``).
    With ``GROSS_PROFIT_ENGINE=duckdb`` it is the DuckDB adapter of the same port."""
    if engine_name(environ) == DUCKDB:
        from gross_profit_assets.resources.duckdb_engine import DuckDBSessionResource

        return DuckDBSessionResource(spark_config={})
    conf = spark_conf_from_env(environ)
    if is_local_master(conf["spark.master"]):
        # A local session needs no network identity; loopback avoids slow host-name lookups. On
        # a cluster, executors must reach the driver, so that address is the user's to choose.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return LazyPySparkResource(spark_config=conf)


def local_spark_resource() -> LazyPySparkResource:
    """The project defaults on this machine, whatever the environment says (unit tests)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return LazyPySparkResource(spark_config=dict(LOCAL_SPARK_CONF))


def stopped_driver() -> str | None:
    """What became of this process's local Spark driver when it has exited, None while it runs
    (or was never started, or runs elsewhere). The driver is a JVM child process: once it is
    gone (most often killed for memory), every later action fails with "Connection refused",
    so a caller should stop and say so instead of trying the next months."""
    from pyspark import SparkContext

    process = getattr(SparkContext._gateway, "proc", None)
    if process is None or process.poll() is None:
        return None
    how = f"was killed by signal {-process.returncode}" if process.returncode < 0 else f"exited with code {process.returncode}"
    memory = spark_conf_from_env().get("spark.driver.memory", "1g")
    return (
        f"the Spark driver (JVM, pid {process.pid}) {how}, most often for lack of memory; give it more "
        f"with {CONF_ENV_VAR}=spark.driver.memory=<size> (now {memory}) and run the months again"
    )


def shared_spark_session():
    """The process-wide session (``getOrCreate`` returns the same one on every call)."""
    return local_spark_resource().spark_session
