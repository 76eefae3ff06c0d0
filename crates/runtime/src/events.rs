//! The event recorder: every event goes to the Kubernetes Events API and, unless it is a trace
//! event, is POSTed as Flux event JSON to `--events-addr` (notification-controller), as
//! fluxcd/pkg `runtime/events` does.
//!
//! Forwarding runs in the background with a short timeout and a few retries on connection errors
//! and 5xx, so a slow or absent notification-controller never slows a reconcile. HTTP 429 means
//! notification-controller already has this event (deduplication) and is not retried.

use eddy_api::event::{self, Event, ObjectReference};
use eddy_api::meta::annotations::EVENT_METADATA_PREFIX;
use k8s_openapi::api::core::v1::ObjectReference as KubeObjectReference;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::event_writer::{EventWriter, KubernetesEvent};

/// How an event is recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// Normal Kubernetes event, severity `info`.
    Normal,
    /// Warning Kubernetes event, severity `error`.
    Warning,
    /// Normal Kubernetes event only; never forwarded.
    Trace,
}

/// The object an event is about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventSubject {
    /// `<group>/<version>` or `v1`.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID.
    pub uid: String,
    /// Resource version.
    pub resource_version: String,
    /// Object annotations; `event.toolkit.fluxcd.io/*` ones are copied into event metadata.
    pub annotations: BTreeMap<String, String>,
}

impl EventSubject {
    /// The subject of a typed Kubernetes object.
    pub fn of<K: kube::Resource<DynamicType = ()>>(object: &K) -> Self {
        let meta = object.meta();
        Self {
            api_version: K::api_version(&()).into_owned(),
            kind: K::kind(&()).into_owned(),
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
            resource_version: meta.resource_version.clone().unwrap_or_default(),
            annotations: meta.annotations.clone().unwrap_or_default(),
        }
    }

    fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
    }
}

/// Records events for one controller.
#[derive(Clone)]
pub struct EventRecorder {
    controller: String,
    instance: Option<String>,
    kubernetes: Option<Arc<EventWriter>>,
    forwarder: Option<Forwarder>,
}

#[derive(Clone)]
struct Forwarder {
    http: reqwest::Client,
    address: String,
    attempts: u32,
    initial_backoff: Duration,
}

impl std::fmt::Debug for EventRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventRecorder")
            .field("controller", &self.controller)
            .field("kubernetes", &self.kubernetes.is_some())
            .field(
                "events_addr",
                &self.forwarder.as_ref().map(|f| f.address.as_str()),
            )
            .finish()
    }
}

/// Error building the recorder.
#[derive(Debug, thiserror::Error)]
pub enum EventRecorderError {
    /// `--events-addr` is not a usable URL.
    #[error("invalid --events-addr {0:?}: must be an http(s) URL or host:port")]
    InvalidAddress(String),
    /// The HTTP client could not be built.
    #[error("building the event HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

impl EventRecorder {
    /// A recorder writing Kubernetes Events with `client` (when given) and forwarding to
    /// `events_addr` (when not empty).
    pub fn new(
        controller: &str,
        client: Option<kube::Client>,
        events_addr: &str,
    ) -> Result<Self, EventRecorderError> {
        let instance = std::env::var("HOSTNAME")
            .ok()
            .filter(|host| !host.is_empty());
        let kubernetes = client
            .map(|client| Arc::new(EventWriter::new(client, controller, instance.as_deref())));
        let forwarder = match events_addr.trim() {
            "" => None,
            address => Some(Forwarder {
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()?,
                address: normalize_address(address)?,
                attempts: 4,
                initial_backoff: Duration::from_millis(500),
            }),
        };
        Ok(Self {
            controller: controller.to_string(),
            instance,
            kubernetes,
            forwarder,
        })
    }

    /// Sets how often and how soon a failed forward is retried (defaults: 4 attempts, 500ms
    /// doubling).
    pub fn with_retries(mut self, attempts: u32, initial_backoff: Duration) -> Self {
        if let Some(forwarder) = &mut self.forwarder {
            forwarder.attempts = attempts.max(1);
            forwarder.initial_backoff = initial_backoff;
        }
        self
    }

    /// A recorder that records nothing (tests, dry runs).
    pub fn disabled(controller: &str) -> Self {
        Self {
            controller: controller.to_string(),
            instance: None,
            kubernetes: None,
            forwarder: None,
        }
    }

    /// Records an event. `metadata` keys are unprefixed (`revision`); they are sent as
    /// `<object group>/<key>`.
    pub async fn record(
        &self,
        subject: &EventSubject,
        event_type: EventType,
        reason: &str,
        message: &str,
        metadata: &BTreeMap<String, String>,
    ) {
        if let Some(writer) = &self.kubernetes {
            let reference = KubeObjectReference {
                api_version: Some(subject.api_version.clone()),
                kind: Some(subject.kind.clone()),
                name: Some(subject.name.clone()),
                namespace: Some(subject.namespace.clone()).filter(|ns| !ns.is_empty()),
                uid: Some(subject.uid.clone()).filter(|uid| !uid.is_empty()),
                resource_version: Some(subject.resource_version.clone())
                    .filter(|rv| !rv.is_empty()),
                field_path: None,
            };
            let note = truncate(message, 1024);
            let kube_event = KubernetesEvent {
                type_: if event_type == EventType::Warning {
                    "Warning"
                } else {
                    "Normal"
                },
                reason,
                note: &note,
                regarding: &reference,
            };
            if let Err(error) = writer.write(&kube_event).await {
                tracing::warn!(%error, reason, "failed to write Kubernetes event");
            }
        }
        if event_type == EventType::Trace {
            return;
        }
        let Some(forwarder) = self.forwarder.clone() else {
            return;
        };
        let payload = self.flux_event(subject, event_type, reason, message, metadata);
        tokio::spawn(async move { forwarder.post(payload).await });
    }

