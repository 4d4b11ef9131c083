"""Lake Formation policy as code: loading, authorization, enforcement on Spark, audit log."""

from __future__ import annotations

import copy
import json
import multiprocessing
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from gross_profit_assets.contract import GLUE_DATABASE, REPORT_COLUMNS, REPORT_JOB_PRINCIPAL
from gross_profit_assets.governance.policy import (
    DESCRIBE,
    SELECT,
    AccessDenied,
    AuditLog,
    LakeFormationPolicy,
    PolicyError,
    combine_row_filters,
)

INPUT_TABLES = ("billing", "units_sold", "production_costs", "fx_rates")
OUTPUT_TABLES = ("governed_billing_lines", "quarantined_billing_lines", "gross_profit_report")
REPORT = "gross_profit_report"


# --- fixtures and helpers -----------------------------------------------------------------


@pytest.fixture(scope="module")
def packaged_policy() -> LakeFormationPolicy:
    from gross_profit_assets.resources.lake_formation import packaged_policy_path

    return LakeFormationPolicy.load(packaged_policy_path())


def policy_dict(*grants: dict[str, Any], principals: tuple[str, ...] = ("analyst",)) -> dict:
    """A minimal valid policy with the given grants."""
    return {
        "policy_version": 1,
        "database": GLUE_DATABASE,
        "principals": [{"name": p, "description": f"{p} for tests"} for p in principals],
        "grants": list(grants),
    }


