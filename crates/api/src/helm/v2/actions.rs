//! The Helm actions a HelmRelease configures (install, upgrade, test, rollback, uninstall), with
//! their remediation and retry strategies and the defaults Flux applies when fields are unset.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::meta::{InvalidDuration, parse_duration};

/// Retry interval of the `RetryOnFailure` strategy when `retryInterval` is unset.
pub const DEFAULT_STRATEGY_RETRY_INTERVAL: Duration = Duration::from_secs(300);

/// How Helm handles the CRDs in a chart's `crds/` directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CrdsPolicy {
    /// Neither install nor replace CRDs.
    Skip,
    /// Create new CRDs, leave existing ones alone.
    Create,
    /// Create new CRDs and replace existing ones.
    CreateReplace,
}

/// Whether an upgrade or rollback uses server-side apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServerSideApplyMode {
    /// Always server-side apply.
    Enabled,
    /// Always client-side apply.
    Disabled,
    /// Use what the release was last applied with.
    Auto,
}

/// What happens after an action fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ActionStrategyName {
    /// Remediate (uninstall or roll back) the failed release, then retry per `remediation`.
    RemediateOnFailure,
    /// Retry the action without remediation after `retryInterval`.
    RetryOnFailure,
}

/// How a failed upgrade is remediated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RemediationStrategy {
    /// Roll back to the previous successful release.
    #[default]
    Rollback,
    /// Uninstall the release.
    Uninstall,
}

/// What happens when the chart name of an installed release changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ChartNameChangeStrategy {
    /// Upgrade the existing release to the new chart.
    InPlaceUpdate,
    /// Uninstall the release and install the new chart.
    #[default]
    Reinstall,
}

/// Deletion propagation of the objects of an uninstalled release.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeletionPropagation {
    /// Delete the owner at once, dependents in the background.
    #[default]
    Background,
    /// Delete dependents before the owner.
    Foreground,
    /// Leave dependents in place.
    Orphan,
}

/// The strategy of the install action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "message": ".retryInterval cannot be set when .name is 'RemediateOnFailure'",
    "rule": "!has(self.retryInterval) || self.name != 'RemediateOnFailure'"
}]))]
pub struct InstallStrategy {
    /// Name of the strategy.
    pub name: ActionStrategyName,
    /// Wait before retrying with `RetryOnFailure`; 5m when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub retry_interval: Option<String>,
}

/// The strategy of the upgrade action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "message": ".retryInterval can only be set when .name is 'RetryOnFailure'",
    "rule": "!has(self.retryInterval) || self.name == 'RetryOnFailure'"
}]))]
pub struct UpgradeStrategy {
    /// Name of the strategy.
    pub name: ActionStrategyName,
    /// Wait before retrying with `RetryOnFailure`; 5m when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub retry_interval: Option<String>,
}

/// The retry interval of a strategy, if it retries: `RetryOnFailure` retries after
/// `retryInterval` (5m by default); `RemediateOnFailure` does not. Without a strategy, the
/// action retries only when the caller defaults to `RetryOnFailure`.
fn strategy_retry_interval(
    strategy: Option<(ActionStrategyName, Option<&str>)>,
    default_to_retry_on_failure: bool,
) -> Result<Option<Duration>, InvalidDuration> {
    match strategy {
        None if default_to_retry_on_failure => Ok(Some(DEFAULT_STRATEGY_RETRY_INTERVAL)),
        None | Some((ActionStrategyName::RemediateOnFailure, _)) => Ok(None),
        Some((ActionStrategyName::RetryOnFailure, None)) => {
            Ok(Some(DEFAULT_STRATEGY_RETRY_INTERVAL))
        }
        Some((ActionStrategyName::RetryOnFailure, Some(interval))) => {
            parse_duration(interval).map(Some)
        }
    }
}

/// Remediation of a failed install.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstallRemediation {
    /// Retries after a failed install; negative means forever, 0 (default) means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::meta::schema::integer")]
    pub retries: Option<i64>,
    /// Whether a failed Helm test counts as an install failure; `test.ignoreFailures` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_test_failures: Option<bool>,
    /// Whether the last failure is remediated when retries run out; false when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediate_last_failure: Option<bool>,
}

impl InstallRemediation {
    /// Retries, 0 when unset.
    pub fn get_retries(&self) -> i64 {
        self.retries.unwrap_or(0)
    }

