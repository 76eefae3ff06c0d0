//! Types and contract strings shared by every Flux kind (fluxcd/pkg `apis/meta`).
//!
//! Every string a Flux user, dashboard or tool may match on lives here, with Flux's exact spelling:
//! changing one is a breaking change.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The finalizer every reconciled Flux kind carries.
pub const FINALIZER: &str = "finalizers.fluxcd.io";

/// Condition types (fluxcd/pkg `apis/meta/conditions.go` and the per-group `condition_types.go`).
pub mod conditions {
    /// The object is fully reconciled.
    pub const READY: &str = "Ready";
    /// The controller is working on the object (abnormal-true: present only while True).
    pub const RECONCILING: &str = "Reconciling";
    /// The object cannot make progress without a change by a person (abnormal-true).
    pub const STALLED: &str = "Stalled";
    /// The applied workloads passed their health checks.
    pub const HEALTHY: &str = "Healthy";
    /// Source: the artifact of the current revision is in storage.
    pub const ARTIFACT_IN_STORAGE: &str = "ArtifactInStorage";
    /// Source: the stored artifact is older than what the spec asks for.
    pub const ARTIFACT_OUTDATED: &str = "ArtifactOutdated";
    /// Source: the signature of the source was verified.
    pub const SOURCE_VERIFIED: &str = "SourceVerified";
    /// Source: fetching from upstream failed.
    pub const FETCH_FAILED: &str = "FetchFailed";
    /// Source: building the artifact failed.
    pub const BUILD_FAILED: &str = "BuildFailed";
    /// Source: an operation on artifact storage failed.
    pub const STORAGE_OPERATION_FAILED: &str = "StorageOperationFailed";
    /// GitRepository: an included repository has no artifact.
    pub const INCLUDE_UNAVAILABLE: &str = "IncludeUnavailable";
    /// HelmRelease: the release action outcome.
    pub const RELEASED: &str = "Released";
    /// HelmRelease: the Helm test outcome.
    pub const TEST_SUCCESS: &str = "TestSuccess";
    /// HelmRelease: a remediation was performed.
    pub const REMEDIATED: &str = "Remediated";
    /// HelmRelease: the cluster state drifted from the release.
    pub const DRIFTED: &str = "Drifted";
}

