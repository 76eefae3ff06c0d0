//! The HTTP client every notifier posts through, behaving as Flux's `postMessage` over
//! hashicorp/go-retryablehttp: up to 4 retries (5 attempts) with exponential backoff from 2s to
//! 30s on connection errors, 429 and 5xx (except 501), honouring `Retry-After` on 429 and 503;
//! proxy and custom CA / client certificate per Provider.
//!
//! Errors never carry a full URL: webhook URLs (Slack, Teams, Discord…) are secrets, so only
//! `scheme://host[:port]` is ever printed.

use super::NotifierError;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use std::time::Duration;

/// How failed requests are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (Flux: RetryMax 4, so 5).
    pub attempts: u32,
    /// Wait before the first retry; doubles after each retry.
    pub min_wait: Duration,
    /// Longest wait between two attempts.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            min_wait: Duration::from_secs(2),
            max_wait: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (0-based): `min × 2^attempt` capped at
    /// `max`, or the server's `Retry-After` (seconds) when it sent one with 429 or 503.
    pub fn wait(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(retry_after) = retry_after {
            return retry_after;
        }
        let factor = 2u32.checked_pow(attempt.min(31)).unwrap_or(u32::MAX);
        self.min_wait
            .checked_mul(factor)
            .map_or(self.max_wait, |wait| wait.min(self.max_wait))
    }
}

/// TLS material from a Provider's `certSecretRef` (or, for Git providers, its `secretRef`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsMaterial {
    /// PEM CA bundle (`ca.crt`): when set, the only trusted roots, as Flux's TLS config.
    pub ca_pem: Option<Vec<u8>>,
    /// PEM client certificate and key (`tls.crt`, `tls.key`) for mutual TLS.
    pub client_pem: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("ca", &self.ca_pem.is_some())
            .field("client_certificate", &self.client_pem.is_some())
            .finish()
    }
}

/// How a Provider's requests travel: proxy, TLS and retries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transport {
    /// Proxy URL (`http`, `https`), with credentials in its user info.
    pub proxy: Option<String>,
    /// Custom TLS material.
    pub tls: Option<TlsMaterial>,
    /// Retry behaviour.
    pub retry: RetryPolicy,
}

/// One request to send (and re-send on retry).
#[derive(Clone, Debug)]
pub struct OutboundRequest {
    /// Method.
    pub method: Method,
    /// Full URL.
    pub url: String,
    /// Headers, applied in order (a later header with the same name replaces an earlier one).
    pub headers: Vec<(String, String)>,
    /// Body bytes, if any.
    pub body: Option<Vec<u8>>,
}

impl OutboundRequest {
    /// A POST of `body` with the given content type.
    pub fn post(url: &str, content_type: &str, body: Vec<u8>) -> Self {
        Self {
            method: Method::POST,
            url: url.to_string(),
            headers: vec![("Content-Type".to_string(), content_type.to_string())],
            body: Some(body),
        }
    }

