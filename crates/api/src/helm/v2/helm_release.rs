//! `HelmRelease`: installs a Helm chart from a source and keeps the release in the desired
//! state, with upgrades, tests, remediation and drift detection.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::Duration;

use super::actions::{Install, Rollback, Test, Uninstall, Upgrade};
use super::status::{DEFAULT_MAX_HISTORY, HelmReleaseStatus};
use crate::kustomize::v1::{CommonMetadata, CustomHealthCheck, IgnoreRule, Image, Patch};
use crate::meta::{
    DependencyReference, InvalidDuration, KubeConfigReference, LocalObjectReference,
    ValuesReference, parse_duration,
};

/// Timeout of Helm operations when `spec.timeout` is unset.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest release name Helm accepts.
pub const MAX_RELEASE_NAME_LENGTH: usize = 53;
/// Hex digits of the SHA-256 suffix of a shortened release name.
const SHORT_HASH_LENGTH: usize = 12;

/// Desired state of a HelmRelease: the chart, the values, and how each Helm action runs.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "helm.toolkit.fluxcd.io",
    version = "v2",
    kind = "HelmRelease",
    plural = "helmreleases",
    namespaced,
    derive = "PartialEq",
    status = "HelmReleaseStatus",
    shortname = "hr",
    category = "all",
    category = "fluxcd",
    category = "fluxcd-appliers",
    doc = "HelmRelease is the Schema for the helmreleases API.",
    annotation("kustomize.toolkit.fluxcd.io/substitute", "disabled"),
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "message": "either chart or chartRef must be set",
    "rule": "(has(self.chart) && !has(self.chartRef)) || (!has(self.chart) && has(self.chartRef))"
}]))]
pub struct HelmReleaseSpec {
    /// Template of the HelmChart the controller creates for this release; exclusive with
    /// `chartRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<HelmChartTemplate>,
    /// Reference to an existing chart source (OCIRepository, HelmChart, ExternalArtifact);
    /// exclusive with `chart`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_ref: Option<CrossNamespaceSourceReference>,
    /// How often the release is reconciled (approximate, jittered).
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub interval: String,
    /// Kubeconfig of a remote cluster to release to; with `serviceAccountName`, the controller
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
    /// Stops reconciliation of this object while true; a running reconcile finishes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// Name of the Helm release; `[<targetNamespace>-]<name>` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 53))]
    pub release_name: Option<String>,
    /// Namespace the release is installed into; the HelmRelease's namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub target_namespace: Option<String>,
    /// Namespace of the Helm release storage; the HelmRelease's namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub storage_namespace: Option<String>,
    /// HelmReleases that must be Ready before this one is reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<DependencyReference>>,
    /// Time to wait for each Kubernetes operation of a Helm action; 5m when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub timeout: Option<String>,
    /// Helm revisions kept in storage; 0 keeps all, 5 when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::meta::schema::integer")]
    pub max_history: Option<i64>,
    /// ServiceAccount to impersonate when releasing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub service_account_name: Option<String>,
    /// Reuses one Kubernetes client across the actions of a reconciliation; true when unset.
    /// Disable for charts whose CRDs must be discovered between hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_client: Option<bool>,
    /// Detection and correction of changes made to the release's objects outside Helm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_detection: Option<DriftDetection>,
    /// Configuration of the install action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<Install>,
    /// Configuration of the upgrade action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<Upgrade>,
    /// Configuration of the test action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Test>,
    /// Configuration of the rollback action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Rollback>,
    /// Configuration of the uninstall action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uninstall: Option<Uninstall>,
    /// ConfigMaps and Secrets whose values are merged in order, before `values`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_from: Option<Vec<ValuesReference>>,
    /// Inline Helm values, merged last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::meta::schema::preserve_unknown_fields")]
    pub values: Option<serde_json::Value>,
    /// Labels and annotations added to every object of the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_metadata: Option<CommonMetadata>,
    /// Post-renderers applied, in order, to the rendered manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_renderers: Option<Vec<PostRenderer>>,
    /// Which manifests go through the post-renderers: `nohooks` (templates only), `combined`
    /// (templates and hooks together) or `separate` (in separate streams).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_render_strategy: Option<PostRenderStrategy>,
    /// How Helm waits for the release's objects to become ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_strategy: Option<WaitStrategy>,
    /// CEL health checks for custom kinds in the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_exprs: Option<Vec<CustomHealthCheck>>,
}