/// Condition and event reasons (exact Flux spellings).
pub mod reasons {
    /// Generic success.
    pub const SUCCEEDED: &str = "Succeeded";
    /// Generic failure.
    pub const FAILED: &str = "Failed";
    /// Reconciliation in progress.
    pub const PROGRESSING: &str = "Progressing";
    /// Reconciliation in progress after a failed attempt.
    pub const PROGRESSING_WITH_RETRY: &str = "ProgressingWithRetry";
    /// `spec.suspend` is true.
    pub const SUSPENDED: &str = "Suspended";
    /// A `dependsOn` entry is not Ready.
    pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
    /// A path in the spec is invalid.
    pub const INVALID_PATH: &str = "InvalidPath";
    /// A URL in the spec is invalid.
    pub const INVALID_URL: &str = "InvalidURL";
    /// Plain HTTP was refused.
    pub const INSECURE_CONNECTIONS_DISALLOWED: &str = "InsecureConnectionsDisallowed";
    /// The connection type is not supported.
    pub const UNSUPPORTED_CONNECTION_TYPE: &str = "UnsupportedConnectionType";
    /// Garbage collection failed.
    pub const PRUNE_FAILED: &str = "PruneFailed";
    /// The source artifact could not be obtained.
    pub const ARTIFACT_FAILED: &str = "ArtifactFailed";
    /// Building manifests failed.
    pub const BUILD_FAILED: &str = "BuildFailed";
    /// Health checks failed.
    pub const HEALTH_CHECK_FAILED: &str = "HealthCheckFailed";
    /// Health checks were cancelled by a new revision.
    pub const HEALTH_CHECK_CANCELED: &str = "HealthCheckCanceled";
    /// Kustomization applied successfully.
    pub const RECONCILIATION_SUCCEEDED: &str = "ReconciliationSucceeded";
    /// Kustomization failed to apply.
    pub const RECONCILIATION_FAILED: &str = "ReconciliationFailed";
    /// A CEL expression did not compile.
    pub const INVALID_CEL_EXPRESSION: &str = "InvalidCELExpression";
    /// The feature needs a feature gate that is off.
    pub const FEATURE_GATE_DISABLED: &str = "FeatureGateDisabled";
    /// A cross-namespace reference was refused (`--no-cross-namespace-refs`).
    pub const ACCESS_DENIED: &str = "AccessDenied";
    /// Source: the URL could not be parsed.
    pub const URL_INVALID: &str = "URLInvalid";
    /// Source: credentials could not be read or were refused.
    pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
    /// Source: signature verification failed.
    pub const VERIFICATION_ERROR: &str = "VerificationError";
    /// Source: a storage directory could not be created.
    pub const DIRECTORY_CREATION_FAILED: &str = "DirectoryCreationFailed";
    /// Source: a stat on storage failed.
    pub const STAT_OPERATION_FAILED: &str = "StatOperationFailed";
    /// Source: a read from storage failed.
    pub const READ_OPERATION_FAILED: &str = "ReadOperationFailed";
    /// Source: the artifact lock could not be taken.
    pub const ACQUIRE_LOCK_FAILED: &str = "AcquireLockFailed";
    /// Source: writing the archive failed.
    pub const ARCHIVE_OPERATION_FAILED: &str = "ArchiveOperationFailed";
    /// Source: updating the `latest` symlink failed.
    pub const SYMLINK_UPDATE_FAILED: &str = "SymlinkUpdateFailed";
    /// Source: the stored artifact is current.
    pub const ARTIFACT_UP_TO_DATE: &str = "ArtifactUpToDate";
    /// Source: a cache operation failed.
    pub const CACHE_OPERATION_FAILED: &str = "CacheOperationFailed";
    /// Source: patching the object failed.
    pub const PATCH_OPERATION_FAILED: &str = "PatchOperationFailed";
    /// Bucket: the STS configuration is invalid.
    pub const INVALID_STS_CONFIGURATION: &str = "InvalidSTSConfiguration";
    /// The provider configuration is invalid.
    pub const INVALID_PROVIDER_CONFIGURATION: &str = "InvalidProviderConfiguration";
    /// A Git operation failed.
    pub const GIT_OPERATION_FAILED: &str = "GitOperationFailed";
    /// A Git operation succeeded.
    pub const GIT_OPERATION_SUCCEEDED: &str = "GitOperationSucceeded";
    /// Pulling an OCI artifact failed.
    pub const OCI_ARTIFACT_PULL_FAILED: &str = "OCIArtifactPullFailed";
    /// Processing an OCI layer failed.
    pub const OCI_ARTIFACT_LAYER_OPERATION_FAILED: &str = "OCIArtifactLayerOperationFailed";
    /// Indexing a Helm repository failed.
    pub const INDEXATION_FAILED: &str = "IndexationFailed";
    /// Pulling a chart succeeded.
    pub const CHART_PULL_SUCCEEDED: &str = "ChartPullSucceeded";
    /// Packaging a chart succeeded.
    pub const CHART_PACKAGE_SUCCEEDED: &str = "ChartPackageSucceeded";
    /// A bucket operation failed.
    pub const BUCKET_OPERATION_FAILED: &str = "BucketOperationFailed";
    /// A bucket operation succeeded.
    pub const BUCKET_OPERATION_SUCCEEDED: &str = "BucketOperationSucceeded";
    /// Source event: a new artifact was stored.
    pub const NEW_ARTIFACT: &str = "NewArtifact";
    /// Source: a new upstream revision was detected.
    pub const NEW_REVISION: &str = "NewRevision";
    /// GitRepository: an include changed.
    pub const INCLUDE_CHANGE: &str = "IncludeChange";
}

