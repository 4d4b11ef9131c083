"""The S3 report publisher against a local moto server: the report files as encrypted objects of
the reports bucket, byte for byte what the local publisher writes.

Spark's CSV write goes through the ``MirroredS3Transfer`` seam (no S3 connector in the pip
pyspark; see gross_profit_assets_tests/s3_mirror.py); the staging prefix, the copy onto the final
key with its encryption and content type, and the clean-up are real S3 calls to moto.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import boto3
import pytest

from gross_profit_assets.aws.report_publisher import STAGING, S3ReportPublisher
from gross_profit_assets.resources.report_publisher import LocalReportPublisher
from gross_profit_assets_tests.s3_mirror import MirroredS3Transfer

pytestmark = [pytest.mark.aws, pytest.mark.spark]


@pytest.fixture()
def bucket(moto) -> str:
    name = f"reports-{uuid.uuid4().hex[:12]}"  # made up, one per test
    boto3.client("s3").create_bucket(Bucket=name)
    return name


def publisher(bucket, tmp_path, kms_key_id="") -> S3ReportPublisher:
    return S3ReportPublisher(
        bucket=bucket, prefix="reports/", region="us-east-1", kms_key_id=kms_key_id,
        transfer=MirroredS3Transfer(mirror_root=str(tmp_path / "mirror"), kms_key_id=kms_key_id),
    )


def report_frame(spark):
    # A quote, a comma, a formula-looking company name and an exact decimal: the dialect matters.
    return spark.createDataFrame(
        [(1, 'Dairy "Fresh", Ltd', "=cmd", "3525.00"), (2, "Plain", "Milk", "2.50")],
        "id int, company_name string, item_sold string, bill_amount string",
    ).selectExpr("id", "company_name", "item_sold", "cast(bill_amount as decimal(18,2)) as bill_amount")


def test_the_csv_is_one_encrypted_object_identical_to_the_local_report(spark, bucket, tmp_path):
    s3 = boto3.client("s3")
    name = "billing_month=2023-07/gross_profit_report.csv"
    location = publisher(bucket, tmp_path).publish_csv(report_frame(spark), name)

    assert location == f"s3://{bucket}/reports/{name}"
    local = LocalReportPublisher(root=str(tmp_path / "local")).publish_csv(report_frame(spark), name)
    body = s3.get_object(Bucket=bucket, Key=f"reports/{name}")
    assert body["Body"].read() == Path(local).read_bytes()
    assert body["ServerSideEncryption"] == "AES256"
    assert body["ContentType"] == "text/csv; charset=utf-8"
    # Nothing left of the staging copy Spark wrote.
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"reports/{STAGING}").get("Contents", [])
    assert listed == []


def test_republishing_replaces_the_file_whole_with_sse_kms(spark, bucket, tmp_path):
    key_id = boto3.client("kms").create_key(Description="gross-profit test key")["KeyMetadata"]["KeyId"]
    reports = publisher(bucket, tmp_path, kms_key_id=key_id)
    reports.publish_csv(report_frame(spark), "gross_profit_report.csv")
    reports.publish_csv(report_frame(spark).limit(1), "gross_profit_report.csv")
    obj = boto3.client("s3").get_object(Bucket=bucket, Key="reports/gross_profit_report.csv")
    assert obj["Body"].read().decode().splitlines() == [
        "id,company_name,item_sold,bill_amount",
        '1,"Dairy ""Fresh"", Ltd",\'=cmd,3525.0',
    ]
    assert obj["ServerSideEncryption"] == "aws:kms"
    assert obj["SSEKMSKeyId"].endswith(key_id)


def test_the_html_report_is_an_encrypted_html_object(bucket, tmp_path):
    page = "<!doctype html><title>Gross profit report</title><p>19 165,00 €</p>"
    location = publisher(bucket, tmp_path).publish_text(page, "gross_profit_report.html")
    assert location == f"s3://{bucket}/reports/gross_profit_report.html"
    obj = boto3.client("s3").get_object(Bucket=bucket, Key="reports/gross_profit_report.html")
    assert obj["Body"].read().decode("utf-8") == page
    assert obj["ContentType"] == "text/html; charset=utf-8"
    assert obj["ServerSideEncryption"] == "AES256"
    assert publisher(bucket, tmp_path).location("x.csv") == f"s3://{bucket}/reports/x.csv"
