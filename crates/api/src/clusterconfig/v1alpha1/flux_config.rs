//! The `FluxConfig` resource and its kustomization definitions.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    AzureBlobDefinition, BucketDefinition, FluxConfigStatus, GitRepositoryDefinition,
    OCIRepositoryDefinition,
};
use crate::meta::{LocalObjectReference, Reconciled};

/// Desired state of a [`FluxConfig`]: ARM's `fluxConfigurations` `properties` without the
/// read-only fields, and with protected settings moved to a Secret (see the module docs).
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "clusterconfig.azure.com",
    version = "v1alpha1",
    kind = "FluxConfig",
    plural = "fluxconfigs",
    namespaced,
    status = "FluxConfigStatus",
    shortname = "fc",
    printcolumn = r#"{"name":"Scope","type":"string","jsonPath":".spec.scope"}"#,
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".spec.gitRepository.url"}"#,
    printcolumn = r#"{"name":"Provision","type":"string","jsonPath":".status.provisioningState"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct FluxConfigSpec {
    /// Whether the configuration may change objects cluster-wide or only in its namespace;
    /// fixed at creation, as in ARM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend(
        "default" = "cluster",
        "x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "scope is immutable"}]
    ))]
    pub scope: Option<ScopeType>,
    /// Namespace of the configuration and of the objects it generates; the FluxConfig's own
    /// namespace when unset. Fixed at creation, as in ARM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"),
        extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "namespace is immutable"}])
    )]
    pub namespace: Option<String>,
    /// Which source block is used; it must be the one that is filled in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "GitRepository"))]
    pub source_kind: Option<SourceKind>,
    /// Suspends the source and every kustomization of this configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub suspend: Option<bool>,
    /// The Git repository source (`sourceKind: GitRepository`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_repository: Option<GitRepositoryDefinition>,
    /// The S3-compatible bucket source (`sourceKind: Bucket`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<BucketDefinition>,
    /// The Azure Blob container source (`sourceKind: AzureBlob`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_blob: Option<AzureBlobDefinition>,
    /// The OCI artifact source (`sourceKind: OCIRepository`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci_repository: Option<OCIRepositoryDefinition>,
    /// Kustomizations to create, by name; each becomes `<config>-<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomizations: Option<BTreeMap<String, KustomizationDefinition>>,
    /// The Secret holding ARM's write-only `configurationProtectedSettings` (SSH key, HTTPS
    /// password, bucket secret key, …), by convention `<config>-protected-parameters`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected_parameters_secret_ref: Option<LocalObjectReference>,
    /// Whether provisioning waits until the kustomizations are reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_for_reconciliation: Option<bool>,
    /// Longest time to wait for reconciliation, as an ISO-8601 duration (`PT5M`, `PT1H`,
    /// `P1D`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(
        pattern = r"^P([0-9]+Y)?([0-9]+M)?([0-9]+W)?([0-9]+D)?(T([0-9]+H)?([0-9]+M)?([0-9]+(\.[0-9]+)?S)?)?$"
    ))]
    pub reconciliation_wait_duration: Option<String>,
}

/// How far a configuration's permissions reach.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScopeType {
    /// Objects in any namespace.
    #[default]
    Cluster,
    /// Objects in the configuration's namespace only.
    Namespace,
}

/// Kind of source a configuration pulls from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SourceKind {
    /// A Git repository; generates a Flux GitRepository.
    #[default]
    GitRepository,
    /// An S3-compatible bucket; generates a Flux Bucket.
    Bucket,
    /// An Azure Blob container; generates a Flux Bucket with the `azure` provider.
    AzureBlob,
    /// An OCI artifact; generates a Flux OCIRepository.
    #[serde(rename = "OCIRepository")]
    OciRepository,
}

impl SourceKind {
    /// The Flux kind generated for this source.
    pub fn flux_kind(self) -> &'static str {
        match self {
            SourceKind::GitRepository => "GitRepository",
            SourceKind::Bucket | SourceKind::AzureBlob => "Bucket",
            SourceKind::OciRepository => "OCIRepository",
        }
    }
}

/// One Kustomization of a configuration (ARM `KustomizationDefinition`; the read-only `name`
/// echo is left out, the map key is the name).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KustomizationDefinition {
    /// Directory in the source artifact; no `kustomization.yaml` is needed there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = ""))]
    pub path: Option<String>,
    /// Names (map keys) of kustomizations of the same configuration that must be ready first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<String>>,
    /// Timeout of apply and health checks, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 600))]
    pub timeout_in_seconds: Option<i64>,
    /// Interval between reconciliations, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 600))]
    pub sync_interval_in_seconds: Option<i64>,
    /// Interval between retries after a failure, in seconds; the sync interval when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_interval_in_seconds: Option<i64>,
    /// Garbage-collect objects removed from the source (and everything on deletion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub prune: Option<bool>,
    /// Recreate objects whose immutable fields changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub force: Option<bool>,
    /// Health-check every applied object before reporting ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub wait: Option<bool>,
    /// Variable substitution after the kustomize build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_build: Option<PostBuildDefinition>,
}