/// Annotations with meaning to Flux controllers.
pub mod annotations {
    /// Any new value asks for an immediate reconcile; the handled value is copied into
    /// `.status.lastHandledReconcileAt`.
    pub const RECONCILE_REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";
    /// One-off forced action, honoured only when equal to `requestedAt`.
    pub const FORCE_REQUESTED_AT: &str = "reconcile.fluxcd.io/forceAt";
    /// HelmRelease: reset failure counters, honoured only when equal to `requestedAt`.
    pub const RESET_REQUESTED_AT: &str = "reconcile.fluxcd.io/resetAt";
    /// Prefix of object annotations copied into event metadata.
    pub const EVENT_METADATA_PREFIX: &str = "event.toolkit.fluxcd.io/";
    /// Kustomization apply policy (`Override`, `Merge`, `IfNotPresent`, `Ignore`).
    pub const KUSTOMIZE_SSA: &str = "kustomize.toolkit.fluxcd.io/ssa";
    /// `disabled` excludes an object from apply and prune.
    pub const KUSTOMIZE_RECONCILE: &str = "kustomize.toolkit.fluxcd.io/reconcile";
    /// `disabled` excludes an object from prune.
    pub const KUSTOMIZE_PRUNE: &str = "kustomize.toolkit.fluxcd.io/prune";
    /// `Enabled` allows delete-and-recreate on immutable field changes.
    pub const KUSTOMIZE_FORCE: &str = "kustomize.toolkit.fluxcd.io/force";
    /// `disabled` skips postBuild substitution for an object.
    pub const KUSTOMIZE_SUBSTITUTE: &str = "kustomize.toolkit.fluxcd.io/substitute";
    /// `Disabled` skips SOPS decryption for an object.
    pub const KUSTOMIZE_DECRYPT: &str = "kustomize.toolkit.fluxcd.io/decrypt";
    /// `disabled` excludes an object from HelmRelease drift detection.
    pub const HELM_DRIFT_DETECTION: &str = "helm.toolkit.fluxcd.io/driftDetection";
    /// kubectl's client-side apply record.
    pub const KUBECTL_LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
}

/// Labels with meaning to Flux controllers.
pub mod labels {
    /// ConfigMaps and Secrets with this label set to [`WATCH_ENABLED`] trigger reconciles of
    /// the objects that reference them.
    pub const WATCH: &str = "reconcile.fluxcd.io/watch";
    /// Value of [`WATCH`] that enables watching.
    pub const WATCH_ENABLED: &str = "Enabled";
    /// Default of `--watch-configs-label-selector`.
    pub const WATCH_CONFIGS_SELECTOR: &str = "reconcile.fluxcd.io/watch=Enabled";
    /// Conventional sharding label used with `--watch-label-selector`.
    pub const SHARDING_KEY: &str = "sharding.fluxcd.io/key";
    /// Owner label stamped by kustomize-controller: the Kustomization's name.
    pub const KUSTOMIZE_NAME: &str = "kustomize.toolkit.fluxcd.io/name";
    /// Owner label stamped by kustomize-controller: the Kustomization's namespace.
    pub const KUSTOMIZE_NAMESPACE: &str = "kustomize.toolkit.fluxcd.io/namespace";
    /// Owner label stamped by helm-controller: the HelmRelease's name.
    pub const HELM_NAME: &str = "helm.toolkit.fluxcd.io/name";
    /// Owner label stamped by helm-controller: the HelmRelease's namespace.
    pub const HELM_NAMESPACE: &str = "helm.toolkit.fluxcd.io/namespace";
    /// FluxConfig: the object is managed by flux-config-agent.
    pub const CLUSTERCONFIG_IS_MANAGED: &str = "clusterconfig.azure.com/is-managed";
    /// FluxConfig: the owning configuration's name.
    pub const CLUSTERCONFIG_NAME: &str = "clusterconfig.azure.com/name";
    /// FluxConfig: the owning configuration's namespace.
    pub const CLUSTERCONFIG_NAMESPACE: &str = "clusterconfig.azure.com/namespace";
    /// FluxConfig: the Azure operation that produced this generation.
    pub const CLUSTERCONFIG_OPERATION_ID: &str = "clusterconfig.azure.com/operation-id";
}

