"""Hands-free: how the platform keeps every month's report up to date by itself.

Who does what:

- **landing** assets are requested by the landing sensor (``sensors.py``) when files land, are
  replaced or deleted; they carry no automation condition, because only the sensor knows which
  month a file belongs to and which files it has already handled.
- **catalog -> governed -> report** follow by declarative automation: a month's partition is
  requested as soon as the same month upstream was updated, and only while every blocking check
  upstream has passed. In one tick the automation sensor requests the whole chain of a month
  (catalog, governed, report) as one run; a blocking check failing inside that run stops the
  steps after it, and a failed check recorded earlier keeps the next stage from being requested.
- **the summary** (all months) follows the per-month report, never the quarantine alone: the
  quarantine of a month changes together with its governed lines, and when their blocking check
  fails the month's report does not follow, so a summary built then would mix a new quarantine
  with an old report. It also waits while any month is missing or in progress.
- **freshness**: the report carries Dagster's time-window freshness policy (see
  ``freshness_window``), evaluated by the freshness daemon and shown in the UI.

Everything here is switched on by default in the local deployment, so ``dagster dev`` alone is
the whole platform. The knobs are environment variables, read when the definitions load (the
quiet period on every tick of the landing sensor):

``GROSS_PROFIT_HANDS_FREE``              ``on`` (default) or ``off``: the default status of both
                                         sensors (the UI toggle, once used, wins over it)
``GROSS_PROFIT_LANDING_SENSOR_SECONDS``  how often the landing zone is listed (default 10)
``GROSS_PROFIT_LANDING_QUIET_SECONDS``   how long a month's files must be unchanged before they
                                         are requested, so files landing together make one run
                                         (default 5)
``GROSS_PROFIT_AUTOMATION_SECONDS``      how often automation conditions are evaluated
                                         (default 15)
``GROSS_PROFIT_FRESHNESS_MINUTES``       the report's freshness window (default 50400 = 35 days)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import timedelta

import dagster as dg

from gross_profit_assets.assets.keys import (
    GROSS_PROFIT_REPORT,
    GROSS_PROFIT_SUMMARY,
    LANDED_KEYS,
)
from gross_profit_assets.settings import SettingError, env_int

HANDS_FREE_ENV_VAR = "GROSS_PROFIT_HANDS_FREE"
LANDING_SENSOR_SECONDS_ENV_VAR = "GROSS_PROFIT_LANDING_SENSOR_SECONDS"
LANDING_QUIET_SECONDS_ENV_VAR = "GROSS_PROFIT_LANDING_QUIET_SECONDS"
AUTOMATION_SECONDS_ENV_VAR = "GROSS_PROFIT_AUTOMATION_SECONDS"
FRESHNESS_MINUTES_ENV_VAR = "GROSS_PROFIT_FRESHNESS_MINUTES"

DEFAULT_LANDING_SENSOR_SECONDS = 10
DEFAULT_LANDING_QUIET_SECONDS = 5
DEFAULT_AUTOMATION_SECONDS = 15
# Billing exports arrive once a month. The time-window policy measures the time since the
# report's latest materialization (of any month), so a window shorter than the billing cycle
# would flag the report stale every month while nothing was waiting to be reported. 35 days is
# one cycle plus a few days' grace for a late export: FAIL means a month's exports never made
# it into a report.
DEFAULT_FRESHNESS_MINUTES = 35 * 24 * 60
# Dagster refuses freshness windows under a minute.
MINIMUM_FRESHNESS_MINUTES = 1

AUTOMATION_SENSOR = "gross_profit_automation"


# The hands-free settings fail like every other setting (settings.env_int).
HandsFreeSettingError = SettingError


def hands_free_enabled() -> bool:
    raw = os.environ.get(HANDS_FREE_ENV_VAR, "on").strip().lower()
    if raw in ("on", "true", "1", "yes", ""):
        return True
    if raw in ("off", "false", "0", "no"):
        return False
    raise HandsFreeSettingError(f"{HANDS_FREE_ENV_VAR}={raw!r}: use on or off")


def default_sensor_status() -> dg.DefaultSensorStatus:
    """RUNNING unless switched off; Dagster applies it only until someone toggles the sensor in
    the UI or with ``dagster sensor start|stop``, after which the instance's stored state wins."""
    return dg.DefaultSensorStatus.RUNNING if hands_free_enabled() else dg.DefaultSensorStatus.STOPPED


def landing_sensor_interval_seconds() -> int:
    return env_int(LANDING_SENSOR_SECONDS_ENV_VAR, DEFAULT_LANDING_SENSOR_SECONDS, minimum=1)


