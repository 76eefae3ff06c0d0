//! Condition reasons specific to HelmRelease (helm-controller `api/v2/condition_types.go`);
//! the generic ones (`Succeeded`, `Progressing`, …) are in [`crate::meta::reasons`].

/// The Helm install succeeded.
pub const INSTALL_SUCCEEDED: &str = "InstallSucceeded";
/// The Helm install failed.
pub const INSTALL_FAILED: &str = "InstallFailed";
/// The Helm upgrade succeeded.
pub const UPGRADE_SUCCEEDED: &str = "UpgradeSucceeded";
/// The Helm upgrade failed.
pub const UPGRADE_FAILED: &str = "UpgradeFailed";
/// The Helm tests succeeded.
pub const TEST_SUCCEEDED: &str = "TestSucceeded";
/// The Helm tests failed.
pub const TEST_FAILED: &str = "TestFailed";
/// The Helm rollback succeeded.
pub const ROLLBACK_SUCCEEDED: &str = "RollbackSucceeded";
/// The Helm rollback failed.
pub const ROLLBACK_FAILED: &str = "RollbackFailed";
/// The Helm uninstall succeeded.
pub const UNINSTALL_SUCCEEDED: &str = "UninstallSucceeded";
/// The Helm uninstall failed.
pub const UNINSTALL_FAILED: &str = "UninstallFailed";
/// The chart artifact could not be obtained.
pub const ARTIFACT_FAILED: &str = "ArtifactFailed";
/// A `dependsOn` entry is not Ready.
pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
/// The cluster state drifted from the release.
pub const DRIFT_DETECTED: &str = "DriftDetected";
/// The cluster state matches the release.
pub const NO_DRIFT_DETECTED: &str = "NoDriftDetected";
/// Building `status.inventory` from the release failed.
pub const INVENTORY_BUILD_FAILED: &str = "InventoryBuildFailed";
/// The namespace-scope check of the inventory was skipped (REST mapping failed).
pub const NAMESPACE_CHECK_SKIPPED: &str = "NamespaceCheckSkipped";
