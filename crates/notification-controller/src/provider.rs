//! From a Provider and its Secrets to [`NotifierSettings`], as Flux's `createNotifier` and
//! `extractAuthFromSecret` do:
//!
//! - `spec.address`, `spec.channel`, `spec.username`, deprecated `spec.proxy`;
//! - `secretRef`: `address` (overrides the spec, trimmed, ≤ 2048 bytes), `token`, `username`
//!   with `password` (both or neither), `headers` (a YAML map), deprecated `proxy`;
//! - `proxySecretRef`: `address` (http, https, socks5) with optional `username`/`password`;
//! - `certSecretRef`: `ca.crt`, `tls.crt` + `tls.key` (legacy `caFile`, `certFile`, `keyFile`);
//!   Git commit-status providers also take `ca.crt` from `secretRef`.

use crate::cluster::{Cluster, ClusterError};
use crate::notifier::{NotifierSettings, RetryPolicy, TlsMaterial, Transport};
use eddy_api::notification::v1beta3::Provider;
use std::collections::BTreeMap;

/// Longest address accepted from a Secret.
pub const MAX_ADDRESS_LENGTH: usize = 2048;

/// Why a Provider's settings could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// A referenced Secret could not be read.
    #[error("failed to get secret '{namespace}/{name}': {source}")]
    Secret {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// Cause.
        source: ClusterError,
    },
    /// A Secret's content is unusable.
    #[error("{0}")]
    Invalid(String),
}

/// A Secret's data.
pub type SecretData = BTreeMap<String, Vec<u8>>;

fn text(data: &SecretData, key: &str) -> Option<String> {
    data.get(key)
        .map(|value| String::from_utf8_lossy(value).into_owned())
}

async fn read_secret<C: Cluster>(
    cluster: &C,
    namespace: &str,
    name: &str,
) -> Result<SecretData, ProviderError> {
    cluster
        .secret(namespace, name)
        .await
        .map_err(|source| ProviderError::Secret {
            namespace: namespace.to_string(),
            name: name.to_string(),
            source,
        })
}

/// TLS material of a Secret: `None` when it has neither a CA nor a certificate pair.
pub fn tls_material(data: &SecretData) -> Option<TlsMaterial> {
    let first = |keys: [&str; 2]| keys.iter().find_map(|key| data.get(*key).cloned());
    let ca_pem = first(["ca.crt", "caFile"]);
    let certificate = first(["tls.crt", "certFile"]);
    let key = first(["tls.key", "keyFile"]);
    let client_pem = certificate.zip(key);
    (ca_pem.is_some() || client_pem.is_some()).then_some(TlsMaterial { ca_pem, client_pem })
}

/// The proxy URL of a `proxySecretRef` Secret, with its credentials as user info.
pub fn proxy_url(data: &SecretData, namespace: &str, name: &str) -> Result<String, ProviderError> {
    let invalid = |message: String| {
        ProviderError::Invalid(format!(
            "failed to get proxy URL: secret '{namespace}/{name}': {message}"
        ))
    };
    let address = text(data, "address").ok_or_else(|| invalid("key 'address' not found".into()))?;
    if address.is_empty() {
        return Err(invalid("proxy address is empty".into()));
    }
    if address.len() > MAX_ADDRESS_LENGTH {
        return Err(invalid(format!(
            "proxy URL exceeds maximum length of {MAX_ADDRESS_LENGTH} characters"
        )));
    }
    let mut url = reqwest::Url::parse(&address)
        .map_err(|_| invalid("failed to parse proxy address".into()))?;
    if !matches!(url.scheme(), "http" | "https" | "socks5") {
        return Err(invalid(format!(
            "proxy URL must use one of the supported schemes (http, https, socks5), got '{}'",
            url.scheme()
        )));
    }
    if let Some(username) = text(data, "username") {
        let _ = url.set_username(&username);
        if let Some(password) = text(data, "password") {
            let _ = url.set_password(Some(&password));
        }
    }
    Ok(url.to_string())
}