def landing_quiet_seconds() -> int:
    return env_int(LANDING_QUIET_SECONDS_ENV_VAR, DEFAULT_LANDING_QUIET_SECONDS, minimum=0)


def automation_interval_seconds() -> int:
    return env_int(AUTOMATION_SECONDS_ENV_VAR, DEFAULT_AUTOMATION_SECONDS, minimum=1)


def freshness_window() -> timedelta:
    minutes = env_int(FRESHNESS_MINUTES_ENV_VAR, DEFAULT_FRESHNESS_MINUTES, minimum=MINIMUM_FRESHNESS_MINUTES)
    return timedelta(minutes=minutes)


def report_freshness_policy() -> dg.FreshnessPolicy:
    """The report should have been refreshed within the window; the UI shows PASS or FAIL."""
    return dg.FreshnessPolicy.time_window(fail_window=freshness_window())


def no_blocking_check_failed_upstream() -> dg.AutomationCondition:
    """No partition of any dependency has a failed blocking check.

    ``all_deps_blocking_checks_passed`` maps the summary's single partition onto every month and
    is satisfied when *one* month passed; the summary needs *no* month to have failed.
    """
    return (
        ~dg.AutomationCondition.any_deps_match(
            dg.AutomationCondition.any_checks_match(dg.AutomationCondition.check_failed(), blocking_only=True)
        )
    ).with_label("no_blocking_check_failed_upstream")


def blocking_checks_passed_upstream() -> dg.AutomationCondition:
    """Every dependency's blocking checks passed on its latest materialization, or the
    dependency itself is requested in this tick.

    Dagster's ``all_deps_blocking_checks_passed`` lets a check requested in the same tick count,
    but checks that ride along with their asset are not requests of their own, so a month seen
    for the first time would take one run per stage. Counting the parent's own request keeps a
    month's catalog -> governed -> report in one run, and stays safe: a blocking check that
    fails inside that run stops the steps downstream of it.
    """
    return dg.AutomationCondition.all_deps_match(
        dg.AutomationCondition.all_checks_match(dg.AutomationCondition.check_passed(), blocking_only=True)
        | dg.AutomationCondition.will_be_requested()
    ).with_label("blocking_checks_passed_upstream")


def follows_its_month() -> dg.AutomationCondition:
    """catalog, governed and report: the month's partition follows the same month upstream,
    once its dependencies exist, are not in progress and passed their blocking checks."""
    return (dg.AutomationCondition.eager() & blocking_checks_passed_upstream()).with_label(
        "follows_its_month_when_blocking_checks_pass"
    )


def follows_the_reports() -> dg.AutomationCondition:
    """The summary: rebuilt when a month's report is updated (not on a quarantine update alone),
    when every month's report exists and none of them failed a blocking check."""
    report_updated = dg.AutomationCondition.any_deps_updated().allow(
        dg.AssetSelection.assets(GROSS_PROFIT_REPORT)
    )
    return (
        dg.AutomationCondition.eager().replace("any_deps_updated", report_updated)
        & no_blocking_check_failed_upstream()
    ).with_label("follows_the_reports_when_blocking_checks_pass")


def automation_condition_for(key: dg.AssetKey) -> dg.AutomationCondition | None:
    """Which condition an asset follows; landing assets have none (the sensor requests them)."""
    if key in LANDED_KEYS:
        return None
    if key == GROSS_PROFIT_SUMMARY:
        return follows_the_reports()
    return follows_its_month()


def _automate(spec: dg.AssetSpec) -> dg.AssetSpec:
    spec = spec.replace_attributes(automation_condition=automation_condition_for(spec.key))
    if spec.key == GROSS_PROFIT_REPORT:
        spec = spec.replace_attributes(freshness_policy=report_freshness_policy())
    return spec


def with_automation(assets: Sequence[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """The assets with their automation conditions and the report's freshness policy, applied
    here so that the asset modules say only what each asset produces and from what."""
    return list(dg.map_asset_specs(_automate, assets))


def automation_sensor() -> dg.AutomationConditionSensorDefinition:
    """Evaluates every asset's condition; on by default so ``dagster dev`` alone is hands-free."""
    return dg.AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR,
        target=dg.AssetSelection.all(),
        default_status=default_sensor_status(),
        minimum_interval_seconds=automation_interval_seconds(),
        description="Requests catalog -> governed -> report of a month after its files landed, "
        "then the all-months summary; nothing downstream of a failed blocking check.",
    )
