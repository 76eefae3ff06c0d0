//! `Receiver`: an HTTP webhook endpoint that, on a verified call, asks Flux objects to
//! reconcile now.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

use super::reference::FluxObjectKind;
use crate::meta::{LocalObjectReference, Reconciled};

/// Path prefix of every Receiver webhook.
pub const RECEIVER_WEBHOOK_PATH_PREFIX: &str = "/hook/";
/// Reconcile interval of a Receiver when `spec.interval` is unset.
pub const DEFAULT_RECEIVER_INTERVAL: &str = "10m";
/// Expected `aud` claim of `generic-oidc` tokens when a provider sets no audience.
pub const DEFAULT_OIDC_AUDIENCE: &str = "notification-controller";

/// Desired state of a Receiver: the webhook type, its credentials, and the objects to
/// reconcile when it is called.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "notification.toolkit.fluxcd.io",
    version = "v1",
    kind = "Receiver",
    plural = "receivers",
    namespaced,
    derive = "PartialEq",
    status = "ReceiverStatus",
    category = "all",
    category = "fluxcd",
    category = "fluxcd-notifications",
    doc = "Receiver is the Schema for the receivers API.",
    annotation("kustomize.toolkit.fluxcd.io/substitute", "disabled"),
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "message": "generic-oidc receivers must define at least one oidcProvider",
        "rule": "self.type != 'generic-oidc' || (has(self.oidcProviders) && size(self.oidcProviders) > 0)"
    },
    {
        "message": "oidcProviders can only be set when type is generic-oidc",
        "rule": "self.type == 'generic-oidc' || !has(self.oidcProviders) || size(self.oidcProviders) == 0"
    },
    {
        "message": "secretRef cannot be set when type is generic-oidc",
        "rule": "self.type != 'generic-oidc' || !has(self.secretRef)"
    },
    {
        "message": "secretRef is required when type is not generic-oidc",
        "rule": "self.type == 'generic-oidc' || has(self.secretRef)"
    }
]))]
pub struct ReceiverSpec {
    /// Type of the webhook sender: decides how calls are verified and payloads read.
    #[serde(rename = "type")]
    pub receiver_type: ReceiverType,
    /// How often the Receiver is reconciled with its Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"),
        extend("default" = "10m")
    )]
    pub interval: Option<String>,
    /// Event types handled, e.g. `push` for GitHub or `Push Hook` for GitLab; all when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// Objects asked to reconcile when the webhook is called.
    pub resources: Vec<ReceiverResource>,
    /// CEL expression over `res` (the object) and `req` (the request body), plus `claims` for
    /// `generic-oidc`; objects for which it is false are not reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_filter: Option<String>,
    /// Secret whose `token` key authenticates calls (and, for `gcr`, `email` and `audience`);
    /// required except for `generic-oidc`, which must not set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// OIDC issuers trusted by a `generic-oidc` Receiver, keyed by issuer URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "oidcProviders")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["issuerURL"]))]
    pub oidc_providers: Option<Vec<OidcProvider>>,
    /// Stops handling webhook calls while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

/// Webhook senders a Receiver understands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ReceiverType {
    /// Any caller presenting the webhook path.
    #[default]
    #[serde(rename = "generic")]
    Generic,
    /// Callers signing the body with HMAC (`X-Signature`).
    #[serde(rename = "generic-hmac")]
    GenericHmac,
    /// Callers presenting an OIDC token from a trusted issuer.
    #[serde(rename = "generic-oidc")]
    GenericOidc,
    /// GitHub webhooks.
    #[serde(rename = "github")]
    GitHub,
    /// GitLab webhooks.
    #[serde(rename = "gitlab")]
    GitLab,
    /// Bitbucket Server webhooks.
    #[serde(rename = "bitbucket")]
    Bitbucket,
    /// Harbor webhooks.
    #[serde(rename = "harbor")]
    Harbor,
    /// Docker Hub webhooks.
    #[serde(rename = "dockerhub")]
    DockerHub,
    /// Quay webhooks.
    #[serde(rename = "quay")]
    Quay,
    /// Google Container Registry Pub/Sub push.
    #[serde(rename = "gcr")]
    Gcr,
    /// Sonatype Nexus webhooks.
    #[serde(rename = "nexus")]
    Nexus,
    /// Azure Container Registry webhooks.
    #[serde(rename = "acr")]
    Acr,
    /// CDEvents.
    #[serde(rename = "cdevents")]
    CdEvents,
}

