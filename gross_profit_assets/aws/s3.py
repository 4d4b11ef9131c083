"""Object store port on Amazon S3, through dagster-aws's ``S3Resource``.

The landing zone is ``s3://<bucket>/<prefix><table>/billing_month=YYYY-MM/<file>``: keys the
pipeline passes around are relative to ``prefix`` (``billing/billing_month=2023-07/x.csv``),
exactly as with the local store, so nothing upstream knows a prefix exists.

- **Writes** go through boto3's managed transfer (``upload_file``): one PUT below
  ``multipart_threshold_bytes``, a multipart upload above it. Either way S3 makes the object
  visible only when the upload completes, so a reader never sees a half-written file.
- **Every write is encrypted at rest**: SSE-S3 (``AES256``) by default, SSE-KMS with
  ``kms_key_id`` when one is configured. The request says so explicitly instead of relying on
  the bucket's default encryption, so a bucket created without it still gets encrypted objects.
- **Listing is paged** (``list_objects_v2`` returns at most 1000 keys a page).
- **Version** is the object's ETag. ``list_objects_v2`` does not return ``VersionId``, and the
  landing sensor compares listings with listings, so the version must be something a listing
  carries; the ETag changes whenever the content does (an MD5 for single-part uploads, a hash
  of the parts' MD5s for multipart ones, an opaque per-upload value under SSE-KMS).
"""

from collections.abc import Iterator
from datetime import datetime

import dagster as dg
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from dagster_aws.s3 import S3Resource
from pydantic import Field, PrivateAttr

from gross_profit_assets.resources.object_store import ObjectInfo, ObjectStore

SSE_S3 = "AES256"
SSE_KMS = "aws:kms"
MIB = 1 << 20
# S3 refuses multipart parts under 5 MiB (except the last), so neither setting may go lower.
MIN_PART_BYTES = 5 * MIB


class S3ObjectStoreError(ValueError):
    """The S3 object store is misconfigured; the message says which setting to fix."""


def normalize_prefix(prefix: str) -> str:
    """``landing`` and ``/landing/`` both mean the key prefix ``landing/``; empty stays empty."""
    stripped = prefix.strip("/")
    return f"{stripped}/" if stripped else ""


class S3ObjectStore(ObjectStore):
    """Billing files in an S3 bucket, under an optional key prefix."""

    s3: S3Resource = Field(description="dagster-aws S3 resource the clients come from.")
    prefix: str = Field(default="", description="Key prefix of the landing zone in the bucket.")
    kms_key_id: str = Field(
        default="",
        description="KMS key (id, ARN or alias) for SSE-KMS; empty means SSE-S3 (AES256).",
    )
    multipart_threshold_bytes: int = Field(
        default=64 * MIB, description="Uploads at least this large go multipart."
    )
    multipart_chunk_bytes: int = Field(default=16 * MIB, description="Size of each part.")
    page_size: int = Field(default=1000, description="Keys per list_objects_v2 page (max 1000).")

    # One boto3 client per resource instance: building one loads the service model (~0.3 s),
    # and the landing sensor lists the bucket every few seconds. boto3 clients are thread-safe.
    _s3_client: object = PrivateAttr(default=None)

    def _client(self):
        if not self.bucket:
            raise S3ObjectStoreError(
                "S3ObjectStore needs a bucket (GROSS_PROFIT_LANDING_BUCKET on the aws deployment)"
            )
        if min(self.multipart_threshold_bytes, self.multipart_chunk_bytes) < MIN_PART_BYTES:
            raise S3ObjectStoreError(
                "multipart_threshold_bytes and multipart_chunk_bytes must be at least 5 MiB, "
                "the smallest part S3 accepts"
            )
        if not 1 <= self.page_size <= 1000:
            raise S3ObjectStoreError(f"page_size must be 1..1000, got {self.page_size}")
        if self._s3_client is None:
            self._s3_client = self.s3.get_client()
        return self._s3_client

    def _key(self, key: str) -> str:
        if key.startswith("/") or any(part == ".." for part in key.split("/")):
            raise ValueError(f"object key {key!r} escapes the prefix {self.prefix!r}")
        return normalize_prefix(self.prefix) + key

    def _relative(self, full_key: str) -> str:
        return full_key[len(normalize_prefix(self.prefix)) :]

    def encryption_args(self) -> dict[str, str]:
        """The server-side encryption headers every write carries."""
        if self.kms_key_id:
            return {"ServerSideEncryption": SSE_KMS, "SSEKMSKeyId": self.kms_key_id}
        return {"ServerSideEncryption": SSE_S3}

    def put_file(self, local_path: str, key: str) -> ObjectInfo:
        client = self._client()
        full_key = self._key(key)
        client.upload_file(
            local_path,
            self.bucket,
            full_key,
            ExtraArgs=self.encryption_args(),
            Config=TransferConfig(
                multipart_threshold=self.multipart_threshold_bytes,
                multipart_chunksize=self.multipart_chunk_bytes,
            ),
        )
        head = client.head_object(Bucket=self.bucket, Key=full_key)
        dg.get_dagster_logger().debug(
            f"uploaded {local_path} to s3://{self.bucket}/{full_key} "
            f"({head['ContentLength']} bytes, {head.get('ServerSideEncryption')})"
        )
        return ObjectInfo(
            key=key,
            size=head["ContentLength"],
            last_modified=_timestamp(head["LastModified"]),
            version=_etag(head["ETag"]),
        )

    def list_objects(self, prefix: str = "") -> list[ObjectInfo]:
        client = self._client()
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket,
            Prefix=self._key(prefix),
            PaginationConfig={"PageSize": self.page_size},
        )
        found = [
            ObjectInfo(
                key=self._relative(item["Key"]),
                size=item["Size"],
                last_modified=_timestamp(item["LastModified"]),
                version=_etag(item["ETag"]),
            )
            for page in pages
            for item in page.get("Contents", [])
            # "folder" markers the console creates are not objects of the landing zone
            if not item["Key"].endswith("/")
        ]
        return sorted(found, key=lambda o: o.key)

    def read_bytes(self, key: str, length: int | None = None) -> bytes:
        if length is not None and length <= 0:
            return b""
        request = {"Bucket": self.bucket, "Key": self._key(key)}
        if length is not None:
            request["Range"] = f"bytes=0-{length - 1}"
        try:
            response = self._client().get_object(**request)
        except ClientError as exc:
            # A range on an empty object is unsatisfiable; its first bytes are no bytes.
            if exc.response["Error"]["Code"] == "InvalidRange":
                return b""
            raise
        return response["Body"].read()

    def iter_bytes(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        response = self._client().get_object(Bucket=self.bucket, Key=self._key(key))
        body = response["Body"]
        try:
            yield from body.iter_chunks(chunk_size)
        finally:
            body.close()

    def uri(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{self._key(key)}"


def _etag(etag: str) -> str:
    return etag.strip('"')


def _timestamp(value: datetime) -> float:
    return value.timestamp()
