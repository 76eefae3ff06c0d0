//! References to the Flux objects that Alerts watch and Receivers trigger.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Flux kinds that emit events and accept reconcile requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum FluxObjectKind {
    /// `source.toolkit.fluxcd.io` Bucket.
    Bucket,
    /// `source.toolkit.fluxcd.io` GitRepository.
    #[default]
    GitRepository,
    /// `kustomize.toolkit.fluxcd.io` Kustomization.
    Kustomization,
    /// `helm.toolkit.fluxcd.io` HelmRelease.
    HelmRelease,
    /// `source.toolkit.fluxcd.io` HelmChart.
    HelmChart,
    /// `source.toolkit.fluxcd.io` HelmRepository.
    HelmRepository,
    /// `image.toolkit.fluxcd.io` ImageRepository.
    ImageRepository,
    /// `image.toolkit.fluxcd.io` ImagePolicy.
    ImagePolicy,
    /// `image.toolkit.fluxcd.io` ImageUpdateAutomation.
    ImageUpdateAutomation,
    /// `source.toolkit.fluxcd.io` OCIRepository.
    #[serde(rename = "OCIRepository")]
    OciRepository,
    /// `source.extensions.fluxcd.io` ArtifactGenerator.
    ArtifactGenerator,
    /// `source.toolkit.fluxcd.io` ExternalArtifact.
    ExternalArtifact,
}

impl FluxObjectKind {
    /// The kind as Flux spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bucket => "Bucket",
            Self::GitRepository => "GitRepository",
            Self::Kustomization => "Kustomization",
            Self::HelmRelease => "HelmRelease",
            Self::HelmChart => "HelmChart",
            Self::HelmRepository => "HelmRepository",
            Self::ImageRepository => "ImageRepository",
            Self::ImagePolicy => "ImagePolicy",
            Self::ImageUpdateAutomation => "ImageUpdateAutomation",
            Self::OciRepository => "OCIRepository",
            Self::ArtifactGenerator => "ArtifactGenerator",
            Self::ExternalArtifact => "ExternalArtifact",
        }
    }
}

/// A reference to Flux objects of one kind: one by name, or all matching labels with `*`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossNamespaceObjectReference {
    /// API version of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the referent.
    pub kind: FluxObjectKind,
    /// Name of the referent, or `*` for every object of the kind (narrowed by `matchLabels`).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the referent; the referrer's namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub namespace: Option<String>,
    /// Labels the referents must carry; requires `name: "*"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
}