    /// A GET.
    pub fn get(url: &str) -> Self {
        Self {
            method: Method::GET,
            url: url.to_string(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// Sets (replaces) a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers
            .retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Sets HTTP basic authentication.
    pub fn basic_auth(self, username: &str, password: &str) -> Self {
        use base64::Engine;
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        self.header("Authorization", format!("Basic {encoded}"))
    }
}

/// A response that was not retried.
#[derive(Clone, Debug)]
pub struct InboundResponse {
    /// Status code.
    pub status: StatusCode,
    /// Body.
    pub body: Vec<u8>,
}

impl InboundResponse {
    /// Flux's default validation: any 2xx is success, anything else an error carrying the body.
    pub fn require_success(&self) -> Result<(), NotifierError> {
        if self.status.is_success() {
            return Ok(());
        }
        Err(NotifierError::Status {
            code: self.status.as_u16(),
            body: String::from_utf8_lossy(&self.body).into_owned(),
        })
    }
}

/// Clients kept for reuse; past this many distinct transports the cache starts over.
const MAX_CACHED_CLIENTS: usize = 64;

type CachedTls = (Option<Vec<u8>>, Option<(Vec<u8>, Vec<u8>)>);

#[derive(Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    proxy: Option<String>,
    tls: Option<CachedTls>,
}

static CLIENTS: std::sync::OnceLock<
    std::sync::Mutex<std::collections::HashMap<ClientKey, reqwest::Client>>,
> = std::sync::OnceLock::new();

/// Sends requests for one Provider.
#[derive(Clone, Debug)]
pub struct HttpSender {
    client: reqwest::Client,
    retry: RetryPolicy,
}

impl HttpSender {
    /// A sender with the Provider's proxy and TLS settings. Clients are shared between
    /// senders with the same proxy and TLS material, so connections and loaded roots are reused.
    pub fn new(transport: &Transport) -> Result<Self, NotifierError> {
        let key = ClientKey {
            proxy: transport.proxy.clone(),
            tls: transport
                .tls
                .as_ref()
                .map(|tls| (tls.ca_pem.clone(), tls.client_pem.clone())),
        };
        let mut clients = CLIENTS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(client) = clients.get(&key) {
            return Ok(Self {
                client: client.clone(),
                retry: transport.retry,
            });
        }
        let client = Self::build_client(transport)?;
        if clients.len() >= MAX_CACHED_CLIENTS {
            clients.clear();
        }
        clients.insert(key, client.clone());
        Ok(Self {
            client,
            retry: transport.retry,
        })
    }

    fn build_client(transport: &Transport) -> Result<reqwest::Client, NotifierError> {
        // reqwest panics without a process-wide provider; ring is the process's one provider.
        eddy_runtime::process::install_crypto_provider();
        // Without a Provider proxy, HTTP(S)_PROXY and NO_PROXY from the environment apply, as
        // with Go's default transport; a Provider proxy replaces them.
        let mut builder = reqwest::Client::builder();
        if let Some(proxy) = &transport.proxy {
            let proxy = reqwest::Proxy::all(proxy.as_str())
                .map_err(|_| NotifierError::Config("unable to parse proxy URL".into()))?;
            builder = builder.proxy(proxy);
        }
        if let Some(tls) = &transport.tls {
            if let Some(ca) = &tls.ca_pem {
                let roots = reqwest::Certificate::from_pem_bundle(ca)
                    .map_err(|_| NotifierError::Config("failed to parse CA certificate".into()))?;
                if roots.is_empty() {
                    return Err(NotifierError::Config(
                        "failed to parse CA certificate".into(),
                    ));
                }
                builder = builder.tls_certs_only(roots);
            }
            if let Some((certificate, key)) = &tls.client_pem {
                let mut pem = certificate.clone();
                pem.push(b'\n');
                pem.extend_from_slice(key);
                let identity = reqwest::Identity::from_pem(&pem).map_err(|_| {
                    NotifierError::Config("failed to parse TLS certificate and key".into())
                })?;
                builder = builder.identity(identity);
            }
        }
        builder
            .build()
            .map_err(|error| NotifierError::Config(format!("building HTTP client: {error}")))
    }

    /// Sends `request`, retrying as go-retryablehttp does. Returns the first response that is
    /// not retried (whatever its status), or an error once the attempts are used up.
    pub async fn send(&self, request: &OutboundRequest) -> Result<InboundResponse, NotifierError> {
        let target = redact(&request.url);
        let method = request.method.to_string();
        let headers = header_map(&request.headers)?;
        let attempts = self.retry.attempts.max(1);
        let mut last_cause = String::new();
        for attempt in 0..attempts {
            let mut builder = self
                .client
                .request(request.method.clone(), request.url.as_str())
                .headers(headers.clone());
            if let Some(body) = &request.body {
                builder = builder.body(body.clone());
            }
            let mut retry_after = None;
            match builder.send().await {
                Ok(response) => {
                    let status = response.status();
                    if !is_retryable_status(status) {
                        let body =
                            response
                                .bytes()
                                .await
                                .map_err(|error| NotifierError::Request {
                                    method: method.clone(),
                                    target: target.clone(),
                                    cause: error.without_url().to_string(),
                                })?;
                        return Ok(InboundResponse {
                            status,
                            body: body.to_vec(),
                        });
                    }
                    if matches!(
                        status,
                        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
                    ) {
                        retry_after = response
                            .headers()
                            .get(http::header::RETRY_AFTER)
                            .and_then(|value| value.to_str().ok())
                            .and_then(|value| value.trim().parse::<u64>().ok())
                            .map(Duration::from_secs);
                    }
                    last_cause = if status == StatusCode::TOO_MANY_REQUESTS {
                        String::new()
                    } else {
                        format!("unexpected HTTP status {status}")
                    };
                }
                Err(error) if error.is_builder() => {
                    return Err(NotifierError::Request {
                        method,
                        target,
                        cause: error.without_url().to_string(),
                    });
                }
                Err(error) => {
                    last_cause = one_line(&error.without_url());
                }
            }
            tracing::debug!(attempt = attempt + 1, %target, cause = %last_cause, "notification request failed");
            if attempt + 1 < attempts {
                tokio::time::sleep(self.retry.wait(attempt, retry_after)).await;
            }
        }
        Err(NotifierError::GaveUp {
            method,
            target,
            attempts,
            cause: last_cause,
        })
    }
}

/// Whether go-retryablehttp's default policy retries a response with this status.
pub fn is_retryable_status(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || (status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED)
}

/// `scheme://host[:port]` of a URL: the part that may be printed without leaking a secret path.
pub fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => {
            let host = parsed.host_str().unwrap_or_default();
            match parsed.port() {
                Some(port) => format!("{}://{host}:{port}", parsed.scheme()),
                None => format!("{}://{host}", parsed.scheme()),
            }
        }
        Err(_) => "<invalid URL>".to_string(),
    }
}

fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, NotifierError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| NotifierError::Config(format!("invalid header name {name:?}")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| NotifierError::Config(format!("invalid value for header {name}")))?;
        map.insert(name, value);
    }
    Ok(map)
}

fn one_line(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_two_seconds_up_to_thirty() {
        let policy = RetryPolicy::default();
        let waits: Vec<_> = (0..6).map(|attempt| policy.wait(attempt, None)).collect();
        assert_eq!(
            waits,
            [2, 4, 8, 16, 30, 30].map(Duration::from_secs).to_vec()
        );
        assert_eq!(
            policy.wait(0, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
    }

    #[test]
    fn retryable_statuses_are_429_and_5xx_but_not_501() {
        assert!(is_retryable_status(StatusCode::TOO_MANY_REQUESTS));
        assert!(is_retryable_status(StatusCode::BAD_GATEWAY));
        assert!(!is_retryable_status(StatusCode::NOT_IMPLEMENTED));
        assert!(!is_retryable_status(StatusCode::BAD_REQUEST));
        assert!(!is_retryable_status(StatusCode::OK));
    }

    #[test]
    fn redaction_keeps_only_scheme_host_and_port() {
        assert_eq!(
            redact("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com"
        );
        assert_eq!(
            redact("http://user:pw@127.0.0.1:8080/x?token=y"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(redact("not a url"), "<invalid URL>");
    }

    #[test]
    fn headers_replace_earlier_ones_with_the_same_name() {
        let request = OutboundRequest::post("http://x/", "application/json", Vec::new())
            .header("content-type", "text/plain")
            .basic_auth("user", "pass");
        assert_eq!(
            request.headers,
            vec![
                ("content-type".to_string(), "text/plain".to_string()),
                (
                    "Authorization".to_string(),
                    "Basic dXNlcjpwYXNz".to_string()
                ),
            ]
        );
    }
}