def write_policy(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "lake_formation_policy.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def report_rows_frame(spark):
    return spark.createDataFrame(
        [
            (1, "Acme", "US", "2023-07", "billing/a.csv"),
            (2, "Bolt", "DE", "2023-07", "billing/a.csv"),
            (3, "Core", "US", "2023-07", "billing/b.csv"),
            (4, "Dyna", None, "2023-07", "billing/b.csv"),
        ],
        "id long, company_name string, country string, billing_month string, source_file string",
    )


# --- the packaged policy ------------------------------------------------------------------


def test_packaged_policy_loads_with_the_expected_principals(packaged_policy):
    assert packaged_policy.database == GLUE_DATABASE
    assert set(packaged_policy.principals) == {
        REPORT_JOB_PRINCIPAL,
        "gross-profit-crawler",
        "finance-analyst",
        "regional-analyst-us",
    }
    for principal in packaged_policy.principals.values():
        assert principal.description
        assert principal.aws_principal == (
            f"arn:aws:iam::${{AWS_ACCOUNT_ID}}:role/{principal.name}"
        )


def test_packaged_policy_holds_no_real_account_id():
    from gross_profit_assets.resources.lake_formation import packaged_policy_path

    assert not re.search(r"\b\d{12}\b", Path(packaged_policy_path()).read_text())


@pytest.mark.parametrize("table", INPUT_TABLES + OUTPUT_TABLES)
def test_report_job_reads_every_column_of_inputs_and_outputs(packaged_policy, table):
    grant = packaged_policy.authorize(REPORT_JOB_PRINCIPAL, table, SELECT, ["id", "anything"])
    assert grant.columns == ("id", "anything")
    assert grant.row_filter is None
    assert grant.masked_columns == {}
    assert f"SELECT on gross_profit.{table}" in grant.reason


@pytest.mark.parametrize("table", OUTPUT_TABLES)
def test_report_job_describes_its_outputs(packaged_policy, table):
    assert packaged_policy.authorize(REPORT_JOB_PRINCIPAL, table, DESCRIBE).permission == DESCRIBE


def test_crawler_describes_every_table_but_reads_none(packaged_policy):
    assert packaged_policy.authorize("gross-profit-crawler", "billing", DESCRIBE)
    assert packaged_policy.authorize("gross-profit-crawler", "a_table_added_later", DESCRIBE)
    with pytest.raises(AccessDenied, match="no SELECT on gross_profit.billing"):
        packaged_policy.authorize("gross-profit-crawler", "billing", SELECT, ["id"])


def test_finance_analyst_reads_report_and_quarantine_only(packaged_policy):
    for table in ("gross_profit_report", "quarantined_billing_lines"):
        assert packaged_policy.authorize("finance-analyst", table, SELECT, ["id"])
    with pytest.raises(AccessDenied):
        packaged_policy.authorize("finance-analyst", "governed_billing_lines", SELECT, ["id"])


def test_regional_analyst_column_list_is_the_report_without_load_lineage(packaged_policy):
    (grant,) = packaged_policy.grants_for("regional-analyst-us")
    assert grant.columns == tuple(c for c in REPORT_COLUMNS if c not in ("source_file", "line_number"))
    assert grant.row_filter == "country = 'US'"


# --- authorization ------------------------------------------------------------------------


def test_denial_names_principal_table_permission_and_policy(packaged_policy):
    with pytest.raises(AccessDenied) as denied:
        packaged_policy.authorize("finance-analyst", "billing", SELECT, ["id"])
    message = str(denied.value)
    assert message.startswith("principal 'finance-analyst' has no SELECT on gross_profit.billing")
    assert "lake_formation_policy.yaml" in message
    assert isinstance(denied.value, PermissionError)
    assert (denied.value.principal, denied.value.table, denied.value.permission) == (
        "finance-analyst",
        "billing",
        SELECT,
    )


def test_unknown_principal_is_denied(packaged_policy):
    with pytest.raises(AccessDenied, match=r"principal 'intruder' is not declared.*SELECT on "
                       r"gross_profit\.gross_profit_report"):
        packaged_policy.authorize("intruder", REPORT, SELECT, ["id"])


def test_column_list_allows_a_subset(packaged_policy):
    grant = packaged_policy.authorize(
        "regional-analyst-us", REPORT, SELECT, ["company_name", "gross_profit"]
    )
    assert grant.columns == ("company_name", "gross_profit")
    assert grant.row_filter == "country = 'US'"


@pytest.mark.parametrize("column", ["source_file", "SOURCE_FILE", "not_a_column"])
def test_column_outside_the_column_list_fails_the_request(packaged_policy, column):
    with pytest.raises(AccessDenied) as denied:
        packaged_policy.authorize("regional-analyst-us", REPORT, SELECT, ["id", column])
    assert f"no SELECT on column(s) {column} of gross_profit.gross_profit_report" in str(
        denied.value
    )
    assert denied.value.denied_columns == (column,)


def test_excluded_columns_hide_only_those_columns():
    policy = LakeFormationPolicy.from_dict(
        policy_dict(
            {"principal": "analyst", "permissions": [SELECT], "table": REPORT,
             "excluded_columns": ["source_file"]}
        )
    )
    assert policy.authorize("analyst", REPORT, SELECT, ["id", "country"]).columns == (
        "id",
        "country",
    )
    for column in ("source_file", "Source_File"):
        with pytest.raises(AccessDenied, match="source_file|Source_File"):
            policy.authorize("analyst", REPORT, SELECT, [column])


def test_several_grants_union_columns_and_or_row_filters():
    policy = LakeFormationPolicy.from_dict(
        policy_dict(
            {"principal": "analyst", "permissions": [SELECT], "table": REPORT,
             "columns": ["id", "country"], "row_filter": "country = 'US'"},
            {"principal": "analyst", "permissions": [SELECT], "table": REPORT,
             "columns": ["id", "country"], "row_filter": "country = 'DE'"},
        )
    )
    grant = policy.authorize("analyst", REPORT, SELECT, ["id", "country"])
    assert grant.row_filter == "(country = 'US') OR (country = 'DE')"
    assert grant.masked_columns == {}
    assert len(grant.grants) == 2


def test_a_grant_without_row_filter_means_all_rows():
    policy = LakeFormationPolicy.from_dict(
        policy_dict(
            {"principal": "analyst", "permissions": [SELECT], "table": REPORT,
             "row_filter": "country = 'US'"},
            {"principal": "analyst", "permissions": [SELECT], "table": REPORT},
        )
    )
    assert policy.authorize("analyst", REPORT, SELECT, ["id"]).row_filter is None


def test_grants_that_differ_in_rows_and_columns_mask_cells():
    """US analysts may see `source_file` only on US rows, `id` on every row."""
    policy = LakeFormationPolicy.from_dict(
        policy_dict(
            {"principal": "analyst", "permissions": [SELECT], "table": REPORT, "columns": ["id"]},
            {"principal": "analyst", "permissions": [SELECT], "table": REPORT,
             "columns": ["id", "source_file"], "row_filter": "country = 'US'"},
        )
    )
    both = policy.authorize("analyst", REPORT, SELECT, ["id", "source_file"])
    assert both.row_filter is None
    assert both.masked_columns == {"source_file": "country = 'US'"}
    only_restricted = policy.authorize("analyst", REPORT, SELECT, ["source_file"])
    assert only_restricted.row_filter == "country = 'US'"
    assert only_restricted.masked_columns == {}


def test_combine_row_filters():
    assert combine_row_filters([]) is None
    assert combine_row_filters(["a = 1", "a = 1"]) == "a = 1"
    assert combine_row_filters(["a = 1", None]) is None
    assert combine_row_filters(["a = 1", "b = 2 OR c = 3"]) == "(a = 1) OR (b = 2 OR c = 3)"


def test_unknown_permission_in_a_request_is_a_programming_error(packaged_policy):
    with pytest.raises(ValueError, match="unknown permission 'INSERT'"):
        packaged_policy.authorize(REPORT_JOB_PRINCIPAL, "billing", "INSERT", ["id"])


# --- enforcement on Spark -----------------------------------------------------------------


def test_row_filter_returns_only_us_rows_even_when_country_is_not_selected(
    spark, packaged_policy
):
    from gross_profit_assets.governance.enforcement import apply_read_grant

    columns = ["id", "company_name"]
    grant = packaged_policy.authorize("regional-analyst-us", REPORT, SELECT, columns)
    out = apply_read_grant(report_rows_frame(spark), grant, columns)
    assert out.columns == columns
    assert sorted(tuple(r) for r in out.collect()) == [(1, "Acme"), (3, "Core")]


def test_masked_cells_read_as_null(spark):
    from gross_profit_assets.governance.enforcement import apply_read_grant

    policy = LakeFormationPolicy.from_dict(
        policy_dict(
            {"principal": "analyst", "permissions": [SELECT], "table": REPORT, "columns": ["id"]},
            {"principal": "analyst", "permissions": [SELECT], "table": REPORT,
             "columns": ["id", "source_file"], "row_filter": "country = 'US'"},
        )
    )
    columns = ["id", "source_file"]
    grant = policy.authorize("analyst", REPORT, SELECT, columns)
    out = apply_read_grant(report_rows_frame(spark), grant, columns)
    assert sorted(tuple(r) for r in out.collect()) == [
        (1, "billing/a.csv"),
        (2, None),
        (3, "billing/b.csv"),
        (4, None),
    ]


def test_apply_read_grant_refuses_columns_that_were_not_authorized(spark, packaged_policy):
    from gross_profit_assets.governance.enforcement import apply_read_grant

    grant = packaged_policy.authorize("regional-analyst-us", REPORT, SELECT, ["id"])
    with pytest.raises(AccessDenied, match="source_file"):
        apply_read_grant(report_rows_frame(spark), grant, ["id", "source_file"])


def test_governed_read_filters_and_audits_an_allowed_read(spark, tmp_path):
    from gross_profit_assets.resources.lake_formation import LocalLakeFormation

    audit_path = tmp_path / "audit" / "lake_formation_audit.jsonl"
    lake_formation = LocalLakeFormation(
        principal="regional-analyst-us", audit_log_path=str(audit_path)
    )
    out = lake_formation.governed_read(
        REPORT, report_rows_frame(spark), ["id"], partitions=["2023-07"]
    )
    assert sorted(r.id for r in out.collect()) == [1, 3]
    (entry,) = AuditLog(audit_path).read()
    assert entry["principal"] == "regional-analyst-us"
    assert entry["action"] == SELECT
    assert (entry["database"], entry["table"]) == (GLUE_DATABASE, REPORT)
    assert entry["columns"] == ["id"]
    assert entry["partition"] == "2023-07"
    assert entry["allowed"] is True
    assert "country = 'US'" in entry["reason"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])


