"""The S3 object store over real HTTP to a local moto server: landing, paged listing,
encryption on every write, multipart uploads, and the landing module through the port."""

from __future__ import annotations

import uuid
from pathlib import Path

import boto3
import pytest
from dagster_aws.s3 import S3Resource
from moto.s3.models import s3_backends

from gross_profit_assets.aws.s3 import MIB, S3ObjectStore, S3ObjectStoreError
from gross_profit_assets.landing import land_file, landed_months, landed_objects
from gross_profit_assets_tests.aws_server import ACCOUNT_ID

pytestmark = pytest.mark.aws

SEED = Path(__file__).resolve().parents[1] / "gross_profit_assets" / "sample_data"
BILLING_SEED = SEED / "billing_data_dairy_07_2023.csv"


@pytest.fixture()
def s3(moto):
    return boto3.client("s3")


@pytest.fixture()
def bucket(s3) -> str:
    name = f"landing-{uuid.uuid4().hex[:12]}"  # made up, one per test
    s3.create_bucket(Bucket=name)
    return name


def make_store(bucket: str, **kwargs) -> S3ObjectStore:
    return S3ObjectStore(s3=S3Resource(region_name="us-east-1"), bucket=bucket, **kwargs)


def test_landing_module_lands_the_seed_under_the_prefix_encrypted(s3, bucket):
    store = make_store(bucket, prefix="exports/landing")
    for path in sorted(SEED.glob("*.csv")):
        land_file(store, path)

    # The port speaks keys relative to the prefix, exactly like the local store ...
    keys = [o.key for o in store.list_objects()]
    assert keys == [
        "billing/billing_month=2023-07/billing_data_dairy_07_2023.csv",
        "production_costs/billing_month=2023-07/production_costs_07_2023.csv",
        "units_sold/billing_month=2023-07/units_sold_07_2023.csv",
    ]
    assert landed_months(store) == ["2023-07"]
    assert [o.key for o in landed_objects(store, "billing", "2023-07")] == keys[:1]
    # ... while in the bucket everything sits under the prefix, byte for byte, SSE-S3 encrypted.
    stored = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert sorted(o["Key"] for o in stored) == [f"exports/landing/{k}" for k in keys]
    head = s3.head_object(Bucket=bucket, Key=f"exports/landing/{keys[0]}")
    assert head["ServerSideEncryption"] == "AES256"
    assert store.read_bytes(keys[0]) == BILLING_SEED.read_bytes()
    assert store.uri(keys[0]) == f"s3://{bucket}/exports/landing/{keys[0]}"
    assert store.uri("billing/") == f"s3://{bucket}/exports/landing/billing/"


def test_kms_key_is_used_when_configured(s3, bucket, moto):
    key_id = boto3.client("kms").create_key(Description="test key")["KeyMetadata"]["KeyId"]
    store = make_store(bucket, kms_key_id=key_id)
    info = store.put_file(str(BILLING_SEED), "billing/billing_month=2023-07/seed.csv")
    head = s3.head_object(Bucket=bucket, Key="billing/billing_month=2023-07/seed.csv")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith(key_id)
    assert info.size == BILLING_SEED.stat().st_size


def test_listing_pages_past_1000_objects(s3, bucket):
    keys = [f"billing/billing_month=2023-07/part-{i:05d}.csv" for i in range(1203)]
    # Stored straight into moto's S3 backend (1203 PUTs over HTTP would take ~10 s here);
    # the listing under test still goes over HTTP, page by page.
    backend = s3_backends[ACCOUNT_ID]["aws"]
    for key in keys:
        backend.put_object(bucket, key, b"id\n")
    s3.put_object(Bucket=bucket, Key="billing/billing_month=2023-07/", Body=b"")  # console folder

    first_page = s3.list_objects_v2(Bucket=bucket, Prefix="billing/")
    assert first_page["IsTruncated"] and first_page["KeyCount"] == 1000

    listed = make_store(bucket).list_objects("billing/")

    # One list_objects_v2 page holds 1000 keys: everything beyond it came from later pages.
    assert [o.key for o in listed] == keys
    assert all(o.size == 3 for o in listed)


def test_version_changes_with_content_and_matches_between_put_and_list(tmp_path, bucket):
    store = make_store(bucket)
    path = tmp_path / "units.csv"
    path.write_text("company_id,item_type,units_sold\n1,Brie,3\n")
    first = store.put_file(str(path), "units_sold/billing_month=2023-07/units.csv")
    (listed,) = store.list_objects("units_sold/")
    assert listed.version == first.version  # what the sensor stores is what it will see next

    path.write_text("company_id,item_type,units_sold\n1,Brie,4\n")
    second = store.put_file(str(path), "units_sold/billing_month=2023-07/units.csv")
    assert second.version != first.version


def test_large_upload_goes_multipart_and_stays_encrypted(tmp_path, s3, bucket):
    big = tmp_path / "big.csv"
    big.write_bytes(b"id,amount\n" + b"1,2.00\n" * ((11 * MIB) // 7))
    store = make_store(bucket, multipart_threshold_bytes=5 * MIB, multipart_chunk_bytes=5 * MIB)

    info = store.put_file(str(big), "billing/billing_month=2023-07/big.csv")

    assert info.version.endswith("-3")  # a multipart ETag names its part count
    head = s3.head_object(Bucket=bucket, Key="billing/billing_month=2023-07/big.csv")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentLength"] == big.stat().st_size
    # Chunked and ranged reads see the same bytes.
    assert b"".join(store.iter_bytes(info.key, chunk_size=MIB)) == big.read_bytes()
    assert store.read_bytes(info.key, length=10) == b"id,amount\n"


def test_reads_of_an_empty_object(tmp_path, bucket):
    store = make_store(bucket)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    store.put_file(str(empty), "billing/billing_month=2023-07/empty.csv")
    assert store.read_bytes("billing/billing_month=2023-07/empty.csv", length=64) == b""
    assert list(store.iter_bytes("billing/billing_month=2023-07/empty.csv")) == []


def test_misconfiguration_fails_with_a_clear_message(bucket):
    with pytest.raises(S3ObjectStoreError, match="at least 5 MiB"):
        make_store(bucket, multipart_chunk_bytes=MIB).list_objects()
    with pytest.raises(S3ObjectStoreError, match="GROSS_PROFIT_LANDING_BUCKET"):
        make_store("").list_objects()
    with pytest.raises(ValueError, match="escapes"):
        make_store(bucket, prefix="landing").read_bytes("../secrets.csv")
