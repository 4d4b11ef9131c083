"""Lake Formation policy as code: principals, grants, column lists and row filters.

One YAML file (``lake_formation_policy.yaml``) says who may read what. Locally this module
decides every governed read and :class:`AuditLog` records the decision; on AWS the same file
is reconciled into Lake Formation grants and data cells filters. So the model keeps Lake
Formation's vocabulary and semantics:

- a **principal** is an IAM role/user (locally just its name);
- a **grant** gives a principal **permissions** (``SELECT``, ``DESCRIBE``) on a **database**
  or a **table** (``*`` is Lake Formation's ``TableWildcard``: every table, present and future);
- a SELECT grant may carry a **column list** (``ColumnNames``) or an **excluded column list**
  (``ColumnWildcard.ExcludedColumnNames``) and a **row filter** (a data cells filter's
  ``RowFilter.FilterExpression``, a SQL ``WHERE`` condition);
- several grants to one principal on one table add up: the columns are the union, the rows
  are the OR of the row filters, and a grant without a row filter means all rows. When the
  grants differ in both columns and rows, a cell is readable only where one grant covers both
  its column and its row (Lake Formation's cell-level security returns NULL elsewhere);
- asking for a column that no grant covers fails the whole read, as a Lake Formation query
  does, rather than silently dropping the column.

Pure Python (PyYAML for the file): no Dagster, no Spark, so it is unit-testable in
milliseconds and reusable by the AWS reconciler.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

SELECT = "SELECT"
DESCRIBE = "DESCRIBE"
# The Lake Formation permissions this policy models. Others (ALTER, DROP, INSERT, DELETE,
# CREATE_TABLE, DATA_LOCATION_ACCESS, ALL) exist on AWS but are rejected here, so the file
# never claims to grant something the local enforcement would silently ignore.
PERMISSIONS = frozenset({SELECT, DESCRIBE})
TABLE_WILDCARD = "*"

_POLICY_KEYS = frozenset({"policy_version", "database", "principals", "grants"})
_PRINCIPAL_KEYS = frozenset({"name", "description", "aws_principal"})
_GRANT_KEYS = frozenset(
    {"principal", "permissions", "database", "table", "columns", "excluded_columns", "row_filter"}
)
_SUPPORTED_POLICY_VERSIONS = frozenset({1})


class PolicyError(ValueError):
    """The policy file is not a valid Lake Formation policy. The message names the file and
    the offending entry, because the reader is whoever just edited the YAML."""


class AccessDenied(PermissionError):
    """Lake Formation refused a request: the principal lacks the permission, or some columns.

    A ``PermissionError`` so callers that already handle OS-level denials handle this too.
    """

    def __init__(
        self,
        message: str,
        *,
        principal: str,
        database: str,
        table: str,
        permission: str,
        denied_columns: Sequence[str] = (),
        policy_source: str = "",
    ) -> None:
        super().__init__(message)
        self.principal = principal
        self.database = database
        self.table = table
        self.permission = permission
        self.denied_columns = tuple(denied_columns)
        self.policy_source = policy_source


@dataclass(frozen=True)
class Principal:
    """Who is asking: an IAM role or user on AWS, a name locally.

    ``aws_principal`` is the ARN the AWS reconciler grants to, with ``${AWS_ACCOUNT_ID}`` left
    as a placeholder so the file holds no account ids.
    """

    name: str
    description: str
    aws_principal: str | None = None


@dataclass(frozen=True)
class Grant:
    """One Lake Formation grant: ``permissions`` for ``principal`` on a database or a table.

    ``table`` is None for a grant on the database itself (Lake Formation's ``Database``
    resource), ``*`` for every table in it (``TableWildcard``) or a table name.
    ``columns`` (include list) or ``excluded_columns`` (exclude list) restrict SELECT to some
    columns; neither means all columns. ``row_filter`` restricts SELECT to the rows where the
    SQL condition is true; None means all rows (``AllRowsWildcard``).
    """

    principal: str
    permissions: frozenset[str]
    database: str
    table: str | None = None
    columns: tuple[str, ...] | None = None
    excluded_columns: tuple[str, ...] | None = None
    row_filter: str | None = None

    @property
    def is_database_grant(self) -> bool:
        return self.table is None

    def applies_to_table(self, database: str, table: str) -> bool:
        """Whether this grant is on ``database.table``, by name or through ``*``."""
        if self.is_database_grant or self.database != database:
            return False
        return self.table == TABLE_WILDCARD or _same_name(self.table, table)

    def covers_column(self, column: str) -> bool:
        """Whether SELECT through this grant may return ``column`` (case-insensitively,
        because Glue stores lower-case names and Spark resolves names case-insensitively)."""
        if self.columns is not None:
            return any(_same_name(column, c) for c in self.columns)
        if self.excluded_columns is not None:
            return not any(_same_name(column, c) for c in self.excluded_columns)
        return True

    def describe(self) -> str:
        """One line for audit reasons and error messages, in Lake Formation's words."""
        resource = self.database if self.is_database_grant else f"{self.database}.{self.table}"
        parts = [f"{'/'.join(sorted(self.permissions))} on {resource}"]
        if self.columns is not None:
            parts.append(f"columns [{', '.join(self.columns)}]")
        elif self.excluded_columns is not None:
            parts.append(f"all columns except [{', '.join(self.excluded_columns)}]")
        if self.row_filter is not None:
            parts.append(f"rows where {self.row_filter}")
        return ", ".join(parts)


