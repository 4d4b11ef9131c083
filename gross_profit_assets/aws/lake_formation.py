"""Lake Formation on AWS: the policy YAML reconciled into grants, drift found, reads checked.

Three things, one source of truth (``governance/lake_formation_policy.yaml``, modelled by
:mod:`gross_profit_assets.governance.policy`):

1. :class:`LakeFormationReconciler` makes Lake Formation hold exactly the file's grants:
   it registers the data locations, creates a **data cells filter** for every grant with a
   column list, an excluded column list or a row filter, grants what is missing and revokes what
   the file does not hold, and deletes the filters it created that the file no longer needs.
   :meth:`~LakeFormationReconciler.plan` only reads and returns a :class:`ReconcilePlan` (the
   diff); :meth:`~LakeFormationReconciler.apply` carries it out; a second apply plans nothing.
2. **Drift** is what the plan would revoke or rewrite: grants present in Lake Formation but not
   in the file (added by hand in the console, or removed from the file and not yet reconciled)
   and data cells filters edited by hand. The asset check in ``lake_formation_assets.py``
   reports it.
3. :class:`AwsLakeFormation` is the governance port's AWS adapter for governed reads.

**What the reconciler owns.** The permissions the file can express, ``SELECT`` and ``DESCRIBE``
(with their grant options), on the governed database, its tables (by name and ``TableWildcard``),
their columns and their data cells filters; and the data cells filters whose names start with
:data:`FILTER_PREFIX`. Everything else is left alone and, where it lets someone read (``ALL``),
listed as *unmanaged* in the plan: catalog-write permissions (``CREATE_TABLE``, ``ALTER``,
``DROP``, ``INSERT``, ``DELETE``), ``DATA_LOCATION_ACCESS``, and the ``ALL`` Lake Formation
gives whoever creates a table (the crawler, the pipeline), which they need to keep writing.
Revoking those would break the crawler; deploy them with the stack (``deploy/aws``) instead.

**Tables not created yet.** Lake Formation refuses a grant on a table the Glue Data Catalog does
not have. Grants on tables not crawled or written yet are *deferred*: listed in the plan, not
applied, and applied by the first reconcile after the table appears.

Principals are the policy's ``aws_principal`` ARNs, with ``${AWS_ACCOUNT_ID}`` filled in from
the caller's account (STS), so the file holds no account ids.
"""

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
import dagster as dg
from botocore.config import Config
from botocore.exceptions import ClientError
from pydantic import Field, PrivateAttr
from pyspark.sql import DataFrame

from gross_profit_assets.aws.settings import DEFAULT_REGION
from gross_profit_assets.governance.enforcement import apply_read_grant
from gross_profit_assets.governance.policy import (
    DESCRIBE,
    PERMISSIONS,
    SELECT,
    TABLE_WILDCARD,
    AccessDenied,
    Grant,
    LakeFormationPolicy,
    PolicyError,
    Principal,
    ReadGrant,
)
from gross_profit_assets.resources.lake_formation import (
    LakeFormation,
    default_policy_path,
)

# Data cells filters the reconciler creates, and so may rewrite or delete, start with this.
FILTER_PREFIX = "gp_policy_"
ACCOUNT_PLACEHOLDER = "${AWS_ACCOUNT_ID}"
# Permissions that let a principal read rows but that the file cannot express; reported only.
READ_CAPABLE_UNMANAGED = frozenset({"ALL", "SUPER_USER"})
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")
_RETRIES = Config(retries={"mode": "standard", "max_attempts": 5})


def _client(service: str, region_name: str):
    return boto3.session.Session().client(service, region_name=region_name, config=_RETRIES)


def _error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def s3_location_arn(uri: str) -> str:
    """``s3://bucket/lake/`` -> ``arn:aws:s3:::bucket/lake``, as Lake Formation registers it."""
    if not uri.startswith("s3://") or len(uri) <= len("s3://"):
        raise ValueError(f"data location {uri!r} is not an s3:// URI")
    return "arn:aws:s3:::" + uri[len("s3://") :].rstrip("/")


