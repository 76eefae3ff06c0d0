//! The source blocks of a FluxConfig: Git, bucket, Azure Blob and OCI (ARM's
//! `*Definition` models, minus secret-valued fields).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DEFAULT_INTERVAL_SECONDS;
use crate::source::v1::{GitRepositoryRef, OCILayerOperation};

/// Keys of the `<config>-protected-parameters` Secret: ARM's protected settings and the
/// secret-valued source fields that are kept out of the custom resource.
pub mod protected_keys {
    /// SSH private key for a Git source (base64 PEM in ARM).
    pub const SSH_PRIVATE_KEY: &str = "sshPrivateKey";
    /// HTTPS password or token for a Git source.
    pub const HTTPS_KEY: &str = "httpsKey";
    /// Secret key of a bucket source.
    pub const BUCKET_SECRET_KEY: &str = "bucketSecretKey";
    /// Azure Blob: storage account key.
    pub const ACCOUNT_KEY: &str = "accountKey";
    /// Azure Blob: SAS token.
    pub const SAS_TOKEN: &str = "sasToken";
    /// Azure Blob: service principal client secret.
    pub const CLIENT_SECRET: &str = "clientSecret";
    /// Azure Blob: service principal client certificate (base64 PEM).
    pub const CLIENT_CERTIFICATE: &str = "clientCertificate";
    /// Azure Blob: password of the service principal client certificate.
    pub const CLIENT_CERTIFICATE_PASSWORD: &str = "clientCertificatePassword";
    /// OCI: client certificate for mutual TLS (base64 PEM).
    pub const TLS_CLIENT_CERTIFICATE: &str = "tlsClientCertificate";
    /// OCI: private key of the client certificate (base64 PEM).
    pub const TLS_PRIVATE_KEY: &str = "tlsPrivateKey";
    /// OCI: CA certificate of the registry (base64 PEM).
    pub const TLS_CA_CERTIFICATE: &str = "tlsCaCertificate";
}

/// A Git repository source (ARM `GitRepositoryDefinition`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositoryDefinition {
    /// Repository address: `http://`, `https://`, `ssh://` or scp-like `git@host:path`.
    #[schemars(regex(pattern = r"^((http|https|ssh)://|git@).*$"))]
    pub url: String,
    /// Timeout of Git operations, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 600))]
    pub timeout_in_seconds: Option<i64>,
    /// Interval between checks for new commits, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 600))]
    pub sync_interval_in_seconds: Option<i64>,
    /// Branch, tag, semver range or commit to check out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_ref: Option<RepositoryRefDefinition>,
    /// Base64 `known_hosts` for SSH; Azure's well-known hosts when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_known_hosts: Option<String>,
    /// HTTPS user name; its password is the protected setting `httpsKey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https_user: Option<String>,
    /// Base64 CA certificate for HTTPS.
    #[serde(
        rename = "httpsCACert",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub https_ca_cert: Option<String>,
    /// Name of a Secret in the configuration namespace with credentials, used instead of the
    /// managed ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_auth_ref: Option<String>,
    /// Authentication provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Generic"))]
    pub provider: Option<GitProviderType>,
}

/// Authentication provider of a Git source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum GitProviderType {
    /// Credentials from protected settings or `localAuthRef`.
    #[default]
    Generic,
    /// Azure DevOps with workload identity.
    Azure,
    /// GitHub App.
    #[serde(rename = "GitHub")]
    GitHub,
}

impl GitProviderType {
    /// The Flux `GitRepository.spec.provider` value.
    pub fn flux_provider(self) -> crate::source::v1::GitProvider {
        match self {
            GitProviderType::Generic => crate::source::v1::GitProvider::Generic,
            GitProviderType::Azure => crate::source::v1::GitProvider::Azure,
            GitProviderType::GitHub => crate::source::v1::GitProvider::Github,
        }
    }
}

