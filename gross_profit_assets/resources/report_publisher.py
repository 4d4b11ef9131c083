"""Report files port: where the human-facing report files (CSV, HTML) are published."""

from __future__ import annotations

import csv
import io
import itertools
import os
import tempfile
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path

import dagster as dg
from pyspark.sql import DataFrame

from gross_profit_assets.contract import PARTITION_KEY
from gross_profit_assets.csv_files import join_csv_files
from gross_profit_assets.engine import F, write_csv_file, write_csv_files_by
from gross_profit_assets.transforms.formatting import as_csv_text

CSV_OPTIONS = {"header": True, "quote": '"', "escape": '"', "lineSep": "\n", "encoding": "UTF-8"}
_MONTH_FILE = "_month_file"  # which month's file a row goes to
HEAD_BYTES = 64 * 1024  # enough for a preview's rows, usually


class ReportPublisher(dg.ConfigurableResource, ABC):
    """Publishes report files; each publish replaces the previous file whole."""

    @abstractmethod
    def publish_csv(self, frame: DataFrame, name: str) -> str:
        """Write ``frame`` (already in the order wanted) as one CSV file; return its location."""

    def publish_combined_csv(self, frame: DataFrame, parts: list[str], name: str) -> str:
        """Publish ``frame`` as ``name``, where ``frame`` holds exactly the rows of the already
        published CSV files ``parts``, in that order (the all-months report is its months'
        reports one after the other). This default writes ``frame``; an adapter that can join
        published files without recomputing them overrides it (the local one copies bytes), so
        adding a month does not rewrite every earlier month through Spark."""
        return self.publish_csv(frame, name)

    def publish_month_csvs(self, frame: DataFrame, names: Mapping[str, str]) -> dict[str, str]:
        """Publish one CSV per billing month: the rows of ``frame`` whose month is a key of
        ``names``, as ``names[month]``; a month without rows gets the header alone. ``frame``
        is ordered within each month and holds each month in one task
        (``engine.sorted_by_group``). Returns each month's location. This default publishes
        the months one after the other; an adapter that can split one write by month overrides
        it."""
        return {
            month: self.publish_csv(frame.where(F.col(PARTITION_KEY) == month), name)
            for month, name in names.items()
        }

    @abstractmethod
    def publish_text(self, text: str, name: str) -> str:
        """Write a text file (HTML); return its location."""

    @abstractmethod
    def location(self, name: str) -> str:
        """Where ``name`` is (or will be) published."""

    @abstractmethod
    def read_start(self, name: str, size: int) -> bytes:
        """The first ``size`` bytes of the published file ``name`` (all of it when shorter)."""

    def csv_head(self, name: str, rows: int) -> list[dict[str, str]]:
        """The first ``rows`` rows of the published CSV ``name``, as a reader of the file sees
        them (text cells by header name): a preview of what was published, read back instead of
        computed again."""
        size = HEAD_BYTES
        while True:
            start = self.read_start(name, size)
            complete = len(start) < size
            text = start.decode("utf-8", errors="replace")
            if not complete:  # the last line may be cut: only whole lines count
                text = text[: text.rfind("\n") + 1]
            parsed = list(itertools.islice(csv.DictReader(io.StringIO(text, newline="")), rows))
            if complete or len(parsed) == rows:
                return parsed
            size *= 4  # rows longer than expected: read further


class LocalReportPublisher(ReportPublisher):
    """Report files in a local directory (``$GROSS_PROFIT_HOME/reports``)."""

    root: str

    def location(self, name: str) -> str:
        return str(Path(self.root).resolve() / name)

    def read_start(self, name: str, size: int) -> bytes:
        with open(self.location(name), "rb") as handle:
            return handle.read(size)

    def _target(self, name: str) -> Path:
        target = Path(self.location(name))
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def publish_csv(self, frame: DataFrame, name: str) -> str:
        target = self._target(name)
        staging = target.parent / f".{target.name}-{uuid.uuid4().hex}"
        try:
            # RFC 4180 quoting (a quote is escaped by a quote), rows in the frame's order.
            write_csv_file(as_csv_text(frame), staging, CSV_OPTIONS)
            os.replace(staging, target)
        finally:
            staging.unlink(missing_ok=True)
        return str(target)

    def publish_month_csvs(self, frame: DataFrame, names: Mapping[str, str]) -> dict[str, str]:
        targets = {month: self._target(name) for month, name in names.items()}
        staging = {month: t.parent / f".{t.name}-{uuid.uuid4().hex}" for month, t in targets.items()}
        try:
            # One write for every month: each task writes its rows into their month's folder,
            # and each month's parts are joined in order (see engine.write_csv_files_by).
            keyed = frame.select(F.col(PARTITION_KEY).alias(_MONTH_FILE), *frame.columns)
            write_csv_files_by(as_csv_text(keyed, passthrough=[_MONTH_FILE]), _MONTH_FILE, staging, CSV_OPTIONS)
            for month, target in targets.items():
                os.replace(staging[month], target)
        finally:
            for path in staging.values():
                path.unlink(missing_ok=True)
        return {month: str(target) for month, target in targets.items()}

    def publish_combined_csv(self, frame: DataFrame, parts: list[str], name: str) -> str:
        sources = [Path(self.location(part)) for part in parts]
        if not sources or not all(source.is_file() for source in sources):
            return self.publish_csv(frame, name)  # a part is missing: compute it all
        target = self._target(name)
        staging = target.parent / f".{target.name}-{uuid.uuid4().hex}"
        try:
            with open(staging, "wb") as out:
                joined = join_csv_files(sources, out)
            if joined:
                os.replace(staging, target)
                return str(target)
        finally:
            staging.unlink(missing_ok=True)
        return self.publish_csv(frame, name)  # a part written under another contract: recompute

    def publish_text(self, text: str, name: str) -> str:
        target = self._target(name)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # a published report is for reading, like the CSV beside it
        os.replace(tmp, target)
        return str(target)
