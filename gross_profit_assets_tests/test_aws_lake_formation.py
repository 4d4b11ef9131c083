"""The policy YAML reconciled into Lake Formation, drift found, governed reads decided from
live grants: over real HTTP to a local moto server.

Each test governs its own Glue database (the moto server is shared by the session), with the
packaged policy file rewritten to name it.

moto 5.2.5 does not implement ``CreateDataCellsFilter``, ``UpdateDataCellsFilter`` or
``DeleteDataCellsFilter``, and its ``ListDataCellsFilter`` always answers empty. Tests whose
policy has column lists or row filters therefore hand the reconciler a
:class:`DataCellsFilters` on a client under botocore's ``Stubber`` (said again at each one);
every grant, revoke, listing and registration still goes to the moto server.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import boto3
import dagster as dg
import pytest
import yaml
from botocore.stub import Stubber

from gross_profit_assets.aws.lake_formation import (
    AwsLakeFormation,
    DataCellsFilters,
    LakeFormationReconciler,
    filter_name,
    filter_table_data,
    live_grants_for_table,
    resource_key,
)
from gross_profit_assets.aws.lake_formation_assets import (
    GRANTS_MATCH_POLICY,
    lake_formation_grants_match_policy,
    lake_formation_policy,
)
from gross_profit_assets.governance.policy import (
    AccessDenied,
    LakeFormationPolicy,
    PolicyError,
)
from gross_profit_assets.resources.lake_formation import packaged_policy_path
from gross_profit_assets_tests.aws_server import ACCOUNT_ID

pytestmark = pytest.mark.aws

ROLE = "arn:aws:iam::123456789012:role/{}"
REPORT_JOB = ROLE.format("gross-profit-report-job")
CRAWLER = ROLE.format("gross-profit-crawler")
ANALYST = ROLE.format("finance-analyst")
REGIONAL = ROLE.format("regional-analyst-us")
INTERN = ROLE.format("summer-intern")  # someone the file never mentions
TABLES = (
    "billing",
    "units_sold",
    "production_costs",
    "fx_rates",
    "governed_billing_lines",
    "quarantined_billing_lines",
    "gross_profit_report",
    "gross_profit_month_sums",
)
LOCATIONS = ("s3://landing-bucket-for-tests/landing/", "s3://lake-bucket-for-tests/lake/")


@pytest.fixture()
def lakeformation(moto):
    return boto3.client("lakeformation")


@pytest.fixture()
def glue(moto):
    return boto3.client("glue")


@pytest.fixture()
def database(glue) -> str:
    """A Glue database of this test's own, with the policy's tables in it."""
    name = f"gross_profit_{uuid.uuid4().hex[:8]}"
    glue.create_database(DatabaseInput={"Name": name})
    for table in TABLES:
        glue.create_table(DatabaseName=name, TableInput={"Name": table})
    return name


def write_policy(tmp_path: Path, database: str, edit=None) -> Path:
    """The packaged policy, governing ``database``, optionally edited."""
    data = yaml.safe_load(Path(packaged_policy_path()).read_text())
    data["database"] = database
    if edit:
        edit(data)
    path = tmp_path / f"policy-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def without_row_filters(data: dict) -> None:
    data["grants"] = [g for g in data["grants"] if "columns" not in g and "row_filter" not in g]


def reconciler(policy_path: Path, filters: DataCellsFilters | None = None) -> LakeFormationReconciler:
    return LakeFormationReconciler(
        LakeFormationPolicy.load(policy_path),
        lakeformation=boto3.client("lakeformation"),
        glue=boto3.client("glue"),
        account_id=ACCOUNT_ID,
        data_locations=LOCATIONS,
        filters=filters,
    )


def live(lakeformation, database: str) -> set[tuple[str, tuple, tuple]]:
    """(principal, resource key, permissions) of every grant on ``database``, from the server."""
    entries = lakeformation.list_permissions(CatalogId=ACCOUNT_ID)["PrincipalResourcePermissions"]
    found = set()
    for entry in entries:
        key = resource_key(entry["Resource"])
        if key and key[1] == database:
            found.add((entry["Principal"]["DataLakePrincipalIdentifier"], key, tuple(sorted(entry["Permissions"]))))
    return found


def regional_filter(database: str) -> dict:
    policy = LakeFormationPolicy.from_dict(
        yaml.safe_load(Path(packaged_policy_path()).read_text()) | {"database": database}
    )
    (grant,) = policy.grants_for("regional-analyst-us")
    return filter_table_data(grant, ACCOUNT_ID)


def test_reconciling_twice_applies_the_file_once_and_then_changes_nothing(
    tmp_path, lakeformation, database
):
    path = write_policy(tmp_path, database)
    expected_filter = regional_filter(database)
    # botocore's Stubber for the data cells filter calls only: moto does not implement
    # CreateDataCellsFilter, and its ListDataCellsFilter always answers empty.
    filters_client = boto3.client("lakeformation")
    with Stubber(filters_client) as stub:
        stub.add_response("list_data_cells_filter", {"DataCellsFilters": []}, {})
        stub.add_response("create_data_cells_filter", {}, {"TableData": expected_filter})
        stub.add_response("list_data_cells_filter", {"DataCellsFilters": [expected_filter]}, {})
        first = reconciler(path, DataCellsFilters(filters_client)).apply()
        second = reconciler(path, DataCellsFilters(filters_client)).apply()
        stub.assert_no_pending_responses()

    assert first.create_filters == (expected_filter,)
    assert expected_filter["RowFilter"] == {"FilterExpression": "country = 'US'"}
    assert "source_file" not in expected_filter["ColumnNames"]
    assert {arn.split("/")[-1] for arn in first.register_locations} == {"landing", "lake"}
    assert not first.revokes and not first.deferred
    assert second.is_empty and second.changes() == [] and second.drift == []

    grants = live(lakeformation, database)
    assert (REPORT_JOB, ("database", database), ("DESCRIBE",)) in grants
    assert (REPORT_JOB, ("table", database, "billing"), ("SELECT",)) in grants
    assert (REPORT_JOB, ("table", database, "gross_profit_report"), ("DESCRIBE", "SELECT")) in grants
    assert (CRAWLER, ("table", database, "*"), ("DESCRIBE",)) in grants
    assert (
        REGIONAL,
        ("data_cells_filter", database, "gross_profit_report", expected_filter["Name"]),
        ("SELECT",),
    ) in grants
    assert (REPORT_JOB, ("table", database, "gross_profit_month_sums"), ("DESCRIBE", "SELECT")) in grants
    # One entry per (principal, resource) of the file: 9 for the job, 2 crawler, 2 analyst, 1 US.
    assert len(grants) == 14
    registered = {r["ResourceArn"] for r in lakeformation.list_resources()["ResourceInfoList"]}
    assert {"arn:aws:s3:::landing-bucket-for-tests/landing", "arn:aws:s3:::lake-bucket-for-tests/lake"} <= registered


def test_a_grant_removed_from_the_file_is_revoked_and_its_filter_deleted(
    tmp_path, lakeformation, database
):
    expected_filter = regional_filter(database)
    full = write_policy(tmp_path, database)

    def narrowed(data):
        data["grants"] = [
            g
            for g in data["grants"]
            if not (g["principal"] == "finance-analyst" and g.get("table") == "quarantined_billing_lines")
            and g["principal"] != "regional-analyst-us"
        ]

    # botocore's Stubber for the data cells filter calls only (moto does not implement them).
    filters_client = boto3.client("lakeformation")
    with Stubber(filters_client) as stub:
        stub.add_response("list_data_cells_filter", {"DataCellsFilters": []}, {})
        stub.add_response("create_data_cells_filter", {}, {"TableData": expected_filter})
        stub.add_response("list_data_cells_filter", {"DataCellsFilters": [expected_filter]}, {})
        stub.add_response(
            "delete_data_cells_filter",
            {},
            {k: expected_filter[k] for k in ("TableCatalogId", "DatabaseName", "TableName", "Name")},
        )
        reconciler(full, DataCellsFilters(filters_client)).apply()
        plan = reconciler(write_policy(tmp_path, database, narrowed), DataCellsFilters(filters_client)).apply()
        stub.assert_no_pending_responses()

    revoked = sorted(c.describe() for c in plan.revokes)
    assert revoked == [
        (
            f"SELECT on data cells filter {expected_filter['Name']} on {database}.gross_profit_report "
            f"for regional-analyst-us ({REGIONAL})"
        ),
        f"SELECT on table {database}.quarantined_billing_lines for finance-analyst ({ANALYST})",
    ]
    assert [f["Name"] for f in plan.delete_filters] == [expected_filter["Name"]]
    assert not plan.grants
    grants = live(lakeformation, database)
    assert not any(principal == REGIONAL for principal, _, _ in grants)
    assert (ANALYST, ("table", database, "quarantined_billing_lines"), ("SELECT",)) not in grants
    assert (ANALYST, ("table", database, "gross_profit_report"), ("SELECT",)) in grants


def test_hand_added_grants_are_drift_and_the_reconcile_takes_them_back(tmp_path, lakeformation, database):
    path = write_policy(tmp_path, database, without_row_filters)
    billing = {"Table": {"CatalogId": ACCOUNT_ID, "DatabaseName": database, "Name": "billing"}}
    report = {"Table": {"CatalogId": ACCOUNT_ID, "DatabaseName": database, "Name": "gross_profit_report"}}
    # From before the pipeline managed this account: the analyst may pass SELECT on the report on.
    lakeformation.grant_permissions(
        Principal={"DataLakePrincipalIdentifier": ANALYST},
        Resource=report,
        Permissions=["SELECT"],
        PermissionsWithGrantOption=["SELECT"],
    )
    adopted = reconciler(path).apply()
    assert adopted.drift == [
        f"revoke grant option on SELECT on table {database}.gross_profit_report for finance-analyst ({ANALYST})"
    ]
    analyst = lakeformation.list_permissions(
        CatalogId=ACCOUNT_ID, Principal={"DataLakePrincipalIdentifier": ANALYST}, Resource=report
    )["PrincipalResourcePermissions"]
    assert [(e["Permissions"], e["PermissionsWithGrantOption"]) for e in analyst] == [(["SELECT"], [])]

    # Added by hand in the console afterwards: the intern reads billing, the analyst reads
    # billing and may pass it on, and the crawler role got ALL on it (as a table's creator does).
    lakeformation.grant_permissions(
        Principal={"DataLakePrincipalIdentifier": INTERN}, Resource=billing, Permissions=["SELECT"]
    )
    lakeformation.grant_permissions(
        Principal={"DataLakePrincipalIdentifier": ANALYST},
        Resource=billing,
        Permissions=["SELECT"],
        PermissionsWithGrantOption=["SELECT"],
    )
    lakeformation.grant_permissions(
        Principal={"DataLakePrincipalIdentifier": CRAWLER}, Resource=billing, Permissions=["ALL"]
    )

    plan = reconciler(path).plan()
    assert sorted(plan.drift) == [
        f"revoke SELECT (with grant option) on table {database}.billing for finance-analyst ({ANALYST})",
        f"revoke SELECT on table {database}.billing for {INTERN}",
    ]
    assert plan.unmanaged == (f"ALL on table {database}.billing for gross-profit-crawler (not managed by the policy)",)

    reconciler(path).apply(plan)
    grants = live(lakeformation, database)
    assert not any(principal == INTERN for principal, _, _ in grants)
    assert (ANALYST, ("table", database, "billing"), ()) not in grants
    assert not any(p == ANALYST and k == ("table", database, "billing") for p, k, _ in grants)
    assert (CRAWLER, ("table", database, "billing"), ("ALL",)) in grants  # not the file's to take
    assert reconciler(path).plan().is_empty


def test_the_drift_check_fails_on_a_hand_added_grant_and_passes_after_the_asset_reconciles(
    tmp_path, lakeformation, database
):
    resource = AwsLakeFormation(
        principal_arn=REPORT_JOB,
        database=database,
        policy_path=str(write_policy(tmp_path, database, without_row_filters)),
        data_locations=list(LOCATIONS),
    )
    resources = {"lake_formation": resource}
    instance = dg.DagsterInstance.ephemeral()
    first = dg.materialize(
        [lake_formation_policy, lake_formation_grants_match_policy], resources=resources, instance=instance
    )
    assert first.success
    (materialization,) = first.asset_materializations_for_node("lake_formation_policy")
    # The file's 14 (principal, resource) entries less the US analyst's filtered one (removed).
    assert materialization.metadata["grants"].value == 13
    (check,) = first.get_asset_check_evaluations()
    assert check.passed and check.check_name == GRANTS_MATCH_POLICY

    lakeformation.grant_permissions(
        Principal={"DataLakePrincipalIdentifier": INTERN},
        Resource={"Table": {"CatalogId": ACCOUNT_ID, "DatabaseName": database, "Name": "billing"}},
        Permissions=["SELECT"],
    )
    only_the_check = dg.materialize(
        [lake_formation_policy, lake_formation_grants_match_policy],
        resources=resources,
        selection=dg.AssetSelection.checks(lake_formation_grants_match_policy),
        instance=instance,
    )
    (drift,) = only_the_check.get_asset_check_evaluations()
    assert not drift.passed
    assert drift.severity == dg.AssetCheckSeverity.ERROR
    assert f"revoke SELECT on table {database}.billing for {INTERN}" in drift.description
    assert drift.metadata["drift"].value == [f"revoke SELECT on table {database}.billing for {INTERN}"]

    again = dg.materialize(
        [lake_formation_policy, lake_formation_grants_match_policy], resources=resources, instance=instance
    )
    (materialization,) = again.asset_materializations_for_node("lake_formation_policy")
    assert materialization.metadata["revokes"].value == 1 and materialization.metadata["grants"].value == 0
    (check,) = again.get_asset_check_evaluations()
    assert check.passed


def test_grants_on_tables_not_created_yet_wait_for_them(tmp_path, glue, database):
    glue.delete_table(DatabaseName=database, Name="gross_profit_report")
    path = write_policy(tmp_path, database, without_row_filters)
    plan = reconciler(path).apply()
    assert sorted(plan.deferred) == [
        f"DESCRIBE/SELECT on {database}.gross_profit_report for gross-profit-report-job (no such Glue table yet)",
        f"SELECT on {database}.gross_profit_report for finance-analyst (no such Glue table yet)",
    ]
    assert reconciler(path).plan().is_empty  # deferred is not a difference to act on yet

    glue.create_table(DatabaseName=database, TableInput={"Name": "gross_profit_report"})
    plan = reconciler(path).plan()
    assert sorted(c.principal for c in plan.grants) == [ANALYST, REPORT_JOB]
    assert not plan.deferred


def test_misconfiguration_is_refused_with_the_reason(tmp_path, moto):
    with pytest.raises(PolicyError, match="does not exist"):
        reconciler(write_policy(tmp_path, "no_such_database")).plan()
    with pytest.raises(PolicyError, match="only \\$\\{AWS_ACCOUNT_ID\\} is filled in"):

        def odd_placeholder(data):
            data["principals"][0]["aws_principal"] = "arn:aws:iam::${ACCOUNT}:role/x"

        reconciler(write_policy(tmp_path, "any", odd_placeholder))
    resource = AwsLakeFormation(
        principal_arn=REPORT_JOB, database="gross_profit_eu", policy_path=packaged_policy_path()
    )
    with pytest.raises(PolicyError, match="GROSS_PROFIT_GLUE_DATABASE"):
        resource.plan_policy()


def test_governed_reads_are_decided_by_the_live_grants(tmp_path, lakeformation, database, caplog):
    reconciler(write_policy(tmp_path, database, without_row_filters)).apply()
    caplog.set_level(logging.INFO, logger="dagster")
    job = AwsLakeFormation(principal_arn=REPORT_JOB, database=database)

    grant = job.authorize("billing", ["id", "bill_amount"], partitions=["2023-07"])
    assert grant.row_filter is None and grant.columns == ("id", "bill_amount")
    assert f"Lake Formation grants of {REPORT_JOB}" in grant.reason

    # The same role without the grant in Lake Formation: refused, even though the file has it.
    lakeformation.revoke_permissions(
        Principal={"DataLakePrincipalIdentifier": REPORT_JOB},
        Resource={"Table": {"CatalogId": ACCOUNT_ID, "DatabaseName": database, "Name": "fx_rates"}},
        Permissions=["SELECT"],
    )
    with pytest.raises(AccessDenied, match=f"has no SELECT on {database}.fx_rates"):
        job.authorize("fx_rates", ["currency"], partitions=["2023-07"])

    audit = [r.getMessage() for r in caplog.records if "Lake Formation governed read" in r.getMessage()]
    assert len(audit) == 2
    assert '"table":"billing"' in audit[0] and '"allowed":true' in audit[0]
    assert '"table":"fx_rates"' in audit[1] and '"allowed":false' in audit[1]
    assert '"partition":"2023-07"' in audit[1]


def test_column_lists_and_data_cells_filters_in_lake_formation_decide_like_the_file():
    """The live-grant reading, on Lake Formation's own response shapes (no server: moto's
    ListPermissions cannot filter by principal and table for column or filter grants)."""
    table_data = regional_filter("gross_profit")
    entries = [
        {
            "Principal": {"DataLakePrincipalIdentifier": REGIONAL},
            "Resource": {"DataCellsFilter": {k: table_data[k] for k in ("TableCatalogId", "DatabaseName", "TableName", "Name")}},
            "Permissions": ["SELECT"],
        },
        {
            "Principal": {"DataLakePrincipalIdentifier": REGIONAL},
            "Resource": {"TableWithColumns": {"DatabaseName": "gross_profit", "Name": "gross_profit_report",
                                              "ColumnNames": ["source_file"]}},
            "Permissions": ["SELECT"],
        },
    ]
    grants = live_grants_for_table(
        entries, "regional-analyst-us", "gross_profit", "gross_profit_report",
        lambda _table, name: table_data if name == table_data["Name"] else None,
    )
    policy = LakeFormationPolicy(
        database="gross_profit",
        principals=LakeFormationPolicy.load(packaged_policy_path()).principals,
        grants=tuple(grants),
    )
    decided = policy.authorize("regional-analyst-us", "gross_profit_report", columns=["company_name", "gross_profit"])
    assert decided.row_filter == "country = 'US'" and not decided.masked_columns
    # source_file comes from an unfiltered column grant: readable on every row, masked nowhere;
    # company_name only where the filter's rows are.
    both = policy.authorize("regional-analyst-us", "gross_profit_report", columns=["company_name", "source_file"])
    assert both.row_filter is None and both.masked_columns == {"company_name": "country = 'US'"}
    # A filter whose definition cannot be read grants nothing.
    unreadable = live_grants_for_table(
        entries[:1], "regional-analyst-us", "gross_profit", "gross_profit_report", lambda *_: None
    )
    assert unreadable == []
    assert filter_name(grants[0]) == table_data["Name"]
