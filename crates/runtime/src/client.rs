//! The Kubernetes client every controller uses: configuration from `--kubeconfig`, `$KUBECONFIG`,
//! `~/.kube/config` or the in-cluster service account, client-side rate limiting with
//! client-go's QPS/burst semantics (kube-rs has none), and a start-up check that fails with one
//! clear line when the API server cannot be reached.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Why no client could be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No kubeconfig and not in a cluster.
    #[error("no Kubernetes configuration found (set --kubeconfig or $KUBECONFIG): {0}")]
    NoConfiguration(String),
    /// The kubeconfig could not be read.
    #[error("reading kubeconfig {path}: {message}")]
    Kubeconfig {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The client could not be built from the configuration.
    #[error("building Kubernetes client: {0}")]
    Build(String),
    /// The API server did not answer.
    #[error("cannot reach the Kubernetes API server at {url}: {message}")]
    Unreachable {
        /// The server URL.
        url: String,
        /// What went wrong.
        message: String,
    },
}

/// Loads the client configuration: an explicit kubeconfig path, else kube's inference.
pub async fn load_config(kubeconfig: &str) -> Result<kube::Config, ClientError> {
    if kubeconfig.is_empty() {
        return kube::Config::infer()
            .await
            .map_err(|error| ClientError::NoConfiguration(one_line(&error)));
    }
    let file = kube::config::Kubeconfig::read_from(kubeconfig).map_err(|error| {
        ClientError::Kubeconfig {
            path: kubeconfig.to_string(),
            message: one_line(&error),
        }
    })?;
    kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
        .await
        .map_err(|error| ClientError::Kubeconfig {
            path: kubeconfig.to_string(),
            message: one_line(&error),
        })
}

/// Builds a client with client-go's QPS/burst rate limiting.
pub fn build_client(
    config: kube::Config,
    qps: f32,
    burst: u32,
) -> Result<kube::Client, ClientError> {
    let builder = kube::client::ClientBuilder::try_from(config)
        .map_err(|error| ClientError::Build(one_line(&error)))?;
    Ok(builder.with_layer(&RateLimitLayer::new(qps, burst)).build())
}

/// Asks the API server for its version, giving up after `timeout`.
pub async fn check_connection(
    client: &kube::Client,
    url: &str,
    timeout: Duration,
) -> Result<String, ClientError> {
    let unreachable = |message: String| ClientError::Unreachable {
        url: url.to_string(),
        message,
    };
    match tokio::time::timeout(timeout, client.apiserver_version()).await {
        Ok(Ok(info)) => Ok(info.git_version),
        Ok(Err(error)) => Err(unreachable(one_line(&error))),
        Err(_) => Err(unreachable(format!(
            "no answer within {}s",
            timeout.as_secs()
        ))),
    }
}

/// Loads configuration, builds the rate-limited client and checks the server answers.
pub async fn connect(kubeconfig: &str, qps: f32, burst: u32) -> Result<kube::Client, ClientError> {
    let config = load_config(kubeconfig).await?;
    let url = config.cluster_url.to_string();
    let client = build_client(config, qps, burst)?;
    let version = check_connection(&client, &url, Duration::from_secs(20)).await?;
    tracing::info!(server = %url, version = %version, "connected to the Kubernetes API server");
    Ok(client)
}

/// An error and its causes on one line, as a person reads it in a log.
pub fn one_line(error: &dyn std::error::Error) -> String {
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
    text.replace('\n', " ")
}

/// A token bucket: `burst` requests at once, refilled at `qps` per second (client-go's
/// `flowcontrol.NewTokenBucketRateLimiter`).
#[derive(Debug)]
pub struct TokenBucket {
    qps: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A full bucket. A non-positive `qps` disables limiting.
    pub fn new(qps: f32, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            qps: f64::from(qps),
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Waits until a request may be sent.
    pub async fn acquire(&self) {
        if self.qps <= 0.0 {
            return;
        }
        let wait = {
            let mut state = self.state.lock().await;
            let now = Instant::now();
            let (tokens, last) = *state;
            let refilled =
                (tokens + now.duration_since(last).as_secs_f64() * self.qps).min(self.burst);
            let remaining = refilled - 1.0;
            *state = (remaining, now);
            if remaining >= 0.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(-remaining / self.qps)
            }
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// A tower layer that makes each request wait for a [`TokenBucket`] token.
#[derive(Clone, Debug)]
pub struct RateLimitLayer {
    bucket: Arc<TokenBucket>,
}

impl RateLimitLayer {
    /// A layer limiting to `qps` with `burst`.
    pub fn new(qps: f32, burst: u32) -> Self {
        Self {
            bucket: Arc::new(TokenBucket::new(qps, burst)),
        }
    }
}

impl<S> tower::Layer<S> for RateLimitLayer {
    type Service = RateLimited<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimited {
            inner,
            bucket: self.bucket.clone(),
            permit: Permit::None,
        }
    }
}

/// A service whose requests wait for a token first.
pub struct RateLimited<S> {
    inner: S,
    bucket: Arc<TokenBucket>,
    permit: Permit,
}

enum Permit {
    None,
    Acquiring(Pin<Box<dyn Future<Output = ()> + Send>>),
    Ready,
}

impl<S, Request> tower::Service<Request> for RateLimited<S>
where
    S: tower::Service<Request>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        loop {
            match &mut self.permit {
                Permit::Ready => return self.inner.poll_ready(cx),
                Permit::None => {
                    let bucket = self.bucket.clone();
                    self.permit =
                        Permit::Acquiring(Box::pin(async move { bucket.acquire().await }));
                }
                Permit::Acquiring(acquiring) => match acquiring.as_mut().poll(cx) {
                    Poll::Ready(()) => self.permit = Permit::Ready,
                    Poll::Pending => return Poll::Pending,
                },
            }
        }
    }

    fn call(&mut self, request: Request) -> Self::Future {
        self.permit = Permit::None;
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn token_bucket_allows_the_burst_then_the_rate() {
        let bucket = TokenBucket::new(10.0, 3);
        let start = Instant::now();
        for _ in 0..3 {
            bucket.acquire().await;
        }
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "the burst goes through at once"
        );
        for _ in 0..5 {
            bucket.acquire().await;
        }
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(490) && elapsed <= Duration::from_millis(510),
            "{elapsed:?}"
        );
    }

    #[tokio::test]
    async fn a_missing_kubeconfig_is_one_clear_error() {
        let error = load_config("/nonexistent/kubeconfig")
            .await
            .expect_err("missing file");
        let text = error.to_string();
        assert!(
            text.starts_with("reading kubeconfig /nonexistent/kubeconfig"),
            "{text}"
        );
        assert!(!text.contains('\n'));
    }

    #[tokio::test]
    async fn an_unreachable_server_is_reported_with_its_url() {
        let config = kube::Config::new("http://127.0.0.1:9".parse().expect("valid uri"));
        let client = build_client(config, 50.0, 300).expect("client");
        let error = check_connection(&client, "http://127.0.0.1:9/", Duration::from_secs(10))
            .await
            .expect_err("nothing listens on port 9");
        assert!(
            error
                .to_string()
                .starts_with("cannot reach the Kubernetes API server at http://127.0.0.1:9/"),
            "{error}"
        );
    }
}
