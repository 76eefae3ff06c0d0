//! Notifiers: turn an event into a provider's payload and deliver it (Flux's
//! `internal/notifier`). Each payload is built by a pure function, so its exact bytes can be
//! tested, and sent through [`http::HttpSender`], which retries as Flux's client does.
//!
//! ```text
//!   chat     slack (incoming webhook, chat.postMessage), discord, rocket, msteams (Adaptive
//!            Card or MessageCard), googlechat
//!   webhook  generic, generic-hmac (X-Signature), alertmanager
//!   git      github and gitlab commit statuses
//!   http     the retrying client, proxy and TLS
//! ```

pub mod chat;
pub mod git;
pub mod http;
pub mod webhook;

use crate::event::Event;
use eddy_api::notification::v1beta3::ProviderType;
use std::collections::BTreeMap;

pub use self::http::{HttpSender, RetryPolicy, TlsMaterial, Transport};

/// Why a notification could not be built or delivered. Messages never contain tokens or full
/// webhook URLs.
#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    /// The Provider's configuration is unusable.
    #[error("{0}")]
    Config(String),
    /// The provider type exists in Flux but Eddy does not deliver to it.
    #[error("provider {0} not supported")]
    Unsupported(String),
    /// A request could not be sent and was not retried.
    #[error("failed to execute request: {method} {target}: {cause}")]
    Request {
        /// HTTP method.
        method: String,
        /// `scheme://host[:port]` of the target.
        target: String,
        /// What went wrong.
        cause: String,
    },
    /// Every attempt failed.
    #[error("failed to execute request: {method} {target} giving up after {attempts} attempt(s){}", if cause.is_empty() { String::new() } else { format!(": {cause}") })]
    GaveUp {
        /// HTTP method.
        method: String,
        /// `scheme://host[:port]` of the target.
        target: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        cause: String,
    },
    /// The receiver answered with a non-success status.
    #[error("request failed with status code {code}: {body}")]
    Status {
        /// Status code.
        code: u16,
        /// Response body.
        body: String,
    },
    /// The receiver answered success but reported an error in its body.
    #[error("{0}")]
    Rejected(String),
    /// The payload could not be encoded.
    #[error("marshalling notification payload failed: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Everything a notifier needs from a Provider, its Secrets and the Alert: Flux's
/// `notifierOptions`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct NotifierSettings {
    /// Address (`spec.address`, or the Secret's `address`).
    pub url: String,
    /// Channel (`spec.channel`).
    pub channel: String,
    /// Username (`spec.username`, or the Secret's `username`).
    pub username: String,
    /// Password (the Secret's `password`).
    pub password: String,
    /// Token (the Secret's `token`).
    pub token: String,
    /// Extra headers (the Secret's `headers`).
    pub headers: BTreeMap<String, String>,
    /// Commit status identifier (Git providers).
    pub commit_status: String,
    /// Proxy, TLS and retries.
    pub transport: Transport,
}

impl std::fmt::Debug for NotifierSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifierSettings")
            .field("url", &http::redact(&self.url))
            .field("channel", &self.channel)
            .field("username", &self.username)
            .field("token", &(!self.token.is_empty()).then_some("<redacted>"))
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("commit_status", &self.commit_status)
            .field("transport", &self.transport)
            .finish()
    }
}

/// A configured notifier for one Provider.
#[derive(Debug)]
pub enum Notifier {
    /// Slack (and chat.postMessage).
    Slack(chat::Slack),
    /// Discord (Slack-compatible endpoint).
    Discord(chat::Discord),
    /// Rocket.Chat.
    Rocket(chat::Rocket),
    /// Microsoft Teams.
    MsTeams(chat::MsTeams),
    /// Google Chat.
    GoogleChat(chat::GoogleChat),
    /// generic and generic-hmac.
    Forwarder(webhook::Forwarder),
    /// Prometheus Alertmanager.
    Alertmanager(webhook::Alertmanager),
    /// GitHub commit status.
    GitHub(git::GitHub),
    /// GitLab commit status.
    GitLab(git::GitLab),
}