    /// Whether test failures are ignored, `default` when unset.
    pub fn must_ignore_test_failures(&self, default: bool) -> bool {
        self.ignore_test_failures.unwrap_or(default)
    }

    /// Whether the last failure is remediated, false when unset.
    pub fn must_remediate_last_failure(&self) -> bool {
        self.remediate_last_failure.unwrap_or(false)
    }

    /// Whether `failures` install failures exhaust the retries (never when retries < 0).
    pub fn retries_exhausted(&self, failures: i64) -> bool {
        let retries = self.get_retries();
        retries >= 0 && failures > retries
    }
}

/// Remediation of a failed upgrade.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeRemediation {
    /// Retries after a failed upgrade; negative means forever, 0 (default) means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::meta::schema::integer")]
    pub retries: Option<i64>,
    /// Whether a failed Helm test counts as an upgrade failure; `test.ignoreFailures` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_test_failures: Option<bool>,
    /// Whether the last failure is remediated when retries run out; true when `retries` > 0
    /// and unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediate_last_failure: Option<bool>,
    /// How the failed upgrade is remediated; `rollback` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<RemediationStrategy>,
}

impl UpgradeRemediation {
    /// Retries, 0 when unset.
    pub fn get_retries(&self) -> i64 {
        self.retries.unwrap_or(0)
    }

    /// Whether test failures are ignored, `default` when unset.
    pub fn must_ignore_test_failures(&self, default: bool) -> bool {
        self.ignore_test_failures.unwrap_or(default)
    }

    /// Whether the last failure is remediated: as set, else whenever retries are configured.
    pub fn must_remediate_last_failure(&self) -> bool {
        self.remediate_last_failure
            .unwrap_or_else(|| self.get_retries() > 0)
    }

    /// The remediation strategy, `rollback` when unset.
    pub fn get_strategy(&self) -> RemediationStrategy {
        self.strategy.unwrap_or_default()
    }

    /// Whether `failures` upgrade failures exhaust the retries (never when retries < 0).
    pub fn retries_exhausted(&self, failures: i64) -> bool {
        let retries = self.get_retries();
        retries >= 0 && failures > retries
    }
}

/// Configuration of the Helm install action.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Install {
    /// Time to wait for each Kubernetes operation of the install; `spec.timeout` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub timeout: Option<String>,
    /// What happens when the install fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<InstallStrategy>,
    /// Remediation of a failed install.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<InstallRemediation>,
    /// Refuses to adopt existing objects not owned by the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_take_ownership: Option<bool>,
    /// Does not wait for the release's objects to become ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_wait: Option<bool>,
    /// Does not wait for the release's Jobs to complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_wait_for_jobs: Option<bool>,
    /// Skips the chart's hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_hooks: Option<bool>,
    /// Skips validating the rendered manifests against the Kubernetes OpenAPI schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "disableOpenAPIValidation")]
    pub disable_open_api_validation: Option<bool>,
    /// Skips validating values against the chart's JSON schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_schema_validation: Option<bool>,
    /// Reuses the name of a deleted release that is still in the history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace: Option<bool>,
    /// Skips installing CRDs (deprecated: use `crds: Skip`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "skipCRDs")]
    pub skip_crds: Option<bool>,
    /// How CRDs in the chart are handled; `Create` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crds: Option<CrdsPolicy>,
    /// Creates the target namespace if missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_namespace: Option<bool>,
    /// Applies the release server-side; the controller's default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_apply: Option<bool>,
}

impl Install {
    /// The install timeout, `default` (the release timeout) when unset.
    pub fn get_timeout(&self, default: Duration) -> Result<Duration, InvalidDuration> {
        self.timeout.as_deref().map_or(Ok(default), parse_duration)
    }

    /// The remediation, all defaults when unset.
    pub fn get_remediation(&self) -> InstallRemediation {
        self.remediation.clone().unwrap_or_default()
    }

    /// How long to wait before retrying a failed install, or `None` when the strategy does
    /// not retry.
    pub fn get_retry_interval(
        &self,
        default_to_retry_on_failure: bool,
    ) -> Result<Option<Duration>, InvalidDuration> {
        strategy_retry_interval(
            self.strategy
                .as_ref()
                .map(|strategy| (strategy.name, strategy.retry_interval.as_deref())),
            default_to_retry_on_failure,
        )
    }
}

