//! `Kustomization`: builds a directory of a source artifact with Kustomize, post-processes it
//! (substitution, SOPS decryption, common metadata) and applies it with server-side apply,
//! pruning what it applied before and no longer builds.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

use super::inventory::ResourceInventory;
use super::kustomize_types::{CommonMetadata, CustomHealthCheck, IgnoreRule, Image, Patch};
use crate::meta::{
    ConfigObjectKind, DependencyReference, History, InvalidDuration, KubeConfigReference,
    LocalObjectReference, NamespacedObjectKindReference, parse_duration,
};

/// Timeouts derived from the interval never go below this (Flux's floor).
const MINIMUM_TIMEOUT: Duration = Duration::from_secs(30);

/// Desired state of a Kustomization: which source and path to build, how to transform the
/// output, and how to apply, wait for and prune the objects.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "kustomize.toolkit.fluxcd.io",
    version = "v1",
    kind = "Kustomization",
    plural = "kustomizations",
    namespaced,
    derive = "PartialEq",
    status = "KustomizationStatus",
    shortname = "ks",
    category = "all",
    category = "fluxcd",
    category = "fluxcd-appliers",
    doc = "Kustomization is the Schema for the kustomizations API.",
    annotation("kustomize.toolkit.fluxcd.io/substitute", "disabled"),
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct KustomizationSpec {
    /// Labels and annotations added to every applied object, overriding existing keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_metadata: Option<CommonMetadata>,
    /// Kustomizations that must be Ready before this one is reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<DependencyReference>>,
    /// Decryption of SOPS-encrypted manifests before they are applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decryption: Option<Decryption>,
    /// How often the Kustomization is reconciled (approximate, jittered).
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub interval: String,
    /// How soon a failed reconciliation is retried; `interval` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub retry_interval: Option<String>,
    /// Kubeconfig of a remote cluster to apply to; with `serviceAccountName`, the controller
    /// impersonates that account on the remote cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = [
        {
            "message": "exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified",
            "rule": "has(self.configMapRef) || has(self.secretRef)"
        },
        {
            "message": "exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified",
            "rule": "!has(self.configMapRef) || !has(self.secretRef)"
        }
    ]))]
    pub kube_config: Option<KubeConfigReference>,
    /// Directory in the artifact holding a kustomization.yaml or plain manifests; the root of
    /// the artifact when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Actions on the built manifests, such as variable substitution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_build: Option<PostBuild>,
    /// Whether objects no longer built are deleted from the cluster.
    pub prune: bool,
    /// What happens to the applied objects when the Kustomization is deleted; `MirrorPrune`
    /// when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
    /// Objects whose health is checked after apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_checks: Option<Vec<NamespacedObjectKindReference>>,
    /// Prefix added to the names of all applied objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 200))]
    pub name_prefix: Option<String>,
    /// Suffix added to the names of all applied objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 200))]
    pub name_suffix: Option<String>,
    /// Inline strategic-merge and JSON 6902 patches with their targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patches: Option<Vec<Patch>>,
    /// Image name, tag and digest overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<Image>>,
    /// ServiceAccount to impersonate when applying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// The source whose artifact holds the manifests.
    pub source_ref: CrossNamespaceSourceReference,
    /// Stops reconciliation of this object while true; a running reconcile finishes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// Namespace set on (or overriding) every namespaced object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub target_namespace: Option<String>,
    /// Timeout of validation, apply and health checks; derived from `interval` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub timeout: Option<String>,
    /// Recreates objects whose patch fails on an immutable field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub force: Option<bool>,
    /// Waits for every applied object to become ready; `healthChecks` are then ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<bool>,
    /// Kustomize build metadata to add to the built objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_metadata: Option<Vec<BuildMetadataOption>>,
    /// Paths of Kustomize components to include.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<String>>,
    /// Drops component paths that do not exist in the source instead of failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_missing_components: Option<bool>,
    /// CEL health checks for custom kinds, used when `wait` or `healthChecks` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_exprs: Option<Vec<CustomHealthCheck>>,
    /// Paths of selected objects ignored by drift detection and apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<Vec<IgnoreRule>>,
}

