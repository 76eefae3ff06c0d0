//! Credentials for a Git remote, as Flux reads them from a GitRepository's `secretRef`.
//!
//! The keys are Flux's (fluxcd/pkg/git `NewAuthOptions`): `username`/`password` for basic auth,
//! `bearerToken`, `ca.crt` (or the legacy `caFile`) for a custom certificate authority, and
//! `identity` + `known_hosts` for SSH. Every credential is kept out of `Debug` output so that a
//! logged options value can never leak one.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::GitError;

/// How to reach and authenticate to a remote.
#[derive(Clone, Default)]
pub struct AuthOptions {
    /// Basic-auth user name (HTTP/S).
    pub username: Option<String>,
    /// Basic-auth password (HTTP/S).
    pub password: Option<String>,
    /// Token sent as `Authorization: Bearer <token>` (HTTP/S).
    pub bearer_token: Option<String>,
    /// PEM certificates trusted in addition to the system roots (HTTPS).
    pub ca_certificate: Option<Vec<u8>>,
    /// PEM (OpenSSH) private key (SSH).
    pub ssh_identity: Option<Vec<u8>>,
    /// `known_hosts` lines; a host key not listed is refused (SSH).
    pub ssh_known_hosts: Option<Vec<u8>>,
    /// An HTTP/S proxy for the remote (from `proxySecretRef`).
    pub proxy: Option<ProxyOptions>,
}

/// The proxy settings Flux reads from a `proxySecretRef` (keys `address`, `username`, `password`).
#[derive(Clone, Default)]
pub struct ProxyOptions {
    /// Proxy URL, e.g. `http://proxy:3128`.
    pub address: String,
    /// Proxy user name.
    pub username: Option<String>,
    /// Proxy password.
    pub password: Option<String>,
}

impl fmt::Debug for ProxyOptions {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ProxyOptions")
            .field("address", &crate::error::redact_url(&self.address))
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl fmt::Debug for AuthOptions {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |present: bool| if present { "<redacted>" } else { "<none>" };
        formatter
            .debug_struct("AuthOptions")
            .field("username", &self.username)
            .field("password", &hidden(self.password.is_some()))
            .field("bearer_token", &hidden(self.bearer_token.is_some()))
            .field("ca_certificate", &self.ca_certificate.is_some())
            .field("ssh_identity", &hidden(self.ssh_identity.is_some()))
            .field("ssh_known_hosts", &self.ssh_known_hosts.is_some())
            .field("proxy", &self.proxy)
            .finish()
    }
}

/// The transports the GitRepository v1 API allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `http://`
    Http,
    /// `https://`
    Https,
    /// `ssh://`
    Ssh,
}

impl Scheme {
    /// The scheme of `url`, or an error for anything the v1 API's pattern rejects.
    pub fn of(url: &str) -> Result<Self, GitError> {
        let (scheme, _) = url.split_once("://").ok_or_else(|| GitError::InvalidUrl {
            url: crate::error::redact_url(url),
            reason: "missing scheme".into(),
        })?;
        match scheme {
            "http" => Ok(Self::Http),
            "https" => Ok(Self::Https),
            "ssh" => Ok(Self::Ssh),
            other => Err(GitError::InvalidUrl {
                url: crate::error::redact_url(url),
                reason: format!("scheme '{other}' is not supported (use http, https or ssh)"),
            }),
        }
    }
}

fn text(data: &BTreeMap<String, Vec<u8>>, key: &str) -> Option<String> {
    data.get(key)
        .map(|value| {
            String::from_utf8_lossy(value)
                .trim_end_matches(['\r', '\n'])
                .to_owned()
        })
        .filter(|value| !value.is_empty())
}

fn bytes(data: &BTreeMap<String, Vec<u8>>, key: &str) -> Option<Vec<u8>> {
    data.get(key).filter(|value| !value.is_empty()).cloned()
}

impl AuthOptions {
    /// Reads Flux's secret keys from a Secret's decoded `data`.
    pub fn from_secret_data(data: &BTreeMap<String, Vec<u8>>) -> Self {
        Self {
            username: text(data, "username"),
            password: text(data, "password"),
            bearer_token: text(data, "bearerToken"),
            ca_certificate: bytes(data, "ca.crt").or_else(|| bytes(data, "caFile")),
            ssh_identity: bytes(data, "identity"),
            ssh_known_hosts: bytes(data, "known_hosts"),
            proxy: None,
        }
    }