/// Configuration of the Helm upgrade action.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Upgrade {
    /// Time to wait for each Kubernetes operation of the upgrade; `spec.timeout` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub timeout: Option<String>,
    /// What happens when the upgrade fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<UpgradeStrategy>,
    /// Remediation of a failed upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<UpgradeRemediation>,
    /// Refuses to adopt existing objects not owned by the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_take_ownership: Option<bool>,
    /// Does not wait for the release's objects to become ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_wait: Option<bool>,
    /// Does not wait for the release's Jobs to complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_wait_for_jobs: Option<bool>,
    /// Skips the chart's hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_hooks: Option<bool>,
    /// Skips validating the rendered manifests against the Kubernetes OpenAPI schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "disableOpenAPIValidation")]
    pub disable_open_api_validation: Option<bool>,
    /// Skips validating values against the chart's JSON schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_schema_validation: Option<bool>,
    /// Replaces objects that cannot be patched (delete and recreate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    /// Reuses the values of the last release, merged with the computed ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve_values: Option<bool>,
    /// Deletes objects created by a failed upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup_on_fail: Option<bool>,
    /// How CRDs in the chart are handled; `Skip` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crds: Option<CrdsPolicy>,
    /// Whether the upgrade applies server-side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_apply: Option<ServerSideApplyMode>,
    /// What happens when the chart name changes; `Reinstall` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_name_change_strategy: Option<ChartNameChangeStrategy>,
}

impl Upgrade {
    /// The upgrade timeout, `default` (the release timeout) when unset.
    pub fn get_timeout(&self, default: Duration) -> Result<Duration, InvalidDuration> {
        self.timeout.as_deref().map_or(Ok(default), parse_duration)
    }

    /// The remediation, all defaults when unset.
    pub fn get_remediation(&self) -> UpgradeRemediation {
        self.remediation.clone().unwrap_or_default()
    }

    /// The chart-name-change strategy, `Reinstall` when unset.
    pub fn get_chart_name_change_strategy(&self) -> ChartNameChangeStrategy {
        self.chart_name_change_strategy.unwrap_or_default()
    }

    /// How long to wait before retrying a failed upgrade, or `None` when the strategy does
    /// not retry.
    pub fn get_retry_interval(
        &self,
        default_to_retry_on_failure: bool,
    ) -> Result<Option<Duration>, InvalidDuration> {
        strategy_retry_interval(
            self.strategy
                .as_ref()
                .map(|strategy| (strategy.name, strategy.retry_interval.as_deref())),
            default_to_retry_on_failure,
        )
    }
}

/// Configuration of the Helm test action.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Test {
    /// Runs the chart's tests after each install and upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable: Option<bool>,
    /// Time to wait for each Kubernetes operation of the tests; `spec.timeout` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub timeout: Option<String>,
    /// Whether test failures are ignored by default in remediation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_failures: Option<bool>,
    /// Which tests run, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<TestFilter>>,
}

impl Test {
    /// The test timeout, `default` (the release timeout) when unset.
    pub fn get_timeout(&self, default: Duration) -> Result<Duration, InvalidDuration> {
        self.timeout.as_deref().map_or(Ok(default), parse_duration)
    }
}

/// Includes or excludes one Helm test by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TestFilter {
    /// Name of the test.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Excludes the test instead of selecting it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<bool>,
}

/// Configuration of the Helm rollback action (used by upgrade remediation).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rollback {
    /// Time to wait for each Kubernetes operation of the rollback; `spec.timeout` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub timeout: Option<String>,
    /// Does not wait for the release's objects to become ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_wait: Option<bool>,
    /// Does not wait for the release's Jobs to complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_wait_for_jobs: Option<bool>,
    /// Skips the chart's hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_hooks: Option<bool>,
    /// Restarts pods of the release's workloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recreate: Option<bool>,
    /// Replaces objects that cannot be patched (delete and recreate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    /// Deletes objects created by a failed rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup_on_fail: Option<bool>,
    /// Whether the rollback applies server-side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_apply: Option<ServerSideApplyMode>,
}

impl Rollback {
    /// The rollback timeout, `default` (the release timeout) when unset.
    pub fn get_timeout(&self, default: Duration) -> Result<Duration, InvalidDuration> {
        self.timeout.as_deref().map_or(Ok(default), parse_duration)
    }
}

