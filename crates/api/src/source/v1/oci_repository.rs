//! `OCIRepository`: produces an artifact from a layer of an OCI artifact in a container
//! registry.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{CloudProvider, OCIRepositoryVerification};
use crate::meta::{Artifact, LocalObjectReference};

/// Desired state of an [`OCIRepository`].
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "source.toolkit.fluxcd.io",
    version = "v1",
    kind = "OCIRepository",
    plural = "ocirepositories",
    namespaced,
    status = "OCIRepositoryStatus",
    shortname = "ocirepo",
    category = "all",
    category = "fluxcd",
    category = "fluxcd-sources",
    annotation("kustomize.toolkit.fluxcd.io/substitute", "disabled"),
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".spec.url"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct OCIRepositorySpec {
    /// The OCI repository, as `oci://<registry>/<path>`.
    #[schemars(regex(pattern = r"^oci://.*$"))]
    pub url: String,
    /// The reference to pull and watch; the `latest` tag when unset.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<OCIRepositoryRef>,
    /// Which layer to extract; the first layer when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_selector: Option<OCILayerSelector>,
    /// Authentication provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "generic"))]
    pub provider: Option<CloudProvider>,
    /// Secret of type `kubernetes.io/dockerconfigjson` with registry credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Signature verification of the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<OCIRepositoryVerification>,
    /// ServiceAccount whose image pull secrets (or workload identity) authenticate the pull.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Secret with a client certificate (`tls.crt`, `tls.key`) and/or CA (`ca.crt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
    /// Secret with the proxy configuration for talking to the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// How often the registry is checked for a new digest (approximate, jittered).
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub interval: String,
    /// Timeout of registry operations such as pulls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m))+$"), extend("default" = "60s"))]
    pub timeout: Option<String>,
    /// Exclusion patterns in `.sourceignore` (gitignore) format, replacing the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<String>,
    /// Allow a plain-HTTP registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<bool>,
    /// Stops reconciliation of this object while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

/// The OCI reference to pull. Precedence: `digest` > `semver` > `tag`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OCIRepositoryRef {
    /// Digest to pull (`sha256:<hex>`); wins over `semver`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Semver range of tags, the highest match is pulled; wins over `tag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver: Option<String>,
    /// Regular expression the tags in the semver range must also match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver_filter: Option<String>,
    /// Tag to pull; `latest` when nothing is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// What to do with the selected layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OCILayerOperation {
    /// Extract the (compressed tarball) layer into the artifact.
    #[default]
    Extract,
    /// Store the compressed layer as it is.
    Copy,
}

/// Which layer of the OCI artifact becomes the source artifact.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OCILayerSelector {
    /// Media type of the layer; the first layer of this type is selected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// What to do with the layer; `extract` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<OCILayerOperation>,
}

/// Observed state of an [`OCIRepository`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OCIRepositoryStatus {
    /// Generation of the spec last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions of the object (`Ready`, `Reconciling`, `Stalled`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// Download link of the latest artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The artifact of the last successful reconciliation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// Exclusion patterns used to build the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_ignore: Option<String>,
    /// Layer selector used to build the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_layer_selector: Option<OCILayerSelector>,
    /// The `reconcile.fluxcd.io/requestedAt` value last handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

crate::impl_status_fields!(OCIRepositoryStatus);

/// The URL scheme every OCIRepository URL starts with.
pub const OCI_REPOSITORY_PREFIX: &str = "oci://";

impl OCIRepository {
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

    /// The media type the layer selector asks for, if any.
    pub fn layer_media_type(&self) -> Option<&str> {
        self.spec
            .layer_selector
            .as_ref()
            .and_then(|selector| selector.media_type.as_deref())
            .filter(|media_type| !media_type.is_empty())
    }

    /// The layer operation in effect (`extract` when unset).
    pub fn layer_operation(&self) -> OCILayerOperation {
        self.spec
            .layer_selector
            .as_ref()
            .and_then(|selector| selector.operation)
            .unwrap_or_default()
    }

    /// The stored artifact, if any.
    pub fn artifact(&self) -> Option<&Artifact> {
        self.status
            .as_ref()
            .and_then(|status| status.artifact.as_ref())
    }
}

crate::impl_reconciled!(OCIRepository, OCIRepositoryStatus);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_are_extracted_unless_copy_is_asked_for() {
        let mut repository = OCIRepository::new("manifests", OCIRepositorySpec::default());
        assert_eq!(repository.layer_operation(), OCILayerOperation::Extract);
        assert_eq!(repository.layer_media_type(), None);
        repository.spec.layer_selector = Some(OCILayerSelector {
            media_type: Some("application/vnd.cncf.helm.chart.content.v1.tar+gzip".into()),
            operation: Some(OCILayerOperation::Copy),
        });
        assert_eq!(repository.layer_operation(), OCILayerOperation::Copy);
        assert_eq!(
            repository.layer_media_type(),
            Some("application/vnd.cncf.helm.chart.content.v1.tar+gzip")
        );
    }
}
