//! `--status-webhook`: the stand-in for Azure's data plane. Each change of a configuration's
//! ARM-visible status is POSTed as JSON (docs/flux-config-agent.md). Reports wait in a
//! bounded map keyed by configuration, so a newer status replaces one not yet delivered
//! (latest wins) and a slow receiver cannot make the agent's memory grow; one worker delivers
//! them, retrying failures with exponential backoff.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eddy_api::clusterconfig::v1alpha1::{FluxConfig, FluxConfigStatus};
use kube::Resource;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::status::arm_view;

/// ARM resource type of a configuration.
pub const RESOURCE_TYPE: &str = "Microsoft.KubernetesConfiguration/fluxConfigurations";

/// Delivery settings.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    /// Where to POST.
    pub url: String,
    /// Configurations with an undelivered report at most; reports of further
    /// configurations are dropped (and logged) until the queue drains.
    pub capacity: usize,
    /// Attempts per report before it is dropped.
    pub attempts: u32,
    /// First retry delay, doubled per attempt.
    pub min_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// Timeout of one POST.
    pub timeout: Duration,
}

impl WebhookSettings {
    /// Defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            capacity: 1024,
            attempts: 8,
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Default)]
struct Queue {
    pending: BTreeMap<String, Value>,
    order: VecDeque<String>,
}

struct Shared {
    settings: WebhookSettings,
    queue: Mutex<Queue>,
    wake: Notify,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // A poisoned queue only loses reports; keep going with what is there.
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Hands statuses to the webhook worker; a no-op without `--status-webhook`.
#[derive(Clone, Default)]
pub struct StatusReporter {
    shared: Option<Arc<Shared>>,
}

impl std::fmt::Debug for StatusReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusReporter")
            .field("enabled", &self.shared.is_some())
            .finish()
    }
}

/// The ARM-shaped document POSTed for a configuration.
pub fn payload(config: &FluxConfig, status: &FluxConfigStatus) -> Value {
    let name = config.metadata.name.clone().unwrap_or_default();
    let namespace = config.metadata.namespace.clone().unwrap_or_default();
    let mut properties = serde_json::to_value(arm_view(status)).unwrap_or_else(|_| json!({}));
    if let Some(properties) = properties.as_object_mut() {
        properties.insert("statusUpdatedAt".into(), json!(status.status_updated_at));
        properties.insert("scope".into(), json!(config.scope()));
        properties.insert(
            "namespace".into(),
            json!(config.configuration_namespace().unwrap_or_default()),
        );
        properties.insert("sourceKind".into(), json!(config.source_kind()));
        properties.insert("suspend".into(), json!(config.suspend()));
    }
    json!({
        "id": format!("{}/namespaces/{namespace}/{}/{name}", FluxConfig::api_version(&()), FluxConfig::plural(&())),
        "name": name,
        "type": RESOURCE_TYPE,
        "kubernetesNamespace": namespace,
        "generation": config.metadata.generation,
        "properties": properties,
    })
}

impl StatusReporter {
    /// A reporter that reports nothing.
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Starts the delivery worker; it stops when `shutdown` fires.
    pub fn start(
        settings: WebhookSettings,
        http: reqwest::Client,
        shutdown: CancellationToken,
    ) -> Self {
        let shared = Arc::new(Shared {
            settings,
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
        });
        tokio::spawn(deliver(Arc::clone(&shared), http, shutdown));
        Self {
            shared: Some(shared),
        }
    }

    /// Queues `body` for the configuration `key`, replacing an undelivered one.
    pub fn report(&self, key: &str, body: Value) {
        let Some(shared) = &self.shared else {
            return;
        };
        {
            let mut queue = shared.lock();
            if !queue.pending.contains_key(key) {
                if queue.pending.len() >= shared.settings.capacity {
                    tracing::warn!(
                        config = key,
                        "status webhook queue is full; dropping this status report"
                    );
                    return;
                }
                queue.order.push_back(key.to_string());
            }
            queue.pending.insert(key.to_string(), body);
        }
        shared.wake.notify_one();
    }
}

fn next(shared: &Shared) -> Option<(String, Value)> {
    let mut queue = shared.lock();
    while let Some(key) = queue.order.pop_front() {
        if let Some(body) = queue.pending.remove(&key) {
            return Some((key, body));
        }
    }
    None
}

/// Whether a newer report for `key` arrived while this one was being retried.
fn superseded(shared: &Shared, key: &str) -> bool {
    shared.lock().pending.contains_key(key)
}

async fn deliver(shared: Arc<Shared>, http: reqwest::Client, shutdown: CancellationToken) {
    loop {
        let Some((key, body)) = next(&shared) else {
            tokio::select! {
                () = shared.wake.notified() => continue,
                () = shutdown.cancelled() => return,
            }
        };
        let settings = &shared.settings;
        let mut delay = settings.min_backoff;
        for attempt in 1..=settings.attempts {
            let sent = http
                .post(&settings.url)
                .timeout(settings.timeout)
                .json(&body)
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => break,
                Ok(response) => {
                    tracing::warn!(config = %key, attempt, status = %response.status(), "status webhook refused the report");
                }
                Err(error) => {
                    tracing::warn!(config = %key, attempt, error = %eddy_runtime::client::one_line(&error), "status webhook unreachable");
                }
            }
            if attempt == settings.attempts {
                tracing::error!(config = %key, "status report dropped after {attempt} attempts");
                break;
            }
            if superseded(&shared, &key) {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(delay) => {},
                () = shutdown.cancelled() => return,
            }
            delay = (delay * 2).min(settings.max_backoff);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_report_replaces_an_undelivered_one_and_the_queue_is_bounded() {
        let shared = Arc::new(Shared {
            settings: WebhookSettings {
                capacity: 2,
                ..WebhookSettings::new("http://127.0.0.1:1/")
            },
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
        });
        let reporter = StatusReporter {
            shared: Some(Arc::clone(&shared)),
        };
        reporter.report("a", json!(1));
        reporter.report("b", json!(2));
        reporter.report("a", json!(3));
        reporter.report("c", json!(4));
        assert_eq!(next(&shared), Some(("a".to_string(), json!(3))));
        assert_eq!(next(&shared), Some(("b".to_string(), json!(2))));
        assert_eq!(next(&shared), None);
    }

    #[tokio::test]
    async fn a_refused_report_is_retried_until_the_receiver_takes_it() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        eddy_runtime::process::install_crypto_provider();
        let calls = Arc::new(AtomicUsize::new(0));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (counter, sink) = (Arc::clone(&calls), Arc::clone(&received));
        let app = axum::Router::new().route(
            "/",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let (counter, sink) = (Arc::clone(&counter), Arc::clone(&sink));
                async move {
                    // The first two attempts fail, as a receiver restarting would.
                    if counter.fetch_add(1, Ordering::SeqCst) < 2 {
                        return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                    }
                    sink.lock().unwrap_or_else(|e| e.into_inner()).push(body);
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let shutdown = CancellationToken::new();
        let reporter = StatusReporter::start(
            WebhookSettings {
                min_backoff: Duration::from_millis(10),
                ..WebhookSettings::new(format!("http://{address}/"))
            },
            reqwest::Client::new(),
            shutdown.clone(),
        );
        reporter.report("ns/cc", json!({"name": "cc"}));
        let started = std::time::Instant::now();
        while received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
        {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the report was never delivered"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(
            *received.lock().unwrap_or_else(|e| e.into_inner()),
            vec![json!({"name": "cc"})]
        );
        shutdown.cancel();
    }
}