@dataclass(frozen=True)
class ReadGrant:
    """What one authorized request may see.

    ``columns`` are the requested columns, every one of them readable (a request for a
    column not granted is denied instead). ``row_filter`` is the combined row filter, None
    meaning all rows. ``masked_columns`` maps a column to the narrower condition under which
    its cells are readable, when the grants differ in both rows and columns; elsewhere the
    cell reads as NULL. ``grants`` are the grants that allowed the request.
    """

    principal: str
    database: str
    table: str
    permission: str
    columns: tuple[str, ...]
    row_filter: str | None
    masked_columns: Mapping[str, str] = field(default_factory=dict)
    grants: tuple[Grant, ...] = ()
    policy_source: str = ""

    @property
    def reason(self) -> str:
        """Why the request was allowed: the grants that allowed it, for the audit log."""
        granted_by = "; ".join(g.describe() for g in self.grants)
        return f"allowed by grant(s): {granted_by} (policy: {self.policy_source})"

    def require_columns(self, columns: Iterable[str]) -> None:
        """Refuse columns this grant did not authorize, so a caller cannot authorize one
        column list and then read another."""
        unauthorized = [c for c in columns if c not in self.columns]
        if unauthorized:
            raise AccessDenied(
                f"principal {self.principal!r}: column(s) {', '.join(unauthorized)} of "
                f"{self.database}.{self.table} were not part of the authorized request "
                f"(policy: {self.policy_source})",
                principal=self.principal,
                database=self.database,
                table=self.table,
                permission=self.permission,
                denied_columns=unauthorized,
                policy_source=self.policy_source,
            )


