//! Webhook notifiers: `generic` and `generic-hmac` forward the event JSON itself
//! (`forwarder.go`); `alertmanager` posts one firing alert (`alertmanager.go`).

use super::http::HttpSender;
use super::{NotifierError, NotifierSettings, parse_request_uri};
use crate::event::Event;
use crate::notifier::http::OutboundRequest;
use hmac::{KeyInit, Mac};
use serde::Serialize;
use std::collections::BTreeMap;

/// Header naming the controller that emitted a forwarded event.
pub const NOTIFICATION_HEADER: &str = "gotk-component";
/// Header carrying `sha256=<hex HMAC>` of the body for `generic-hmac`.
pub const SIGNATURE_HEADER: &str = "X-Signature";

/// `hex(HMAC-SHA256(key, payload))`.
pub fn sign(payload: &[u8], key: &[u8]) -> String {
    // HMAC accepts keys of any length; the error branch cannot happen.
    match hmac::Hmac::<sha2::Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(payload);
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// The `generic` / `generic-hmac` request for `event`: the event JSON (as Go encodes it) with
/// `gotk-component`, the Secret's headers (which may replace any other) and, with a key,
/// `X-Signature: sha256=<hex>` over the exact body.
pub fn forward_request(
    url: &str,
    event: &Event,
    headers: &BTreeMap<String, String>,
    hmac_key: Option<&[u8]>,
) -> Result<OutboundRequest, NotifierError> {
    let body = crate::go_json::to_vec(event)?;
    let signature = hmac_key.map(|key| format!("sha256={}", sign(&body, key)));
    let mut request = OutboundRequest::post(url, "application/json", body)
        .header(NOTIFICATION_HEADER, event.reporting_controller.clone());
    for (name, value) in headers {
        request = request.header(name, value.clone());
    }
    if let Some(signature) = signature {
        request = request.header(SIGNATURE_HEADER, signature);
    }
    Ok(request)
}

/// The generic forwarder.
#[derive(Debug)]
pub struct Forwarder {
    url: String,
    headers: BTreeMap<String, String>,
    hmac_key: Option<Vec<u8>>,
    sender: HttpSender,
}

impl Forwarder {
    /// A forwarder; `hmac_key` makes it `generic-hmac` and must not be empty.
    pub fn new(
        settings: &NotifierSettings,
        hmac_key: Option<Vec<u8>>,
        sender: HttpSender,
    ) -> Result<Self, NotifierError> {
        parse_request_uri(&settings.url, "hook")?;
        if hmac_key.as_ref().is_some_and(Vec::is_empty) {
            return Err(NotifierError::Config("HMAC key is empty".into()));
        }
        Ok(Self {
            url: settings.url.clone(),
            headers: settings.headers.clone(),
            hmac_key,
            sender,
        })
    }

    /// Posts the event.
    pub async fn post(&self, event: &Event) -> Result<(), NotifierError> {
        let request = forward_request(&self.url, event, &self.headers, self.hmac_key.as_deref())?;
        self.sender.send(&request).await?.require_success()
    }
}

/// One Alertmanager alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AlertmanagerAlert {
    /// `firing`.
    pub status: String,
    /// Metadata plus alertname, severity, reason, kind, name, namespace, reportingcontroller.
    pub labels: BTreeMap<String, String>,
    /// `message`, and `summary` when the metadata has one.
    pub annotations: BTreeMap<String, String>,
    /// The event time (RFC 3339, UTC).
    #[serde(rename = "startsAt")]
    pub starts_at: String,
    /// Go's zero time: Flux leaves the end to Alertmanager's `resolve_timeout`.
    #[serde(rename = "endsAt")]
    pub ends_at: String,
}

/// Go's `cases.Title`: each word's first letter upper case, the rest lower case.
pub fn title_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at_word_start = true;
    for character in text.chars() {
        if character.is_alphanumeric() || character == '_' || character == '\'' {
            if at_word_start {
                out.extend(character.to_uppercase());
            } else {
                out.extend(character.to_lowercase());
            }
            at_word_start = false;
        } else {
            out.push(character);
            at_word_start = true;
        }
    }
    out
}

/// Flux's Alertmanager payload for `event`.
pub fn alertmanager_payload(event: &Event) -> Vec<AlertmanagerAlert> {
    let mut labels = event.metadata.clone();
    let mut annotations = BTreeMap::from([("message".to_string(), event.message.clone())]);
    if let Some(summary) = labels.remove("summary") {
        annotations.insert("summary".to_string(), summary);
    }
    let object = &event.involved_object;
    labels.insert(
        "alertname".into(),
        format!("Flux{}{}", object.kind, title_case(&event.reason)),
    );
    labels.insert("severity".into(), event.severity.clone());
    labels.insert("reason".into(), event.reason.clone());
    labels.insert("kind".into(), object.kind.clone());
    labels.insert("name".into(), object.name.clone());
    labels.insert("namespace".into(), object.namespace.clone());
    labels.insert(
        "reportingcontroller".into(),
        event.reporting_controller.clone(),
    );
    let starts_at = event.timestamp.map_or_else(
        || "0001-01-01T00:00:00Z".to_string(),
        |timestamp| timestamp.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    );
    vec![AlertmanagerAlert {
        status: "firing".into(),
        labels,
        annotations,
        starts_at,
        ends_at: "0001-01-01T00:00:00Z".into(),
    }]
}

