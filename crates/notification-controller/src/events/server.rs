//! The event server: `POST /` (any path) with Flux event JSON from every controller.
//!
//! 400 for a body that is not an event, 413 above 3 MiB, 429 for a duplicate within the rate
//! limit interval, otherwise 202 — also when no Alert matches. Notifications are sent in the
//! background, one task per matching Alert with the Provider's timeout; a failure becomes a
//! `NotificationDispatchFailed` Warning on the Alert and a log line, and other Alerts are not
//! affected.

use super::matching::{self, ProviderGate, SourceMatch};
use super::rate_limit::RateLimiter;
use crate::cluster::{Cluster, ObjectKey};
use crate::event::Event;
use crate::notifier::{Notifier, RetryPolicy};
use crate::provider;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::IntoResponse;
use eddy_api::notification::v1beta3::Alert;
use http::StatusCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// Reason of the Warning recorded on an Alert when a notification fails.
pub const NOTIFICATION_DISPATCH_FAILED: &str = "NotificationDispatchFailed";

/// Settings of the event server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventServerSettings {
    /// Window within which an identical event is a duplicate (`--rate-limit-interval`).
    pub rate_limit_interval: Duration,
    /// Alerts only see events from their own namespace (`--no-cross-namespace-refs`).
    pub no_cross_namespace_refs: bool,
    /// Retries of notification requests.
    pub retry: RetryPolicy,
}

impl Default for EventServerSettings {
    fn default() -> Self {
        Self {
            rate_limit_interval: Duration::from_secs(300),
            no_cross_namespace_refs: false,
            retry: RetryPolicy::default(),
        }
    }
}

/// What the server did with a request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandledEvent {
    /// Not an event (400).
    Malformed,
    /// Seen within the rate limit interval (429).
    Duplicate,
    /// Accepted (202); notifications are under way for these Alerts (`namespace/name`).
    Accepted {
        /// Alerts a notification was started for.
        dispatched: Vec<String>,
    },
}

impl HandledEvent {
    /// The HTTP status Flux answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Malformed => StatusCode::BAD_REQUEST,
            Self::Duplicate => StatusCode::TOO_MANY_REQUESTS,
            Self::Accepted { .. } => StatusCode::ACCEPTED,
        }
    }
}

#[derive(Default)]
struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

/// The event server.
pub struct EventServer<C: Cluster> {
    cluster: C,
    limiter: RateLimiter,
    settings: EventServerSettings,
    in_flight: Arc<InFlight>,
}

struct Prepared {
    notifier: Notifier,
    notification: Event,
    token_to_mask: String,
    timeout: Duration,
}

fn alert_name(alert: &Alert) -> String {
    format!(
        "{}/{}",
        alert.metadata.namespace.as_deref().unwrap_or_default(),
        alert.metadata.name.as_deref().unwrap_or_default()
    )
}

fn mask(text: &str, token: &str) -> String {
    if token.is_empty() {
        text.to_string()
    } else {
        text.replace(token, "*****")
    }
}

impl<C: Cluster> EventServer<C> {
    /// A server reading Alerts and Providers from `cluster`.
    pub fn new(cluster: C, settings: EventServerSettings) -> Arc<Self> {
        Arc::new(Self {
            cluster,
            limiter: RateLimiter::new(settings.rate_limit_interval),
            settings,
            in_flight: Arc::new(InFlight::default()),
        })
    }

