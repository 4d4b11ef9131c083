"""Governance port: every governed read asks Lake Formation first.

The port (:class:`LakeFormation`) takes a table's DataFrame and hands back only what the
principal may read, or raises :class:`AccessDenied`. The local adapter
(:class:`LocalLakeFormation`) decides with the policy YAML and writes an audit log; the AWS
adapter will rely on Lake Formation itself, with grants reconciled from the same YAML.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from importlib import resources

import dagster as dg
from pydantic import Field
from pyspark.sql import DataFrame

from gross_profit_assets.contract import GLUE_DATABASE, REPORT_JOB_PRINCIPAL
from gross_profit_assets.governance.enforcement import apply_read_grant
from gross_profit_assets.governance.policy import (
    SELECT,
    AccessDenied,
    AuditLog,
    LakeFormationPolicy,
    PolicyError,
)

POLICY_PATH_ENV_VAR = "GROSS_PROFIT_POLICY"
PACKAGED_POLICY_FILE = "lake_formation_policy.yaml"


def packaged_policy_path() -> str:
    """The policy YAML shipped inside the ``gross_profit_assets.governance`` package."""
    return str(resources.files("gross_profit_assets.governance").joinpath(PACKAGED_POLICY_FILE))


def default_policy_path() -> str:
    """``$GROSS_PROFIT_POLICY`` if set (to try a policy change without editing the package),
    else the packaged policy."""
    return os.environ.get(POLICY_PATH_ENV_VAR) or packaged_policy_path()


class LakeFormation(dg.ConfigurableResource, ABC):
    """Decides what ``principal`` may read from the tables of ``database``."""

    principal: str = Field(
        default=REPORT_JOB_PRINCIPAL, description="The Lake Formation principal reads run as."
    )
    database: str = Field(default=GLUE_DATABASE, description="The governed Glue database.")

    @abstractmethod
    def governed_read(
        self,
        table: str,
        frame: DataFrame,
        columns: list[str],
        partitions: Sequence[str] = (),
    ) -> DataFrame:
        """``frame`` (the whole of ``table``, or its ``partitions``) reduced to the rows and
        ``columns`` the principal may SELECT; raises ``AccessDenied`` otherwise. The decision
        is audited once per partition read."""


class LocalLakeFormation(LakeFormation):
    """Enforces the policy YAML on the DataFrame and appends every decision to an audit log.

    The policy is read on every call, so an edited policy takes effect on the next read
    without restarting the Dagster code location.
    """

    policy_path: str = Field(
        default_factory=default_policy_path,
        description="Lake Formation policy YAML; defaults to $GROSS_PROFIT_POLICY or the "
        "packaged lake_formation_policy.yaml.",
    )
    audit_log_path: str = Field(
        description="JSON Lines file every governed read (allowed or denied) is appended to."
    )

    def governed_read(
        self,
        table: str,
        frame: DataFrame,
        columns: list[str],
        partitions: Sequence[str] = (),
    ) -> DataFrame:
        audit = AuditLog(self.audit_log_path)
        try:
            grant = self._policy().authorize(
                self.principal, table, SELECT, columns, database=self.database
            )
        except (AccessDenied, PolicyError) as exc:
            # Fail closed, and leave a trace: an unreadable policy denies like a missing grant.
            self._record(audit, table, columns, partitions, allowed=False, reason=str(exc))
            raise
        self._record(audit, table, columns, partitions, allowed=True, reason=grant.reason)
        return apply_read_grant(frame, grant, columns)

    def _policy(self) -> LakeFormationPolicy:
        return LakeFormationPolicy.load(self.policy_path)

    def _record(
        self,
        audit: AuditLog,
        table: str,
        columns: list[str],
        partitions: Sequence[str],
        *,
        allowed: bool,
        reason: str,
    ) -> None:
        for partition in partitions or [None]:
            audit.record(
                principal=self.principal,
                database=self.database,
                table=table,
                permission=SELECT,
                columns=columns,
                allowed=allowed,
                reason=reason,
                partition=partition,
            )
