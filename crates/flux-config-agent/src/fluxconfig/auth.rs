//! Credentials of the generated source: `localAuthRef` as it is, or a managed Secret
//! `<config>-auth` in Flux's format built from the protected parameters (and, for an SSH URL
//! without a key, from a key pair generated once and kept in that Secret).
//!
//! The protected-parameters Secret holds ARM's `configurationProtectedSettings` as ARM (and
//! `eddy config create`) carries them: `sshPrivateKey`, `httpsKey` and `bucketSecretKey` are
//! base64 inside the Secret's own encoding (an SSH key given as plain PEM is accepted too);
//! the Azure Blob secrets, plain fields in ARM, are plain.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use eddy_api::clusterconfig::v1alpha1::{
    FluxConfig, SourceKind, auth_secret_name, flux_secret_keys as keys, normalize_git_url,
    protected_keys,
};

use super::sshkey::{self, KeyGenerationFailed, SshKeyPair};

/// Secret data: key to bytes.
pub type SecretData = BTreeMap<String, Vec<u8>>;

/// Where the source's credentials come from.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AuthPlan {
    /// The Secret the source references, if any.
    pub secret_ref: Option<String>,
    /// The data of the managed `<config>-auth` Secret, when the agent writes one.
    pub managed: Option<SecretData>,
    /// The public half of a generated SSH key, for `status.repositoryPublicKey`.
    pub public_key: Option<String>,
}

impl std::fmt::Debug for AuthPlan {
    /// Never prints secret values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthPlan")
            .field("secret_ref", &self.secret_ref)
            .field(
                "managed_keys",
                &self
                    .managed
                    .as_ref()
                    .map(|data| data.keys().collect::<Vec<_>>()),
            )
            .field("public_key", &self.public_key)
            .finish()
    }
}