# --- resources, keyed so the file's grants and Lake Formation's can be compared -------------


def resource_key(resource: Mapping[str, Any]) -> tuple | None:
    """A hashable, catalog-id-free identity of a Lake Formation resource, or None for kinds
    the policy cannot express (data locations, LF-tags, the catalog).

    ``TableWithColumns`` with a ``ColumnWildcard`` and no exclusions is the whole table, which
    is how Lake Formation lists a plain table SELECT; table names compare lower-cased, as
    Glue stores them."""
    if "Database" in resource:
        return ("database", resource["Database"]["Name"])
    if "Table" in resource:
        table = resource["Table"]
        name = TABLE_WILDCARD if "TableWildcard" in table else table["Name"].lower()
        return ("table", table["DatabaseName"], name)
    if "TableWithColumns" in resource:
        table = resource["TableWithColumns"]
        name = table["Name"].lower()
        if table.get("ColumnNames"):
            return ("columns", table["DatabaseName"], name, tuple(sorted(table["ColumnNames"])))
        excluded = (table.get("ColumnWildcard") or {}).get("ExcludedColumnNames") or []
        if excluded:
            return ("excluded_columns", table["DatabaseName"], name, tuple(sorted(excluded)))
        return ("table", table["DatabaseName"], name)
    if "DataCellsFilter" in resource:
        cells = resource["DataCellsFilter"]
        return ("data_cells_filter", cells["DatabaseName"], cells["TableName"].lower(), cells["Name"])
    return None


def describe_resource(key: tuple) -> str:
    kind, database, *rest = key
    if kind == "database":
        return f"database {database}"
    if kind == "table":
        return f"table {database}.{rest[0]}"
    if kind == "data_cells_filter":
        return f"data cells filter {rest[1]} on {database}.{rest[0]}"
    return f"{kind.replace('_', ' ')} {list(rest[1])} of {database}.{rest[0]}"


def filter_name(grant: Grant) -> str:
    """``gp_policy_<principal>_<digest>``: stable while the grant's cells stay the same, new when
    they change (so a changed grant is a new filter, granted before the old one is revoked)."""
    content = json.dumps(
        [grant.table.lower(), grant.columns, grant.excluded_columns, grant.row_filter],
        sort_keys=True,
    )
    digest = hashlib.sha256(content.encode()).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9_-]", "_", grant.principal)
    return f"{FILTER_PREFIX}{slug}_{digest}"


def filter_table_data(grant: Grant, catalog_id: str) -> dict[str, Any]:
    """The ``CreateDataCellsFilter`` ``TableData`` of a grant's column list and row filter."""
    data: dict[str, Any] = {
        "TableCatalogId": catalog_id,
        "DatabaseName": grant.database,
        "TableName": grant.table.lower(),
        "Name": filter_name(grant),
        "RowFilter": {"FilterExpression": grant.row_filter}
        if grant.row_filter is not None
        else {"AllRowsWildcard": {}},
    }
    if grant.columns is not None:
        data["ColumnNames"] = list(grant.columns)
    else:
        data["ColumnWildcard"] = {"ExcludedColumnNames": list(grant.excluded_columns or ())}
    return data


def filter_cells(table_data: Mapping[str, Any]) -> tuple:
    """What a data cells filter lets through, comparable between the file and Lake Formation."""
    row_filter = (table_data.get("RowFilter") or {}).get("FilterExpression")
    columns = table_data.get("ColumnNames")
    excluded = (table_data.get("ColumnWildcard") or {}).get("ExcludedColumnNames")
    return (
        table_data["TableName"].lower(),
        row_filter,
        tuple(sorted(columns)) if columns else None,
        tuple(sorted(excluded)) if excluded else None,
    )


def grant_from_filter(principal: str, table_data: Mapping[str, Any]) -> Grant:
    """The policy grant a data cells filter stands for."""
    _, row_filter, columns, excluded = filter_cells(table_data)
    return Grant(
        principal=principal,
        permissions=frozenset({SELECT}),
        database=table_data["DatabaseName"],
        table=table_data["TableName"],
        columns=tuple(table_data["ColumnNames"]) if columns else None,
        excluded_columns=excluded,
        row_filter=row_filter,
    )


