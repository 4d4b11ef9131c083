"""Resources per deployment: the ports' adapters, chosen by ``GROSS_PROFIT_DEPLOYMENT``.

Assets never ask which deployment they run in; they receive these resources by name. A
deployment may add assets only it has (:data:`DEPLOYMENT_ASSETS`): on AWS, the Lake Formation
policy reconciled from the policy file, which locally is enforced from the file directly.
"""

from __future__ import annotations

from collections.abc import Callable

from gross_profit_assets.aws.settings import AwsSettings
from gross_profit_assets.crawling.local_catalog import LocalGlueCatalog
from gross_profit_assets.crawling.local_crawler import LocalGlueCrawler
from gross_profit_assets.resources.lake_formation import LocalLakeFormation
from gross_profit_assets.resources.object_store import LocalObjectStore
from gross_profit_assets.resources.parquet_io_manager import LakeParquetIOManager
from gross_profit_assets.resources.report_publisher import LocalReportPublisher
from gross_profit_assets.resources.spark import spark_resource
from gross_profit_assets.resources.step_launcher import in_process_steps
from gross_profit_assets.settings import LocalPaths, deployment_name, env_int


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


# How long a Glue crawl may take before the catalog step gives up (the crawl goes on in AWS).
CRAWL_TIMEOUT_ENV_VAR = "GROSS_PROFIT_CRAWL_TIMEOUT_SECONDS"
DEFAULT_CRAWL_TIMEOUT_SECONDS = 1800


def aws_resources(settings: AwsSettings | None = None) -> dict:
    """S3, Glue, Lake Formation and EMR, configured from the environment (``AwsSettings``).

    Building them makes no AWS call: clients are created on first use, with the standard
    credential chain and ``AWS_ENDPOINT_URL*`` honoured by boto3.
    """
    # Imported here so the local deployment never loads boto3-backed adapters it does not use.
    from dagster_aws.s3 import S3Resource

    from gross_profit_assets.aws.emr import emr_resources
    from gross_profit_assets.aws.glue import AwsGlueCatalog, AwsGlueCrawler
    from gross_profit_assets.aws.lake_formation import AwsLakeFormation
    from gross_profit_assets.aws.s3 import S3ObjectStore

    settings = settings or AwsSettings.from_env()
    object_store = S3ObjectStore(
        s3=S3Resource(region_name=settings.region),
        bucket=settings.landing_bucket,
        prefix=settings.landing_prefix,
        kms_key_id=settings.kms_key_id,
    )
    glue_catalog = AwsGlueCatalog(database=settings.glue_database, region_name=settings.region)
    resources = {
        "object_store": object_store,
        "glue_catalog": glue_catalog,
        "glue_crawler": AwsGlueCrawler(
            catalog=glue_catalog,
            landing_bucket=settings.landing_bucket,
            landing_prefix=settings.landing_prefix,
            crawler_prefix=settings.crawler_prefix,
            role_arn=settings.crawler_role_arn,
            timeout_seconds=env_int(CRAWL_TIMEOUT_ENV_VAR, DEFAULT_CRAWL_TIMEOUT_SECONDS, minimum=1),
        ),
        "lake_formation": AwsLakeFormation(
            principal_arn=settings.pipeline_role_arn,
            database=settings.glue_database,
            region_name=settings.region,
            data_locations=[
                f"s3://{settings.landing_bucket}/{settings.landing_prefix}",
                f"s3://{settings.lake_bucket}/{settings.lake_prefix}",
            ],
        ),
    }
    # Compute (EMR step launcher, Spark), the S3 Parquet IO manager and the report publisher.
    resources.update(emr_resources(settings))
    return resources


def aws_assets() -> list:
    """Assets and checks only the AWS deployment has."""
    from gross_profit_assets.aws.lake_formation_assets import (
        lake_formation_grants_match_policy,
        lake_formation_policy,
    )

    return [lake_formation_policy, lake_formation_grants_match_policy]


DEPLOYMENTS: dict[str, Callable[[], dict]] = {"local": local_resources, "aws": aws_resources}
DEPLOYMENT_ASSETS: dict[str, Callable[[], list]] = {"aws": aws_assets}


class UnknownDeployment(ValueError):
    pass


def resources_for(deployment: str | None = None) -> dict:
    name = deployment or deployment_name()
    if name not in DEPLOYMENTS:
        raise UnknownDeployment(
            f"GROSS_PROFIT_DEPLOYMENT={name!r} is not a deployment; choose one of {sorted(DEPLOYMENTS)}"
        )
    return DEPLOYMENTS[name]()


def assets_for(deployment: str | None = None) -> list:
    """The assets and checks the deployment adds to the shared graph (none locally)."""
    name = deployment or deployment_name()
    return DEPLOYMENT_ASSETS.get(name, list)()