/// Alertmanager notifier.
#[derive(Debug)]
pub struct Alertmanager {
    url: String,
    token: String,
    username: String,
    password: String,
    sender: HttpSender,
}

impl Alertmanager {
    /// An Alertmanager notifier (`/api/v2/alerts` address).
    pub fn new(settings: &NotifierSettings, sender: HttpSender) -> Result<Self, NotifierError> {
        parse_request_uri(&settings.url, "Alertmanager")?;
        Ok(Self {
            url: settings.url.clone(),
            token: settings.token.clone(),
            username: settings.username.clone(),
            password: settings.password.clone(),
            sender,
        })
    }

    /// Posts the event as a firing alert. Basic auth, when both username and password are set,
    /// replaces the bearer token (Flux keeps one request modifier: the last one set).
    pub async fn post(&self, event: &Event) -> Result<(), NotifierError> {
        let payload = alertmanager_payload(event);
        super::post_json(&self.sender, &self.url, &payload, |request| {
            if !self.username.is_empty() && !self.password.is_empty() {
                request.basic_auth(&self.username, &self.password)
            } else if !self.token.is_empty() {
                request.header("Authorization", format!("Bearer {}", self.token))
            } else {
                request
            }
        })
        .await?
        .require_success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        serde_json::from_value(serde_json::json!({
            "involvedObject": {"kind": "GitRepository", "namespace": "flux-system", "name": "podinfo",
                               "apiVersion": "source.toolkit.fluxcd.io/v1"},
            "severity": "error",
            "timestamp": "2024-05-01T10:00:00Z",
            "message": "fetch failed: <timeout>",
            "reason": "GitOperationFailed",
            "metadata": {"revision": "main@sha1:abc", "summary": "prod cluster"},
            "reportingController": "source-controller"
        }))
        .expect("event")
    }

    #[test]
    fn hmac_signature_is_hex_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign(b"what do ya want for nothing?", b"Jefe"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn generic_hmac_request_signs_the_exact_body_it_sends() {
        let headers = BTreeMap::from([("Authorization".to_string(), "Bearer x".to_string())]);
        let request =
            forward_request("http://sink/", &event(), &headers, Some(b"s3cr3t")).expect("request");
        let body = request.body.clone().expect("body");
        let expected = format!("sha256={}", sign(&body, b"s3cr3t"));
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        };
        assert_eq!(header("X-Signature"), Some(expected));
        assert_eq!(
            header("gotk-component").as_deref(),
            Some("source-controller")
        );
        assert_eq!(header("Authorization").as_deref(), Some("Bearer x"));
        assert_eq!(
            String::from_utf8(body).expect("utf-8"),
            r#"{"involvedObject":{"kind":"GitRepository","namespace":"flux-system","name":"podinfo","apiVersion":"source.toolkit.fluxcd.io/v1"},"severity":"error","timestamp":"2024-05-01T10:00:00Z","message":"fetch failed: \u003ctimeout\u003e","reason":"GitOperationFailed","metadata":{"revision":"main@sha1:abc","summary":"prod cluster"},"reportingController":"source-controller"}"#
        );
        let plain =
            forward_request("http://sink/", &event(), &BTreeMap::new(), None).expect("request");
        assert!(plain.headers.iter().all(|(key, _)| key != "X-Signature"));
    }

    #[test]
    fn alertmanager_alert_moves_summary_to_annotations() {
        let payload = crate::go_json::to_vec(&alertmanager_payload(&event())).expect("json");
        assert_eq!(
            String::from_utf8(payload).expect("utf-8"),
            r#"[{"status":"firing","labels":{"alertname":"FluxGitRepositoryGitoperationfailed","kind":"GitRepository","name":"podinfo","namespace":"flux-system","reason":"GitOperationFailed","reportingcontroller":"source-controller","revision":"main@sha1:abc","severity":"error"},"annotations":{"message":"fetch failed: \u003ctimeout\u003e","summary":"prod cluster"},"startsAt":"2024-05-01T10:00:00Z","endsAt":"0001-01-01T00:00:00Z"}]"#
        );
    }

    #[test]
    fn title_case_lowercases_the_rest_of_each_word() {
        assert_eq!(
            title_case("ReconciliationSucceeded"),
            "Reconciliationsucceeded"
        );
        assert_eq!(title_case("health check"), "Health Check");
        assert_eq!(title_case(""), "");
    }
}