class DataCellsFilters:
    """Lake Formation's data cells filters: list, get, create, update, delete.

    Kept apart from grants (its own client) because moto does not implement these calls
    (``CreateDataCellsFilter``, ``UpdateDataCellsFilter``, ``DeleteDataCellsFilter``; its
    ``ListDataCellsFilter`` always answers empty): a test points
    this object alone at a botocore ``Stubber`` while every grant goes to the server.
    """

    def __init__(self, client) -> None:
        self.client = client

    def list(self, database: str) -> list[dict]:
        found: list[dict] = []
        for page in self.client.get_paginator("list_data_cells_filter").paginate():
            found.extend(f for f in page.get("DataCellsFilters", []) if f["DatabaseName"] == database)
        return found

    def create(self, table_data: Mapping[str, Any]) -> None:
        self.client.create_data_cells_filter(TableData=dict(table_data))

    def update(self, table_data: Mapping[str, Any]) -> None:
        self.client.update_data_cells_filter(TableData=dict(table_data))

    def delete(self, table_data: Mapping[str, Any]) -> None:
        self.client.delete_data_cells_filter(
            TableCatalogId=table_data["TableCatalogId"],
            DatabaseName=table_data["DatabaseName"],
            TableName=table_data["TableName"],
            Name=table_data["Name"],
        )


# --- the plan --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PermissionChange:
    """One GrantPermissions or RevokePermissions call."""

    principal: str  # the IAM ARN
    resource: dict  # the Lake Formation resource, as sent (for revokes: as Lake Formation listed it)
    permissions: tuple[str, ...]
    grant_options: tuple[str, ...] = ()  # revokes only: grant options taken away
    principal_name: str = ""  # the file's name for the principal, "" when it is not in the file

    def describe(self) -> str:
        key = resource_key(self.resource)
        what = "/".join(self.permissions) or "grant option"
        if self.grant_options and self.permissions:
            what += " (with grant option)"
        elif self.grant_options:
            what = f"grant option on {'/'.join(self.grant_options)}"
        who = f"{self.principal_name} ({self.principal})" if self.principal_name else self.principal
        return f"{what} on {describe_resource(key) if key else self.resource} for {who}"


@dataclass(frozen=True)
class ReconcilePlan:
    """What it takes to make Lake Formation hold the policy file's grants, and nothing else."""

    register_locations: tuple[str, ...] = ()
    create_filters: tuple[dict, ...] = ()
    update_filters: tuple[dict, ...] = ()  # filters edited by hand: rewritten to the file's
    grants: tuple[PermissionChange, ...] = ()
    revokes: tuple[PermissionChange, ...] = ()  # in Lake Formation, not in the file
    delete_filters: tuple[dict, ...] = ()
    deferred: tuple[str, ...] = ()  # grants waiting for their table to exist
    unmanaged: tuple[str, ...] = ()  # read-capable grants the file cannot express (ALL)
    policy_source: str = ""

    @property
    def is_empty(self) -> bool:
        """Nothing to change: Lake Formation already equals the file (deferred grants aside)."""
        return not (
            self.register_locations
            or self.create_filters
            or self.update_filters
            or self.grants
            or self.revokes
            or self.delete_filters
        )

    @property
    def drift(self) -> list[str]:
        """What Lake Formation holds that the file does not: grants to revoke, filters edited."""
        return [f"revoke {c.describe()}" for c in self.revokes] + [
            f"data cells filter {_filter_label(f)} differs from the policy"
            for f in self.update_filters
        ]

    @property
    def missing(self) -> list[str]:
        """What the file holds that Lake Formation does not yet."""
        return (
            [f"register data location {arn}" for arn in self.register_locations]
            + [f"create data cells filter {_filter_label(f)}" for f in self.create_filters]
            + [f"grant {c.describe()}" for c in self.grants]
        )

    def changes(self) -> list[str]:
        """Every change, in the order :meth:`LakeFormationReconciler.apply` makes them."""
        return (
            [f"register data location {arn}" for arn in self.register_locations]
            + [f"create data cells filter {_filter_label(f)}" for f in self.create_filters]
            + [f"rewrite data cells filter {_filter_label(f)}" for f in self.update_filters]
            + [f"grant {c.describe()}" for c in self.grants]
            + [f"revoke {c.describe()}" for c in self.revokes]
            + [f"delete data cells filter {_filter_label(f)}" for f in self.delete_filters]
        )

    def metadata(self) -> dict[str, Any]:
        """Dagster metadata of a plan: counts to plot, the lists to read."""
        return {
            "policy_file": self.policy_source,
            "changes": len(self.changes()),
            "grants": len(self.grants),
            "revokes": len(self.revokes),
            "data_cells_filters_created": len(self.create_filters),
            "data_cells_filters_updated": len(self.update_filters),
            "data_cells_filters_deleted": len(self.delete_filters),
            "locations_registered": len(self.register_locations),
            "plan": dg.MetadataValue.json(self.changes()),
            "drift": dg.MetadataValue.json(self.drift),
            "deferred": dg.MetadataValue.json(list(self.deferred)),
            "unmanaged_read_grants": dg.MetadataValue.json(list(self.unmanaged)),
        }