    /// The Flux event JSON for an event.
    pub fn flux_event(
        &self,
        subject: &EventSubject,
        event_type: EventType,
        reason: &str,
        message: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Event {
        let group = subject.group();
        let mut all_metadata: BTreeMap<String, String> = subject
            .annotations
            .iter()
            .filter(|(key, _)| key.starts_with(EVENT_METADATA_PREFIX))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        for (key, value) in metadata {
            all_metadata.insert(format!("{group}/{key}"), value.clone());
        }
        Event {
            involved_object: ObjectReference {
                kind: subject.kind.clone(),
                namespace: subject.namespace.clone(),
                name: subject.name.clone(),
                uid: subject.uid.clone(),
                api_version: subject.api_version.clone(),
                resource_version: subject.resource_version.clone(),
                field_path: String::new(),
            },
            severity: if event_type == EventType::Warning {
                event::SEVERITY_ERROR
            } else {
                event::SEVERITY_INFO
            }
            .to_string(),
            timestamp: k8s_openapi::jiff::Timestamp::now()
                .strftime("%Y-%m-%dT%H:%M:%SZ")
                .to_string(),
            message: truncate(message, event::MAX_MESSAGE_LENGTH),
            reason: reason.to_string(),
            metadata: (!all_metadata.is_empty()).then_some(all_metadata),
            reporting_controller: self.controller.clone(),
            reporting_instance: self.instance.clone(),
        }
    }
}

impl Forwarder {
    async fn post(&self, payload: Event) {
        let mut delay = self.initial_backoff;
        for attempt in 1..=self.attempts {
            match self.http.post(&self.address).json(&payload).send().await {
                Ok(response) if response.status().is_success() => return,
                // notification-controller already has this event.
                Ok(response) if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS => {
                    return;
                }
                Ok(response) if !response.status().is_server_error() => {
                    tracing::warn!(status = %response.status(), reason = %payload.reason, "event rejected by {}", self.address);
                    return;
                }
                Ok(response) => {
                    tracing::debug!(attempt, status = %response.status(), "event forwarding failed");
                }
                Err(error) => {
                    tracing::debug!(attempt, error = %error.without_url(), "event forwarding failed");
                }
            }
            if attempt < self.attempts {
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
            }
        }
        tracing::warn!(reason = %payload.reason, "giving up forwarding event to {} after {} attempts", self.address, self.attempts);
    }
}

/// Accepts `http(s)://host:port/path` or a bare `host:port`, as Flux's flag does.
fn normalize_address(address: &str) -> Result<String, EventRecorderError> {
    let url = if address.contains("://") {
        address.to_string()
    } else {
        format!("http://{address}/")
    };
    match reqwest::Url::parse(&url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {
            Ok(url)
        }
        _ => Err(EventRecorderError::InvalidAddress(address.to_string())),
    }
}

fn truncate(message: &str, limit: usize) -> String {
    if message.len() <= limit {
        return message.to_string();
    }
    let mut end = limit;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> EventSubject {
        EventSubject {
            api_version: "kustomize.toolkit.fluxcd.io/v1".into(),
            kind: "Kustomization".into(),
            namespace: "flux-system".into(),
            name: "apps".into(),
            uid: "u-1".into(),
            resource_version: "42".into(),
            annotations: BTreeMap::from([
                (
                    "event.toolkit.fluxcd.io/env".to_string(),
                    "prod".to_string(),
                ),
                ("unrelated".to_string(), "x".to_string()),
            ]),
        }
    }

    #[test]
    fn metadata_is_prefixed_with_the_object_group() {
        let recorder = EventRecorder::disabled("kustomize-controller");
        let metadata = BTreeMap::from([("revision".to_string(), "main@sha1:abc".to_string())]);
        let event = recorder.flux_event(
            &subject(),
            EventType::Warning,
            "HealthCheckFailed",
            "timeout",
            &metadata,
        );
        assert_eq!(event.severity, "error");
        assert_eq!(event.reporting_controller, "kustomize-controller");
        let metadata = event.metadata.expect("metadata");
        assert_eq!(
            metadata
                .get("kustomize.toolkit.fluxcd.io/revision")
                .map(String::as_str),
            Some("main@sha1:abc")
        );
        assert_eq!(
            metadata
                .get("event.toolkit.fluxcd.io/env")
                .map(String::as_str),
            Some("prod")
        );
        assert!(!metadata.contains_key("unrelated"));
        assert_eq!(event.involved_object.kind, "Kustomization");
    }

    #[test]
    fn long_messages_are_truncated_on_a_character_boundary() {
        let message = "é".repeat(30_000);
        let truncated = truncate(&message, event::MAX_MESSAGE_LENGTH);
        assert!(truncated.len() <= event::MAX_MESSAGE_LENGTH);
        assert!(truncated.chars().all(|c| c == 'é'));
    }

    #[test]
    fn events_addr_accepts_urls_and_host_ports() {
        assert_eq!(
            normalize_address("localhost:9090").ok().as_deref(),
            Some("http://localhost:9090/")
        );
        assert_eq!(
            normalize_address("http://nc.flux-system.svc./")
                .ok()
                .as_deref(),
            Some("http://nc.flux-system.svc./")
        );
        assert!(normalize_address("ftp://x").is_err());
    }
}