/// Field managers, as Flux names them: `gotk-<controller>` writes status and finalizers,
/// `<controller>` applies the objects it manages.
pub mod field_managers {
    /// Status and finalizer writes of source-controller.
    pub const SOURCE_CONTROLLER_STATUS: &str = "gotk-source-controller";
    /// Status and finalizer writes of kustomize-controller.
    pub const KUSTOMIZE_CONTROLLER_STATUS: &str = "gotk-kustomize-controller";
    /// Status and finalizer writes of helm-controller.
    pub const HELM_CONTROLLER_STATUS: &str = "gotk-helm-controller";
    /// Status writes of notification-controller.
    pub const NOTIFICATION_CONTROLLER_STATUS: &str = "gotk-notification-controller";
    /// Status writes of the image automation controllers.
    pub const IMAGE_AUTOMATION_STATUS: &str = "gotk-image-automation";
    /// Status writes of flux-config-agent.
    pub const FLUX_CONFIG_AGENT_STATUS: &str = "gotk-flux-config-agent";
    /// Objects applied by kustomize-controller.
    pub const KUSTOMIZE_CONTROLLER: &str = "kustomize-controller";
    /// Objects applied by helm-controller.
    pub const HELM_CONTROLLER: &str = "helm-controller";
    /// Objects created by flux-config-agent.
    pub const FLUX_CONFIG_AGENT: &str = "flux-config-agent";
    /// What `eddy` uses for annotations such as requestedAt (Flux CLI convention).
    pub const FLUX_CLIENT_SIDE_APPLY: &str = "flux-client-side-apply";
}

/// Keys of event metadata (`<api group>/<key>` on the wire).
pub mod event_metadata {
    /// The revision the event is about.
    pub const REVISION: &str = "revision";
    /// The origin revision (OCI `org.opencontainers.image.revision`).
    pub const ORIGIN_REVISION: &str = "originRevision";
    /// An artifact checksum (dropped by notification-controller).
    pub const CHECKSUM: &str = "checksum";
    /// An artifact digest (dropped by notification-controller).
    pub const DIGEST: &str = "digest";
    /// A deduplication token.
    pub const TOKEN: &str = "token";
    /// A commit for commit-status providers.
    pub const COMMIT: &str = "commit";
    /// `update` marks events commit-status providers should post.
    pub const COMMIT_STATUS: &str = "commit_status";
    /// A change-request reference.
    pub const CHANGE_REQUEST: &str = "change_request";
}

/// Metric names (fluxcd/pkg `runtime/metrics`), kept so existing dashboards work.
pub mod metrics {
    /// Histogram of reconcile durations, labels kind, name, namespace.
    pub const RECONCILE_DURATION_SECONDS: &str = "gotk_reconcile_duration_seconds";
    /// Gauge per condition, labels kind, name, namespace, type, status.
    pub const RECONCILE_CONDITION: &str = "gotk_reconcile_condition";
    /// Gauge of `spec.suspend`, labels kind, name, namespace.
    pub const SUSPEND_STATUS: &str = "gotk_suspend_status";
    /// controller-runtime's reconcile counter, labels controller, result.
    pub const CONTROLLER_RECONCILE_TOTAL: &str = "controller_runtime_reconcile_total";
    /// controller-runtime's reconcile error counter, label controller.
    pub const CONTROLLER_RECONCILE_ERRORS_TOTAL: &str = "controller_runtime_reconcile_errors_total";
    /// controller-runtime's reconcile time histogram, label controller.
    pub const CONTROLLER_RECONCILE_TIME_SECONDS: &str = "controller_runtime_reconcile_time_seconds";
    /// Work queue adds, label name.
    pub const WORKQUEUE_ADDS_TOTAL: &str = "workqueue_adds_total";
    /// Work queue retries, label name.
    pub const WORKQUEUE_RETRIES_TOTAL: &str = "workqueue_retries_total";
    /// Work queue depth, label name.
    pub const WORKQUEUE_DEPTH: &str = "workqueue_depth";
}

/// Pattern of Flux duration fields (`metav1.Duration`).
pub const DURATION_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$";
/// Pattern of Flux timeout fields, which do not accept hours.
pub const TIMEOUT_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ms|s|m))+$";
/// Pattern of artifact digests.
pub const DIGEST_PATTERN: &str = r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$";

/// A reference to an object in the same namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LocalObjectReference {
    /// Name of the referent.
    pub name: String,
}

/// A reference to an object, in the same namespace unless `namespace` is set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NamespacedObjectReference {
    /// Name of the referent.
    pub name: String,
    /// Namespace of the referent, when different from the namespace of the referrer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A dependency on another object of the same kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DependencyReference {
    /// Name of the referent.
    pub name: String,
    /// Namespace of the referent, when different from the namespace of the referrer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// A CEL expression evaluated against the dependency (`dep`) and the object (`self`) that
    /// decides readiness instead of the built-in check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_expr: Option<String>,
}

