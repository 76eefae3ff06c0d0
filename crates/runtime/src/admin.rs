//! The admin endpoints every controller serves: Prometheus metrics on `--metrics-addr` and
//! `/healthz` + `/readyz` on `--health-addr` (controller-runtime's probes).

use crate::metrics::Metrics;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio_util::sync::CancellationToken;

/// Whether the controller is ready to serve (connected, and leading when leader election is on).
#[derive(Clone, Debug, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Marks the controller ready or not.
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::SeqCst);
    }

    /// Whether the controller is ready.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Error starting an admin server.
#[derive(Debug, thiserror::Error)]
#[error("listening on {address} for {purpose}: {source}")]
pub struct AdminError {
    address: String,
    purpose: &'static str,
    #[source]
    source: std::io::Error,
}

/// The router of the metrics endpoint.
pub fn metrics_router(metrics: Metrics) -> Router {
    Router::new()
        .route("/metrics", get(serve_metrics))
        .with_state(metrics)
}

/// The router of the health endpoints.
pub fn health_router(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(serve_readiness))
        .with_state(readiness)
}

/// Binds `address` and serves `router` until `shutdown` is cancelled. Returns the bound address.
pub async fn serve(
    address: SocketAddr,
    purpose: &'static str,
    router: Router,
    shutdown: CancellationToken,
) -> Result<SocketAddr, AdminError> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| AdminError {
            address: address.to_string(),
            purpose,
            source,
        })?;
    let bound = listener.local_addr().map_err(|source| AdminError {
        address: address.to_string(),
        purpose,
        source,
    })?;
    tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(error) = served {
            tracing::error!(%error, purpose, "admin server stopped");
        }
    });
    Ok(bound)
}

/// Serves OpenMetrics when the scraper asks for it (Prometheus does), else the classic text
/// format.
async fn serve_metrics(
    State(metrics): State<Metrics>,
    headers: axum::http::HeaderMap,
) -> impl IntoResponse {
    let wants_openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("application/openmetrics-text"));
    if wants_openmetrics {
        (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            metrics.encode_openmetrics(),
        )
    } else {
        (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            metrics.encode(),
        )
    }
}

async fn serve_readiness(State(readiness): State<Readiness>) -> impl IntoResponse {
    if readiness.get() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}
