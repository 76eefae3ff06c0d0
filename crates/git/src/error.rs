//! Errors of Git operations, each one safe to put in a condition message.
//!
//! Messages name the URL without its password and are scrubbed of every credential the
//! operation was given, because they end up in `status.conditions` and events, which any reader
//! of the object can see.

use std::time::Duration;

/// A failed Git operation.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The URL cannot be used.
    #[error("invalid URL '{url}': {reason}")]
    InvalidUrl {
        /// The URL, password removed.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The credentials do not fit the transport.
    #[error("{0}")]
    InvalidAuthOptions(String),
    /// The server rejected the credentials (or required some that were not given).
    #[error("authentication failed for '{url}': {detail}")]
    AuthenticationFailed {
        /// The URL, password removed.
        url: String,
        /// What the transport reported.
        detail: String,
    },
    /// The SSH host key is not in `known_hosts`, or does not match it.
    #[error(
        "host key verification failed for '{url}': the server's host key is not in known_hosts"
    )]
    HostKeyVerificationFailed {
        /// The URL.
        url: String,
    },
    /// The TLS handshake failed (unknown certificate authority, wrong host name, ...).
    #[error("TLS verification failed for '{url}': {detail}")]
    TlsVerificationFailed {
        /// The URL, password removed.
        url: String,
        /// What the TLS stack reported.
        detail: String,
    },
    /// The reference does not exist on the remote.
    #[error("unable to resolve {reference} on '{url}': not found")]
    ReferenceNotFound {
        /// E.g. `branch 'main'`, `tag 'v1.0.0'`.
        reference: String,
        /// The URL, password removed.
        url: String,
    },
    /// The repository has no commits (or no such repository).
    #[error("repository '{url}' not found or empty")]
    RepositoryNotFound {
        /// The URL, password removed.
        url: String,
    },
    /// The semver constraint is malformed.
    #[error("semver parse error: {0}")]
    InvalidSemver(String),
    /// No tag satisfies the semver constraint.
    #[error("no match found for semver: {0}")]
    NoSemverMatch(String),
    /// A sparse-checkout directory is not in the commit.
    #[error("sparse checkout directory '{0}' does not exist in the repository")]
    SparseCheckoutPathNotFound(String),
    /// The operation ran out of time.
    #[error("git operation on '{url}' timed out after {after:?}")]
    Timeout {
        /// The URL, password removed.
        url: String,
        /// The configured timeout.
        after: Duration,
    },
    /// Any other transport or repository failure.
    #[error("git operation on '{url}' failed: {detail}")]
    Operation {
        /// The URL, password removed.
        url: String,
        /// What gix reported.
        detail: String,
    },
    /// Local file system trouble (temporary files, checkout directory).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl GitError {
    /// Whether the failure is about credentials (Flux reports these with the `AuthenticationFailed`
    /// reason when the secret itself is unusable, and `GitOperationFailed` otherwise).
    pub fn is_authentication_failure(&self) -> bool {
        matches!(
            self,
            Self::AuthenticationFailed { .. } | Self::HostKeyVerificationFailed { .. }
        )
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

/// `url` with any password in its user-info replaced, keeping the user name (SSH URLs need it).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info
                .split_once(':')
                .map_or(user_info, |(user, _)| user);
            format!("{scheme}://{user}@{host}{path}")
        }
        None => url.to_owned(),
    }
}

/// Replaces every occurrence of each secret in `text`.
pub(crate) fn scrub(text: &str, secrets: &[String]) -> String {
    secrets.iter().fold(text.to_owned(), |text, secret| {
        text.replace(secret.as_str(), "<redacted>")
    })
}

/// Turns gix's error chain into one of our variants by what it says; gix reports transport
/// failures as text, and the SSH client only as its stderr.
pub(crate) fn classify(url: &str, chain: &str, secrets: &[String]) -> GitError {
    let url = redact_url(url);
    let detail = scrub(chain, secrets);
    let lower = detail.to_ascii_lowercase();
    if lower.contains("host key verification failed")
        || lower.contains("no matching host key")
        || lower.contains("remote host identification has changed")
    {
        return GitError::HostKeyVerificationFailed { url };
    }
    if lower.contains("authentication")
        || lower.contains("401")
        || lower.contains("403")
        || lower.contains("permission denied")
        || lower.contains("credentials")
    {
        return GitError::AuthenticationFailed { url, detail };
    }
    if lower.contains("certificate") || lower.contains("tls") || lower.contains("unknownissuer") {
        return GitError::TlsVerificationFailed { url, detail };
    }
    if lower.contains("404") || lower.contains("repository not found") {
        return GitError::RepositoryNotFound { url };
    }
    GitError::Operation { url, detail }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_removes_the_password_and_keeps_the_user() {
        assert_eq!(
            redact_url("https://user:pw@host/repo.git"),
            "https://user@host/repo.git"
        );
        assert_eq!(
            redact_url("ssh://git@host:22/repo"),
            "ssh://git@host:22/repo"
        );
        assert_eq!(redact_url("https://host/a@b"), "https://host/a@b");
    }

    #[test]
    fn classified_messages_never_carry_secrets() {
        let error = classify(
            "https://u:hunter22@host/r",
            "HTTP 401 for https://u:hunter22@host/r (token tok-123)",
            &["hunter22".into(), "tok-123".into()],
        );
        let message = error.to_string();
        assert!(matches!(error, GitError::AuthenticationFailed { .. }));
        assert!(
            !message.contains("hunter22") && !message.contains("tok-123"),
            "{message}"
        );
        assert!(message.contains("authentication failed"), "{message}");
    }

    #[test]
    fn ssh_host_key_failures_are_recognised() {
        let error = classify(
            "ssh://git@h/r",
            "stderr: Host key verification failed.",
            &[],
        );
        assert!(matches!(error, GitError::HostKeyVerificationFailed { .. }));
    }
}