@dataclass(frozen=True)
class LakeFormationPolicy:
    """The whole policy: one Glue database, its principals and their grants."""

    database: str
    principals: Mapping[str, Principal]
    grants: tuple[Grant, ...]
    source: str = "<dict>"

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LakeFormationPolicy:
        """Read and validate a policy YAML file."""
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyError(f"{source}: cannot read the policy file: {exc}") from exc
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise PolicyError(f"{source}: not valid YAML: {exc}") from exc
        return cls.from_dict(data, source=source)

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> LakeFormationPolicy:
        """Validate a parsed policy strictly: unknown keys, unknown permissions, grants to
        undeclared principals and contradictory column specs are errors, because a typo in
        a security policy must fail loudly rather than grant or deny by accident."""
        where = _Where(source)
        body = _require_mapping(data, where, "the policy")
        _reject_unknown_keys(body, _POLICY_KEYS, where, "the policy")
        _check_policy_version(body.get("policy_version"), where)
        database = _require_name(body.get("database"), where, "database")
        principals = _parse_principals(body.get("principals"), where)
        grants = tuple(
            _parse_grant(entry, index, database, principals, where)
            for index, entry in enumerate(_require_list(body.get("grants"), where, "grants"))
        )
        return cls(database=database, principals=principals, grants=grants, source=source)

    def grants_for(self, principal: str) -> tuple[Grant, ...]:
        """Every grant to ``principal``, in file order (what the AWS reconciler applies)."""
        return tuple(g for g in self.grants if g.principal == principal)

    def authorize(
        self,
        principal: str,
        table: str,
        permission: str = SELECT,
        columns: Sequence[str] = (),
        *,
        database: str | None = None,
    ) -> ReadGrant:
        """Decide one request, as Lake Formation would, or raise :class:`AccessDenied`.

        ``columns`` are the columns the request reads (SELECT); DESCRIBE ignores them,
        because column lists and row filters only restrict SELECT.
        """
        if permission not in PERMISSIONS:
            expected = ", ".join(sorted(PERMISSIONS))
            raise ValueError(f"unknown permission {permission!r}; expected one of {expected}")
        request = _Request(principal, database or self.database, table, permission, tuple(columns))
        if principal not in self.principals:
            raise self._denied(
                request,
                f"principal {principal!r} is not declared in the policy, so it has no "
                f"{permission} on {request.resource}",
            )
        matching = [
            g
            for g in self.grants_for(principal)
            if permission in g.permissions and g.applies_to_table(request.database, table)
        ]
        if not matching:
            raise self._denied(
                request, f"principal {principal!r} has no {permission} on {request.resource}"
            )
        if permission == DESCRIBE:
            return self._read_grant(request, None, {}, matching)
        return self._authorize_select(request, matching)

    def _authorize_select(self, request: _Request, matching: list[Grant]) -> ReadGrant:
        """Union the grants' columns, OR their row filters, and mask cells that only a
        narrower grant covers."""
        requested = request.columns
        not_granted = [c for c in requested if not any(g.covers_column(c) for g in matching)]
        if not_granted:
            raise self._denied(
                request,
                f"principal {request.principal!r} has no SELECT on column(s) "
                f"{', '.join(not_granted)} of {request.resource}",
                denied_columns=not_granted,
            )
        # Only grants that reveal at least one requested column widen the rows returned.
        contributing = [
            g for g in matching if not requested or any(g.covers_column(c) for c in requested)
        ]
        row_filter = combine_row_filters(g.row_filter for g in contributing)
        masked: dict[str, str] = {}
        for column in requested:
            column_filter = combine_row_filters(
                g.row_filter for g in contributing if g.covers_column(column)
            )
            if column_filter is not None and column_filter != row_filter:
                masked[column] = column_filter
        return self._read_grant(request, row_filter, masked, contributing)

    def _read_grant(
        self,
        request: _Request,
        row_filter: str | None,
        masked: dict[str, str],
        grants: Sequence[Grant],
    ) -> ReadGrant:
        return ReadGrant(
            principal=request.principal,
            database=request.database,
            table=request.table,
            permission=request.permission,
            columns=request.columns,
            row_filter=row_filter,
            masked_columns=masked,
            grants=tuple(grants),
            policy_source=self.source,
        )

    def _denied(
        self, request: _Request, what: str, denied_columns: Sequence[str] = ()
    ) -> AccessDenied:
        return AccessDenied(
            f"{what} (policy: {self.source})",
            principal=request.principal,
            database=request.database,
            table=request.table,
            permission=request.permission,
            denied_columns=denied_columns,
            policy_source=self.source,
        )


@dataclass(frozen=True)
class _Request:
    """One request being decided: who asks for which permission on which columns of what."""

    principal: str
    database: str
    table: str
    permission: str
    columns: tuple[str, ...]

    @property
    def resource(self) -> str:
        return f"{self.database}.{self.table}"


def combine_row_filters(row_filters: Iterable[str | None]) -> str | None:
    """OR row filters together; any None (all rows) makes the result None (all rows).

    Each filter is parenthesised so ``a OR b AND c`` style precedence cannot leak rows.
    """
    distinct: list[str] = []
    for row_filter in row_filters:
        if row_filter is None:
            return None
        if row_filter not in distinct:
            distinct.append(row_filter)
    if not distinct:
        return None
    if len(distinct) == 1:
        return distinct[0]
    return " OR ".join(f"({f})" for f in distinct)


