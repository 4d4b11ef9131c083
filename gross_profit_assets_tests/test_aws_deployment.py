"""``GROSS_PROFIT_DEPLOYMENT=aws``: the code location loads from environment variables alone,
with the AWS adapters behind the same resource keys, and the Lake Formation policy asset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gross_profit_assets.aws.settings import AwsSettings, AwsSettingsError
from gross_profit_assets.deployments import aws_resources

pytestmark = pytest.mark.aws

REPO = Path(__file__).resolve().parents[1]
ENVIRONMENT = {  # made-up names; moto's account id
    "GROSS_PROFIT_DEPLOYMENT": "aws",
    "AWS_REGION": "us-east-1",
    "GROSS_PROFIT_LANDING_BUCKET": "landing-bucket-for-tests",
    "GROSS_PROFIT_LANDING_PREFIX": "landing/",
    "GROSS_PROFIT_LAKE_BUCKET": "lake-bucket-for-tests",
    "GROSS_PROFIT_CRAWLER_ROLE_ARN": "arn:aws:iam::123456789012:role/gross-profit-crawler",
    "GROSS_PROFIT_PIPELINE_ROLE_ARN": "arn:aws:iam::123456789012:role/gross-profit-report-job",
    "GROSS_PROFIT_EMR_CLUSTER_ID": "j-TESTCLUSTER",
    "GROSS_PROFIT_KMS_KEY_ID": "alias/gross-profit-test",
}
LOAD = """
import json
import dagster as dg
import gross_profit_assets.definitions as d
graph = d.defs.resolve_asset_graph()
month = d.defs.resolve_job_def("gross_profit_month")
print(json.dumps({
    "resources": {k: type(v).__name__ for k, v in d.defs.resources.items()},
    "assets": sorted(k.to_user_string() for k in graph.get_all_asset_keys()),
    "checks": {c.name: graph.get_check_spec(c).blocking for c in graph.asset_check_keys
               if c.asset_key.to_user_string() == "lake_formation_policy"},
    "kinds": sorted(graph.get(dg.AssetKey("lake_formation_policy")).kinds),
    "month_job": sorted(k.to_user_string() for k in month.asset_layer.executable_asset_keys),
}))
"""


def test_the_aws_code_location_loads_from_the_environment(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GROSS_PROFIT_", "AWS_"))}
    env |= ENVIRONMENT | {"GROSS_PROFIT_HOME": str(tmp_path)}
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD], check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=180
    )
    assert loaded.returncode == 0, loaded.stderr
    found = json.loads(loaded.stdout.splitlines()[-1])

    resources = found["resources"]
    assert resources["object_store"] == "S3ObjectStore"
    assert resources["glue_catalog"] == "AwsGlueCatalog"
    assert resources["glue_crawler"] == "AwsGlueCrawler"
    assert resources["lake_formation"] == "AwsLakeFormation"
    assert {"pyspark", "step_launcher", "io_manager", "report_publisher"} <= set(resources)
    assert "lake_formation_policy" in found["assets"]
    assert found["checks"] == {"lake_formation_grants_match_policy": False}
    assert found["kinds"] == ["lakeformation"]
    # A month's run never reconciles the policy (that needs Lake Formation admin rights).
    assert "lake_formation_policy" not in found["month_job"]
    assert "gross_profit_report" in found["month_job"]


def test_adapters_are_configured_from_the_settings():
    settings = AwsSettings.from_env(ENVIRONMENT)
    resources = aws_resources(settings)
    store = resources["object_store"]
    assert (store.bucket, store.prefix, store.kms_key_id) == (
        "landing-bucket-for-tests", "landing/", "alias/gross-profit-test"
    )
    assert store.uri("billing/") == "s3://landing-bucket-for-tests/landing/billing/"
    crawler = resources["glue_crawler"]
    assert crawler.crawler_name("billing") == "gross-profit-billing"
    assert crawler.target_path("billing") == "s3://landing-bucket-for-tests/landing/billing/"
    assert crawler.role_arn == ENVIRONMENT["GROSS_PROFIT_CRAWLER_ROLE_ARN"]
    lake_formation = resources["lake_formation"]
    assert lake_formation.principal_arn == ENVIRONMENT["GROSS_PROFIT_PIPELINE_ROLE_ARN"]
    assert lake_formation.data_locations == [
        "s3://landing-bucket-for-tests/landing/",
        "s3://lake-bucket-for-tests/lake/",
    ]
    assert resources["glue_catalog"].database == lake_formation.database == "gross_profit"


def test_a_missing_setting_is_named():
    partial = {k: v for k, v in ENVIRONMENT.items() if k != "GROSS_PROFIT_CRAWLER_ROLE_ARN"}
    with pytest.raises(AwsSettingsError, match="GROSS_PROFIT_CRAWLER_ROLE_ARN"):
        aws_resources(AwsSettings.from_env(partial))
