"""Where the embedded local deployment keeps everything: one root, ``GROSS_PROFIT_HOME``.

Default: ``.gross_profit`` in the current working directory (the repository root when you use
``make demo`` or ``dagster dev -w workspace.yaml``). Layout::

    $GROSS_PROFIT_HOME/
      object_store/billing-data/<table>/billing_month=YYYY-MM/<file>   landing bucket
      catalog/glue_catalog.sqlite                                      Glue-shaped catalog
      lake/<asset>/billing_month=YYYY-MM/*.parquet                      governed data and report
      reports/                                                         CSV and HTML report files
      audit/lake_formation_audit.jsonl                                 every governed read
      dagster_home/                                                    runs of the CLI (DAGSTER_HOME)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

HOME_ENV_VAR = "GROSS_PROFIT_HOME"
DEFAULT_HOME = ".gross_profit"
DEPLOYMENT_ENV_VAR = "GROSS_PROFIT_DEPLOYMENT"
DEFAULT_DEPLOYMENT = "local"


@dataclass(frozen=True)
class LocalPaths:
    home: Path

    @classmethod
    def from_env(cls) -> "LocalPaths":
        return cls(Path(os.environ.get(HOME_ENV_VAR) or DEFAULT_HOME).resolve())

    @property
    def object_store(self) -> Path:
        return self.home / "object_store"

    @property
    def catalog(self) -> Path:
        return self.home / "catalog" / "glue_catalog.sqlite"

    @property
    def lake(self) -> Path:
        return self.home / "lake"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def audit_log(self) -> Path:
        return self.home / "audit" / "lake_formation_audit.jsonl"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster_home"


class SettingError(ValueError):
    """An environment variable holds a value the platform cannot use."""


def env_int(name: str, default: int, minimum: int, environ: Mapping[str, str] | None = None) -> int:
    """An integer setting from the environment; a bad value fails the code location's load
    with the variable's name, instead of silently falling back to the default."""
    raw = (os.environ if environ is None else environ).get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise SettingError(f"{name}={value} is below the minimum of {minimum}")
    return value


def deployment_name() -> str:
    return os.environ.get(DEPLOYMENT_ENV_VAR) or DEFAULT_DEPLOYMENT