/// The settings resolved for one Provider, and the token to mask in error messages.
#[derive(Debug)]
pub struct ResolvedProvider {
    /// The notifier settings.
    pub settings: NotifierSettings,
    /// The Secret's `token`, trimmed: masked out of any error text.
    pub token_to_mask: String,
}

/// Resolves a Provider's settings, reading its Secrets.
pub async fn resolve<C: Cluster>(
    cluster: &C,
    provider: &Provider,
    commit_status: String,
    retry: RetryPolicy,
) -> Result<ResolvedProvider, ProviderError> {
    let namespace = provider.metadata.namespace.clone().unwrap_or_default();
    let spec = &provider.spec;
    let mut settings = NotifierSettings {
        url: spec.address.clone().unwrap_or_default(),
        channel: spec.channel.clone().unwrap_or_default(),
        username: spec.username.clone().unwrap_or_default(),
        commit_status,
        transport: Transport {
            proxy: spec.proxy.clone().filter(|proxy| !proxy.is_empty()),
            tls: None,
            retry,
        },
        ..NotifierSettings::default()
    };
    if spec.proxy.as_deref().is_some_and(|proxy| !proxy.is_empty()) {
        tracing::warn!("spec.proxy is deprecated, please use spec.proxySecretRef instead");
    }
    let mut token_to_mask = String::new();
    let mut provider_secret = None;
    if let Some(reference) = &spec.secret_ref {
        let data = read_secret(cluster, &namespace, &reference.name).await?;
        if data
            .get("address")
            .is_some_and(|address| address.len() > MAX_ADDRESS_LENGTH)
        {
            return Err(ProviderError::Invalid(format!(
                "invalid address in secret: address exceeds maximum length of {MAX_ADDRESS_LENGTH} bytes"
            )));
        }
        if let Some(proxy) = text(&data, "proxy") {
            let proxy = proxy.trim().to_string();
            if reqwest::Url::parse(&proxy).is_err() {
                return Err(ProviderError::Invalid(format!(
                    "invalid 'proxy' in secret '{namespace}/{}'",
                    reference.name
                )));
            }
            tracing::warn!(
                "specifying proxy with 'proxy' key in the referenced secret is deprecated, use spec.proxySecretRef with 'address' key instead"
            );
            settings.transport.proxy = Some(proxy);
        }
        if let Some(headers) = data.get("headers") {
            let headers = String::from_utf8_lossy(headers);
            settings.headers = serde_saphyr::from_str::<Option<BTreeMap<String, String>>>(&headers)
                .map_err(|error| {
                    ProviderError::Invalid(format!("failed to read headers from secret: {error}"))
                })?
                .unwrap_or_default();
        }
        if let Some(token) = text(&data, "token") {
            token_to_mask = token.trim().to_string();
            settings.token = token;
        }
        // Flux ignores a half-set username/password pair here.
        if let (Some(username), Some(password)) = (text(&data, "username"), text(&data, "password"))
        {
            settings.username = username;
            settings.password = password;
        }
        if let Some(address) = text(&data, "address") {
            settings.url = address.trim().to_string();
        }
        provider_secret = Some(data);
    }
    if let Some(reference) = &spec.proxy_secret_ref {
        let data = read_secret(cluster, &namespace, &reference.name).await?;
        settings.transport.proxy = Some(proxy_url(&data, &namespace, &reference.name)?);
    }
    if let Some(reference) = &spec.cert_secret_ref {
        let data = read_secret(cluster, &namespace, &reference.name).await?;
        let material = tls_material(&data).ok_or_else(|| {
            ProviderError::Invalid(format!(
                "failed to get TLS config: secret '{namespace}/{}' must contain either 'ca.crt' or both 'tls.crt' and 'tls.key'",
                reference.name
            ))
        })?;
        settings.transport.tls = Some(material);
    } else if spec.provider_type.is_commit_status()
        && let Some(data) = &provider_secret
    {
        settings.transport.tls = tls_material(data).filter(|material| material.ca_pem.is_some());
    }
    Ok(ResolvedProvider {
        settings,
        token_to_mask,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryCluster;
    use eddy_api::meta::LocalObjectReference;
    use eddy_api::notification::v1beta3::{ProviderSpec, ProviderType};

    fn provider(spec: ProviderSpec) -> Provider {
        let mut provider = Provider::new("slack", spec);
        provider.metadata.namespace = Some("flux-system".into());
        provider
    }

    #[tokio::test]
    async fn secret_address_token_headers_and_credentials_override_the_spec() {
        let cluster = MemoryCluster::new();
        cluster.put_secret(
            "flux-system",
            "slack-secret",
            &[
                ("address", b" https://hooks.slack.com/services/T/B/X \n"),
                ("token", b"xoxb-1 "),
                ("headers", b"X-Team: ops\nAuthorization: Bearer abc\n"),
                ("username", b"bot"),
                ("password", b"pw"),
            ],
        );
        let resolved = resolve(
            &cluster,
            &provider(ProviderSpec {
                provider_type: ProviderType::Slack,
                address: Some("https://ignored.example.com".into()),
                username: Some("spec-user".into()),
                channel: Some("#ops".into()),
                secret_ref: Some(LocalObjectReference {
                    name: "slack-secret".into(),
                }),
                ..ProviderSpec::default()
            }),
            String::new(),
            RetryPolicy::default(),
        )
        .await
        .expect("resolves");
        let settings = resolved.settings;
        assert_eq!(settings.url, "https://hooks.slack.com/services/T/B/X");
        assert_eq!(settings.token, "xoxb-1 ");
        assert_eq!(resolved.token_to_mask, "xoxb-1");
        assert_eq!(settings.username, "bot");
        assert_eq!(settings.password, "pw");
        assert_eq!(settings.channel, "#ops");
        assert_eq!(
            settings.headers,
            BTreeMap::from([
                ("Authorization".to_string(), "Bearer abc".to_string()),
                ("X-Team".to_string(), "ops".to_string()),
            ])
        );
    }

    #[tokio::test]
    async fn proxy_secret_credentials_go_into_the_proxy_url() {
        let cluster = MemoryCluster::new();
        cluster.put_secret(
            "flux-system",
            "proxy",
            &[
                ("address", b"http://proxy.internal:3128"),
                ("username", b"u"),
                ("password", b"p"),
            ],
        );
        let resolved = resolve(
            &cluster,
            &provider(ProviderSpec {
                provider_type: ProviderType::Generic,
                address: Some("https://example.com/hook".into()),
                proxy_secret_ref: Some(LocalObjectReference {
                    name: "proxy".into(),
                }),
                ..ProviderSpec::default()
            }),
            String::new(),
            RetryPolicy::default(),
        )
        .await
        .expect("resolves");
        assert_eq!(
            resolved.settings.transport.proxy.as_deref(),
            Some("http://u:p@proxy.internal:3128/")
        );
    }

    #[tokio::test]
    async fn a_missing_secret_is_reported_with_its_name() {
        let cluster = MemoryCluster::new();
        let error = resolve(
            &cluster,
            &provider(ProviderSpec {
                cert_secret_ref: Some(LocalObjectReference { name: "ca".into() }),
                ..ProviderSpec::default()
            }),
            String::new(),
            RetryPolicy::default(),
        )
        .await
        .expect_err("missing");
        assert_eq!(
            error.to_string(),
            "failed to get secret 'flux-system/ca': secrets \"ca\" not found"
        );
    }

    #[test]
    fn tls_material_needs_a_ca_or_a_full_pair() {
        let data = SecretData::from([("tls.crt".to_string(), b"c".to_vec())]);
        assert_eq!(tls_material(&data), None);
        let data = SecretData::from([("caFile".to_string(), b"ca".to_vec())]);
        assert_eq!(
            tls_material(&data).and_then(|material| material.ca_pem),
            Some(b"ca".to_vec())
        );
    }

    #[test]
    fn proxy_schemes_are_limited() {
        let data = SecretData::from([("address".to_string(), b"ftp://proxy".to_vec())]);
        assert!(proxy_url(&data, "ns", "p").is_err());
    }
}
