"""Object store port: buckets and keys, as S3 lays them out.

The landing zone is ``s3://billing-data/<table>/billing_month=YYYY-MM/<file>`` on AWS and
``$GROSS_PROFIT_HOME/object_store/billing-data/<table>/billing_month=YYYY-MM/<file>`` locally.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from gross_profit_assets.contract import LANDING_BUCKET


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object. ``version`` changes whenever the content may have changed
    (the ETag on S3; size and modification time locally)."""

    key: str
    size: int
    last_modified: float
    version: str


class ObjectStore(dg.ConfigurableResource, ABC):
    """Where billing files land and where the pipeline reads them from."""

    bucket: str = LANDING_BUCKET

    @abstractmethod
    def put_file(self, local_path: str, key: str) -> ObjectInfo:
        """Upload a local file to ``key``; a reader never sees a half-written object."""

    @abstractmethod
    def list_objects(self, prefix: str = "") -> list[ObjectInfo]:
        """Every object under ``prefix``, sorted by key."""

    @abstractmethod
    def read_bytes(self, key: str, length: int | None = None) -> bytes:
        """The object's content, or its first ``length`` bytes."""

    @abstractmethod
    def iter_bytes(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The object's content in chunks, for checks that must see every byte."""

    @abstractmethod
    def uri(self, key: str = "") -> str:
        """The URI Spark reads ``key`` from (``file://...`` or ``s3://...``)."""


class LocalObjectStore(ObjectStore):
    """A directory tree laid out as ``<root>/<bucket>/<key>``, like S3."""

    root: str

    def _path(self, key: str) -> Path:
        path = (Path(self.root) / self.bucket / key).resolve()
        if Path(self.root).resolve() / self.bucket not in path.parents:
            raise ValueError(f"object key {key!r} escapes bucket {self.bucket!r}")
        return path

    def _info(self, path: Path) -> ObjectInfo:
        st = path.stat()
        key = path.relative_to(Path(self.root).resolve() / self.bucket).as_posix()
        return ObjectInfo(key, st.st_size, st.st_mtime, f"{st.st_size}-{st.st_mtime_ns}")

    def put_file(self, local_path: str, key: str) -> ObjectInfo:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=target.parent)
        os.close(fd)
        try:
            shutil.copyfile(local_path, tmp)
            os.replace(tmp, target)  # atomic: readers see the old object or the new one
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self._info(target)

    def list_objects(self, prefix: str = "") -> list[ObjectInfo]:
        base = Path(self.root).resolve() / self.bucket
        if not base.exists():
            return []
        found = [
            self._info(p)
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        ]
        return sorted((o for o in found if o.key.startswith(prefix)), key=lambda o: o.key)

    def read_bytes(self, key: str, length: int | None = None) -> bytes:
        with open(self._path(key), "rb") as f:
            return f.read() if length is None else f.read(length)

    def iter_bytes(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        with open(self._path(key), "rb") as f:
            while chunk := f.read(chunk_size):
                yield chunk

    def uri(self, key: str = "") -> str:
        # Hadoop paths are not percent-encoded: "file:///a b/c.csv", not "file:///a%20b/c.csv".
        path = str(Path(self.root).resolve() / self.bucket / key)
        return "file://" + path + ("/" if key.endswith("/") or not key else "")
