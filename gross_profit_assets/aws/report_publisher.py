"""Report files port on AWS: the CSV and HTML report files as objects of the reports bucket.

Every object is written with server-side encryption (SSE-KMS with ``GROSS_PROFIT_KMS_KEY_ID``,
else SSE-S3). A published file replaces the previous one whole: S3 replaces an object atomically,
so the CSV is first written by Spark under a staging prefix and then copied onto its key in one
``CopyObject`` (multipart for large files), never assembled in place.
"""

import contextlib
import mimetypes
import uuid

import boto3

from gross_profit_assets.aws.spark_s3 import SparkS3Transfer, sse_args
from gross_profit_assets.resources.report_publisher import ReportPublisher
from gross_profit_assets.transforms.formatting import as_csv_text

# The same CSV dialect as the local publisher (RFC 4180: a quote is escaped by a quote), so a
# report reads the same wherever it was published; test_aws_report_publisher compares the bytes.
CSV_OPTIONS = {"header": True, "quote": '"', "escape": '"', "lineSep": "\n", "encoding": "UTF-8"}
STAGING = ".staging/"


def content_type(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name)
    return f"{guessed or 'application/octet-stream'}; charset=utf-8"


class S3ReportPublisher(ReportPublisher):
    """Report files under ``s3://<bucket>/<prefix>``."""

    bucket: str
    prefix: str = "reports/"
    region: str
    kms_key_id: str = ""
    transfer: SparkS3Transfer

    def _s3(self):
        return boto3.client("s3", region_name=self.region)

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def location(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.key(name)}"

    def read_start(self, name: str, size: int) -> bytes:
        response = self._s3().get_object(Bucket=self.bucket, Key=self.key(name), Range=f"bytes=0-{size - 1}")
        return response["Body"].read()

    def publish_csv(self, frame, name: str) -> str:
        s3 = self._s3()
        staging = f"{self.prefix}{STAGING}{uuid.uuid4().hex}/"
        try:
            # One writer task keeps the order, as locally.
            self.transfer.write_csv(
                as_csv_text(frame).coalesce(1), f"s3://{self.bucket}/{staging}", CSV_OPTIONS
            )
            listed = s3.list_objects_v2(Bucket=self.bucket, Prefix=staging).get("Contents", [])
            parts = [o["Key"] for o in listed if o["Key"].rsplit("/", 1)[-1].startswith("part-")]
            if len(parts) != 1:
                raise RuntimeError(f"expected one CSV part under s3://{self.bucket}/{staging}, found {parts}")
            s3.copy(
                {"Bucket": self.bucket, "Key": parts[0]},
                self.bucket,
                self.key(name),
                ExtraArgs={**sse_args(self.kms_key_id), "ContentType": content_type(name), "MetadataDirective": "REPLACE"},
            )
        finally:
            with contextlib.suppress(Exception):  # the staging copy is never read; best effort
                for obj in s3.list_objects_v2(Bucket=self.bucket, Prefix=staging).get("Contents", []):
                    s3.delete_object(Bucket=self.bucket, Key=obj["Key"])
        return self.location(name)

    def publish_text(self, text: str, name: str) -> str:
        self._s3().put_object(
            Bucket=self.bucket,
            Key=self.key(name),
            Body=text.encode("utf-8"),
            ContentType=content_type(name),
            **sse_args(self.kms_key_id),
        )
        return self.location(name)
