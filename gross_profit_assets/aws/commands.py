"""``gross-profit aws ...``: the few steps of an AWS deployment that are the project's to do.

    gross-profit aws bootstrap-script [--out deploy/emr/bootstrap.sh]
    gross-profit aws create-cluster --wheel dist/gross_profit-<v>-py3-none-any.whl \\
        --release-label emr-<x> --service-role <ServiceRole> --instance-profile <InstanceProfile> \\
        [--subnet-id subnet-...] [--log-uri s3://.../emr-logs/]

``create-cluster`` stages the wheel and the bootstrap script under the staging prefix and
starts a long-running EMR cluster that installs the project on every node; it prints the
cluster id to export as ``GROSS_PROFIT_EMR_CLUSTER_ID``. Settings come from the environment
(``gross_profit_assets/aws/settings.py``), credentials from the standard AWS chain.
"""

import argparse
import json
import os

# Kept light: the CLI parses its arguments before any command imports Dagster or boto3.
DEFAULT_BOOTSTRAP_SCRIPT = "deploy/emr/bootstrap.sh"
CLUSTER_ID_ENV = "GROSS_PROFIT_EMR_CLUSTER_ID"
# The cluster does not exist yet when it is created; nothing below reads this placeholder.
_NOT_CREATED = "not-created-yet"


def cmd_bootstrap_script(args: argparse.Namespace) -> int:
    from gross_profit_assets.aws.emr import write_bootstrap_script

    print(write_bootstrap_script(args.out))
    return 0


def cmd_create_cluster(args: argparse.Namespace) -> int:
    import boto3

    from gross_profit_assets.aws.emr import cluster_spec, stage_bootstrap
    from gross_profit_assets.aws.settings import AwsSettings

    settings = AwsSettings.from_env({CLUSTER_ID_ENV: _NOT_CREATED} | dict(os.environ))
    action = stage_bootstrap(settings, args.wheel)
    overrides = {}
    if args.log_uri:
        overrides["LogUri"] = args.log_uri
    spec = cluster_spec(
        action,
        release_label=args.release_label,
        service_role=args.service_role,
        instance_profile=args.instance_profile,
        **overrides,
    )
    if args.subnet_id:
        spec["Instances"]["Ec2SubnetId"] = args.subnet_id
    if args.dry_run:
        print(json.dumps(spec, indent=2))
        return 0
    cluster_id = boto3.client("emr", region_name=settings.region).run_job_flow(**spec)["JobFlowId"]
    print(f"export {CLUSTER_ID_ENV}={cluster_id}")
    return 0


def add_aws_commands(commands) -> None:
    """Register ``aws`` and its subcommands on the CLI's subparsers."""
    aws = commands.add_parser("aws", help="deploy to AWS: bootstrap script, EMR cluster (see docs/aws.md)")
    sub = aws.add_subparsers(dest="aws_command", required=True)

    script = sub.add_parser("bootstrap-script", help="write the EMR bootstrap action that installs the project")
    script.add_argument("--out", default=DEFAULT_BOOTSTRAP_SCRIPT)
    script.set_defaults(func=cmd_bootstrap_script)

    cluster = sub.add_parser("create-cluster", help="stage the wheel and start the EMR cluster the Spark steps run on")
    cluster.add_argument("--wheel", required=True, help="the project wheel (python -m build --wheel)")
    cluster.add_argument("--release-label", required=True, help="an EMR release whose Spark is 4.x")
    cluster.add_argument("--service-role", required=True, help="EmrServiceRoleName output of deploy/aws/iam.yaml")
    cluster.add_argument("--instance-profile", required=True, help="EmrInstanceProfileName output of deploy/aws/iam.yaml")
    cluster.add_argument("--subnet-id", help="private subnet of the cluster (with a route to S3 and Glue)")
    cluster.add_argument("--log-uri", help="s3:// prefix for the cluster's logs")
    cluster.add_argument("--dry-run", action="store_true", help="stage, then print the RunJobFlow request instead")
    cluster.set_defaults(func=cmd_create_cluster)