def test_governed_read_audits_and_raises_a_denied_read(spark, tmp_path):
    from gross_profit_assets.resources.lake_formation import LocalLakeFormation

    audit_path = tmp_path / "audit.jsonl"
    lake_formation = LocalLakeFormation(
        principal="finance-analyst", audit_log_path=str(audit_path)
    )
    frame = spark.createDataFrame([(1,)], "id long")
    denial = "'finance-analyst' has no SELECT on gross_profit.billing"
    with pytest.raises(AccessDenied, match=denial):
        lake_formation.governed_read("billing", frame, ["id"])
    (entry,) = AuditLog(audit_path).read()
    assert entry["allowed"] is False
    assert entry["action"] == SELECT
    assert entry["table"] == "billing"
    assert entry["partition"] is None
    assert "has no SELECT on gross_profit.billing" in entry["reason"]


def test_governed_read_fails_closed_on_an_invalid_policy(spark, tmp_path):
    from gross_profit_assets.resources.lake_formation import LocalLakeFormation

    broken = tmp_path / "broken.yaml"
    broken.write_text("policy_version: 1\ndatabase: gross_profit\nprincipals: [\n")
    audit_path = tmp_path / "audit.jsonl"
    lake_formation = LocalLakeFormation(policy_path=str(broken), audit_log_path=str(audit_path))
    with pytest.raises(PolicyError, match="broken.yaml: not valid YAML"):
        lake_formation.governed_read("billing", spark.createDataFrame([(1,)], "id long"), ["id"])
    (entry,) = AuditLog(audit_path).read()
    assert entry["allowed"] is False
    assert entry["principal"] == REPORT_JOB_PRINCIPAL