impl Notifier {
    /// Builds the notifier of `provider_type`, as Flux's factory does.
    pub fn new(
        provider_type: ProviderType,
        settings: &NotifierSettings,
    ) -> Result<Self, NotifierError> {
        let sender = || HttpSender::new(&settings.transport);
        Ok(match provider_type {
            ProviderType::Slack => Self::Slack(chat::Slack::new(settings, sender()?)?),
            ProviderType::Discord => Self::Discord(chat::Discord::new(settings, sender()?)?),
            ProviderType::Rocket => Self::Rocket(chat::Rocket::new(settings, sender()?)?),
            ProviderType::MsTeams => Self::MsTeams(chat::MsTeams::new(settings, sender()?)?),
            ProviderType::GoogleChat => {
                Self::GoogleChat(chat::GoogleChat::new(settings, sender()?)?)
            }
            ProviderType::Generic => {
                Self::Forwarder(webhook::Forwarder::new(settings, None, sender()?)?)
            }
            ProviderType::GenericHmac => Self::Forwarder(webhook::Forwarder::new(
                settings,
                Some(settings.token.as_bytes().to_vec()),
                sender()?,
            )?),
            ProviderType::Alertmanager => {
                Self::Alertmanager(webhook::Alertmanager::new(settings, sender()?)?)
            }
            ProviderType::GitHub => Self::GitHub(git::GitHub::new(settings, sender()?)?),
            ProviderType::GitLab => Self::GitLab(git::GitLab::new(settings, sender()?)?),
            other => {
                let name = serde_json::to_value(other)
                    .ok()
                    .and_then(|value| value.as_str().map(str::to_string))
                    .unwrap_or_else(|| format!("{other:?}"));
                return Err(NotifierError::Unsupported(name));
            }
        })
    }

    /// Delivers `event`.
    pub async fn post(&self, event: &Event) -> Result<(), NotifierError> {
        match self {
            Self::Slack(notifier) => notifier.post(event).await,
            Self::Discord(notifier) => notifier.post(event).await,
            Self::Rocket(notifier) => notifier.post(event).await,
            Self::MsTeams(notifier) => notifier.post(event).await,
            Self::GoogleChat(notifier) => notifier.post(event).await,
            Self::Forwarder(notifier) => notifier.post(event).await,
            Self::Alertmanager(notifier) => notifier.post(event).await,
            Self::GitHub(notifier) => notifier.post(event).await,
            Self::GitLab(notifier) => notifier.post(event).await,
        }
    }
}

/// Checks an address as Go's `url.ParseRequestURI` does: absolute URL with a scheme.
pub(crate) fn parse_request_uri(address: &str, what: &str) -> Result<reqwest::Url, NotifierError> {
    reqwest::Url::parse(address)
        .ok()
        .filter(|url| url.has_host() || url.scheme() == "file")
        .ok_or_else(|| NotifierError::Config(format!("invalid {what} URL")))
}

/// Posts a JSON payload encoded as Go encodes it, with Flux's default response validation.
pub(crate) async fn post_json<T: serde::Serialize>(
    sender: &HttpSender,
    url: &str,
    payload: &T,
    customize: impl FnOnce(http::OutboundRequest) -> http::OutboundRequest,
) -> Result<http::InboundResponse, NotifierError> {
    let body = crate::go_json::to_vec(payload)?;
    let request = customize(http::OutboundRequest::post(url, "application/json", body));
    sender.send(&request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_types_are_named_as_flux_spells_them() {
        let settings = NotifierSettings {
            url: "https://example.com/hook".into(),
            ..NotifierSettings::default()
        };
        let error = Notifier::new(ProviderType::IncidentIo, &settings).expect_err("unsupported");
        assert_eq!(error.to_string(), "provider incident.io not supported");
    }

    #[test]
    fn settings_debug_output_hides_the_token_and_the_url_path() {
        let settings = NotifierSettings {
            url: "https://hooks.slack.com/services/T0/B0/secret".into(),
            token: "xoxb-secret".into(),
            ..NotifierSettings::default()
        };
        let printed = format!("{settings:?}");
        assert!(!printed.contains("secret\""), "{printed}");
        assert!(!printed.contains("xoxb"), "{printed}");
        assert!(printed.contains("https://hooks.slack.com"));
    }

    #[test]
    fn give_up_errors_read_like_fluxs() {
        let error = NotifierError::GaveUp {
            method: "POST".into(),
            target: "http://127.0.0.1:1".into(),
            attempts: 5,
            cause: "unexpected HTTP status 500 Internal Server Error".into(),
        };
        assert_eq!(
            error.to_string(),
            "failed to execute request: POST http://127.0.0.1:1 giving up after 5 attempt(s): unexpected HTTP status 500 Internal Server Error"
        );
    }
}