/// Default of every `timeoutInSeconds` and `syncIntervalInSeconds`.
pub const DEFAULT_INTERVAL_SECONDS: i64 = 600;

impl KustomizationDefinition {
    /// Directory in the artifact (`""`, the root, when unset).
    pub fn path(&self) -> &str {
        self.path.as_deref().unwrap_or_default()
    }

    /// Timeout in seconds, 600 when unset.
    pub fn timeout_in_seconds(&self) -> i64 {
        self.timeout_in_seconds.unwrap_or(DEFAULT_INTERVAL_SECONDS)
    }

    /// Sync interval in seconds, 600 when unset.
    pub fn sync_interval_in_seconds(&self) -> i64 {
        self.sync_interval_in_seconds
            .unwrap_or(DEFAULT_INTERVAL_SECONDS)
    }

    /// Retry interval in seconds; the sync interval when unset, as Azure's CLI does.
    pub fn retry_interval_in_seconds(&self) -> i64 {
        self.retry_interval_in_seconds
            .unwrap_or_else(|| self.sync_interval_in_seconds())
    }

    /// Whether pruning is on (default off).
    pub fn prune(&self) -> bool {
        self.prune.unwrap_or(false)
    }

    /// Whether force-recreation is on (default off).
    pub fn force(&self) -> bool {
        self.force.unwrap_or(false)
    }

    /// Whether health checks are on (default on).
    pub fn wait(&self) -> bool {
        self.wait.unwrap_or(true)
    }
}

/// Post-build variable substitution of a kustomization.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostBuildDefinition {
    /// Variables and their values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substitute: Option<BTreeMap<String, String>>,
    /// ConfigMaps and Secrets whose data supplies variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substitute_from: Option<Vec<SubstituteReferenceDefinition>>,
}

/// Kind of object variables are read from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SubstituteFromKind {
    /// A ConfigMap.
    #[default]
    ConfigMap,
    /// A Secret.
    Secret,
}

/// A ConfigMap or Secret in the configuration's namespace supplying variables.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubstituteReferenceDefinition {
    /// Kind of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SubstituteFromKind>,
    /// Name of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tolerate a missing object instead of failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub optional: Option<bool>,
}

/// How often the agent re-reads the objects of a configuration to refresh its status.
///
/// FluxConfig has no interval of its own: its status mirrors the generated Flux objects, which
/// the agent also watches; this is the safety-net resync.
pub const STATUS_RESYNC_INTERVAL: &str = "1m";

impl FluxConfig {
    /// The scope in effect (`cluster` when unset).
    pub fn scope(&self) -> ScopeType {
        self.spec.scope.unwrap_or_default()
    }

    /// `spec.suspend` (false when unset): whether the source and Kustomizations are suspended.
    pub fn suspend(&self) -> bool {
        self.spec.suspend.unwrap_or(false)
    }

    /// The source kind in effect (`GitRepository` when unset).
    pub fn source_kind(&self) -> SourceKind {
        self.spec.source_kind.unwrap_or_default()
    }

    /// The namespace of the configuration: `spec.namespace`, else the object's namespace.
    pub fn configuration_namespace(&self) -> Option<&str> {
        self.spec
            .namespace
            .as_deref()
            .filter(|namespace| !namespace.is_empty())
            .or(self.metadata.namespace.as_deref())
    }

    /// The URL of the source block selected by `sourceKind`, if that block is present.
    pub fn source_url(&self) -> Option<&str> {
        match self.source_kind() {
            SourceKind::GitRepository => self
                .spec
                .git_repository
                .as_ref()
                .map(|git| git.url.as_str()),
            SourceKind::Bucket => self.spec.bucket.as_ref().map(|bucket| bucket.url.as_str()),
            SourceKind::AzureBlob => self.spec.azure_blob.as_ref().map(|blob| blob.url.as_str()),
            SourceKind::OciRepository => self
                .spec
                .oci_repository
                .as_ref()
                .map(|oci| oci.url.as_str()),
        }
    }
}

impl Reconciled for FluxConfig {
    type Status = FluxConfigStatus;

    /// Always false: `spec.suspend` of a FluxConfig is not a pause of the agent but a setting
    /// it propagates to the source and Kustomizations (and reports as `Suspended`), so the
    /// harness must keep reconciling it. [`FluxConfig::suspend`] reads the field.
    fn suspended(&self) -> bool {
        false
    }

    /// [`STATUS_RESYNC_INTERVAL`]; the generated objects carry the configured intervals.
    fn interval(&self) -> &str {
        STATUS_RESYNC_INTERVAL
    }

    fn status(&self) -> Option<&FluxConfigStatus> {
        self.status.as_ref()
    }
}
