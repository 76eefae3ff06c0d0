//! Signature verification of OCI artifacts, shared by OCIRepository and HelmChart.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::LocalObjectReference;

/// The technology an OCI artifact was signed with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VerificationProvider {
    /// Sigstore cosign (keys or keyless).
    #[default]
    Cosign,
    /// Notary Project notation.
    Notation,
}

/// Flux's CRD lists `provider` as required although the API server defaults it; serde's
/// default keeps deserialization lenient, so the schema is told separately.
fn require_provider(schema: &mut schemars::Schema) {
    super::mark_required(schema, "provider");
}

/// Issuer and subject patterns a keyless signing certificate must match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OIDCIdentityMatch {
    /// Go regular expression matched against the OIDC issuer of the Fulcio certificate.
    pub issuer: String,
    /// Go regular expression matched against the identity subject of the Fulcio certificate.
    pub subject: String,
}

/// Signature verification of an [`OCIRepository`](super::OCIRepository)'s artifact.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = require_provider)]
pub struct OCIRepositoryVerification {
    /// How the artifact was signed.
    #[serde(default)]
    pub provider: VerificationProvider,
    /// Secret with the trusted public keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// For cosign keyless signatures: the artifact is verified when any matcher matches the
    /// signing identity.
    #[serde(
        rename = "matchOIDCIdentity",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub match_oidc_identity: Option<Vec<OIDCIdentityMatch>>,
    /// Secret with a Sigstore `trusted_root.json`, for self-hosted Fulcio and Rekor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_root_secret_ref: Option<LocalObjectReference>,
}

/// Signature verification of a [`HelmChart`](super::HelmChart) pulled from an OCI
/// HelmRepository.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = require_provider)]
pub struct HelmChartVerification {
    /// How the chart was signed.
    #[serde(default)]
    pub provider: VerificationProvider,
    /// Secret with the trusted public keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// For cosign keyless signatures: the chart is verified when any matcher matches the
    /// signing identity.
    #[serde(
        rename = "matchOIDCIdentity",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub match_oidc_identity: Option<Vec<OIDCIdentityMatch>>,
}