def test_policy_path_env_var_overrides_the_packaged_policy(monkeypatch, tmp_path):
    from gross_profit_assets.resources.lake_formation import (
        LocalLakeFormation,
        default_policy_path,
        packaged_policy_path,
    )

    monkeypatch.delenv("GROSS_PROFIT_POLICY", raising=False)
    assert default_policy_path() == packaged_policy_path()
    assert Path(packaged_policy_path()).is_file()
    monkeypatch.setenv("GROSS_PROFIT_POLICY", str(tmp_path / "p.yaml"))
    assert default_policy_path() == str(tmp_path / "p.yaml")
    assert LocalLakeFormation(audit_log_path="a.jsonl").policy_path == str(tmp_path / "p.yaml")


# --- audit log ----------------------------------------------------------------------------


def test_audit_log_of_nothing_is_empty(tmp_path):
    assert AuditLog(tmp_path / "never_written.jsonl").read() == []


def test_audit_record_has_every_field(tmp_path):
    log = AuditLog(tmp_path / "nested" / "dir" / "audit.jsonl")
    log.record("p", GLUE_DATABASE, "billing", SELECT, ["id"], False, "no grant")
    (entry,) = log.read()
    assert set(entry) == {
        "time", "principal", "action", "database", "table", "columns", "partition",
        "allowed", "reason",
    }


def _append_audit_lines(path: str, worker: int, lines: int) -> None:
    """Run in a separate process: append ``lines`` long entries."""
    log = AuditLog(path)
    for n in range(lines):
        # Entries longer than PIPE_BUF (4 KiB), so a torn write would show.
        log.record(f"worker-{worker}", GLUE_DATABASE, "billing", SELECT, ["id"], True,
                   f"{worker}:{n}:" + "x" * 5000)


