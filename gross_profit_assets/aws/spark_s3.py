"""How Spark's bytes reach S3: the one seam between the AWS adapters' bookkeeping and Spark.

The S3 Parquet IO manager and the S3 report publisher decide *where* data goes (a fresh write
prefix, a Glue partition, a staging prefix) and keep the books in S3 and Glue with boto3. The
bytes themselves are written and read by Spark. On EMR, Spark reads and writes ``s3://`` URIs
itself (EMRFS), which is :class:`EmrfsTransfer`. The pip-installed pyspark has no S3 connector,
so the offline tests plug in an adapter that lets Spark write to a local mirror and then copies
the files to the same keys of the local AWS server (see ``gross_profit_assets_tests/s3_mirror.py``):
every key, Glue partition and pointer the adapters produce is real, only the byte transport
differs.
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping

import dagster as dg
from pyspark.sql import DataFrame, SparkSession


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``("bucket", "key")``."""
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not bucket:
        raise ValueError(f"{uri!r} names no bucket")
    return bucket, key


def sse_args(kms_key_id: str = "") -> dict[str, str]:
    """Server-side encryption arguments of every object the pipeline writes with boto3: SSE-KMS
    with the given key, or SSE-S3 (AES256) when no key is configured."""
    if kms_key_id:
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}
    return {"ServerSideEncryption": "AES256"}


class SparkS3Transfer(dg.ConfigurableResource, ABC):
    """Spark writing a DataFrame under an ``s3://`` prefix, and reading one back."""

    @abstractmethod
    def write_parquet(self, frame: DataFrame, uri: str, partition_by: str | None = None) -> None:
        """Write ``frame`` as Parquet files under the (fresh, empty) prefix ``uri``; with
        ``partition_by``, in one ``<column>=<value>/`` folder per value of that column (which
        the files then do not hold)."""

    @abstractmethod
    def read_parquet(self, spark: SparkSession, uri: str) -> DataFrame:
        """The Parquet files under the prefix ``uri`` as one DataFrame."""

    @abstractmethod
    def write_csv(self, frame: DataFrame, uri: str, options: Mapping[str, object]) -> None:
        """Write ``frame`` as CSV files (Spark's ``part-*.csv``) under the prefix ``uri``."""


class EmrfsTransfer(SparkS3Transfer):
    """Spark on EMR: ``s3://`` is EMRFS, and encryption at rest is the cluster's security
    configuration plus the buckets' default encryption (``deploy/aws/storage.yaml``)."""

    def write_parquet(self, frame: DataFrame, uri: str, partition_by: str | None = None) -> None:
        writer = frame.write.mode("errorifexists")
        (writer.partitionBy(partition_by) if partition_by else writer).parquet(uri)

    def read_parquet(self, spark: SparkSession, uri: str) -> DataFrame:
        return spark.read.parquet(uri)

    def write_csv(self, frame: DataFrame, uri: str, options: Mapping[str, object]) -> None:
        frame.write.mode("errorifexists").csv(uri, **options)