/// A reference to an object of a given kind, optionally in another namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespacedObjectKindReference {
    /// API version of the referent; defaults to the kind's preferred version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the referent.
    pub kind: String,
    /// Name of the referent.
    pub name: String,
    /// Namespace of the referent, when different from the namespace of the referrer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A reference to a key of a Secret in the same namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecretKeyReference {
    /// Name of the Secret.
    pub name: String,
    /// Key in the Secret; when empty, the consumer's default key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// Where to find a kubeconfig for a remote cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KubeConfigReference {
    /// A ConfigMap holding provider settings for a workload-identity kubeconfig.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<LocalObjectReference>,
    /// A Secret key holding a kubeconfig (default key `value`, then `value.yaml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyReference>,
}

/// Access control for cross-namespace references (fluxcd/pkg `apis/acl`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessFrom {
    /// Namespaces allowed to refer to the object, by label selector.
    pub namespace_selectors: Vec<NamespaceSelector>,
}

/// Selects namespaces by their labels.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSelector {
    /// Labels a namespace must carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
}

/// A source artifact: what a source publishes in `status.artifact` (fluxcd/pkg `apis/meta`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = schema::artifact_requires_digest)]
pub struct Artifact {
    /// `<algorithm>:<hex>` digest of the archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$"))]
    pub digest: Option<String>,
    /// Path relative to the storage root: `<kind>/<namespace>/<name>/<file>`.
    pub path: String,
    /// HTTP address of the artifact.
    pub url: String,
    /// Human-readable source revision, e.g. `main@sha1:<hex>`.
    pub revision: String,
    /// When the artifact last changed.
    pub last_update_time: Time,
    /// Size of the archive in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// Source metadata, e.g. OCI annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

impl Artifact {
    /// Whether the artifact is of the given revision (string equality, as Flux compares).
    pub fn has_revision(&self, revision: &str) -> bool {
        self.revision == revision
    }
}

/// The status fields every reconciled Flux kind shares (`observedGeneration`, `conditions`,
/// `lastHandledReconcileAt`), so the shared controller harness can summarize any kind.
pub trait StatusFields {
    /// `status.conditions`.
    fn conditions(&self) -> &[Condition];
    /// Mutable `status.conditions`.
    fn conditions_mut(&mut self) -> &mut Vec<Condition>;
    /// `status.observedGeneration` (`-1` until first observed, as Flux's CRD default).
    fn observed_generation(&self) -> Option<i64>;
    /// Sets `status.observedGeneration`.
    fn set_observed_generation(&mut self, generation: i64);
    /// `status.lastHandledReconcileAt`.
    fn last_handled_reconcile_at(&self) -> Option<&str>;
    /// Sets `status.lastHandledReconcileAt`.
    fn set_last_handled_reconcile_at(&mut self, value: Option<String>);
}

/// Implements [`StatusFields`] for a status struct with the standard field names
/// `conditions: Option<Vec<Condition>>`, `observed_generation: Option<i64>` and
/// `last_handled_reconcile_at: Option<String>`.
#[macro_export]
macro_rules! impl_status_fields {
    ($status:ty) => {
        impl $crate::meta::StatusFields for $status {
            fn conditions(&self) -> &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition] {
                self.conditions.as_deref().unwrap_or_default()
            }
            fn conditions_mut(
                &mut self,
            ) -> &mut Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
                self.conditions.get_or_insert_with(Vec::new)
            }
            fn observed_generation(&self) -> Option<i64> {
                self.observed_generation
            }
            fn set_observed_generation(&mut self, generation: i64) {
                self.observed_generation = Some(generation);
            }
            fn last_handled_reconcile_at(&self) -> Option<&str> {
                self.last_handled_reconcile_at.as_deref()
            }
            fn set_last_handled_reconcile_at(&mut self, value: Option<String>) {
                self.last_handled_reconcile_at = value;
            }
        }
    };
}