class AuditLog:
    """Append-only JSON Lines record of every governed read, allowed or denied.

    The local stand-in for CloudTrail's Lake Formation data-access events. Several processes
    (Dagster runs each step in its own process) append at once, so each entry is one
    ``write`` of one whole line to a file opened with ``O_APPEND`` under an exclusive
    ``flock``: lines never interleave and never tear.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def record(
        self,
        principal: str,
        database: str,
        table: str,
        permission: str,
        columns: Sequence[str],
        allowed: bool,
        reason: str,
        partition: str | None = None,
    ) -> dict[str, Any]:
        """Append one entry and return it."""
        entry = {
            "time": _utc_now_iso(),
            "principal": principal,
            "action": permission,
            "database": database,
            "table": table,
            "columns": list(columns),
            "partition": partition,
            "allowed": allowed,
            "reason": reason,
        }
        self._append_line(json.dumps(entry, separators=(",", ":")) + "\n")
        return entry

    def read(self) -> list[dict[str, Any]]:
        """Every entry, oldest first; an absent log has no entries."""
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_SH)
            lines = f.read().splitlines()
        return [json.loads(line) for line in lines if line]

    def _append_line(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = line.encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            written = 0
            while written < len(data):  # a regular file takes it in one go; loop to be sure
                written += os.write(fd, data[written:])
        finally:
            os.close(fd)  # closing releases the lock


def _utc_now_iso() -> str:
    """ISO-8601 in UTC with a ``Z``, as CloudTrail writes ``eventTime``."""
    now = datetime.now(timezone.utc)
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _same_name(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


# --- validation helpers -------------------------------------------------------------------


@dataclass(frozen=True)
class _Where:
    """Prefixes validation errors with the file, so the message points at what to fix."""

    source: str

    def error(self, entry: str, problem: str) -> PolicyError:
        return PolicyError(f"{self.source}: {entry}: {problem}")


def _require_mapping(value: Any, where: _Where, entry: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise where.error(entry, f"expected a mapping, got {type(value).__name__}")
    return value


def _require_list(value: Any, where: _Where, entry: str) -> list[Any]:
    if not isinstance(value, list):
        raise where.error(entry, f"expected a list, got {type(value).__name__}")
    return value


def _require_name(value: Any, where: _Where, entry: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise where.error(entry, f"expected a non-empty string, got {value!r}")
    return value.strip()


def _reject_unknown_keys(
    body: Mapping[str, Any], allowed: frozenset[str], where: _Where, entry: str
) -> None:
    unknown = sorted(str(k) for k in body if k not in allowed)
    if unknown:
        raise where.error(
            entry,
            f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}",
        )


def _check_policy_version(value: Any, where: _Where) -> None:
    if value not in _SUPPORTED_POLICY_VERSIONS:
        supported = ", ".join(str(v) for v in sorted(_SUPPORTED_POLICY_VERSIONS))
        raise where.error("policy_version", f"expected one of {supported}, got {value!r}")


def _parse_principals(value: Any, where: _Where) -> dict[str, Principal]:
    principals: dict[str, Principal] = {}
    for index, entry in enumerate(_require_list(value, where, "principals")):
        label = f"principals[{index}]"
        body = _require_mapping(entry, where, label)
        _reject_unknown_keys(body, _PRINCIPAL_KEYS, where, label)
        name = _require_name(body.get("name"), where, f"{label}.name")
        label = f"principals[{index}] ({name!r})"
        if name in principals:
            raise where.error(label, "declared twice")
        principals[name] = Principal(
            name=name,
            description=_require_name(body.get("description"), where, f"{label}.description"),
            aws_principal=_parse_aws_principal(body.get("aws_principal"), where, label),
        )
    return principals


def _parse_aws_principal(value: Any, where: _Where, label: str) -> str | None:
    if value is None:
        return None
    arn = _require_name(value, where, f"{label}.aws_principal")
    if not arn.startswith("arn:"):
        raise where.error(f"{label}.aws_principal", f"expected an IAM ARN (arn:...), got {arn!r}")
    return arn


def _parse_grant(
    entry: Any,
    index: int,
    database: str,
    principals: Mapping[str, Principal],
    where: _Where,
) -> Grant:
    body = _require_mapping(entry, where, f"grants[{index}]")
    label = _grant_label(index, body)
    _reject_unknown_keys(body, _GRANT_KEYS, where, label)
    principal = _require_name(body.get("principal"), where, f"{label}.principal")
    if principal not in principals:
        raise where.error(label, f"principal {principal!r} is not declared under principals")
    grant = Grant(
        principal=principal,
        permissions=_parse_permissions(body.get("permissions"), where, label),
        database=_parse_grant_database(body.get("database", database), database, where, label),
        table=_parse_table(body.get("table"), where, label),
        columns=_parse_columns(body.get("columns"), where, f"{label}.columns"),
        excluded_columns=_parse_columns(
            body.get("excluded_columns"), where, f"{label}.excluded_columns"
        ),
        row_filter=_parse_row_filter(body.get("row_filter"), where, label),
    )
    _check_data_filter_shape(grant, where, label)
    return grant


def _grant_label(index: int, body: Mapping[str, Any]) -> str:
    """``grants[3] (principal 'finance-analyst', table 'billing')``: findable in the file."""
    resource = f"table {body['table']!r}" if "table" in body else "the database"
    return f"grants[{index}] (principal {body.get('principal')!r}, {resource})"


def _parse_permissions(value: Any, where: _Where, label: str) -> frozenset[str]:
    permissions = _require_list(value, where, f"{label}.permissions")
    if not permissions:
        raise where.error(f"{label}.permissions", "grants no permission")
    unknown = [p for p in permissions if p not in PERMISSIONS]
    if unknown:
        raise where.error(
            f"{label}.permissions",
            f"unknown permission(s) {', '.join(map(repr, unknown))}; "
            f"expected {', '.join(sorted(PERMISSIONS))}",
        )
    return frozenset(permissions)


def _parse_grant_database(value: Any, database: str, where: _Where, label: str) -> str:
    name = _require_name(value, where, f"{label}.database")
    if name != database:
        raise where.error(
            f"{label}.database", f"this policy governs database {database!r} only, got {name!r}"
        )
    return name


def _parse_table(value: Any, where: _Where, label: str) -> str | None:
    if value is None:
        return None
    return _require_name(value, where, f"{label}.table")


def _parse_columns(value: Any, where: _Where, label: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    columns = [_require_name(c, where, label) for c in _require_list(value, where, label)]
    if not columns:
        raise where.error(label, "is empty; omit it to mean all columns")
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise where.error(label, f"lists {', '.join(duplicated)} more than once")
    return tuple(columns)


def _parse_row_filter(value: Any, where: _Where, label: str) -> str | None:
    if value is None:
        return None
    return _require_name(value, where, f"{label}.row_filter")


def _check_data_filter_shape(grant: Grant, where: _Where, label: str) -> None:
    """Column lists and row filters are data cells filters: SELECT on one named table only,
    and either an include list or an exclude list, never both (as in Lake Formation)."""
    restricted = (
        grant.columns is not None
        or grant.excluded_columns is not None
        or grant.row_filter is not None
    )
    if grant.columns is not None and grant.excluded_columns is not None:
        raise where.error(label, "has both columns and excluded_columns; use one or the other")
    if SELECT in grant.permissions and grant.is_database_grant:
        raise where.error(label, "SELECT needs a table (a name or '*'), not the database itself")
    if not restricted:
        return
    if grant.permissions != {SELECT}:
        raise where.error(
            label, "columns, excluded_columns and row_filter restrict SELECT only; "
            "put other permissions in a separate grant",
        )
    if grant.table in (None, TABLE_WILDCARD):
        raise where.error(
            label, "columns, excluded_columns and row_filter need one named table, not "
            f"{grant.table or 'the database'!r}",
        )