/// Template of the HelmChart the controller manages for a release.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HelmChartTemplate {
    /// Labels and annotations of the HelmChart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<HelmChartTemplateObjectMeta>,
    /// Spec of the HelmChart.
    pub spec: HelmChartTemplateSpec,
}

/// Labels and annotations of a templated HelmChart.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HelmChartTemplateObjectMeta {
    /// Labels of the HelmChart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Annotations of the HelmChart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// Spec of a templated HelmChart.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartTemplateSpec {
    /// Chart name in a Helm repository, or chart path in a Git repository or Bucket.
    #[schemars(length(min = 1, max = 2048))]
    pub chart: String,
    /// SemVer range of the chart version (`*` when unset); ignored for Git and Bucket sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "*"))]
    pub version: Option<String>,
    /// The source holding the chart.
    pub source_ref: CrossNamespaceObjectReference,
    /// How often the HelmChart is reconciled; the HelmRelease's interval when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub interval: Option<String>,
    /// What makes a new chart artifact: a new chart version, or any new source revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "ChartVersion"))]
    pub reconcile_strategy: Option<ReconcileStrategy>,
    /// Values files in the chart merged, in order, over its default values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_files: Option<Vec<String>>,
    /// Skips values files that do not exist instead of failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_missing_values_files: Option<bool>,
    /// Signature verification of an OCI chart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<HelmChartTemplateVerification>,
}

impl HelmChartTemplate {
    /// The chart's namespace: the source reference's, else `default_namespace`.
    pub fn namespace<'a>(&'a self, default_namespace: &'a str) -> &'a str {
        self.spec
            .source_ref
            .namespace
            .as_deref()
            .unwrap_or(default_namespace)
    }

    /// The chart's interval, `default_interval` when unset.
    pub fn interval<'a>(&'a self, default_interval: &'a str) -> &'a str {
        self.spec.interval.as_deref().unwrap_or(default_interval)
    }
}

/// What makes a new chart artifact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ReconcileStrategy {
    /// A new chart version.
    #[default]
    ChartVersion,
    /// A new revision of the source.
    Revision,
}

/// Signature verification of a templated chart.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartTemplateVerification {
    /// Verification provider.
    #[schemars(extend("default" = "cosign"))]
    pub provider: VerificationProvider,
    /// Secret holding the trusted public keys; keyless verification when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
}

/// Signature verification providers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VerificationProvider {
    /// Sigstore cosign.
    #[default]
    Cosign,
    /// Notary Project notation.
    Notation,
}

/// A reference to the source of a templated chart.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossNamespaceObjectReference {
    /// API version of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the referent.
    pub kind: ChartSourceKind,
    /// Name of the referent.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the referent; the HelmRelease's namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub namespace: Option<String>,
}

/// Kinds a chart template can take its chart from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ChartSourceKind {
    /// `source.toolkit.fluxcd.io` HelmRepository.
    #[default]
    HelmRepository,
    /// `source.toolkit.fluxcd.io` GitRepository.
    GitRepository,
    /// `source.toolkit.fluxcd.io` Bucket.
    Bucket,
}

/// A reference to a chart source, possibly in another namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossNamespaceSourceReference {
    /// API version of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the referent.
    pub kind: ChartReferenceKind,
    /// Name of the referent.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the referent; the HelmRelease's namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub namespace: Option<String>,
}

/// Kinds `chartRef` can point at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ChartReferenceKind {
    /// `source.toolkit.fluxcd.io` OCIRepository.
    #[default]
    #[serde(rename = "OCIRepository")]
    OciRepository,
    /// `source.toolkit.fluxcd.io` HelmChart.
    HelmChart,
    /// `source.toolkit.fluxcd.io` ExternalArtifact.
    ExternalArtifact,
}

/// Drift detection of the release's objects.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DriftDetection {
    /// `enabled` corrects drift, `warn` only reports it, `disabled` (default) ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<DriftDetectionMode>,
    /// Paths of selected objects that drift detection ignores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<Vec<IgnoreRule>>,
}

impl DriftDetection {
    /// The mode, `disabled` when unset.
    pub fn get_mode(&self) -> DriftDetectionMode {
        self.mode.unwrap_or_default()
    }

    /// Whether the cluster state must be compared with the release.
    pub fn must_detect_changes(&self) -> bool {
        matches!(
            self.get_mode(),
            DriftDetectionMode::Enabled | DriftDetectionMode::Warn
        )
    }
}

