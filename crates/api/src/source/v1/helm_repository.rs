//! `HelmRepository`: indexes a Helm chart repository (HTTP/S), or names an OCI registry that
//! HelmCharts pull from.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::{AccessFrom, Artifact, LocalObjectReference, Reconciled};

/// Desired state of a [`HelmRepository`].
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "source.toolkit.fluxcd.io",
    version = "v1",
    kind = "HelmRepository",
    plural = "helmrepositories",
    namespaced,
    status = "HelmRepositoryStatus",
    shortname = "helmrepo",
    category = "all",
    category = "fluxcd",
    category = "fluxcd-sources",
    annotation("kustomize.toolkit.fluxcd.io/substitute", "disabled"),
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".spec.url"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct HelmRepositorySpec {
    /// Address of the repository: `http://`, `https://` or, with `type: oci`, `oci://`.
    #[schemars(regex(pattern = r"^(http|https|oci)://.*$"))]
    pub url: String,
    /// Secret with `username` and `password` for basic auth (TLS keys here are deprecated in
    /// favour of `certSecretRef`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Secret with a client certificate (`tls.crt`, `tls.key`) and/or CA (`ca.crt`); wins over
    /// TLS data in `secretRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
    /// Send the credentials also to hosts other than the URL's (chart URLs in the index may
    /// point elsewhere). Risky: credentials can leak.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_credentials: Option<bool>,
    /// How often the index is fetched (approximate, jittered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub interval: Option<String>,
    /// Allow plain-HTTP registries (only with `type: oci`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<bool>,
    /// Timeout of the index fetch, and of OCI operations of HelmCharts using this repository;
    /// 60s when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m))+$"))]
    pub timeout: Option<String>,
    /// Stops reconciliation of this object while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// Access control list for cross-namespace references (provisional, not enforced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_from: Option<AccessFrom>,
    /// Repository type; `oci` requires an `oci://` URL.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub repository_type: Option<HelmRepositoryType>,
    /// Authentication provider, used only with `type: oci`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "generic"))]
    pub provider: Option<CloudProvider>,
}

/// Kind of Helm repository.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HelmRepositoryType {
    /// A classic repository serving `index.yaml` over HTTP/S.
    #[default]
    Default,
    /// An OCI registry.
    Oci,
}

/// Authentication provider of OCI registries and object storage (HelmRepository, OCIRepository,
/// Bucket).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CloudProvider {
    /// Static credentials from a Secret.
    #[default]
    Generic,
    /// AWS (IRSA / pod identity).
    Aws,
    /// Azure (workload identity, managed identity or service principal).
    Azure,
    /// Google Cloud (workload identity).
    Gcp,
}

/// Observed state of a [`HelmRepository`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmRepositoryStatus {
    /// Generation of the spec last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions of the object (`Ready`, `Reconciling`, `Stalled`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// Best-effort link to the latest artifact; prefer `artifact`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The artifact of the last successful reconciliation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// The `reconcile.fluxcd.io/requestedAt` value last handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

crate::impl_status_fields!(HelmRepositoryStatus);

/// Interval of a HelmRepository that sets none, as Flux's `GetRequeueAfter`.
pub const DEFAULT_HELM_REPOSITORY_INTERVAL: &str = "1m";

impl HelmRepository {
    /// Whether this repository is an OCI registry.
    pub fn is_oci(&self) -> bool {
        self.spec.repository_type == Some(HelmRepositoryType::Oci)
    }

    /// The authentication provider in effect (`generic` when unset).
    pub fn provider(&self) -> CloudProvider {
        self.spec.provider.unwrap_or_default()
    }

    /// The timeout as written (`60s` when unset).
    pub fn timeout(&self) -> &str {
        self.spec
            .timeout
            .as_deref()
            .unwrap_or(super::DEFAULT_TIMEOUT)
    }

    /// The stored artifact, if any.
    pub fn artifact(&self) -> Option<&Artifact> {
        self.status
            .as_ref()
            .and_then(|status| status.artifact.as_ref())
    }
}

impl Reconciled for HelmRepository {
    type Status = HelmRepositoryStatus;

    fn suspended(&self) -> bool {
        self.spec.suspend.unwrap_or(false)
    }

    /// The interval as written, `1m` when unset (Flux's `GetRequeueAfter`).
    fn interval(&self) -> &str {
        match self.spec.interval.as_deref() {
            Some(interval) if !interval.is_empty() => interval,
            _ => DEFAULT_HELM_REPOSITORY_INTERVAL,
        }
    }

    fn status(&self) -> Option<&HelmRepositoryStatus> {
        self.status.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repository_without_interval_is_checked_every_minute() {
        let repository = HelmRepository::new("podinfo", HelmRepositorySpec::default());
        assert_eq!(repository.interval(), "1m");
        assert_eq!(repository.timeout(), "60s");
    }

    #[test]
    fn only_type_oci_makes_an_oci_repository() {
        let mut repository = HelmRepository::new("podinfo", HelmRepositorySpec::default());
        assert!(!repository.is_oci());
        repository.spec.repository_type = Some(HelmRepositoryType::Oci);
        assert!(repository.is_oci());
    }
}