def _filter_label(table_data: Mapping[str, Any]) -> str:
    return f"{table_data['Name']} on {table_data['DatabaseName']}.{table_data['TableName']}"


# --- the reconciler --------------------------------------------------------------------------


@dataclass(frozen=True)
class _LiveGrant:
    principal: str
    resource: dict
    permissions: frozenset[str]
    grant_options: frozenset[str]


@dataclass
class _Desired:
    """The file's grants, as Lake Formation resources."""

    permissions: dict[tuple[str, tuple], set[str]] = field(default_factory=lambda: defaultdict(set))
    resources: dict[tuple, dict] = field(default_factory=dict)
    filters: dict[str, dict] = field(default_factory=dict)
    deferred: list[str] = field(default_factory=list)


class LakeFormationReconciler:
    """Turns a :class:`LakeFormationPolicy` into Lake Formation state (see the module docstring)."""

    def __init__(
        self,
        policy: LakeFormationPolicy,
        *,
        lakeformation,
        glue,
        account_id: str,
        data_locations: Sequence[str] = (),
        filters: DataCellsFilters | None = None,
    ) -> None:
        self.policy = policy
        self.lakeformation = lakeformation
        self.glue = glue
        self.account_id = account_id
        self.data_locations = [s3_location_arn(uri) for uri in data_locations]
        self.filters = filters or DataCellsFilters(lakeformation)
        self.arns = self._principal_arns()
        self.names = {arn: name for name, arn in self.arns.items()}

    @property
    def database(self) -> str:
        return self.policy.database

    def plan(self) -> ReconcilePlan:
        """The diff between the file and Lake Formation; reads only."""
        self._require_database()
        desired = self._desired()
        live = self._live_grants()
        live_filters = {f["Name"]: f for f in self.filters.list(self.database)}

        grants: list[PermissionChange] = []
        revokes: list[PermissionChange] = []
        unmanaged: list[str] = []
        live_by_target: dict[tuple[str, tuple], list[_LiveGrant]] = defaultdict(list)
        for entry in live:
            key = resource_key(entry.resource)
            live_by_target[(entry.principal, key)].append(entry)
            for permission in sorted(entry.permissions & READ_CAPABLE_UNMANAGED):
                unmanaged.append(
                    f"{permission} on {describe_resource(key)} for "
                    f"{self.names.get(entry.principal, entry.principal)} (not managed by the policy)"
                )
        for target in sorted(set(desired.permissions) | set(live_by_target), key=repr):
            principal, key = target
            wanted = desired.permissions.get(target, set())
            entries = live_by_target.get(target, [])
            held = set().union(*(e.permissions for e in entries)) & PERMISSIONS
            missing = wanted - held
            if missing:
                grants.append(
                    PermissionChange(
                        principal, desired.resources[key], tuple(sorted(missing)),
                        principal_name=self.names.get(principal, ""),
                    )
                )
            for entry in entries:
                extra = (entry.permissions & PERMISSIONS) - wanted
                options = entry.grant_options & PERMISSIONS  # the file never grants an option
                if extra or options:
                    revokes.append(
                        PermissionChange(
                            principal, entry.resource, tuple(sorted(extra)), tuple(sorted(options)),
                            principal_name=self.names.get(principal, ""),
                        )
                    )

        create = [f for name, f in desired.filters.items() if name not in live_filters]
        update = [
            f
            for name, f in desired.filters.items()
            if name in live_filters and filter_cells(live_filters[name]) != filter_cells(f)
        ]
        delete = [
            f for name, f in live_filters.items()
            if name.startswith(FILTER_PREFIX) and name not in desired.filters
        ]
        registered = self._registered_locations()
        return ReconcilePlan(
            register_locations=tuple(a for a in self.data_locations if a not in registered),
            create_filters=tuple(create),
            update_filters=tuple(update),
            grants=tuple(grants),
            revokes=tuple(revokes),
            delete_filters=tuple(delete),
            deferred=tuple(desired.deferred),
            unmanaged=tuple(unmanaged),
            policy_source=self.policy.source,
        )

    def apply(self, plan: ReconcilePlan | None = None) -> ReconcilePlan:
        """Make the plan's changes (planning first if no plan is given); returns the plan.

        Order: locations, filters, grants, then revokes and filter deletions, so a grant that
        moves to a new filter is never missing in between."""
        plan = plan or self.plan()
        log = dg.get_dagster_logger()
        for arn in plan.register_locations:
            self.lakeformation.register_resource(ResourceArn=arn, UseServiceLinkedRole=True)
            log.info(f"Lake Formation: registered data location {arn}")
        for table_data in plan.create_filters:
            self.filters.create(table_data)
            log.info(f"Lake Formation: created data cells filter {table_data['Name']}")
        for table_data in plan.update_filters:
            self.filters.update(table_data)
            log.warning(f"Lake Formation: data cells filter {table_data['Name']} was edited; rewritten")
        for change in plan.grants:
            self.lakeformation.grant_permissions(
                CatalogId=self.account_id,
                Principal={"DataLakePrincipalIdentifier": change.principal},
                Resource=change.resource,
                Permissions=list(change.permissions),
            )
            log.info(f"Lake Formation: granted {change.describe()}")
        for change in plan.revokes:
            self.lakeformation.revoke_permissions(
                CatalogId=self.account_id,
                Principal={"DataLakePrincipalIdentifier": change.principal},
                Resource=change.resource,
                Permissions=list(change.permissions),
                PermissionsWithGrantOption=list(change.grant_options),
            )
            log.warning(f"Lake Formation: revoked {change.describe()} (not in {self.policy.source})")
        for table_data in plan.delete_filters:
            self.filters.delete(table_data)
            log.info(f"Lake Formation: deleted data cells filter {table_data['Name']}")
        for grant in plan.deferred:
            log.info(f"Lake Formation: deferred until the table exists: {grant}")
        return plan

    # -- the file's side --

    def _principal_arns(self) -> dict[str, str]:
        arns: dict[str, str] = {}
        for name, principal in self.policy.principals.items():
            if principal.aws_principal is None:
                raise PolicyError(
                    f"{self.policy.source}: principal {name!r} has no aws_principal, so it "
                    "cannot be granted anything in Lake Formation; add its IAM role ARN"
                )
            arn = principal.aws_principal.replace(ACCOUNT_PLACEHOLDER, self.account_id)
            unknown = _PLACEHOLDER.findall(arn)
            if unknown:
                raise PolicyError(
                    f"{self.policy.source}: principal {name!r}: aws_principal uses "
                    f"{', '.join(unknown)}; only {ACCOUNT_PLACEHOLDER} is filled in"
                )
            arns[name] = arn
        return arns

    def _desired(self) -> _Desired:
        desired = _Desired()
        existing: dict[str, bool] = {}
        for grant in self.policy.grants:
            principal = self.arns[grant.principal]
            if grant.is_database_grant:
                resource = {"Database": {"CatalogId": self.account_id, "Name": grant.database}}
            else:
                if grant.table != TABLE_WILDCARD:
                    table = grant.table.lower()
                    if table not in existing:
                        existing[table] = self._table_exists(table)
                    if not existing[table]:
                        desired.deferred.append(
                            f"{'/'.join(sorted(grant.permissions))} on {grant.database}.{table} "
                            f"for {grant.principal} (no such Glue table yet)"
                        )
                        continue
                resource = self._table_resource(grant, desired)
            key = resource_key(resource)
            desired.resources[key] = resource
            desired.permissions[(principal, key)] |= set(grant.permissions)
        return desired

    def _table_resource(self, grant: Grant, desired: _Desired) -> dict:
        restricted = (
            grant.columns is not None
            or grant.excluded_columns is not None
            or grant.row_filter is not None
        )
        if restricted:
            table_data = filter_table_data(grant, self.account_id)
            desired.filters[table_data["Name"]] = table_data
            return {
                "DataCellsFilter": {
                    "TableCatalogId": self.account_id,
                    "DatabaseName": grant.database,
                    "TableName": table_data["TableName"],
                    "Name": table_data["Name"],
                }
            }
        table: dict[str, Any] = {"CatalogId": self.account_id, "DatabaseName": grant.database}
        if grant.table == TABLE_WILDCARD:
            table["TableWildcard"] = {}
        else:
            table["Name"] = grant.table.lower()
        return {"Table": table}

    # -- Lake Formation's side --

    def _live_grants(self) -> list[_LiveGrant]:
        """Every permission on the governed database's resources, as Lake Formation lists it."""
        found = []
        for entry in _list_permissions(self.lakeformation, CatalogId=self.account_id):
            key = resource_key(entry.get("Resource") or {})
            if key is None or key[1] != self.database:
                continue
            found.append(
                _LiveGrant(
                    principal=entry["Principal"]["DataLakePrincipalIdentifier"],
                    resource=entry["Resource"],
                    permissions=frozenset(entry.get("Permissions") or ()),
                    grant_options=frozenset(entry.get("PermissionsWithGrantOption") or ()),
                )
            )
        return found

    def _registered_locations(self) -> set[str]:
        registered: set[str] = set()
        token = None
        while True:
            response = self.lakeformation.list_resources(**({"NextToken": token} if token else {}))
            registered |= {r["ResourceArn"] for r in response.get("ResourceInfoList", [])}
            token = response.get("NextToken")
            if not token:
                return registered

    def _require_database(self) -> None:
        try:
            self.glue.get_database(Name=self.database)
        except ClientError as exc:
            if _error_code(exc) == "EntityNotFoundException":
                raise PolicyError(
                    f"{self.policy.source}: Glue database {self.database!r} does not exist in "
                    f"account {self.account_id}; deploy the stack (deploy/aws) first"
                ) from exc
            raise

    def _table_exists(self, table: str) -> bool:
        try:
            self.glue.get_table(DatabaseName=self.database, Name=table)
        except ClientError as exc:
            if _error_code(exc) == "EntityNotFoundException":
                return False
            raise
        return True