/// Drift detection modes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DriftDetectionMode {
    /// Detect and correct drift.
    Enabled,
    /// Detect and report drift without correcting it.
    Warn,
    /// Do not detect drift.
    #[default]
    Disabled,
}

/// A post-renderer of the rendered manifests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PostRenderer {
    /// Kustomize patches and image overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<KustomizePostRenderer>,
}

/// Kustomize transformations applied to the rendered manifests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KustomizePostRenderer {
    /// Strategic-merge and JSON 6902 patches with their targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patches: Option<Vec<Patch>>,
    /// Image name, tag and digest overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<Image>>,
}

/// Which manifests are sent through the post-renderers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PostRenderStrategy {
    /// Templates only, not hooks (Helm 3 behaviour).
    #[serde(rename = "nohooks")]
    NoHooks,
    /// Templates and hooks in one stream (Helm 4 default).
    Combined,
    /// Templates and hooks in separate streams.
    Separate,
}

/// How Helm waits for objects to become ready.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WaitStrategy {
    /// Name of the strategy.
    pub name: WaitStrategyName,
}

/// Helm wait strategies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WaitStrategyName {
    /// kstatus polling of every object.
    Poller,
    /// Helm's built-in readiness checks.
    Legacy,
}

crate::impl_reconciled!(HelmRelease, HelmReleaseStatus);

/// Shortens a release name longer than Helm allows (53) to its first 40 characters, `-`, and
/// the first 12 hex digits of the SHA-256 of the full name; shorter names are unchanged.
pub fn shorten_release_name(name: &str) -> String {
    if name.len() <= MAX_RELEASE_NAME_LENGTH {
        return name.to_string();
    }
    let hash = hex::encode(Sha256::digest(name.as_bytes()));
    let keep = MAX_RELEASE_NAME_LENGTH - (SHORT_HASH_LENGTH + 1);
    // Release names are ASCII in practice; stop at a character boundary so other input cannot
    // split a character.
    let mut cut = keep.min(name.len());
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}-{}", &name[..cut], &hash[..SHORT_HASH_LENGTH])
}

impl HelmRelease {
    /// The release name as written or defaulted: `spec.releaseName`, else
    /// `<targetNamespace>-<name>` when a target namespace is set, else `<name>`.
    pub fn get_release_name(&self) -> String {
        let name = self.metadata.name.as_deref().unwrap_or_default();
        match (&self.spec.release_name, &self.spec.target_namespace) {
            (Some(release_name), _) if !release_name.is_empty() => release_name.clone(),
            (_, Some(target)) if !target.is_empty() => format!("{target}-{name}"),
            _ => name.to_string(),
        }
    }

    /// The name the Helm release actually has: [`Self::get_release_name`] shortened to 53
    /// characters by [`shorten_release_name`].
    pub fn helm_release_name(&self) -> String {
        shorten_release_name(&self.get_release_name())
    }

    /// Namespace the release is installed into: `spec.targetNamespace`, else the object's.
    pub fn get_release_namespace(&self) -> &str {
        non_empty(self.spec.target_namespace.as_deref())
            .unwrap_or_else(|| self.metadata.namespace.as_deref().unwrap_or_default())
    }

    /// Namespace of the Helm storage: `spec.storageNamespace`, else the object's.
    pub fn get_storage_namespace(&self) -> &str {
        non_empty(self.spec.storage_namespace.as_deref())
            .unwrap_or_else(|| self.metadata.namespace.as_deref().unwrap_or_default())
    }

    /// Name of the HelmChart made from the chart template: `<namespace>-<name>`.
    pub fn get_helm_chart_name(&self) -> String {
        format!(
            "{}-{}",
            self.metadata.namespace.as_deref().unwrap_or_default(),
            self.metadata.name.as_deref().unwrap_or_default()
        )
    }

    /// Timeout of Helm operations, 5m when unset.
    pub fn get_timeout(&self) -> Result<Duration, InvalidDuration> {
        self.spec
            .timeout
            .as_deref()
            .map_or(Ok(DEFAULT_TIMEOUT), parse_duration)
    }

    /// Helm revisions kept in storage, 5 when unset.
    pub fn get_max_history(&self) -> i64 {
        self.spec.max_history.unwrap_or(DEFAULT_MAX_HISTORY)
    }

    /// Whether one client is reused across actions, true when unset.
    pub fn use_persistent_client(&self) -> bool {
        self.spec.persistent_client.unwrap_or(true)
    }

