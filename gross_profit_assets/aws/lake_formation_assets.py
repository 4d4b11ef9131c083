"""The Lake Formation policy as an asset of the AWS deployment, and its drift check.

Materializing ``lake_formation_policy`` reconciles the policy YAML into Lake Formation (register
locations, data cells filters, grants, revokes) and records what it changed. The asset exists
only on AWS: locally the file itself is what every governed read is decided by, so there is
nothing to reconcile.

**Who runs it.** Materializing needs Lake Formation data lake administrator rights (grant,
revoke, register locations, manage data cells filters); the pipeline's own role should not have
them. Run this asset from a code location or run launcher whose role is a data lake admin (for
example the deploy pipeline's), or from the console user after each policy change; it is in no
job and has no automation condition, so it never runs as part of a month. The check only
reads (``ListPermissions``, ``ListDataCellsFilter``, ``ListResources``, ``glue:GetTable``).

The check ``lake_formation_grants_match_policy`` reads Lake Formation and the file and fails
when they differ, naming every grant present in Lake Formation but not in the file (drift: added
by hand, or removed from the file and not yet reconciled) and every grant of the file not yet
applied. Run with the asset, it proves the reconcile converged; run on its own (the UI's
"Execute" on the check, or a schedule), it catches drift between reconciles.

It is **not blocking**, on purpose. Nothing downstream builds on this asset, and a hand-added
grant is a security finding about who *else* can read, not a defect in the pipeline's numbers:
stopping the finance report would not take the extra grant away, the next reconcile does. The
failure is severity ERROR (visible, and red in the UI) when Lake Formation holds something the
file does not; WARN when it only lacks something the file grants.
"""

import dagster as dg

from gross_profit_assets.assets.keys import OWNERS, stage_tags
from gross_profit_assets.aws.lake_formation import AwsLakeFormation, ReconcilePlan
from gross_profit_assets.governance.policy import PolicyError

LAKE_FORMATION_POLICY = dg.AssetKey("lake_formation_policy")
GRANTS_MATCH_POLICY = "lake_formation_grants_match_policy"


@dg.asset(
    key=LAKE_FORMATION_POLICY,
    description="Lake Formation grants and data cells filters of the Glue database, reconciled "
    "from the policy file (governance/lake_formation_policy.yaml): what is missing is granted, "
    "what the file does not hold is revoked.",
    group_name="governance",
    kinds={"lakeformation"},
    owners=OWNERS,
    tags=stage_tags("governance"),  # keeps it out of the month job (jobs.py)
)
def lake_formation_policy(lake_formation: AwsLakeFormation) -> dg.MaterializeResult:
    """Reconciles the policy file into Lake Formation; a second run changes nothing."""
    plan = lake_formation.apply_policy()
    return dg.MaterializeResult(metadata=plan.metadata())


@dg.asset_check(
    asset=LAKE_FORMATION_POLICY,
    name=GRANTS_MATCH_POLICY,
    blocking=False,
    description="Lake Formation holds exactly the policy file's grants: fails (ERROR) on grants "
    "present in Lake Formation but not in the file, or on filters edited by hand; warns on "
    "grants of the file not applied yet.",
)
def lake_formation_grants_match_policy(lake_formation: AwsLakeFormation) -> dg.AssetCheckResult:
    try:
        plan = lake_formation.plan_policy()
    except PolicyError as exc:
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.ERROR, description=str(exc)
        )
    return drift_result(plan)


def drift_result(plan: ReconcilePlan) -> dg.AssetCheckResult:
    """The check's verdict on a plan: what Lake Formation holds beyond the file comes first."""
    drift, missing = plan.drift, plan.missing
    if drift:
        description = f"{len(drift)} grant(s) or filter(s) in Lake Formation are not in the policy: " + "; ".join(drift)
    elif missing:
        description = f"{len(missing)} change(s) of the policy not applied yet: " + "; ".join(missing)
    else:
        description = "Lake Formation holds exactly the policy's grants"
    if plan.deferred:
        description += f" ({len(plan.deferred)} grant(s) wait for their table to exist)"
    return dg.AssetCheckResult(
        passed=not drift and not missing,
        severity=dg.AssetCheckSeverity.ERROR if drift else dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "drift": dg.MetadataValue.json(drift),
            "not_applied": dg.MetadataValue.json(missing),
            "deferred": dg.MetadataValue.json(list(plan.deferred)),
            "unmanaged_read_grants": dg.MetadataValue.json(list(plan.unmanaged)),
        },
    )