/// Configuration of the Helm uninstall action.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Uninstall {
    /// Time to wait for each Kubernetes operation of the uninstall; `spec.timeout` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub timeout: Option<String>,
    /// Skips the chart's hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_hooks: Option<bool>,
    /// Keeps the release history after uninstalling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_history: Option<bool>,
    /// Does not wait for the release's objects to be deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_wait: Option<bool>,
    /// Deletion propagation of the release's objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "background"))]
    pub deletion_propagation: Option<DeletionPropagation>,
}

impl Uninstall {
    /// The uninstall timeout, `default` (the release timeout) when unset.
    pub fn get_timeout(&self, default: Duration) -> Result<Duration, InvalidDuration> {
        self.timeout.as_deref().map_or(Ok(default), parse_duration)
    }

    /// The deletion propagation, `background` when unset.
    pub fn get_deletion_propagation(&self) -> DeletionPropagation {
        self.deletion_propagation.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELEASE_TIMEOUT: Duration = Duration::from_secs(300);

    #[test]
    fn action_timeouts_fall_back_to_the_release_timeout() {
        assert_eq!(
            Install::default().get_timeout(RELEASE_TIMEOUT),
            Ok(RELEASE_TIMEOUT)
        );
        let upgrade = Upgrade {
            timeout: Some("10m".to_string()),
            ..Upgrade::default()
        };
        assert_eq!(
            upgrade.get_timeout(RELEASE_TIMEOUT),
            Ok(Duration::from_secs(600))
        );
        let test = Test {
            timeout: Some("bogus".to_string()),
            ..Test::default()
        };
        assert!(test.get_timeout(RELEASE_TIMEOUT).is_err());
    }

    #[test]
    fn retry_on_failure_waits_five_minutes_unless_told_otherwise() {
        let mut install = Install {
            strategy: Some(InstallStrategy {
                name: ActionStrategyName::RetryOnFailure,
                retry_interval: None,
            }),
            ..Install::default()
        };
        assert_eq!(
            install.get_retry_interval(false),
            Ok(Some(Duration::from_secs(300)))
        );
        if let Some(strategy) = install.strategy.as_mut() {
            strategy.retry_interval = Some("1m".to_string());
        }
        assert_eq!(
            install.get_retry_interval(false),
            Ok(Some(Duration::from_secs(60)))
        );
    }

    #[test]
    fn remediate_on_failure_never_retries_by_interval() {
        let upgrade = Upgrade {
            strategy: Some(UpgradeStrategy {
                name: ActionStrategyName::RemediateOnFailure,
                retry_interval: None,
            }),
            ..Upgrade::default()
        };
        assert_eq!(upgrade.get_retry_interval(true), Ok(None));
    }

    #[test]
    fn without_a_strategy_retrying_is_the_callers_default() {
        assert_eq!(Upgrade::default().get_retry_interval(false), Ok(None));
        assert_eq!(
            Upgrade::default().get_retry_interval(true),
            Ok(Some(DEFAULT_STRATEGY_RETRY_INTERVAL))
        );
    }

    #[test]
    fn upgrade_remediation_defaults_follow_flux() {
        let mut remediation = UpgradeRemediation::default();
        assert_eq!(remediation.get_strategy(), RemediationStrategy::Rollback);
        assert!(!remediation.must_remediate_last_failure());
        remediation.retries = Some(3);
        assert!(remediation.must_remediate_last_failure());
        assert!(!remediation.retries_exhausted(3));
        assert!(remediation.retries_exhausted(4));
        remediation.retries = Some(-1);
        assert!(!remediation.retries_exhausted(1000));
    }

    #[test]
    fn install_remediation_does_not_remediate_last_failure_by_default() {
        let remediation = InstallRemediation {
            retries: Some(3),
            ..InstallRemediation::default()
        };
        assert!(!remediation.must_remediate_last_failure());
        assert!(remediation.must_ignore_test_failures(true));
        assert!(remediation.retries_exhausted(4));
    }

    #[test]
    fn uninstall_propagates_deletion_in_the_background_by_default() {
        assert_eq!(
            Uninstall::default().get_deletion_propagation(),
            DeletionPropagation::Background
        );
    }
}