/// The Git reference of a Git source (ARM `RepositoryRefDefinition`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RepositoryRefDefinition {
    /// Branch to check out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Tag to check out; wins over `branch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Semver range of tags; wins over `tag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver: Option<String>,
    /// Commit SHA; wins over everything, and is looked for on `branch` when both are set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// The reference a [`RepositoryRefDefinition`] resolves to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EffectiveRepositoryRef<'a> {
    /// A commit, optionally on a branch.
    Commit {
        /// The commit SHA.
        commit: &'a str,
        /// The branch cloned to find it.
        branch: Option<&'a str>,
    },
    /// The highest tag in a semver range.
    Semver(&'a str),
    /// A tag.
    Tag(&'a str),
    /// A branch.
    Branch(&'a str),
}

/// Branch used when a Git source names no reference (Azure's documented default).
pub const DEFAULT_BRANCH: &str = "master";

/// A field's value when present and not empty.
fn non_empty(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|value| !value.is_empty())
}

impl RepositoryRefDefinition {
    /// Applies ARM's precedence, commit > semver > tag > branch, falling back to `master`.
    pub fn effective(&self) -> EffectiveRepositoryRef<'_> {
        if let Some(commit) = non_empty(&self.commit) {
            EffectiveRepositoryRef::Commit {
                commit,
                branch: non_empty(&self.branch),
            }
        } else if let Some(semver) = non_empty(&self.semver) {
            EffectiveRepositoryRef::Semver(semver)
        } else if let Some(tag) = non_empty(&self.tag) {
            EffectiveRepositoryRef::Tag(tag)
        } else {
            EffectiveRepositoryRef::Branch(non_empty(&self.branch).unwrap_or(DEFAULT_BRANCH))
        }
    }

    /// The Flux `GitRepository.spec.ref` carrying only the effective reference (plus the
    /// branch that goes with a commit), so Flux's own precedence cannot pick another field.
    pub fn to_flux_ref(&self) -> GitRepositoryRef {
        let owned = |value: &str| Some(value.to_string());
        match self.effective() {
            EffectiveRepositoryRef::Commit { commit, branch } => GitRepositoryRef {
                commit: owned(commit),
                branch: branch.map(str::to_string),
                ..Default::default()
            },
            EffectiveRepositoryRef::Semver(semver) => GitRepositoryRef {
                semver: owned(semver),
                ..Default::default()
            },
            EffectiveRepositoryRef::Tag(tag) => GitRepositoryRef {
                tag: owned(tag),
                ..Default::default()
            },
            EffectiveRepositoryRef::Branch(branch) => GitRepositoryRef {
                branch: owned(branch),
                ..Default::default()
            },
        }
    }
}

impl GitRepositoryDefinition {
    /// The reference in effect (`master` branch when none is given).
    pub fn effective_ref(&self) -> EffectiveRepositoryRef<'_> {
        match &self.repository_ref {
            Some(reference) => reference.effective(),
            None => EffectiveRepositoryRef::Branch(DEFAULT_BRANCH),
        }
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
}

/// An S3-compatible bucket source (ARM `BucketDefinition`; the secret key is the protected
/// setting `bucketSecretKey`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BucketDefinition {
    /// Endpoint address.
    pub url: String,
    /// Name of the bucket.
    pub bucket_name: String,
    /// Plain HTTP to the endpoint; ARM's default is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub insecure: Option<bool>,
    /// Timeout of fetch operations, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 600))]
    pub timeout_in_seconds: Option<i64>,
    /// Interval between checks for changes, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 600))]
    pub sync_interval_in_seconds: Option<i64>,
    /// Access key id (not secret; the secret key is protected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    /// Name of a Secret with credentials, used instead of the managed ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_auth_ref: Option<String>,
}

/// An Azure Blob container source (ARM `AzureBlobDefinition`; `accountKey`, `sasToken` and
/// the service principal's secrets live in the protected Secret).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureBlobDefinition {
    /// Storage account blob endpoint.
    pub url: String,
    /// Name of the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// Timeout of fetch operations, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 600))]
    pub timeout_in_seconds: Option<i64>,
    /// Interval between checks for changes, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 600))]
    pub sync_interval_in_seconds: Option<i64>,
    /// Service principal authentication (secrets in the protected Secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_principal: Option<ServicePrincipalDefinition>,
    /// Managed identity authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_identity: Option<ManagedIdentityDefinition>,
    /// Name of a Secret with credentials, used instead of the managed ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_auth_ref: Option<String>,
}

/// The non-secret part of a service principal (ARM `ServicePrincipalDefinition`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipalDefinition {
    /// Application (client) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Tenant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Send the certificate chain with the client certificate (subject-name/issuer auth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub client_certificate_send_chain: Option<bool>,
}

