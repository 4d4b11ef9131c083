"""The offline stand-in for EMRFS: Spark writes to a local mirror, the files go to S3 over HTTP.

The pip-installed pyspark has no S3 connector, so on this machine Spark cannot write
``s3://`` itself. :class:`MirroredS3Transfer` lets Spark write the same files to
``<mirror>/<bucket>/<key>``, uploads each of them to the same bucket and key of the local AWS
server (moto) with server-side encryption, and deletes the local copy. A read downloads the
prefix's objects from the server into a fresh local directory and lets Spark read that. So the
keys, prefixes, Glue partitions and pointers the IO manager and the report publisher produce
are all real S3 and Glue state on the server; only the bytes' trip between Spark and S3 is
replaced. What this cannot show is EMRFS's own behaviour (its committers, consistency,
throughput): that only a real cluster can.
"""

import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

import boto3
from pyspark.sql import DataFrame, SparkSession

from gross_profit_assets.aws.spark_s3 import SparkS3Transfer, split_s3_uri, sse_args


class MirroredS3Transfer(SparkS3Transfer):
    mirror_root: str
    region: str = "us-east-1"
    kms_key_id: str = ""

    def _s3(self):
        return boto3.client("s3", region_name=self.region)

    def _local(self, uri: str) -> Path:
        bucket, key = split_s3_uri(uri)
        return Path(self.mirror_root).resolve() / "writes" / uuid.uuid4().hex / bucket / key

    def _upload(self, local: Path, uri: str) -> None:
        bucket, key = split_s3_uri(uri)
        prefix = key if key.endswith("/") else f"{key}/"
        s3 = self._s3()
        try:
            for path in sorted(p for p in local.rglob("*") if p.is_file()):
                if path.name.endswith(".crc"):
                    continue  # Hadoop's local-filesystem checksums; EMRFS writes none
                s3.upload_file(
                    str(path), bucket, prefix + path.relative_to(local).as_posix(), ExtraArgs=sse_args(self.kms_key_id)
                )
        finally:
            shutil.rmtree(local.parents[len(Path(key).parts)], ignore_errors=True)

    def write_parquet(self, frame: DataFrame, uri: str, partition_by: str | None = None) -> None:
        local = self._local(uri)
        writer = frame.write.mode("errorifexists")
        (writer.partitionBy(partition_by) if partition_by else writer).parquet(str(local))
        self._upload(local, uri)

    def write_csv(self, frame: DataFrame, uri: str, options: Mapping[str, object]) -> None:
        local = self._local(uri)
        frame.write.mode("errorifexists").csv(str(local), **options)
        self._upload(local, uri)

    def read_parquet(self, spark: SparkSession, uri: str) -> DataFrame:
        bucket, key = split_s3_uri(uri)
        prefix = key if key.endswith("/") else f"{key}/"
        # Kept until the test's temporary directory goes: Spark reads lazily.
        local = Path(self.mirror_root).resolve() / "reads" / uuid.uuid4().hex
        s3 = self._s3()
        found = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                target = local / obj["Key"][len(prefix):]
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, obj["Key"], str(target))
                found += 1
        if not found:
            raise FileNotFoundError(f"no object under {uri}")
        return spark.read.parquet(str(local))
