//! Observed state of a FluxConfig: ARM's read-only properties plus the Kubernetes-side fields
//! the shared harness needs.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Observed state of a [`FluxConfig`](super::FluxConfig).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FluxConfigStatus {
    /// Roll-up of the compliance of every object of the configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Unknown"))]
    pub compliance_state: Option<ComplianceState>,
    /// Status of each object the configuration created or that its kustomizations applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statuses: Option<Vec<ObjectStatusDefinition>>,
    /// Revision the source last synced, e.g. `main/<sha>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_synced_commit_id: Option<String>,
    /// When the source last synced on the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_updated_at: Option<Time>,
    /// When this status was last reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_updated_at: Option<Time>,
    /// Whether the configuration reached the cluster (not whether it is reconciled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<ProvisioningState>,
    /// Why provisioning failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Public half of the SSH key generated for the repository, to register as a deploy key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_public_key: Option<String>,
    /// When the agent first saw the current generation of the spec (as on Azure's own
    /// FluxConfig; not an ARM property): `waitForReconciliation` counts from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_config_update_time: Option<Time>,
    /// Eddy addition (not in ARM): generation of the spec last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Eddy addition (not in ARM): Kubernetes conditions (`Ready`, `Reconciling`, `Stalled`)
    /// for `kubectl wait` and tooling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// Eddy addition (not in ARM): the `reconcile.fluxcd.io/requestedAt` value last handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

crate::impl_status_fields!(FluxConfigStatus);

/// Compliance of a configuration or of one of its objects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ComplianceState {
    /// The cluster matches the desired state.
    Compliant,
    /// Reconciliation failed or the cluster does not match.
    #[serde(rename = "Non-Compliant")]
    NonCompliant,
    /// A new desired state is being reconciled.
    Pending,
    /// Reconciliation is suspended.
    Suspended,
    /// Not known yet.
    #[default]
    Unknown,
}

/// ARM provisioning state of a configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ProvisioningState {
    /// The configuration reached the cluster.
    Succeeded,
    /// Provisioning failed; see `errorMessage`.
    Failed,
    /// Provisioning was cancelled.
    Canceled,
    /// Being created.
    Creating,
    /// Being updated.
    Updating,
    /// Being deleted.
    Deleting,
    /// Accepted, not yet started.
    Accepted,
}

/// Status of one object of a configuration (ARM `ObjectStatusDefinition`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectStatusDefinition {
    /// Name of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Kind of the object (GitRepository, Kustomization, HelmRelease, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Compliance of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Unknown"))]
    pub compliance_state: Option<ComplianceState>,
    /// The Kustomization that applied the object; unset for the configuration's own objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_by: Option<ObjectReferenceDefinition>,
    /// The object's conditions, copied from its status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_conditions: Option<Vec<ObjectStatusConditionDefinition>>,
    /// Release details, for HelmReleases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm_release_properties: Option<HelmReleasePropertiesDefinition>,
}

/// Name and namespace of an object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ObjectReferenceDefinition {
    /// Name of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A condition of an object, in ARM's shape (every field optional).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectStatusConditionDefinition {
    /// When the condition last changed status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// Human-readable detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Machine-readable reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `True`, `False` or `Unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Condition type, e.g. `Ready`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub condition_type: Option<String>,
}

impl From<&Condition> for ObjectStatusConditionDefinition {
    fn from(condition: &Condition) -> Self {
        ObjectStatusConditionDefinition {
            last_transition_time: Some(condition.last_transition_time.clone()),
            message: Some(condition.message.clone()),
            reason: Some(condition.reason.clone()),
            status: Some(condition.status.clone()),
            condition_type: Some(condition.type_.clone()),
        }
    }
}

/// Release details of a HelmRelease object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmReleasePropertiesDefinition {
    /// The Helm release revision last applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_revision_applied: Option<i64>,
    /// The HelmChart the release was installed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm_chart_ref: Option<ObjectReferenceDefinition>,
    /// Failures since the last success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_count: Option<i64>,
    /// Install failures since the last success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_failure_count: Option<i64>,
    /// Upgrade failures since the last success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_failure_count: Option<i64>,
}