    /// The axum router: every method and path goes to the event handler, as Flux's `/` mux.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .fallback(handle_request::<C>)
            .with_state(self.clone())
    }

    /// Waits until every notification started so far has finished (or failed).
    pub async fn idle(&self) {
        loop {
            let notified = self.in_flight.idle.notified();
            if self.in_flight.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Handles one request body.
    pub async fn handle(&self, body: &[u8]) -> HandledEvent {
        self.handle_with_headers(body).await.0
    }

    /// Handles one request body; also returns the rate-limit headers of the answer
    /// (go-limiter's `X-RateLimit-*`, and `Retry-After` for a duplicate).
    pub async fn handle_with_headers(
        &self,
        body: &[u8],
    ) -> (HandledEvent, Vec<(&'static str, String)>) {
        // Go decodes a `null` body into an empty event without error.
        let mut event: Event = match serde_json::from_slice::<Option<Event>>(body) {
            Ok(event) => event.unwrap_or_default(),
            Err(error) => {
                tracing::error!(error = %error, "decoding the request body failed");
                return (HandledEvent::Malformed, Vec::new());
            }
        };
        matching::cleanup_metadata(&mut event);
        let decision = self.limiter.decide(&matching::dedup_key(&event));
        let headers = decision
            .map(|decision| decision.headers())
            .unwrap_or_default();
        if decision.is_some_and(|decision| !decision.allowed) {
            tracing::debug!(object = %event.involved_object_string(), "Discarding event, rate limiting duplicate events");
            return (HandledEvent::Duplicate, headers);
        }
        (self.dispatch(event).await, headers)
    }

    async fn dispatch(&self, mut event: Event) -> HandledEvent {
        matching::exclude_internal_metadata(&mut event);
        let alerts = match self.cluster.alerts().await {
            Ok(alerts) => alerts,
            Err(error) => {
                tracing::error!(error = %error, "failed to get alerts for the event");
                Vec::new()
            }
        };
        let mut matched = Vec::new();
        for alert in alerts {
            if !alert.spec.suspended() && self.alert_matches(&event, &alert).await {
                matched.push(alert);
            }
        }
        let object = event.involved_object_string();
        if matched.is_empty() {
            tracing::info!(%object, "discarding event, no alerts found for the involved object");
            return HandledEvent::Accepted {
                dispatched: Vec::new(),
            };
        }
        tracing::info!(%object, message = %event.message, "dispatching event");
        let mut dispatched = Vec::new();
        for alert in matched {
            match self.prepare(&event, &alert).await {
                Ok(Some(prepared)) => {
                    dispatched.push(alert_name(&alert));
                    self.spawn_post(alert, prepared);
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(alert = %alert_name(&alert), %object, error = %error, "failed to dispatch notification");
                    self.cluster
                        .warn_alert(
                            &alert,
                            NOTIFICATION_DISPATCH_FAILED,
                            &format!("failed to dispatch notification for {object}: {error}"),
                        )
                        .await;
                }
            }
        }
        HandledEvent::Accepted { dispatched }
    }

    async fn alert_matches(&self, event: &Event, alert: &Alert) -> bool {
        let mut source_matched = false;
        for source in &alert.spec.event_sources {
            match matching::source_matches(event, alert, source) {
                SourceMatch::No => {}
                SourceMatch::Yes => source_matched = true,
                SourceMatch::IfLabelled(labels) => {
                    let object = &event.involved_object;
                    let key = ObjectKey {
                        api_version: object.api_version.clone(),
                        kind: object.kind.clone(),
                        namespace: object.namespace.clone(),
                        name: object.name.clone(),
                    };
                    match self.cluster.object_labels(&key).await {
                        Ok(actual) => source_matched = matching::labels_match(&actual, &labels),
                        Err(error) => {
                            tracing::error!(error = %error, "error getting the involved object");
                            self.cluster
                                .warn_alert(
                                    alert,
                                    "SourceFetchFailed",
                                    &format!(
                                        "error getting source object {}",
                                        event.involved_object_string()
                                    ),
                                )
                                .await;
                        }
                    }
                }
            }
            if source_matched {
                break;
            }
        }
        if !source_matched {
            return false;
        }
        let filter = matching::filter_message(&event.message, alert);
        for invalid in &filter.invalid {
            tracing::error!(alert = %alert_name(alert), "{invalid}");
            self.cluster
                .warn_alert(alert, "InvalidConfig", invalid)
                .await;
        }
        filter.passes
    }

    async fn prepare(&self, event: &Event, alert: &Alert) -> Result<Option<Prepared>, String> {
        let alert_namespace = alert.metadata.namespace.as_deref().unwrap_or_default();
        if self.settings.no_cross_namespace_refs
            && event.involved_object.namespace != alert_namespace
        {
            return Err(format!(
                "discarding event, access denied to cross-namespace sources: alert '{}' can't process event from '{}', cross-namespace references have been blocked",
                alert_name(alert),
                event.involved_object_string()
            ));
        }
        let provider = self
            .cluster
            .provider(alert_namespace, &alert.spec.provider_ref.name)
            .await
            .map_err(|error| format!("failed to read provider: {error}"))?;
        if provider.spec.suspended() {
            return Ok(None);
        }
        let provider_type = provider.spec.provider_type;
        match matching::provider_gate(event, provider_type) {
            ProviderGate::Send => {}
            ProviderGate::NotForThisProvider => return Ok(None),
            ProviderGate::NoCommitMetadata => {
                tracing::info!(alert = %alert_name(alert), "event dropped for commit status providers due to missing commit metadata key");
                return Ok(None);
            }
        }
        if provider
            .spec
            .service_account_name
            .as_deref()
            .is_some_and(|name| !name.is_empty())
        {
            return Err("to use spec.serviceAccountName for provider authentication please enable the ObjectLevelWorkloadIdentity feature gate in the controller".into());
        }
        let mut notification = event.clone();
        let conflicts = matching::combine_metadata(&mut notification, alert);
        if !conflicts.is_empty() {
            const MESSAGE: &str = "metadata key conflicts detected (please refer to the Alert API docs and Flux RFC 0008 for more information)";
            let keys: Vec<String> = conflicts
                .iter()
                .map(|conflict| format!("{} ({})", conflict.key, conflict.sources.join(", ")))
                .collect();
            tracing::info!(alert = %alert_name(alert), conflicting_keys = ?keys, "warning: {MESSAGE}");
            self.cluster
                .warn_alert(alert, "MetadataAppendFailed", MESSAGE)
                .await;
        }
        let commit_status = if provider_type.is_commit_status() {
            if provider
                .spec
                .commit_status_expr
                .as_deref()
                .is_some_and(|expression| !expression.is_empty())
            {
                return Err("failed to create commit status: failed to evaluate the spec.commitStatusExpr CEL expression for the event: CEL expressions are not supported by this controller".into());
            }
            matching::default_commit_status(
                provider.metadata.uid.as_deref().unwrap_or_default(),
                &notification,
            )
        } else {
            String::new()
        };
        let provider_name = provider.metadata.name.clone().unwrap_or_default();
        let resolved =
            provider::resolve(&self.cluster, &provider, commit_status, self.settings.retry)
                .await
                .map_err(|error| {
                    format!("failed to initialize notifier for provider '{provider_name}': {error}")
                })?;
        let notifier = Notifier::new(provider_type, &resolved.settings).map_err(|error| {
            mask(
                &format!(
                    "failed to initialize notifier for provider '{provider_name}': failed to initialize notifier: {error}"
                ),
                &resolved.token_to_mask,
            )
        })?;
        let timeout = provider
            .spec
            .get_timeout()
            .unwrap_or(eddy_api::notification::v1beta3::DEFAULT_PROVIDER_TIMEOUT);
        Ok(Some(Prepared {
            notifier,
            notification,
            token_to_mask: resolved.token_to_mask,
            timeout,
        }))
    }

    fn spawn_post(&self, alert: Alert, prepared: Prepared) {
        let cluster = self.cluster.clone();
        let in_flight = self.in_flight.clone();
        in_flight.count.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let Prepared {
                notifier,
                notification,
                token_to_mask,
                timeout,
            } = prepared;
            let object = notification.involved_object_string();
            let outcome = match tokio::time::timeout(timeout, notifier.post(&notification)).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(format!("postMessage failed: {error}")),
                Err(_) => Err(format!(
                    "context deadline exceeded after {}",
                    crate::go_time::duration_string(timeout)
                )),
            };
            if let Err(error) = outcome {
                let error = mask(&error, &token_to_mask);
                tracing::error!(alert = %alert_name(&alert), %object, error = %error, "failed to send notification");
                cluster
                    .warn_alert(
                        &alert,
                        NOTIFICATION_DISPATCH_FAILED,
                        &format!("failed to send notification for {object}: {error}"),
                    )
                    .await;
            }
            if in_flight.count.fetch_sub(1, Ordering::SeqCst) == 1 {
                in_flight.idle.notify_waiters();
            }
        });
    }
}

async fn handle_request<C: Cluster>(
    State(server): State<Arc<EventServer<C>>>,
    request: http::Request<Body>,
) -> impl IntoResponse {
    match crate::serve::read_body(request.into_body()).await {
        Ok(body) => {
            let (handled, headers) = server.handle_with_headers(&body).await;
            let mut response = handled.status().into_response();
            for (name, value) in headers {
                if let Ok(value) = http::HeaderValue::from_str(&value) {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        Err(status) => status.into_response(),
    }
}