/// A reference to the source of a Kustomization, possibly in another namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossNamespaceSourceReference {
    /// API version of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the referent.
    pub kind: SourceKind,
    /// Name of the referent.
    pub name: String,
    /// Namespace of the referent; the Kustomization's namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl std::fmt::Display for CrossNamespaceSourceReference {
    /// `Kind/name`, or `Kind/namespace/name` when the namespace is set, as Flux prints it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(namespace) if !namespace.is_empty() => {
                write!(f, "{}/{namespace}/{}", self.kind.as_str(), self.name)
            }
            _ => write!(f, "{}/{}", self.kind.as_str(), self.name),
        }
    }
}

/// Kinds a Kustomization can take its manifests from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SourceKind {
    /// `source.toolkit.fluxcd.io` OCIRepository.
    #[serde(rename = "OCIRepository")]
    OciRepository,
    /// `source.toolkit.fluxcd.io` GitRepository.
    #[default]
    GitRepository,
    /// `source.toolkit.fluxcd.io` Bucket.
    Bucket,
    /// `source.toolkit.fluxcd.io` ExternalArtifact.
    ExternalArtifact,
}

impl SourceKind {
    /// The kind as Flux spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OciRepository => "OCIRepository",
            Self::GitRepository => "GitRepository",
            Self::Bucket => "Bucket",
            Self::ExternalArtifact => "ExternalArtifact",
        }
    }
}

/// What happens to applied objects when their Kustomization is deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete if `prune` is true, orphan otherwise.
    #[default]
    MirrorPrune,
    /// Delete the objects.
    Delete,
    /// Delete the objects and wait until they are gone.
    WaitForTermination,
    /// Leave the objects in the cluster.
    Orphan,
}

/// Kustomize build metadata that can be added to built objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum BuildMetadataOption {
    /// `config.kubernetes.io/origin` annotations naming the file each object came from.
    #[serde(rename = "originAnnotations")]
    OriginAnnotations,
    /// Annotations naming the transformers that changed each object.
    #[serde(rename = "transformerAnnotations")]
    TransformerAnnotations,
}

/// How encrypted manifests are decrypted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Decryption {
    /// The decryption engine.
    pub provider: DecryptionProvider,
    /// ServiceAccount whose workload identity authenticates to cloud KMS; static credentials
    /// in `secretRef` take precedence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Secret holding private keys (OpenPGP, age) and cloud KMS credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
}

/// Decryption engines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DecryptionProvider {
    /// Mozilla SOPS.
    #[default]
    #[serde(rename = "sops")]
    Sops,
}

/// Actions performed on the built manifests before they are applied.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostBuild {
    /// When substitution runs: `WithVariables` (default) needs at least one variable,
    /// `Always` substitutes even without any, so `${var:=default}` works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substitute_strategy: Option<SubstituteStrategy>,
    /// Variables substituted for `${name}` in the manifests (bash-style defaults and
    /// substring operations are supported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substitute: Option<BTreeMap<String, String>>,
    /// ConfigMaps and Secrets whose data keys are variables to substitute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substitute_from: Option<Vec<SubstituteReference>>,
}

/// When postBuild substitution runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SubstituteStrategy {
    /// Substitute only when at least one variable is defined.
    #[default]
    WithVariables,
    /// Always substitute.
    Always,
}

/// A ConfigMap or Secret holding substitution variables.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubstituteReference {
    /// Kind of the referent.
    pub kind: ConfigObjectKind,
    /// Name of the referent, in the Kustomization's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// When true, a missing referent counts as present with no variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub optional: Option<bool>,
}

/// Observed state of a Kustomization.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = { "observedGeneration": -1 }))]
pub struct KustomizationStatus {
    /// The last `reconcile.fluxcd.io/requestedAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// The last generation reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions of the Kustomization (`Ready`, `Reconciling`, `Stalled`, `Healthy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// Revision of the last artifact applied successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_revision: Option<String>,
    /// Origin revision (e.g. OCI `org.opencontainers.image.revision`) of the last artifact
    /// applied successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_origin_revision: Option<String>,
    /// Revision of the last reconciliation attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_revision: Option<String>,
    /// Objects applied by the last successful reconciliation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<ResourceInventory>,
    /// Snapshots of the last reconciliations: revision, outcome and duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<History>,
}

crate::impl_status_fields!(KustomizationStatus);

crate::impl_reconciled!(Kustomization, KustomizationStatus);

impl KustomizationSpec {
    /// Timeout of apply and health checks: `timeout` when set, otherwise `interval` less 30s;
    /// either way at least 30s.
    pub fn get_timeout(&self) -> Result<Duration, InvalidDuration> {
        let timeout = match &self.timeout {
            Some(timeout) => parse_duration(timeout)?,
            None => parse_duration(&self.interval)?.saturating_sub(MINIMUM_TIMEOUT),
        };
        Ok(timeout.max(MINIMUM_TIMEOUT))
    }