    /// Reads a `proxySecretRef` Secret's `address`, `username` and `password`.
    pub fn proxy_from_secret_data(
        data: &BTreeMap<String, Vec<u8>>,
    ) -> Result<ProxyOptions, GitError> {
        let address = text(data, "address").ok_or_else(|| {
            GitError::InvalidAuthOptions("invalid proxy secret: key 'address' is missing".into())
        })?;
        Ok(ProxyOptions {
            address,
            username: text(data, "username"),
            password: text(data, "password"),
        })
    }

    /// Checks that the options make sense for `scheme`, with Flux's messages.
    pub fn validate(&self, scheme: Scheme) -> Result<(), GitError> {
        match scheme {
            Scheme::Http | Scheme::Https => {
                if self.username.is_none() && self.password.is_some() {
                    return Err(GitError::InvalidAuthOptions(format!(
                        "invalid '{}' auth option: 'password' requires 'username' to be set",
                        scheme.name()
                    )));
                }
                if self.bearer_token.is_some()
                    && (self.username.is_some() || self.password.is_some())
                {
                    return Err(GitError::InvalidAuthOptions(
                        "basic auth and bearer token cannot be set at the same time".into(),
                    ));
                }
                if scheme == Scheme::Http && self.ca_certificate.is_some() {
                    return Err(GitError::InvalidAuthOptions(
                        "invalid 'http' auth option: 'ca.crt' requires an https URL".into(),
                    ));
                }
                Ok(())
            }
            Scheme::Ssh => {
                if self.ssh_identity.is_none() {
                    return Err(GitError::InvalidAuthOptions(
                        "invalid 'ssh' auth option: 'identity' is required".into(),
                    ));
                }
                if self.ssh_known_hosts.is_none() {
                    return Err(GitError::InvalidAuthOptions(
                        "invalid 'ssh' auth option: 'known_hosts' is required".into(),
                    ));
                }
                Ok(())
            }
        }
    }

    /// Every secret value, so that error messages can be scrubbed of them.
    pub(crate) fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = [&self.password, &self.bearer_token]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        if let Some(proxy) = &self.proxy
            && let Some(password) = &proxy.password
        {
            secrets.push(password.clone());
        }
        secrets.retain(|secret| secret.len() >= 3);
        secrets
    }
}

impl Scheme {
    fn name(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
            Self::Ssh => "ssh",
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), value.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn secret_keys_are_flux_keys() {
        let options = AuthOptions::from_secret_data(&data(&[
            ("username", "git"),
            ("password", "secret\n"),
            ("caFile", "PEM"),
            ("identity", "KEY"),
            ("known_hosts", "HOSTS"),
        ]));
        assert_eq!(options.username.as_deref(), Some("git"));
        assert_eq!(options.password.as_deref(), Some("secret"));
        assert_eq!(options.ca_certificate.as_deref(), Some(&b"PEM"[..]));
        assert_eq!(options.ssh_identity.as_deref(), Some(&b"KEY"[..]));
        assert_eq!(options.ssh_known_hosts.as_deref(), Some(&b"HOSTS"[..]));
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let options = AuthOptions::from_secret_data(&data(&[
            ("username", "git"),
            ("password", "hunter22"),
            ("bearerToken", "tok-en-value"),
        ]));
        let printed = format!("{options:?}");
        assert!(!printed.contains("hunter22"), "{printed}");
        assert!(!printed.contains("tok-en-value"), "{printed}");
    }

    #[test]
    fn ssh_needs_identity_and_known_hosts() {
        let error = AuthOptions::default().validate(Scheme::Ssh).unwrap_err();
        assert!(
            error.to_string().contains("'identity' is required"),
            "{error}"
        );
        let identity_only = AuthOptions::from_secret_data(&data(&[("identity", "KEY")]));
        let error = identity_only.validate(Scheme::Ssh).unwrap_err();
        assert!(
            error.to_string().contains("'known_hosts' is required"),
            "{error}"
        );
    }

    #[test]
    fn basic_auth_and_bearer_token_exclude_each_other() {
        let both = AuthOptions::from_secret_data(&data(&[
            ("username", "git"),
            ("password", "pw1"),
            ("bearerToken", "token"),
        ]));
        assert!(both.validate(Scheme::Https).is_err());
        let password_only = AuthOptions::from_secret_data(&data(&[("password", "pw1")]));
        assert!(password_only.validate(Scheme::Https).is_err());
    }

    #[test]
    fn only_http_https_and_ssh_are_accepted() {
        assert_eq!(Scheme::of("https://host/repo").unwrap(), Scheme::Https);
        assert_eq!(Scheme::of("ssh://git@host/repo").unwrap(), Scheme::Ssh);
        assert!(Scheme::of("git://host/repo").is_err());
        assert!(Scheme::of("file:///tmp/repo").is_err());
        assert!(Scheme::of("host:repo").is_err());
    }
}