/// Why credentials could not be built; messages never contain secret values.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A field that must be base64 is not.
    #[error("{0} is not valid base64")]
    InvalidBase64(&'static str),
    /// A key pair could not be generated.
    #[error(transparent)]
    KeyGeneration(#[from] KeyGenerationFailed),
}

/// The SSH private key of the protected parameters: PEM as it is, or base64 of a PEM.
fn private_key(value: &[u8]) -> Result<Vec<u8>, AuthError> {
    let text = String::from_utf8_lossy(value);
    if text.trim_start().starts_with("-----BEGIN") {
        return Ok(value.to_vec());
    }
    let compact: String = text.split_whitespace().collect();
    STANDARD
        .decode(compact)
        .map_err(|_| AuthError::InvalidBase64("protected parameter sshPrivateKey"))
}

fn decode_bytes(field: &'static str, value: &[u8]) -> Result<Vec<u8>, AuthError> {
    decode(field, &String::from_utf8_lossy(value))
}

fn decode(field: &'static str, value: &str) -> Result<Vec<u8>, AuthError> {
    let compact: String = value.split_whitespace().collect();
    STANDARD
        .decode(compact)
        .map_err(|_| AuthError::InvalidBase64(field))
}

/// Works out the source's credentials. `existing` is the current `<config>-auth` Secret, whose
/// generated key pair is reused so the deploy key stays the same for the config's lifetime.
pub fn plan(
    config: &FluxConfig,
    protected: &SecretData,
    existing: Option<&SecretData>,
    generate: impl FnOnce(&str) -> Result<SshKeyPair, KeyGenerationFailed>,
) -> Result<AuthPlan, AuthError> {
    let name = config.metadata.name.clone().unwrap_or_default();
    let mut data = SecretData::new();
    let mut public_key = None;
    let local = |reference: Option<&String>| {
        reference
            .filter(|reference| !reference.is_empty())
            .map(|reference| AuthPlan {
                secret_ref: Some(reference.clone()),
                ..AuthPlan::default()
            })
    };
    let protected_value = |key: &str| protected.get(key).filter(|value| !value.is_empty());
    match config.source_kind() {
        SourceKind::GitRepository => {
            let Some(git) = config.spec.git_repository.as_ref() else {
                return Ok(AuthPlan::default());
            };
            if let Some(plan) = local(git.local_auth_ref.as_ref()) {
                return Ok(plan);
            }
            if normalize_git_url(&git.url).starts_with("ssh://") {
                if let Some(key) = protected_value(protected_keys::SSH_PRIVATE_KEY) {
                    data.insert(keys::IDENTITY.into(), private_key(key)?);
                } else if let Some((identity, public)) = existing.and_then(|secret| {
                    Some((
                        secret.get(keys::IDENTITY)?.clone(),
                        secret.get(keys::IDENTITY_PUB)?.clone(),
                    ))
                }) {
                    public_key = Some(String::from_utf8_lossy(&public).trim().to_string());
                    data.insert(keys::IDENTITY.into(), identity);
                    data.insert(keys::IDENTITY_PUB.into(), public);
                } else {
                    let pair = generate(&name)?;
                    public_key = Some(pair.public_line.clone());
                    data.insert(keys::IDENTITY.into(), pair.private_pem.into_bytes());
                    data.insert(keys::IDENTITY_PUB.into(), pair.public_line.into_bytes());
                }
                if let Some(known_hosts) = git.ssh_known_hosts.as_deref().filter(|v| !v.is_empty())
                {
                    data.insert(
                        keys::KNOWN_HOSTS.into(),
                        decode("gitRepository.sshKnownHosts", known_hosts)?,
                    );
                }
            } else {
                let password = protected_value(protected_keys::HTTPS_KEY)
                    .map(|value| decode_bytes("protected parameter httpsKey", value))
                    .transpose()?;
                let user = git.https_user.as_deref().filter(|user| !user.is_empty());
                if user.is_some() || password.is_some() {
                    data.insert(
                        keys::USERNAME.into(),
                        user.unwrap_or("git").as_bytes().to_vec(),
                    );
                    data.insert(keys::PASSWORD.into(), password.unwrap_or_default());
                }
                if let Some(ca) = git.https_ca_cert.as_deref().filter(|v| !v.is_empty()) {
                    data.insert(
                        keys::CA_CERT.into(),
                        decode("gitRepository.httpsCACert", ca)?,
                    );
                }
            }
        }
        SourceKind::Bucket => {
            let Some(bucket) = config.spec.bucket.as_ref() else {
                return Ok(AuthPlan::default());
            };
            if let Some(plan) = local(bucket.local_auth_ref.as_ref()) {
                return Ok(plan);
            }
            if let Some(access) = bucket.access_key.as_deref().filter(|v| !v.is_empty()) {
                data.insert(keys::ACCESS_KEY.into(), access.as_bytes().to_vec());
                let secret = protected_value(protected_keys::BUCKET_SECRET_KEY)
                    .map(|value| decode_bytes("protected parameter bucketSecretKey", value))
                    .transpose()?;
                data.insert(keys::SECRET_KEY.into(), secret.unwrap_or_default());
            }
        }
        SourceKind::AzureBlob => {
            let Some(blob) = config.spec.azure_blob.as_ref() else {
                return Ok(AuthPlan::default());
            };
            if let Some(plan) = local(blob.local_auth_ref.as_ref()) {
                return Ok(plan);
            }
            for (protected_key, flux_key) in [
                (protected_keys::ACCOUNT_KEY, keys::ACCOUNT_KEY),
                (protected_keys::SAS_TOKEN, keys::SAS_KEY),
                (protected_keys::CLIENT_SECRET, keys::CLIENT_SECRET),
            ] {
                if let Some(value) = protected_value(protected_key) {
                    data.insert(flux_key.into(), value.clone());
                }
            }
            if let Some(principal) = &blob.service_principal {
                if let Some(id) = &principal.client_id {
                    data.insert(keys::CLIENT_ID.into(), id.as_bytes().to_vec());
                }
                if let Some(tenant) = &principal.tenant_id {
                    data.insert(keys::TENANT_ID.into(), tenant.as_bytes().to_vec());
                }
            }
        }
        SourceKind::OciRepository => {
            let Some(oci) = config.spec.oci_repository.as_ref() else {
                return Ok(AuthPlan::default());
            };
            if let Some(plan) = local(oci.local_auth_ref.as_ref()) {
                return Ok(plan);
            }
        }
    }
    if data.is_empty() {
        return Ok(AuthPlan::default());
    }
    Ok(AuthPlan {
        secret_ref: Some(auth_secret_name(&name)),
        managed: Some(data),
        public_key,
    })
}

/// Generates a key pair (the production generator for [`plan`]).
pub fn generate_key(comment: &str) -> Result<SshKeyPair, KeyGenerationFailed> {
    sshkey::generate(comment)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn git(url: &str, extra: serde_json::Value) -> FluxConfig {
        let mut repository = json!({"url": url});
        if let (Some(target), Some(extra)) = (repository.as_object_mut(), extra.as_object()) {
            target.extend(extra.clone());
        }
        serde_json::from_value(json!({
            "apiVersion": "clusterconfig.azure.com/v1alpha1", "kind": "FluxConfig",
            "metadata": {"name": "cc", "namespace": "team"},
            "spec": {"gitRepository": repository},
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn never(_: &str) -> Result<SshKeyPair, KeyGenerationFailed> {
        panic!("no key should be generated")
    }

    #[test]
    fn a_local_auth_ref_is_used_as_it_is() {
        let config = git(
            "https://h/r",
            json!({"localAuthRef": "mine", "httpsUser": "u"}),
        );
        let plan = plan(&config, &SecretData::new(), None, never).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.secret_ref.as_deref(), Some("mine"));
        assert_eq!(plan.managed, None);
    }

    #[test]
    fn https_credentials_become_username_and_password() {
        let config = git("https://h/r", json!({"httpsUser": "bob"}));
        let protected = SecretData::from([("httpsKey".to_string(), b"czNjcmV0".to_vec())]);
        let plan = plan(&config, &protected, None, never).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.secret_ref.as_deref(), Some("cc-auth"));
        let data = plan.managed.clone().unwrap_or_default();
        assert_eq!(data.get("username").map(Vec::as_slice), Some(&b"bob"[..]));
        assert_eq!(
            data.get("password").map(Vec::as_slice),
            Some(&b"s3cret"[..])
        );
        assert!(!format!("{plan:?}").contains("s3cret"));
    }

    #[test]
    fn an_ssh_key_and_known_hosts_are_decoded() {
        let pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n";
        let config = git(
            "git@h:r.git",
            json!({"sshKnownHosts": STANDARD.encode("h ssh-ed25519 AAAA")}),
        );
        let protected = SecretData::from([(
            "sshPrivateKey".to_string(),
            STANDARD.encode(pem).into_bytes(),
        )]);
        let plan = plan(&config, &protected, None, never).unwrap_or_else(|e| panic!("{e}"));
        let data = plan.managed.unwrap_or_default();
        assert_eq!(
            data.get("identity").map(Vec::as_slice),
            Some(pem.as_bytes())
        );
        assert_eq!(
            data.get("known_hosts").map(Vec::as_slice),
            Some(&b"h ssh-ed25519 AAAA"[..])
        );
        assert_eq!(plan.public_key, None);
    }

    #[test]
    fn an_ssh_url_without_a_key_gets_a_generated_pair_once() {
        let config = git("ssh://git@h/r.git", json!({}));
        let first =
            plan(&config, &SecretData::new(), None, generate_key).unwrap_or_else(|e| panic!("{e}"));
        let public = first.public_key.clone().unwrap_or_default();
        assert!(public.starts_with("ssh-ed25519 "));
        let existing = first.managed.clone().unwrap_or_default();
        let second = plan(&config, &SecretData::new(), Some(&existing), never)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(second.public_key.as_deref(), Some(public.as_str()));
        assert_eq!(second.managed, first.managed);
    }

    #[test]
    fn a_public_https_repository_needs_no_secret() {
        let config = git("https://h/r", json!({}));
        let plan = plan(&config, &SecretData::new(), None, never).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan, AuthPlan::default());
    }
}
