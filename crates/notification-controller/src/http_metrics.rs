//! HTTP metrics of the event and receiver servers, named as Flux's (slok/go-http-metrics with
//! prefix `gotk_event`): `gotk_event_http_request_duration_seconds`,
//! `gotk_event_http_response_size_bytes` (labels `service`, `handler`, `method`, `code`) and
//! `gotk_event_http_requests_inflight` (`service`, `handler`). The handler label is `/` for the
//! event server and `/hook/` for the receiver server, as Flux's.

use axum::body::HttpBody as _;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{HistogramOpts, HistogramVec, IntGaugeVec, Opts, Registry};
use std::time::Instant;

/// The server metrics, shared by both servers.
#[derive(Clone)]
pub struct HttpMetrics {
    duration: HistogramVec,
    size: HistogramVec,
    inflight: IntGaugeVec,
}

/// A metrics handle bound to one server's handler label.
#[derive(Clone)]
pub struct HandlerMetrics {
    metrics: HttpMetrics,
    handler: &'static str,
}

impl HttpMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let labels = ["service", "handler", "method", "code"];
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "gotk_event_http_request_duration_seconds",
                "The latency of the HTTP requests.",
            ),
            &labels,
        )?;
        let size = HistogramVec::new(
            HistogramOpts::new(
                "gotk_event_http_response_size_bytes",
                "The size of the HTTP responses.",
            )
            .buckets(prometheus::exponential_buckets(100.0, 10.0, 8)?),
            &labels,
        )?;
        let inflight = IntGaugeVec::new(
            Opts::new(
                "gotk_event_http_requests_inflight",
                "The number of inflight requests being handled at the same time.",
            ),
            &["service", "handler"],
        )?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(size.clone()))?;
        registry.register(Box::new(inflight.clone()))?;
        Ok(Self {
            duration,
            size,
            inflight,
        })
    }

    /// The metrics of one server.
    pub fn for_handler(&self, handler: &'static str) -> HandlerMetrics {
        HandlerMetrics {
            metrics: self.clone(),
            handler,
        }
    }
}

/// axum middleware recording one request (use with `axum::middleware::from_fn_with_state`).
pub async fn record(
    State(metrics): State<HandlerMetrics>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let inflight = metrics
        .metrics
        .inflight
        .with_label_values(&["", metrics.handler]);
    inflight.inc();
    let started = Instant::now();
    let response = next.run(request).await;
    inflight.dec();
    let code = response.status().as_u16().to_string();
    let labels = ["", metrics.handler, method.as_str(), code.as_str()];
    metrics
        .metrics
        .duration
        .with_label_values(&labels)
        .observe(started.elapsed().as_secs_f64());
    let size = response.body().size_hint().exact().unwrap_or(0);
    metrics
        .metrics
        .size
        .with_label_values(&labels)
        .observe(size as f64);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use http::StatusCode;
    use tower::ServiceExt;

    #[tokio::test]
    async fn requests_are_counted_by_handler_method_and_code() {
        let registry = Registry::new();
        let metrics = HttpMetrics::register(&registry).expect("register");
        let router = Router::new()
            .fallback(|| async { StatusCode::ACCEPTED })
            .layer(axum::middleware::from_fn_with_state(
                metrics.for_handler("/"),
                record,
            ));
        let request = http::Request::post("/")
            .body(axum::body::Body::empty())
            .expect("request");
        let response = router.oneshot(request).await.expect("response");
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let count = metrics
            .duration
            .with_label_values(&["", "/", "POST", "202"])
            .get_sample_count();
        assert_eq!(count, 1);
        let names: Vec<String> = registry
            .gather()
            .iter()
            .map(|family| family.name().to_string())
            .collect();
        assert!(
            names.contains(&"gotk_event_http_request_duration_seconds".to_string()),
            "{names:?}"
        );
    }
}