    /// Drift detection settings, all defaults (disabled) when unset.
    pub fn get_drift_detection(&self) -> DriftDetection {
        self.spec.drift_detection.clone().unwrap_or_default()
    }

    /// Install settings, all defaults when unset.
    pub fn get_install(&self) -> Install {
        self.spec.install.clone().unwrap_or_default()
    }

    /// Upgrade settings, all defaults when unset.
    pub fn get_upgrade(&self) -> Upgrade {
        self.spec.upgrade.clone().unwrap_or_default()
    }

    /// Test settings, all defaults when unset.
    pub fn get_test(&self) -> Test {
        self.spec.test.clone().unwrap_or_default()
    }

    /// Rollback settings, all defaults when unset.
    pub fn get_rollback(&self) -> Rollback {
        self.spec.rollback.clone().unwrap_or_default()
    }

    /// Uninstall settings, all defaults when unset.
    pub fn get_uninstall(&self) -> Uninstall {
        self.spec.uninstall.clone().unwrap_or_default()
    }
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(name: &str, namespace: &str) -> HelmRelease {
        let mut release = HelmRelease::new(
            name,
            HelmReleaseSpec {
                interval: "10m".to_string(),
                ..HelmReleaseSpec::default()
            },
        );
        release.metadata.namespace = Some(namespace.to_string());
        release
    }

    #[test]
    fn release_name_defaults_to_the_object_name() {
        assert_eq!(release("podinfo", "apps").get_release_name(), "podinfo");
    }

    #[test]
    fn release_name_is_prefixed_with_the_target_namespace() {
        let mut podinfo = release("podinfo", "flux-system");
        podinfo.spec.target_namespace = Some("apps".to_string());
        assert_eq!(podinfo.get_release_name(), "apps-podinfo");
        podinfo.spec.release_name = Some("web".to_string());
        assert_eq!(podinfo.get_release_name(), "web");
    }

    #[test]
    fn long_release_names_are_shortened_as_helm_controller_does() {
        // Expected values from helm-controller's own tests of ShortenName.
        assert_eq!(shorten_release_name("release-name"), "release-name");
        assert_eq!(
            shorten_release_name(
                "release-name-with-very-long-name-which-is-longer-than-53-characters"
            ),
            "release-name-with-very-long-name-which-i-788ca0d0d7b0"
        );
        assert_eq!(
            shorten_release_name(
                "another-release-name-with-very-long-name-which-is-longer-than-53-characters"
            ),
            "another-release-name-with-very-long-name-7e72150d5a36"
        );
        assert_eq!(shorten_release_name(""), "");
    }

    #[test]
    fn a_name_of_exactly_fifty_three_characters_is_kept() {
        let name = "a".repeat(53);
        assert_eq!(shorten_release_name(&name), name);
        assert_eq!(shorten_release_name(&"a".repeat(54)).len(), 53);
    }

    #[test]
    fn helm_release_name_shortens_the_defaulted_name() {
        let mut podinfo = release(&"p".repeat(40), "flux-system");
        podinfo.spec.target_namespace = Some("t".repeat(20));
        let name = podinfo.helm_release_name();
        assert_eq!(name.len(), 53);
        assert!(name.starts_with(&"t".repeat(20)));
    }

    #[test]
    fn namespaces_default_to_the_objects_namespace() {
        let mut podinfo = release("podinfo", "flux-system");
        assert_eq!(podinfo.get_release_namespace(), "flux-system");
        assert_eq!(podinfo.get_storage_namespace(), "flux-system");
        podinfo.spec.target_namespace = Some("apps".to_string());
        podinfo.spec.storage_namespace = Some("helm-storage".to_string());
        assert_eq!(podinfo.get_release_namespace(), "apps");
        assert_eq!(podinfo.get_storage_namespace(), "helm-storage");
        assert_eq!(podinfo.get_helm_chart_name(), "flux-system-podinfo");
    }

    #[test]
    fn unset_knobs_take_flux_defaults() {
        let podinfo = release("podinfo", "apps");
        assert_eq!(podinfo.get_timeout(), Ok(Duration::from_secs(300)));
        assert_eq!(podinfo.get_max_history(), 5);
        assert!(podinfo.use_persistent_client());
        assert!(!podinfo.get_drift_detection().must_detect_changes());
    }

    #[test]
    fn warn_mode_still_detects_drift() {
        let drift = DriftDetection {
            mode: Some(DriftDetectionMode::Warn),
            ignore: None,
        };
        assert!(drift.must_detect_changes());
    }
}