def test_concurrent_appends_from_several_processes_never_interleave(tmp_path):
    path = tmp_path / "audit.jsonl"
    workers, lines = 4, 50
    context = multiprocessing.get_context("spawn")  # no fork of a process that holds a JVM link
    processes = [
        context.Process(target=_append_audit_lines, args=(str(path), w, lines))
        for w in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    raw_lines = path.read_text().splitlines()
    assert len(raw_lines) == workers * lines
    entries = [json.loads(line) for line in raw_lines]
    seen = {tuple(e["reason"].split(":")[:2]) for e in entries}
    assert seen == {(str(w), str(n)) for w in range(workers) for n in range(lines)}


# --- invalid policies ---------------------------------------------------------------------

VALID_GRANT = {"principal": "analyst", "permissions": [SELECT], "table": REPORT}


def _with(change) -> dict:
    data = policy_dict(copy.deepcopy(VALID_GRANT))
    change(data)
    return data


INVALID_POLICIES = {
    "unknown permission": (
        _with(lambda d: d["grants"][0].update(permissions=["SELECT", "INSERT"])),
        r"grants\[0\] \(principal 'analyst', table 'gross_profit_report'\)\.permissions: "
        r"unknown permission\(s\) 'INSERT'",
    ),
    "undeclared principal": (
        _with(lambda d: d["grants"][0].update(principal="stranger")),
        r"grants\[0\] \(principal 'stranger'.*is not declared under principals",
    ),
    "columns and excluded_columns": (
        _with(lambda d: d["grants"][0].update(columns=["id"], excluded_columns=["source_file"])),
        r"grants\[0\].*has both columns and excluded_columns",
    ),
    "unknown top-level key": (
        _with(lambda d: d.update(grantz=[])),
        r"the policy: unknown key\(s\) grantz",
    ),
    "unknown grant key": (
        _with(lambda d: d["grants"][0].update(rowfilter="country = 'US'")),
        r"grants\[0\] \(principal 'analyst'.*unknown key\(s\) rowfilter",
    ),
    "unknown principal key": (
        _with(lambda d: d["principals"][0].update(role="x")),
        r"principals\[0\]: unknown key\(s\) role",
    ),
    "principal declared twice": (
        _with(lambda d: d["principals"].append({"name": "analyst", "description": "again"})),
        r"principals\[1\] \('analyst'\): declared twice",
    ),
    "principal without description": (
        _with(lambda d: d["principals"][0].pop("description")),
        r"principals\[0\] \('analyst'\)\.description: expected a non-empty string",
    ),
    "aws principal not an arn": (
        _with(lambda d: d["principals"][0].update(aws_principal="role/analyst")),
        r"aws_principal: expected an IAM ARN",
    ),
    "row filter on every table": (
        _with(lambda d: d["grants"][0].update(table="*", row_filter="country = 'US'")),
        r"need one named table, not '\*'",
    ),
    "column list with describe": (
        _with(lambda d: d["grants"][0].update(permissions=[SELECT, DESCRIBE], columns=["id"])),
        r"restrict SELECT only",
    ),
    "select on the database": (
        _with(lambda d: d["grants"][0].pop("table")),
        r"grants\[0\] \(principal 'analyst', the database\): SELECT needs a table",
    ),
    "empty column list": (
        _with(lambda d: d["grants"][0].update(columns=[])),
        r"\.columns: is empty",
    ),
    "another database": (
        _with(lambda d: d["grants"][0].update(database="sales")),
        r"governs database 'gross_profit' only, got 'sales'",
    ),
    "missing policy version": (
        _with(lambda d: d.pop("policy_version")),
        r"policy_version: expected one of 1, got None",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID_POLICIES))
def test_invalid_policy_gives_a_clear_error_naming_file_and_entry(tmp_path, case):
    data, expected = INVALID_POLICIES[case]
    path = write_policy(tmp_path, data)
    with pytest.raises(PolicyError) as error:
        LakeFormationPolicy.load(path)
    assert str(error.value).startswith(f"{path}: ")
    assert re.search(expected, str(error.value)), str(error.value)


def test_unreadable_or_non_mapping_policy_files(tmp_path):
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        LakeFormationPolicy.load(tmp_path / "missing.yaml")
    path = tmp_path / "list.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(PolicyError, match=r"list.yaml: the policy: expected a mapping"):
        LakeFormationPolicy.load(path)


def test_valid_minimal_policy_round_trips_through_yaml(tmp_path):
    path = write_policy(tmp_path, policy_dict(copy.deepcopy(VALID_GRANT)))
    policy = LakeFormationPolicy.load(path)
    assert policy.source == str(path)
    assert policy.authorize("analyst", REPORT, SELECT, ["id"]).columns == ("id",)