/// What every reconciled Flux kind exposes to the shared controller harness, so it can read
/// suspend and interval and write the common status fields without knowing the kind.
pub trait Reconciled {
    /// The kind's status type.
    type Status: StatusFields
        + Default
        + Clone
        + std::fmt::Debug
        + Serialize
        + serde::de::DeserializeOwned
        + Send
        + Sync;
    /// `spec.suspend`.
    fn suspended(&self) -> bool;
    /// `spec.interval` as written (a Flux duration string such as `1m30s`).
    fn interval(&self) -> &str;
    /// `status`, when the object has one.
    fn status(&self) -> Option<&Self::Status>;
}

/// Implements [`Reconciled`] for a kind of the common shape: `spec.suspend: Option<bool>`,
/// `spec.interval: String` and `status: Option<Status>`. Kinds with another interval rule
/// implement the trait by hand.
#[macro_export]
macro_rules! impl_reconciled {
    ($kind:ty, $status:ty) => {
        impl $crate::meta::Reconciled for $kind {
            type Status = $status;

            fn suspended(&self) -> bool {
                self.spec.suspend.unwrap_or(false)
            }

            fn interval(&self) -> &str {
                &self.spec.interval
            }

            fn status(&self) -> Option<&$status> {
                self.status.as_ref()
            }
        }
    };
}

/// Error parsing a Flux duration string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidDuration(pub String);

impl std::fmt::Display for InvalidDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid duration {:?}: expected e.g. 30s, 5m or 1h30m",
            self.0
        )
    }
}

impl std::error::Error for InvalidDuration {}

/// Parses a Go `time.Duration` string as Flux writes them (`1h30m`, `90s`, `500ms`, `1.5h`).
///
/// Accepts the units Go accepts (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`) and a leading sign only
/// for zero, since negative intervals have no meaning here.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, InvalidDuration> {
    let invalid = || InvalidDuration(text.to_string());
    if text == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    let mut rest = text;
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total_nanos: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        if number_len == 0 {
            return Err(invalid());
        }
        let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per_unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(invalid()),
        };
        rest = &rest[unit_len..];
        total_nanos += number * nanos_per_unit;
    }
    if !total_nanos.is_finite() || total_nanos > u64::MAX as f64 {
        return Err(invalid());
    }
    Ok(std::time::Duration::from_nanos(total_nanos as u64))
}

