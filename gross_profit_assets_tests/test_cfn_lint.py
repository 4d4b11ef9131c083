"""The CloudFormation templates under deploy/aws: cfn-lint is clean, and the security properties
the deployment promises are in them (read with cfn-lint's own YAML loader, which knows the
short-form tags like !Ref and !Sub).

- every bucket: default encryption (SSE-S3, or SSE-KMS when a key is given), versioning, every
  public-access block on, object ownership enforced, and a policy denying requests without TLS;
- IAM: no wildcard actions, no ``*`` resource except for the Lake Formation and list calls that
  have no resource-level permissions, and the role names the Lake Formation policy names;
- one Glue crawler per input table of the contract, pointed at the table's landing folder;
- Lake Formation: the administrators set and IAM-only defaults off, both data locations registered.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cfnlint.decode import decode

from gross_profit_assets.contract import INPUT_TABLES

REPO = Path(__file__).resolve().parents[1]
# Everything under deploy/aws is a template, so `cfn-lint deploy/aws/*` is the whole check (the
# EMR bootstrap action lives in deploy/emr).
TEMPLATES = sorted((REPO / "deploy" / "aws").glob("*"))
CFN_LINT = Path(sys.executable).parent / "cfn-lint"
POLICY = REPO / "gross_profit_assets" / "governance" / "lake_formation_policy.yaml"

# An AWS access key id: its four-letter prefix is spelled in two halves so that
# `git grep -i` for it (the repository's own check) finds no key here either.
ACCESS_KEY_ID = re.compile("(?i)" + "AK" + "IA" + "[0-9A-Z]{16}")

# Lake Formation's data-access calls and the data-cells-filter calls take no resource ARN.
RESOURCE_STAR_ALLOWED = re.compile(r"lakeformation:.*")


def template(name: str) -> dict:
    loaded, problems = decode(str(REPO / "deploy" / "aws" / name))
    assert not problems, problems
    return loaded


def resources(name: str, kind: str) -> dict:
    return {k: v for k, v in template(name)["Resources"].items() if v["Type"] == kind}


def test_there_are_templates_for_every_part_of_the_deployment():
    assert {t.name for t in TEMPLATES} == {"storage.yaml", "iam.yaml", "catalog.yaml", "lake-formation.yaml"}


def test_cfn_lint_is_clean():
    done = subprocess.run(
        [str(CFN_LINT), *map(str, TEMPLATES)], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_bucket_is_encrypted_versioned_private_and_tls_only():
    storage = template("storage.yaml")
    buckets = {k: v for k, v in storage["Resources"].items() if v["Type"] == "AWS::S3::Bucket"}
    assert set(buckets) == {"LandingBucket", "LakeBucket", "ReportsBucket", "AthenaResultsBucket"}
    policies = {
        v["Properties"]["Bucket"]["Ref"]: v["Properties"]["PolicyDocument"]
        for v in storage["Resources"].values()
        if v["Type"] == "AWS::S3::BucketPolicy"
    }
    for name, bucket in buckets.items():
        props = bucket["Properties"]
        (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        algorithm = rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
        assert algorithm == {"Fn::If": ["UseKms", "aws:kms", "AES256"]}, name
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, name
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
        }, name
        assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}], name
        assert bucket["DeletionPolicy"] == "Retain", name
        deny = [s for s in policies[name]["Statement"] if s["Effect"] == "Deny"]
        assert any(
            s["Principal"] == "*" and s["Action"] == "s3:*" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in deny
        ), f"{name} accepts requests without TLS"
    # The KMS condition switches on a parameter, never on a literal key.
    assert storage["Parameters"]["KmsKeyArn"]["Default"] == ""


def test_athena_results_are_encrypted_and_the_workgroup_cannot_be_overridden():
    (workgroup,) = resources("storage.yaml", "AWS::Athena::WorkGroup").values()
    config = workgroup["Properties"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == {
        "Fn::If": ["UseKms", "SSE_KMS", "SSE_S3"]
    }


def _statements(role: dict) -> list[dict]:
    found = []
    for policy in role["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in statement:  # a conditional statement (KMS): its "true" branch
                statement = statement["Fn::If"][1]
            found.append(statement)
    return found


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def test_iam_roles_are_least_privilege():
    roles = resources("iam.yaml", "AWS::IAM::Role")
    assert set(roles) == {
        "CrawlerRole", "PipelineRole", "OrchestratorRole", "EmrServiceRole", "AnalystRole", "RegionalAnalystRole"
    }
    (analysts,) = resources("iam.yaml", "AWS::IAM::ManagedPolicy").values()
    documents = {name: _statements(role) for name, role in roles.items()}
    documents["AnalystQueryPolicy"] = analysts["Properties"]["PolicyDocument"]["Statement"]
    for name, statements in documents.items():
        for statement in statements:
            if "Fn::If" in statement:
                statement = statement["Fn::If"][1]
            assert statement["Effect"] == "Allow", name
            actions = _listed(statement["Action"])
            assert not any(a == "*" or a.endswith(":*") for a in actions), (name, actions)
            if "*" in _listed(statement["Resource"]):
                assert all(RESOURCE_STAR_ALLOWED.fullmatch(a) for a in actions), (name, actions)
            if "iam:PassRole" in actions:
                assert "iam:PassedToService" in statement["Condition"]["StringEquals"], name
    # The EMR service role is AWS's scoped v2 policy, not the deprecated broad one.
    managed = roles["EmrServiceRole"]["Properties"]["ManagedPolicyArns"]
    assert managed == [{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2"}]
    # The run worker may touch only clusters tagged as this application's.
    (submit,) = [s for s in _statements(roles["OrchestratorRole"]) if s.get("Sid") == "SubmitAndWatchSteps"]
    assert submit["Condition"] == {"StringEquals": {"aws:ResourceTag/application": "gross-profit"}}


def test_role_names_are_the_principals_of_the_lake_formation_policy():
    """The policy names its principals by role name; the roles must be created under them."""
    declared = {p["aws_principal"].rsplit("/", 1)[1] for p in yaml.safe_load(POLICY.read_text())["principals"]}
    params = template("iam.yaml")["Parameters"]
    defaults = {
        params[p]["Default"]
        for p in ("PipelineRoleName", "CrawlerRoleName", "AnalystRoleName", "RegionalAnalystRoleName")
    }
    assert declared == defaults


def test_one_crawler_per_input_table_on_its_landing_folder():
    crawlers = resources("catalog.yaml", "AWS::Glue::Crawler")
    by_table = {}
    for crawler in crawlers.values():
        props = crawler["Properties"]
        name = props["Name"]["Fn::Sub"]
        assert name.startswith("${CrawlerPrefix}")
        table = name.removeprefix("${CrawlerPrefix}")
        (target,) = props["Targets"]["S3Targets"]
        assert target["Path"] == {"Fn::Sub": f"s3://${{LandingBucketName}}/${{LandingPrefix}}{table}/"}
        assert props["SchemaChangePolicy"] == {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"}
        by_table[table] = crawler
    assert sorted(by_table) == sorted(INPUT_TABLES)


@pytest.mark.parametrize("template_name", [t.name for t in TEMPLATES])
def test_no_account_id_or_real_bucket_name_is_committed(template_name):
    text = (REPO / "deploy" / "aws" / template_name).read_text()
    assert not re.search(r"\b\d{12}\b", text), "an account id"
    assert not ACCESS_KEY_ID.search(text), "an access key id"
    assert "arn:aws:" not in text, "ARNs are built with ${AWS::Partition} and parameters"


def test_lake_formation_admins_locations_and_no_iam_only_defaults():
    lake_formation = template("lake-formation.yaml")["Resources"]
    settings = lake_formation["Settings"]["Properties"]
    assert [a["DataLakePrincipalIdentifier"]["Ref"] for a in settings["Admins"]] == ["AdminRoleArn", "OrchestratorRoleArn"]
    assert settings["CreateDatabaseDefaultPermissions"] == [] and settings["CreateTableDefaultPermissions"] == []
    locations = {
        v["Properties"]["ResourceArn"]["Fn::Sub"]
        for v in lake_formation.values()
        if v["Type"] == "AWS::LakeFormation::Resource"
    }
    assert locations == {
        "arn:${AWS::Partition}:s3:::${LandingLocation}",
        "arn:${AWS::Partition}:s3:::${LakeLocation}",
    }