def _list_permissions(client, **request) -> Iterator[dict]:
    """``ListPermissions``, every page (boto3 has no paginator for it)."""
    while True:
        response = client.list_permissions(**request)
        yield from response.get("PrincipalResourcePermissions", [])
        token = response.get("NextToken")
        if not token:
            return
        request["NextToken"] = token


# --- governed reads on AWS -------------------------------------------------------------------


def live_grants_for_table(
    entries: Iterable[Mapping[str, Any]],
    principal: str,
    database: str,
    table: str,
    resolve_filter,
) -> list[Grant]:
    """Policy grants equivalent to the Lake Formation permissions ``entries`` on one table.

    ``ALL`` counts as SELECT and DESCRIBE. A grant through a data cells filter is only as
    good as the filter's definition: ``resolve_filter`` returns it, and a filter that cannot be
    read grants nothing (fail closed)."""
    grants: list[Grant] = []
    for entry in entries:
        held = set(entry.get("Permissions") or ())
        if "ALL" in held:
            held |= {SELECT, DESCRIBE}
        permissions = frozenset(held & PERMISSIONS)
        key = resource_key(entry.get("Resource") or {})
        if not permissions or key is None or key[1] != database:
            continue
        kind, _, *rest = key
        if kind == "database" or rest[0] not in (table.lower(), TABLE_WILDCARD):
            continue
        if kind == "table":
            grants.append(Grant(principal, permissions, database, rest[0]))
        elif kind == "columns":
            grants.append(Grant(principal, frozenset({SELECT}), database, rest[0], columns=rest[1]))
        elif kind == "excluded_columns":
            grants.append(
                Grant(principal, frozenset({SELECT}), database, rest[0], excluded_columns=rest[1])
            )
        elif kind == "data_cells_filter" and SELECT in permissions:
            table_data = resolve_filter(rest[0], rest[1])
            if table_data is not None:
                grants.append(grant_from_filter(principal, table_data))
    return grants


