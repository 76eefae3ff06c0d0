//! `ImageRepository`: scans a container image repository for tags.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::{AccessFrom, LocalObjectReference};
use crate::source::v1::CloudProvider;

/// Desired state of an [`ImageRepository`].
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "image.toolkit.fluxcd.io",
    version = "v1",
    kind = "ImageRepository",
    plural = "imagerepositories",
    namespaced,
    status = "ImageRepositoryStatus",
    shortname = "imgrepo",
    shortname = "imagerepo",
    category = "all",
    category = "fluxcd",
    category = "fluxcd-images",
    printcolumn = r#"{"name":"Image","type":"string","jsonPath":".spec.image"}"#,
    printcolumn = r#"{"name":"Tags","type":"string","jsonPath":".status.lastScanResult.tagCount"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#,
    printcolumn = r#"{"name":"Last scan","type":"string","jsonPath":".status.lastScanResult.scanTime","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ImageRepositorySpec {
    /// The image repository to scan, e.g. `ghcr.io/stefanprodan/podinfo`.
    pub image: String,
    /// Time between scans.
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub interval: String,
    /// Timeout of a scan; the interval when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m))+$"))]
    pub timeout: Option<String>,
    /// Secret with registry credentials (as made by `kubectl create secret docker-registry`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Secret with the proxy configuration for talking to the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// ServiceAccount whose image pull secrets authenticate the scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub service_account_name: Option<String>,
    /// Secret with a client certificate (`tls.crt`, `tls.key`) and/or CA (`ca.crt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
    /// Stops further scans while true (a running scan finishes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// Which namespaces may refer to this repository from an ImagePolicy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_from: Option<AccessFrom>,
    /// Regular expressions of tags not to store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 25), extend("default" = [r"^.*\.sig$"]))]
    pub exclusion_list: Option<Vec<String>>,
    /// Authentication provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "generic"))]
    pub provider: Option<CloudProvider>,
    /// Allow a plain-HTTP registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<bool>,
}

/// The outcome of the last scan.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanResult {
    /// Stable hash of the scanned tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Number of tags found.
    #[schemars(transform = super::without_format)]
    pub tag_count: i64,
    /// When the scan ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_time: Option<Time>,
    /// A sample of the tags: the first ten in descending alphabetical order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_tags: Option<Vec<String>>,
}

/// Observed state of an [`ImageRepository`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageRepositoryStatus {
    /// Conditions of the object (`Ready`, `Reconciling`, `Stalled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// Generation of the spec last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The image name with every implied part explicit, e.g. `docker.io/library/alpine`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical_image_name: Option<String>,
    /// The outcome of the last scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scan_result: Option<ScanResult>,
    /// The exclusion list the last scan used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_exclusion_list: Option<Vec<String>>,
    /// The `reconcile.fluxcd.io/requestedAt` value last handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

crate::impl_status_fields!(ImageRepositoryStatus);

/// Tags excluded from scans when `spec.exclusionList` is empty: cosign signature tags.
pub const DEFAULT_EXCLUSION_LIST: &[&str] = &[r"^.*\.sig$"];

impl ImageRepository {
    /// The exclusion list in effect; the default when the spec's is unset or empty.
    pub fn exclusion_list(&self) -> Vec<String> {
        match self.spec.exclusion_list.as_deref() {
            Some(list) if !list.is_empty() => list.to_vec(),
            _ => DEFAULT_EXCLUSION_LIST
                .iter()
                .map(|pattern| pattern.to_string())
                .collect(),
        }
    }

    /// The authentication provider in effect (`generic` when unset).
    pub fn provider(&self) -> CloudProvider {
        self.spec.provider.unwrap_or_default()
    }

    /// The scan timeout: `spec.timeout`, else the interval, never below one second (Flux's
    /// `GetTimeout`).
    pub fn timeout(&self) -> Result<std::time::Duration, crate::meta::InvalidDuration> {
        let written = self.spec.timeout.as_deref().unwrap_or(&self.spec.interval);
        let duration = crate::meta::parse_duration(written)?;
        Ok(duration.max(std::time::Duration::from_secs(1)))
    }
}

crate::impl_reconciled!(ImageRepository, ImageRepositoryStatus);

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn repository(interval: &str, timeout: Option<&str>) -> ImageRepository {
        ImageRepository::new(
            "podinfo",
            ImageRepositorySpec {
                image: "ghcr.io/stefanprodan/podinfo".into(),
                interval: interval.into(),
                timeout: timeout.map(String::from),
                ..Default::default()
            },
        )
    }

    #[test]
    fn the_timeout_falls_back_to_the_interval_and_is_at_least_a_second() {
        assert_eq!(
            repository("5m", None).timeout(),
            Ok(Duration::from_secs(300))
        );
        assert_eq!(
            repository("5m", Some("30s")).timeout(),
            Ok(Duration::from_secs(30))
        );
        assert_eq!(
            repository("5m", Some("10ms")).timeout(),
            Ok(Duration::from_secs(1))
        );
    }

    #[test]
    fn an_empty_exclusion_list_means_signature_tags_are_excluded() {
        let mut repository = repository("5m", None);
        assert_eq!(repository.exclusion_list(), vec![r"^.*\.sig$".to_string()]);
        repository.spec.exclusion_list = Some(vec![]);
        assert_eq!(repository.exclusion_list(), vec![r"^.*\.sig$".to_string()]);
        repository.spec.exclusion_list = Some(vec!["^dev-".into()]);
        assert_eq!(repository.exclusion_list(), vec!["^dev-".to_string()]);
    }
}