/// A managed identity (ARM `ManagedIdentityDefinition`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedIdentityDefinition {
    /// Client id of the identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// An OCI artifact source (ARM `OCIRepositoryDefinition`; `tlsConfig` lives in the protected
/// Secret).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OCIRepositoryDefinition {
    /// Repository address, `oci://<registry>/<path>`.
    pub url: String,
    /// Timeout of registry operations, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 600))]
    pub timeout_in_seconds: Option<i64>,
    /// Interval between checks for new digests, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 600))]
    pub sync_interval_in_seconds: Option<i64>,
    /// Tag, semver range or digest to pull.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_ref: Option<OCIRepositoryRefDefinition>,
    /// Which layer to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_selector: Option<LayerSelectorDefinition>,
    /// Signature verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifyDefinition>,
    /// Allow a plain-HTTP registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub insecure: Option<bool>,
    /// Authenticate with the workload identity of `serviceAccountName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub use_workload_identity: Option<bool>,
    /// ServiceAccount used for workload identity or image pull secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Name of a Secret with credentials, used instead of the managed ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_auth_ref: Option<String>,
}

/// The reference of an OCI source; precedence digest > semver > tag.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OCIRepositoryRefDefinition {
    /// Tag to pull; `latest` when nothing is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Semver range of tags; wins over `tag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver: Option<String>,
    /// Digest (`sha256:…`); wins over everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// Which layer of the OCI artifact is used.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LayerSelectorDefinition {
    /// Media type of the layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Extract the layer, or copy it as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "extract"))]
    pub operation: Option<OCILayerOperation>,
}

/// Signature verification of an OCI source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyDefinition {
    /// Signing technology (`cosign` or `notation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Trusted public keys (and notation trust policy), by file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_config: Option<BTreeMap<String, String>>,
    /// Keyless identities, any of which verifies the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_oidc_identity: Option<Vec<MatchOidcIdentityDefinition>>,
}

/// Issuer and subject patterns of a keyless signing identity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MatchOidcIdentityDefinition {
    /// Regular expression of the OIDC issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Regular expression of the identity subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(branch: &str, tag: &str, semver: &str, commit: &str) -> RepositoryRefDefinition {
        let set = |value: &str| (!value.is_empty()).then(|| value.to_string());
        RepositoryRefDefinition {
            branch: set(branch),
            tag: set(tag),
            semver: set(semver),
            commit: set(commit),
        }
    }

    #[test]
    fn commit_beats_semver_beats_tag_beats_branch() {
        assert_eq!(
            reference("main", "v1", "1.x", "abc").effective(),
            EffectiveRepositoryRef::Commit {
                commit: "abc",
                branch: Some("main")
            }
        );
        assert_eq!(
            reference("main", "v1", "1.x", "").effective(),
            EffectiveRepositoryRef::Semver("1.x")
        );
        assert_eq!(
            reference("main", "v1", "", "").effective(),
            EffectiveRepositoryRef::Tag("v1")
        );
        assert_eq!(
            reference("main", "", "", "").effective(),
            EffectiveRepositoryRef::Branch("main")
        );
    }

    #[test]
    fn no_reference_means_the_master_branch() {
        assert_eq!(
            reference("", "", "", "").effective(),
            EffectiveRepositoryRef::Branch("master")
        );
        let git = GitRepositoryDefinition {
            url: "https://example.com/repo".into(),
            ..Default::default()
        };
        assert_eq!(
            git.effective_ref(),
            EffectiveRepositoryRef::Branch("master")
        );
        assert_eq!(git.timeout_in_seconds(), 600);
        assert_eq!(git.sync_interval_in_seconds(), 600);
    }

    #[test]
    fn the_flux_ref_carries_only_the_winning_field() {
        let flux = reference("main", "v1", "1.x", "").to_flux_ref();
        assert_eq!(
            flux,
            GitRepositoryRef {
                semver: Some("1.x".into()),
                ..Default::default()
            }
        );
        let flux = reference("main", "v1", "", "abc").to_flux_ref();
        assert_eq!(
            flux,
            GitRepositoryRef {
                branch: Some("main".into()),
                commit: Some("abc".into()),
                ..Default::default()
            }
        );
    }
}