    /// How soon a failed reconciliation is retried: `retryInterval`, else `interval`.
    pub fn get_retry_interval(&self) -> Result<Duration, InvalidDuration> {
        parse_duration(self.retry_interval.as_deref().unwrap_or(&self.interval))
    }

    /// The deletion policy, `MirrorPrune` when unset.
    pub fn get_deletion_policy(&self) -> DeletionPolicy {
        self.deletion_policy.unwrap_or_default()
    }

    /// The substitution strategy, `WithVariables` when unset.
    pub fn get_substitute_strategy(&self) -> SubstituteStrategy {
        self.post_build
            .as_ref()
            .and_then(|post_build| post_build.substitute_strategy)
            .unwrap_or_default()
    }

    /// Whether applied objects are deleted when the Kustomization is deleted.
    pub fn deletes_objects_on_delete(&self) -> bool {
        match self.get_deletion_policy() {
            DeletionPolicy::MirrorPrune => self.prune,
            DeletionPolicy::Delete | DeletionPolicy::WaitForTermination => true,
            DeletionPolicy::Orphan => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(interval: &str) -> KustomizationSpec {
        KustomizationSpec {
            interval: interval.to_string(),
            ..KustomizationSpec::default()
        }
    }

    #[test]
    fn timeout_defaults_to_interval_less_thirty_seconds() {
        assert_eq!(spec("10m").get_timeout(), Ok(Duration::from_secs(570)));
        assert_eq!(spec("1h").get_timeout(), Ok(Duration::from_secs(3570)));
    }

    #[test]
    fn derived_timeout_is_never_below_thirty_seconds() {
        assert_eq!(spec("45s").get_timeout(), Ok(Duration::from_secs(30)));
        assert_eq!(spec("10s").get_timeout(), Ok(Duration::from_secs(30)));
    }

    #[test]
    fn explicit_timeout_wins_but_is_floored_too() {
        let mut kustomization = spec("10m");
        kustomization.timeout = Some("2m".to_string());
        assert_eq!(kustomization.get_timeout(), Ok(Duration::from_secs(120)));
        kustomization.timeout = Some("5s".to_string());
        assert_eq!(kustomization.get_timeout(), Ok(Duration::from_secs(30)));
    }

    #[test]
    fn malformed_interval_is_an_error_not_a_default() {
        assert!(spec("ten minutes").get_timeout().is_err());
        assert!(spec("ten minutes").get_retry_interval().is_err());
    }

    #[test]
    fn retry_interval_falls_back_to_interval() {
        assert_eq!(
            spec("5m").get_retry_interval(),
            Ok(Duration::from_secs(300))
        );
        let mut kustomization = spec("5m");
        kustomization.retry_interval = Some("30s".to_string());
        assert_eq!(
            kustomization.get_retry_interval(),
            Ok(Duration::from_secs(30))
        );
    }

    #[test]
    fn mirror_prune_follows_the_prune_flag() {
        let mut kustomization = spec("5m");
        assert_eq!(
            kustomization.get_deletion_policy(),
            DeletionPolicy::MirrorPrune
        );
        assert!(!kustomization.deletes_objects_on_delete());
        kustomization.prune = true;
        assert!(kustomization.deletes_objects_on_delete());
        kustomization.deletion_policy = Some(DeletionPolicy::Orphan);
        assert!(!kustomization.deletes_objects_on_delete());
    }

    #[test]
    fn substitute_strategy_defaults_to_with_variables() {
        let mut kustomization = spec("5m");
        assert_eq!(
            kustomization.get_substitute_strategy(),
            SubstituteStrategy::WithVariables
        );
        kustomization.post_build = Some(PostBuild {
            substitute_strategy: Some(SubstituteStrategy::Always),
            ..PostBuild::default()
        });
        assert_eq!(
            kustomization.get_substitute_strategy(),
            SubstituteStrategy::Always
        );
    }

    #[test]
    fn source_reference_prints_as_flux_does() {
        let mut reference = CrossNamespaceSourceReference {
            kind: SourceKind::OciRepository,
            name: "podinfo".to_string(),
            ..CrossNamespaceSourceReference::default()
        };
        assert_eq!(reference.to_string(), "OCIRepository/podinfo");
        reference.namespace = Some("flux-system".to_string());
        assert_eq!(reference.to_string(), "OCIRepository/flux-system/podinfo");
    }
}