/// An object to reconcile, with an optional CEL filter of its own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiverResource {
    /// API version of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the referent.
    pub kind: FluxObjectKind,
    /// Name of the referent, or `*` for every object of the kind (narrowed by `matchLabels`).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the referent; the Receiver's namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub namespace: Option<String>,
    /// Labels the referents must carry; requires `name: "*"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
    /// CEL expression evaluated per matched object, in addition to `resourceFilter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
}

/// An OIDC issuer trusted by a `generic-oidc` Receiver.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OidcProvider {
    /// Issuer URL; must equal the token's `iss` claim.
    #[serde(rename = "issuerURL")]
    #[schemars(regex(pattern = r"^https?://"))]
    pub issuer_url: String,
    /// Expected `aud` claim; `notification-controller` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Named CEL expressions over `claims`, exposed in order as `vars.<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<Vec<OidcVariable>>,
    /// CEL expressions that must all be true for a call to be accepted; a valid signature
    /// alone does not authorize a call.
    #[schemars(length(min = 1))]
    pub validations: Vec<OidcValidation>,
}

impl OidcProvider {
    /// The expected audience, `notification-controller` when unset.
    pub fn get_audience(&self) -> &str {
        self.audience
            .as_deref()
            .filter(|audience| !audience.is_empty())
            .unwrap_or(DEFAULT_OIDC_AUDIENCE)
    }
}

/// A named CEL expression over OIDC token claims.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OidcVariable {
    /// Name of the variable (a CEL identifier).
    pub name: String,
    /// The expression.
    pub expression: String,
}

/// A CEL condition over OIDC token claims and variables.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OidcValidation {
    /// The boolean expression.
    pub expression: String,
    /// Returned to the caller when the expression is false.
    pub message: String,
}

/// Observed state of a Receiver.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = { "observedGeneration": -1 }))]
pub struct ReceiverStatus {
    /// The last `reconcile.fluxcd.io/requestedAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// Conditions of the Receiver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// The webhook path: `/hook/` and the hex SHA-256 of token, name and namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_path: Option<String>,
    /// The last generation reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

crate::impl_status_fields!(ReceiverStatus);

impl Reconciled for Receiver {
    type Status = ReceiverStatus;

    fn suspended(&self) -> bool {
        self.spec.suspend.unwrap_or(false)
    }

    fn interval(&self) -> &str {
        self.spec
            .interval
            .as_deref()
            .unwrap_or(DEFAULT_RECEIVER_INTERVAL)
    }

    fn status(&self) -> Option<&ReceiverStatus> {
        self.status.as_ref()
    }
}

/// The webhook path of a Receiver: `/hook/` followed by the hex SHA-256 of the token, the
/// Receiver's name and its namespace, concatenated.
pub fn webhook_path(token: &str, name: &str, namespace: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(token.as_bytes());
    hasher.update(name.as_bytes());
    hasher.update(namespace.as_bytes());
    format!(
        "{RECEIVER_WEBHOOK_PATH_PREFIX}{}",
        hex::encode(hasher.finalize())
    )
}

impl Receiver {
    /// This Receiver's webhook path for `token`.
    pub fn get_webhook_path(&self, token: &str) -> String {
        webhook_path(
            token,
            self.metadata.name.as_deref().unwrap_or_default(),
            self.metadata.namespace.as_deref().unwrap_or_default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_path_hashes_token_name_and_namespace_together() {
        // sha256("tokenreceiverflux-system"), computed independently with `sha256sum`.
        assert_eq!(
            webhook_path("token", "receiver", "flux-system"),
            "/hook/82c055fa0743ee447b0870be16fa51a43bb6604b21ef8fae7ccf02bdc860b0f9"
        );
        assert_eq!(
            webhook_path("", "", ""),
            "/hook/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn receivers_path_depends_on_its_identity() {
        let mut receiver = Receiver::new("github", ReceiverSpec::default());
        receiver.metadata.namespace = Some("flux-system".to_string());
        let path = receiver.get_webhook_path("s3cr3t");
        assert_eq!(path, webhook_path("s3cr3t", "github", "flux-system"));
        assert_ne!(path, webhook_path("s3cr3t", "github", "default"));
        assert_eq!(path.len(), "/hook/".len() + 64);
    }

    #[test]
    fn interval_defaults_to_ten_minutes() {
        let receiver = Receiver::new("github", ReceiverSpec::default());
        assert_eq!(receiver.interval(), "10m");
    }

    #[test]
    fn oidc_audience_defaults_to_the_controller() {
        let provider = OidcProvider::default();
        assert_eq!(provider.get_audience(), "notification-controller");
    }
}
