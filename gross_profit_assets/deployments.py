"""Resources per deployment: the ports' adapters, chosen by ``GROSS_PROFIT_DEPLOYMENT``.

Assets never ask which deployment they run in; they receive these resources by name.
"""

from __future__ import annotations

from collections.abc import Callable

from gross_profit_assets.crawling.local_catalog import LocalGlueCatalog
from gross_profit_assets.crawling.local_crawler import LocalGlueCrawler
from gross_profit_assets.resources.lake_formation import LocalLakeFormation
from gross_profit_assets.resources.object_store import LocalObjectStore
from gross_profit_assets.resources.parquet_io_manager import LakeParquetIOManager
from gross_profit_assets.resources.report_publisher import LocalReportPublisher
from gross_profit_assets.resources.spark import spark_resource
from gross_profit_assets.resources.step_launcher import in_process_steps
from gross_profit_assets.settings import LocalPaths, deployment_name


def local_resources(paths: LocalPaths | None = None) -> dict:
    """The embedded default: everything under ``$GROSS_PROFIT_HOME``, no cloud account."""
    paths = paths or LocalPaths.from_env()
    object_store = LocalObjectStore(root=str(paths.object_store))
    glue_catalog = LocalGlueCatalog(path=str(paths.catalog))
    pyspark = spark_resource()  # local[*] unless GROSS_PROFIT_SPARK_MASTER names a cluster
    return {
        "object_store": object_store,
        "glue_catalog": glue_catalog,
        "glue_crawler": LocalGlueCrawler(object_store=object_store, catalog=glue_catalog),
        "lake_formation": LocalLakeFormation(audit_log_path=str(paths.audit_log)),
        "pyspark": pyspark,
        "step_launcher": in_process_steps(),  # Spark steps run in the run's own process
        "io_manager": LakeParquetIOManager(lake_root=str(paths.lake), pyspark=pyspark),
        "report_publisher": LocalReportPublisher(root=str(paths.reports)),
    }


DEPLOYMENTS: dict[str, Callable[[], dict]] = {"local": local_resources}


class UnknownDeployment(ValueError):
    pass


def resources_for(deployment: str | None = None) -> dict:
    name = deployment or deployment_name()
    if name not in DEPLOYMENTS:
        raise UnknownDeployment(
            f"GROSS_PROFIT_DEPLOYMENT={name!r} is not a deployment; choose one of {sorted(DEPLOYMENTS)}"
        )
    return DEPLOYMENTS[name]()
