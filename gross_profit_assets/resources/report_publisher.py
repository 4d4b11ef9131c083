"""Report files port: where the human-facing report files (CSV, HTML) are published."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from abc import ABC, abstractmethod
from pathlib import Path

import dagster as dg
from pyspark.sql import DataFrame

from gross_profit_assets.engine import write_csv_file
from gross_profit_assets.transforms.formatting import as_csv_text

CSV_OPTIONS = {"header": True, "quote": '"', "escape": '"', "lineSep": "\n", "encoding": "UTF-8"}


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

    @abstractmethod
    def publish_text(self, text: str, name: str) -> str:
        """Write a text file (HTML); return its location."""

    @abstractmethod
    def location(self, name: str) -> str:
        """Where ``name`` is (or will be) published."""


class LocalReportPublisher(ReportPublisher):
    """Report files in a local directory (``$GROSS_PROFIT_HOME/reports``)."""

    root: str

    def location(self, name: str) -> str:
        return str(Path(self.root).resolve() / name)

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

    def publish_combined_csv(self, frame: DataFrame, parts: list[str], name: str) -> str:
        sources = [Path(self.location(part)) for part in parts]
        if not sources or not all(source.is_file() for source in sources):
            return self.publish_csv(frame, name)  # a part is missing: compute it all
        target = self._target(name)
        staging = target.parent / f".{target.name}-{uuid.uuid4().hex}"
        try:
            header = None
            with open(staging, "wb") as out:
                for source in sources:
                    with open(source, "rb") as part:
                        first = part.readline()
                        if header is None:
                            header = first
                            out.write(first)
                        elif first != header:  # written under another contract: recompute
                            break
                        shutil.copyfileobj(part, out, 1 << 20)
                else:
                    out.close()
                    os.replace(staging, target)
                    return str(target)
        finally:
            staging.unlink(missing_ok=True)
        return self.publish_csv(frame, name)

    def publish_text(self, text: str, name: str) -> str:
        target = self._target(name)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # a published report is for reading, like the CSV beside it
        os.replace(tmp, target)
        return str(target)