/// Formats a duration the way Go's `time.Duration.String` does (`1h0m0s`, `1m30s`, `500ms`).
pub fn format_duration(duration: std::time::Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000_000_000 {
        return if nanos.is_multiple_of(1_000_000) {
            format!("{}ms", nanos / 1_000_000)
        } else if nanos.is_multiple_of(1_000) {
            format!("{}µs", nanos / 1_000)
        } else {
            format!("{nanos}ns")
        };
    }
    let hours = nanos / 3_600_000_000_000;
    let minutes = (nanos / 60_000_000_000) % 60;
    let second_nanos = nanos % 60_000_000_000;
    let seconds = if second_nanos.is_multiple_of(1_000_000_000) {
        format!("{}", second_nanos / 1_000_000_000)
    } else {
        let text = format!("{:.9}", second_nanos as f64 / 1e9);
        text.trim_end_matches('0').to_string()
    };
    if hours > 0 {
        format!("{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

// ---------------------------------------------------------------------------------------------
// Appended by the kustomize/helm/notification types: reconciliation history (fluxcd/pkg
// `apis/meta/history.go`), values references (`apis/meta/reference_types.go`) and the schema
// shapes controller-gen emits that schemars does not produce on its own.
// ---------------------------------------------------------------------------------------------

/// The most snapshots a [`History`] keeps (Flux's `HistoryMaxSize`).
pub const HISTORY_MAX_SIZE: usize = 5;

/// Reconciliation history of a group of resources, most recent snapshot first.
pub type History = Vec<Snapshot>;

/// One point-in-time record of reconciling a group of resources.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// `<algorithm>:<hex>` checksum of the resources in this snapshot.
    pub digest: String,
    /// When this revision was first reconciled to the cluster.
    pub first_reconciled: Time,
    /// When this revision was last reconciled to the cluster.
    pub last_reconciled: Time,
    /// How long the last reconciliation of this revision took (a Go duration string).
    pub last_reconciled_duration: String,
    /// Outcome of the last reconciliation.
    pub last_reconciled_status: String,
    /// How many reconciliations have produced this snapshot.
    pub total_reconciliations: i64,
    /// Additional information about the snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// Records a reconciliation in `history` the way Flux's `History.Upsert` does: a snapshot with
/// the same digest and status is updated and moved to the front, otherwise a new one is put in
/// front; the history is then cut to [`HISTORY_MAX_SIZE`].
pub fn upsert_history(
    history: &mut History,
    digest: &str,
    timestamp: Time,
    duration: std::time::Duration,
    status: &str,
    metadata: Option<BTreeMap<String, String>>,
) {
    let duration = format_duration(duration);
    let existing = history.iter().position(|snapshot| {
        snapshot.digest == digest && snapshot.last_reconciled_status == status
    });
    match existing {
        Some(index) => {
            let mut snapshot = history.remove(index);
            snapshot.last_reconciled = timestamp;
            snapshot.last_reconciled_duration = duration;
            snapshot.total_reconciliations += 1;
            snapshot.metadata = metadata;
            history.insert(0, snapshot);
        }
        None => history.insert(
            0,
            Snapshot {
                digest: digest.to_string(),
                first_reconciled: timestamp.clone(),
                last_reconciled: timestamp,
                last_reconciled_duration: duration,
                last_reconciled_status: status.to_string(),
                total_reconciliations: 1,
                metadata,
            },
        ),
    }
    history.truncate(HISTORY_MAX_SIZE);
}

/// Kind of object a [`ValuesReference`] or a postBuild substitution reference points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ConfigObjectKind {
    /// A Secret; its data is base64-decoded.
    Secret,
    /// A ConfigMap.
    ConfigMap,
}

/// A reference to a ConfigMap or Secret holding Helm values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValuesReference {
    /// Kind of the referent.
    pub kind: ConfigObjectKind,
    /// Name of the referent, in the namespace of the referrer.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Data key holding the values file or a single value; defaults to `values.yaml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253), regex(pattern = r"^[\-._a-zA-Z0-9]+$"))]
    pub values_key: Option<String>,
    /// Dot-notation path the value is merged at; when unset the values merge at the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 250),
        regex(pattern = r"^([a-zA-Z0-9_\-.\\\/]|\[[0-9]{1,5}\])+$")
    )]
    pub target_path: Option<String>,
    /// When true, a missing referent is treated as empty instead of an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
    /// When true (with `targetPath`), the value is set verbatim, like `helm --set-literal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub literal: Option<bool>,
}

impl ValuesReference {
    /// The data key to read, defaulting to `values.yaml` as Flux does.
    pub fn values_key(&self) -> &str {
        self.values_key.as_deref().unwrap_or("values.yaml")
    }
}

/// Schema functions for the shapes controller-gen emits and schemars does not.
pub mod schema {
    use schemars::{Schema, SchemaGenerator, json_schema};

    /// Free-form JSON kept as is: `x-kubernetes-preserve-unknown-fields: true` and no type,
    /// as controller-gen writes `apiextensionsv1.JSON` fields.
    pub fn preserve_unknown_fields(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "x-kubernetes-preserve-unknown-fields": true })
    }

    /// A Go `int`: `type: integer` without a `format`.
    pub fn integer(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "integer" })
    }

    /// Adds `field` to an object schema's `required` list. Used for fields Flux's CRD requires
    /// but that we keep optional in Rust, so objects written by older clients still load.
    pub fn mark_required(schema: &mut Schema, field: &str) {
        let Some(object) = schema.as_object_mut() else {
            return;
        };
        let required = object
            .entry("required")
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        if let Some(list) = required.as_array_mut()
            && !list.iter().any(|name| name == field)
        {
            list.push(serde_json::Value::from(field));
        }
    }

    /// Schema transform of [`super::Artifact`]: Flux's CRD requires `digest`.
    pub fn artifact_requires_digest(schema: &mut Schema) {
        mark_required(schema, "digest");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn flux_durations_parse_as_go_does() {
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn malformed_durations_are_rejected() {
        for text in ["", "10", "m", "1x", "-1s", "1m-"] {
            assert!(parse_duration(text).is_err(), "{text} should not parse");
        }
    }

    #[test]
    fn durations_format_as_go_prints_them() {
        assert_eq!(format_duration(Duration::from_secs(600)), "10m0s");
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_millis(750)), "750ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
    }
}