class AwsLakeFormation(LakeFormation):
    """Governed reads on AWS, and the reconciler of the policy file into Lake Formation.

    **Why check and filter here when Lake Formation enforces on AWS?** Lake Formation enforces
    its grants inside the engines that ask it: Athena, Redshift Spectrum, and EMR clusters with
    Lake Formation integration reading *catalog tables*. The pipeline's Spark step reads the
    landed CSV objects by their S3 paths (the crawler's partitions say which), with the EMR
    instance role's S3 access; no engine asks Lake Formation on that path, so nobody would
    apply a column list or a row filter. This adapter therefore asks Lake Formation for the
    principal's *live* grants on the table, refuses the read with :class:`AccessDenied` when
    they do not cover every requested column (fail closed: no grant, an API error, a filter it
    cannot read all deny), and applies their row filters and cell masks to the DataFrame exactly
    as the local adapter does (:func:`apply_read_grant`). Every decision goes to Dagster's log,
    next to the run it belongs to; Lake Formation's own API calls are in CloudTrail.

    The live grants are ``ListPermissions`` with the principal and the table (Lake Formation
    answers with effective permissions: the table's and its column lists'), plus, per data cells
    filter on the table, ``ListPermissions`` with the principal and that filter (Lake Formation
    lists filter grants only when asked for the filter). The pipeline role needs
    ``lakeformation:ListPermissions`` and ``lakeformation:ListDataCellsFilter``.

    ``principal`` is the policy's name for the reader (messages and log); ``principal_arn`` is
    the IAM role the pipeline runs as, whose grants decide.
    """

    principal_arn: str = Field(description="IAM role ARN of the pipeline's principal.")
    region_name: str = Field(default=DEFAULT_REGION, description="Region of Lake Formation.")
    account_id: str = Field(
        default="", description="Account of the Data Catalog; empty means the caller's (STS)."
    )
    policy_path: str = Field(
        default_factory=default_policy_path,
        description="Policy YAML reconciled into Lake Formation.",
    )
    data_locations: list[str] = Field(
        default_factory=list, description="s3:// prefixes to register with Lake Formation."
    )
    _clients: dict = PrivateAttr(default_factory=dict)

    def _aws(self, service: str):
        if service not in self._clients:
            self._clients[service] = _client(service, self.region_name)
        return self._clients[service]

    def catalog_id(self) -> str:
        if not self.account_id:
            return self._aws("sts").get_caller_identity()["Account"]
        return self.account_id

    def data_cells_filters(self) -> DataCellsFilters:
        return DataCellsFilters(self._aws("lakeformation"))

    def reconciler(self) -> LakeFormationReconciler:
        policy = LakeFormationPolicy.load(self.policy_path)
        if policy.database != self.database:
            raise PolicyError(
                f"{policy.source} governs database {policy.database!r}, but this deployment's "
                f"Glue database is {self.database!r} (GROSS_PROFIT_GLUE_DATABASE)"
            )
        return LakeFormationReconciler(
            policy,
            lakeformation=self._aws("lakeformation"),
            glue=self._aws("glue"),
            account_id=self.catalog_id(),
            data_locations=self.data_locations,
            filters=self.data_cells_filters(),
        )

    def plan_policy(self) -> ReconcilePlan:
        """The diff between the policy file and Lake Formation (reads only)."""
        return self.reconciler().plan()

    def apply_policy(self) -> ReconcilePlan:
        """Make Lake Formation hold the policy file's grants; returns what was changed."""
        return self.reconciler().apply()

    def authorize(self, table: str, columns: Sequence[str], partitions: Sequence[str] = ()) -> ReadGrant:
        """Decide a read of ``columns`` of ``table`` (of its ``partitions``, or all of it) from
        the principal's live grants, log the decision (a line per partition), and return the
        grant or raise :class:`AccessDenied`."""
        log = dg.get_dagster_logger()
        try:
            grant = self._live_policy(table).authorize(
                self.principal, table, SELECT, list(columns), database=self.database
            )
        except (AccessDenied, PolicyError) as exc:
            self._audit(log, table, columns, partitions, allowed=False, reason=str(exc))
            raise
        except ClientError as exc:
            reason = (
                f"could not read the Lake Formation grants of {self.principal_arn} on "
                f"{self.database}.{table}, so the read is refused: {exc}"
            )
            self._audit(log, table, columns, partitions, allowed=False, reason=reason)
            raise AccessDenied(
                reason,
                principal=self.principal,
                database=self.database,
                table=table,
                permission=SELECT,
                denied_columns=list(columns),
            ) from exc
        self._audit(log, table, columns, partitions, allowed=True, reason=grant.reason)
        return grant

    def governed_read(
        self,
        table: str,
        frame: DataFrame,
        columns: list[str],
        partitions: Sequence[str] = (),
    ) -> DataFrame:
        return apply_read_grant(frame, self.authorize(table, columns, partitions), columns)

    def _live_policy(self, table: str) -> LakeFormationPolicy:
        """The principal's live grants on ``table``, as a policy the local rules can decide."""
        catalog_id = self.catalog_id()
        client = self._aws("lakeformation")
        principal = {"DataLakePrincipalIdentifier": self.principal_arn}
        entries = list(
            _list_permissions(
                client,
                CatalogId=catalog_id,
                Principal=principal,
                Resource={"Table": {"CatalogId": catalog_id, "DatabaseName": self.database, "Name": table}},
            )
        )
        filters = {
            f["Name"]: f
            for f in self.data_cells_filters().list(self.database)
            if f["TableName"].lower() == table.lower()
        }
        for name in filters:
            entries += _list_permissions(
                client,
                CatalogId=catalog_id,
                Principal=principal,
                Resource={
                    "DataCellsFilter": {
                        "TableCatalogId": catalog_id,
                        "DatabaseName": self.database,
                        "TableName": table.lower(),
                        "Name": name,
                    }
                },
            )
        grants = live_grants_for_table(
            entries, self.principal, self.database, table, lambda _table, name: filters.get(name)
        )
        return LakeFormationPolicy(
            database=self.database,
            principals={self.principal: Principal(self.principal, "the pipeline", self.principal_arn)},
            grants=tuple(grants),
            source=f"Lake Formation grants of {self.principal_arn}",
        )

    def _audit(self, log, table, columns, partitions, *, allowed: bool, reason: str) -> None:
        for partition in partitions or [None]:
            entry = {
                "principal": self.principal,
                "principal_arn": self.principal_arn,
                "action": SELECT,
                "database": self.database,
                "table": table,
                "columns": list(columns),
                "partition": partition,
                "allowed": allowed,
                "reason": reason,
            }
            line = "Lake Formation governed read: " + json.dumps(entry, separators=(",", ":"))
            (log.info if allowed else log.warning)(line)
