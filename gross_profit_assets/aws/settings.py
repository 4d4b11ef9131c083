"""Configuration of the AWS deployment, read from environment variables only.

Credentials come from the standard AWS chain (environment, shared config, instance profile);
no key is ever read from here. ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` are
honoured by boto3 itself, so a local AWS-compatible server (moto) can stand in for AWS.

| variable | meaning | default |
|---|---|---|
| ``AWS_REGION`` (or ``AWS_DEFAULT_REGION``) | region of every client | ``us-east-1`` |
| ``GROSS_PROFIT_LANDING_BUCKET`` | bucket billing CSVs land in | required |
| ``GROSS_PROFIT_LANDING_PREFIX`` | key prefix of the landing zone | ``""`` |
| ``GROSS_PROFIT_LAKE_BUCKET`` | bucket of the governed data and report (Parquet) | required |
| ``GROSS_PROFIT_LAKE_PREFIX`` | key prefix of the lake | ``lake/`` |
| ``GROSS_PROFIT_REPORTS_BUCKET`` | bucket of the published CSV/HTML report files | the lake bucket |
| ``GROSS_PROFIT_REPORTS_PREFIX`` | key prefix of the published report files | ``reports/`` |
| ``GROSS_PROFIT_GLUE_DATABASE`` | Glue database of the crawled and produced tables | ``gross_profit`` |
| ``GROSS_PROFIT_CRAWLER_PREFIX`` | crawler names are ``<prefix><table>`` | ``gross-profit-`` |
| ``GROSS_PROFIT_CRAWLER_ROLE_ARN`` | IAM role the Glue crawlers run as | required |
| ``GROSS_PROFIT_PIPELINE_ROLE_ARN`` | the pipeline's principal (Lake Formation grants) | required |
| ``GROSS_PROFIT_EMR_CLUSTER_ID`` | EMR cluster the Spark assets run on | required |
| ``GROSS_PROFIT_EMR_STAGING_BUCKET`` | bucket the step launcher stages code and events in | the lake bucket |
| ``GROSS_PROFIT_EMR_STAGING_PREFIX`` | key prefix for staging | ``emr-staging/`` |
| ``GROSS_PROFIT_KMS_KEY_ID`` | KMS key for server-side encryption; empty means SSE-S3 (AES256) | ``""`` |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from gross_profit_assets.contract import GLUE_DATABASE

DEFAULT_REGION = "us-east-1"


class AwsSettingsError(ValueError):
    """A required variable of the AWS deployment is missing; the message lists them all."""


@dataclass(frozen=True)
class AwsSettings:
    region: str
    landing_bucket: str
    lake_bucket: str
    crawler_role_arn: str
    pipeline_role_arn: str
    emr_cluster_id: str
    landing_prefix: str = ""
    lake_prefix: str = "lake/"
    reports_bucket: str = ""
    reports_prefix: str = "reports/"
    glue_database: str = GLUE_DATABASE
    crawler_prefix: str = "gross-profit-"
    emr_staging_bucket: str = ""
    emr_staging_prefix: str = "emr-staging/"
    kms_key_id: str = ""

    def __post_init__(self) -> None:
        # Unset optional buckets fall back to the lake bucket.
        for name in ("reports_bucket", "emr_staging_bucket"):
            if not getattr(self, name):
                object.__setattr__(self, name, self.lake_bucket)

    def crawler_name(self, table: str) -> str:
        return f"{self.crawler_prefix}{table}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "AwsSettings":
        env = os.environ if environ is None else environ
        values = {
            f.name: env[ENV_VARS[f.name]]
            for f in fields(cls)
            if f.name in ENV_VARS and env.get(ENV_VARS[f.name])
        }
        values["region"] = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
        missing = [ENV_VARS[name] for name in _REQUIRED if name not in values]
        if missing:
            raise AwsSettingsError(
                "GROSS_PROFIT_DEPLOYMENT=aws needs these environment variables: "
                + ", ".join(missing)
                + " (see docs/aws.md)"
            )
        return cls(**values)


# Field -> the environment variable that sets it (emr.py passes them on to the steps).
ENV_VARS = {
    "landing_bucket": "GROSS_PROFIT_LANDING_BUCKET",
    "landing_prefix": "GROSS_PROFIT_LANDING_PREFIX",
    "lake_bucket": "GROSS_PROFIT_LAKE_BUCKET",
    "lake_prefix": "GROSS_PROFIT_LAKE_PREFIX",
    "reports_bucket": "GROSS_PROFIT_REPORTS_BUCKET",
    "reports_prefix": "GROSS_PROFIT_REPORTS_PREFIX",
    "glue_database": "GROSS_PROFIT_GLUE_DATABASE",
    "crawler_prefix": "GROSS_PROFIT_CRAWLER_PREFIX",
    "crawler_role_arn": "GROSS_PROFIT_CRAWLER_ROLE_ARN",
    "pipeline_role_arn": "GROSS_PROFIT_PIPELINE_ROLE_ARN",
    "emr_cluster_id": "GROSS_PROFIT_EMR_CLUSTER_ID",
    "emr_staging_bucket": "GROSS_PROFIT_EMR_STAGING_BUCKET",
    "emr_staging_prefix": "GROSS_PROFIT_EMR_STAGING_PREFIX",
    "kms_key_id": "GROSS_PROFIT_KMS_KEY_ID",
}
_REQUIRED = ("landing_bucket", "lake_bucket", "crawler_role_arn", "pipeline_role_arn", "emr_cluster_id")
