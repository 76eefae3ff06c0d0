//! Serving an axum router until shutdown, and reading request bodies with Flux's 3 MiB cap.

use axum::Router;
use axum::body::Body;
use http::StatusCode;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Largest request body accepted by both servers (3 MiB).
pub const MAX_REQUEST_BODY_BYTES: usize = 3 * 1024 * 1024;

/// Reads a request body up to [`MAX_REQUEST_BODY_BYTES`]: 413 when larger, 400 when the body
/// cannot be read.
pub async fn read_body(body: Body) -> Result<Vec<u8>, StatusCode> {
    match axum::body::to_bytes(body, MAX_REQUEST_BODY_BYTES).await {
        Ok(bytes) => Ok(bytes.to_vec()),
        Err(error) => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
            while let Some(cause) = source {
                if cause.is::<http_body_util::LengthLimitError>() {
                    tracing::error!(
                        "reading the request body failed: request body exceeds the maximum size of {MAX_REQUEST_BODY_BYTES} bytes"
                    );
                    return Err(StatusCode::PAYLOAD_TOO_LARGE);
                }
                source = cause.source();
            }
            tracing::error!(error = %error, "reading the request body failed");
            Err(StatusCode::BAD_REQUEST)
        }
    }
}

/// Serves `router` on `listener` until `shutdown`, then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
    name: &'static str,
) {
    let address = listener
        .local_addr()
        .map(|address| address.to_string())
        .unwrap_or_default();
    tracing::info!(server = name, %address, "listening");
    let result = axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    match result {
        Ok(()) => tracing::info!(server = name, "stopped"),
        Err(error) => tracing::error!(server = name, error = %error, "server failed"),
    }
}
