//! The Kubernetes client every controller uses: configuration from `--kubeconfig`, `$KUBECONFIG`,
//! `~/.kube/config` or the in-cluster service account, client-side rate limiting with
//! client-go's QPS/burst semantics (kube-rs has none), and a start-up check that fails with one
//! clear line when the API server cannot be reached.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;
use tower::BoxError;
use tower::ServiceExt as _;
use tower::buffer::Buffer;

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

/// Builds a client limited to `qps` requests per second with bursts of `burst` for each API
/// resource (controller-runtime's semantics: one client-go token bucket per resource type). A
/// non-positive `qps` turns client-side limiting off.
pub fn build_client(
    config: kube::Config,
    qps: f32,
    burst: u32,
) -> Result<kube::Client, ClientError> {
    let builder = kube::client::ClientBuilder::try_from(config)
        .map_err(|error| ClientError::Build(one_line(&error)))?;
    Ok(if qps > 0.0 {
        builder.with_layer(&RateLimitLayer::new(qps, burst)).build()
    } else {
        builder.build()
    })
}

/// What every client of a process is built from: the configuration it connected with and the
/// rate limits in force, so the clients made later (events, impersonation) match the first.
#[derive(Clone)]
pub struct ClientSettings {
    /// The configuration loaded at start-up.
    pub config: kube::Config,
    /// Requests per second per resource; zero or less when client-side limiting is off.
    pub qps: f32,
    /// Burst per resource.
    pub burst: u32,
}

impl ClientSettings {
    /// Another client with the same configuration and limits (and its own token buckets).
    pub fn build(&self) -> Result<kube::Client, ClientError> {
        build_client(self.config.clone(), self.qps, self.burst)
    }

    /// `client` (built from these settings) when its server lacks priority and fairness, else
    /// a client without client-side limits, the settings changed to say so: Flux's
    /// `GetConfigOrDie` for its own cluster and `KubeConfig` for remote ones.
    pub async fn unthrottled_under_apf(
        &mut self,
        client: kube::Client,
    ) -> Result<kube::Client, ClientError> {
        if self.qps <= 0.0 || !priority_and_fairness_enabled(&client).await {
            return Ok(client);
        }
        self.qps = -1.0;
        tracing::info!(
            server = %self.config.cluster_url,
            "the API server applies priority and fairness: client-side throttling is off"
        );
        self.build()
    }
}

impl std::fmt::Debug for ClientSettings {
    // The configuration holds credentials: only say where it points.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ClientSettings")
            .field("cluster_url", &self.config.cluster_url.to_string())
            .field("qps", &self.qps)
            .field("burst", &self.burst)
            .finish()
    }
}

/// Response headers with which kube-apiserver's API Priority and Fairness filter names the
/// flow schema and priority level a request was classified into.
const PRIORITY_AND_FAIRNESS_HEADERS: [&str; 2] = [
    "X-Kubernetes-PF-FlowSchema-UID",
    "X-Kubernetes-PF-PriorityLevel-UID",
];

/// Whether the API server applies API Priority and Fairness, asked as fluxcd/cli-utils'
/// `flowcontrol.IsEnabled` asks it: any answer to `/livez/ping` carrying an APF header. A
/// failed probe counts as no.
pub async fn priority_and_fairness_enabled(client: &kube::Client) -> bool {
    let Ok(request) = http::Request::get("/livez/ping").body(kube::client::Body::from(Vec::new()))
    else {
        return false;
    };
    match tokio::time::timeout(Duration::from_secs(10), client.send(request)).await {
        Ok(Ok(response)) => PRIORITY_AND_FAIRNESS_HEADERS
            .iter()
            .any(|header| response.headers().contains_key(*header)),
        _ => false,
    }
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
///
/// As Flux's `GetConfigOrDie`, client-side throttling is turned off when the server applies
/// API Priority and Fairness (every kube-apiserver since 1.20): the server then protects itself
/// and `--kube-api-qps/--kube-api-burst` only apply to servers without it.
pub async fn connect(
    kubeconfig: &str,
    qps: f32,
    burst: u32,
) -> Result<(kube::Client, ClientSettings), ClientError> {
    let config = load_config(kubeconfig).await?;
    let url = config.cluster_url.to_string();
    let mut settings = ClientSettings { config, qps, burst };
    let client = settings.build()?;
    let version = check_connection(&client, &url, Duration::from_secs(20)).await?;
    let client = settings.unthrottled_under_apf(client).await?;
    tracing::info!(server = %url, version = %version, qps = settings.qps, burst = settings.burst, "connected to the Kubernetes API server");
    Ok((client, settings))
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
    /// Tokens (negative: reserved ahead by waiting requests) as of the instant.
    state: std::sync::Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A full bucket. A non-positive `qps` disables limiting.
    pub fn new(qps: f32, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            qps: f64::from(qps),
            burst,
            state: std::sync::Mutex::new((burst, Instant::now())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (f64, Instant)> {
        // Never held across an await; a poisoned lock still holds a usable count.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until a request may be sent. A request given up while waiting (its future
    /// dropped) hands its reserved token back, as client-go's limiter does on cancel.
    pub async fn acquire(&self) {
        if self.qps <= 0.0 {
            return;
        }
        let wait = {
            let mut state = self.lock();
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
        if wait.is_zero() {
            return;
        }
        let reservation = Reservation {
            bucket: self,
            kept: false,
        };
        tokio::time::sleep(wait).await;
        reservation.keep();
    }
}

/// A token reserved by a waiting request, returned to the bucket unless kept.
struct Reservation<'a> {
    bucket: &'a TokenBucket,
    kept: bool,
}

impl Reservation<'_> {
    fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.kept {
            let mut state = self.bucket.lock();
            state.0 = (state.0 + 1.0).min(self.bucket.burst);
        }
    }
}

/// The bucket a request draws from: one per API resource, as controller-runtime's client has
/// one REST client (and so one client-go token bucket) per GroupVersionKind. Requests that name
/// no resource (discovery, `/version`) share one bucket.
#[derive(Debug)]
struct Buckets {
    qps: f32,
    burst: u32,
    by_resource: std::sync::Mutex<HashMap<String, Arc<TokenBucket>>>,
}

impl Buckets {
    fn for_path(&self, path: &str) -> Arc<TokenBucket> {
        let key = resource_of(path).unwrap_or_default();
        // A poisoned map only means another request panicked while inserting: the map itself
        // is still a valid cache.
        let mut by_resource = self
            .by_resource
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(
            by_resource
                .entry(key)
                .or_insert_with(|| Arc::new(TokenBucket::new(self.qps, self.burst))),
        )
    }
}

/// `group/version/resource` of an API request path (`/api/v1/namespaces/dev/configmaps/x` →
/// `/v1/configmaps`), subresources counted with their resource; `None` for paths that are not
/// a resource (discovery, `/version`, health).
fn resource_of(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let resource = match rest {
        ["namespaces", _namespace, resource, ..] if !NAMESPACE_SUBRESOURCES.contains(resource) => {
            resource
        }
        [resource, ..] => resource,
        [] => return None,
    };
    Some(format!("{group}/{version}/{resource}"))
}

/// Subresources of a Namespace, which `/api/v1/namespaces/<name>/<subresource>` addresses.
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

/// A tower layer that makes each request wait for a token of its resource's [`TokenBucket`].
#[derive(Clone, Debug)]
pub struct RateLimitLayer {
    buckets: Arc<Buckets>,
}

impl RateLimitLayer {
    /// A layer limiting every resource to `qps` with `burst`.
    pub fn new(qps: f32, burst: u32) -> Self {
        Self {
            buckets: Arc::new(Buckets {
                qps,
                burst,
                by_resource: std::sync::Mutex::default(),
            }),
        }
    }
}

/// The requests kube's client sends.
type ApiRequest = http::Request<kube::client::Body>;

impl<S> tower::Layer<S> for RateLimitLayer
where
    S: tower::Service<ApiRequest> + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError> + Send + Sync,
{
    type Service = RateLimited<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimited {
            inner: Buffer::new(inner, REQUESTS_IN_FLIGHT),
            buckets: Arc::clone(&self.buckets),
        }
    }
}

/// Requests the limiter queues for the connection at once (kube's own client buffer size).
const REQUESTS_IN_FLIGHT: usize = 1024;

/// A service whose requests wait for a token of their resource first. A request waiting for
/// its token holds up no other request: the wait is in the response future, in front of a
/// buffered (cloneable) inner service.
pub struct RateLimited<S>
where
    S: tower::Service<ApiRequest>,
{
    inner: Buffer<ApiRequest, S::Future>,
    buckets: Arc<Buckets>,
}

impl<S> tower::Service<ApiRequest> for RateLimited<S>
where
    S: tower::Service<ApiRequest> + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError> + Send + Sync,
    S::Response: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: ApiRequest) -> Self::Future {
        let bucket = self.buckets.for_path(request.uri().path());
        let inner = self.inner.clone();
        Box::pin(async move {
            bucket.acquire().await;
            inner.oneshot(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::Service as _;

    #[test]
    fn requests_are_grouped_by_the_resource_they_address() {
        let cases = [
            (
                "/api/v1/namespaces/dev/configmaps/settings",
                Some("/v1/configmaps"),
            ),
            ("/api/v1/namespaces/dev/configmaps", Some("/v1/configmaps")),
            ("/api/v1/configmaps", Some("/v1/configmaps")),
            ("/api/v1/namespaces/dev", Some("/v1/namespaces")),
            ("/api/v1/namespaces/dev/finalize", Some("/v1/namespaces")),
            ("/api/v1/namespaces", Some("/v1/namespaces")),
            (
                "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps/status",
                Some("kustomize.toolkit.fluxcd.io/v1/kustomizations"),
            ),
            (
                "/apis/rbac.authorization.k8s.io/v1/clusterroles/view",
                Some("rbac.authorization.k8s.io/v1/clusterroles"),
            ),
            ("/apis/apps/v1", None),
            ("/apis", None),
            ("/api/v1", None),
            ("/version", None),
            ("/livez/ping", None),
        ];
        for (path, resource) in cases {
            assert_eq!(resource_of(path).as_deref(), resource, "{path}");
        }
    }

    fn request(path: &str) -> ApiRequest {
        http::Request::get(path)
            .body(kube::client::Body::from(Vec::new()))
            .unwrap_or_else(|error| panic!("{error}"))
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_given_up_while_waiting_hands_its_token_back() {
        let bucket = Arc::new(TokenBucket::new(1.0, 1));
        bucket.acquire().await;
        // Out of tokens: this one would wait a second; it is given up after half of it.
        let waiting = Arc::clone(&bucket);
        let given_up = tokio::time::timeout(Duration::from_millis(500), async move {
            waiting.acquire().await
        })
        .await;
        assert!(given_up.is_err(), "still waiting at the timeout");
        let start = Instant::now();
        bucket.acquire().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(500),
            "the next request waits only for its own token, not the abandoned one's too"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_resource_out_of_tokens_does_not_hold_up_another() {
        let (service, mut handle) = tower_test::mock::pair::<ApiRequest, &'static str>();
        let mut limited = tower::Layer::layer(&RateLimitLayer::new(1.0, 2), service);
        tokio::spawn(async move {
            while let Some((_request, respond)) = handle.next_request().await {
                respond.send_response("ok");
            }
        });
        let start = Instant::now();
        for _ in 0..2 {
            limited
                .call(request("/api/v1/namespaces/dev/configmaps"))
                .await
                .unwrap_or_else(|error| panic!("{error}"));
        }
        // The third ConfigMap request waits a second for its token; a Secret request sent
        // meanwhile goes through at once.
        let third = tokio::spawn(limited.call(request("/api/v1/namespaces/dev/configmaps/a")));
        limited
            .call(request("/api/v1/namespaces/dev/secrets/a"))
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(start.elapsed(), Duration::ZERO, "the Secret did not wait");
        third
            .await
            .unwrap_or_else(|error| panic!("{error}"))
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(1),
            "the third ConfigMap waited for the refill"
        );
    }

    /// An API server stand-in answering `/version` and `/livez/ping`, with the APF headers
    /// when `apf`.
    async fn ping_server(apf: bool) -> String {
        let router = axum::Router::new()
            .route(
                "/version",
                axum::routing::get(|| async {
                    axum::Json(serde_json::json!({"major": "1", "minor": "33",
                        "gitVersion": "v1.33.0", "gitCommit": "", "gitTreeState": "clean",
                        "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24",
                        "compiler": "gc", "platform": "linux/amd64"}))
                }),
            )
            .route(
                "/livez/ping",
                axum::routing::get(move || async move {
                    let mut response = axum::response::Response::new(axum::body::Body::from("ok"));
                    if apf {
                        response.headers_mut().insert(
                            "X-Kubernetes-PF-FlowSchema-UID",
                            http::HeaderValue::from_static("3b2d0f1e-exempt"),
                        );
                    }
                    response
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        let address = listener
            .local_addr()
            .unwrap_or_else(|error| panic!("{error}"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{address}")
    }

    #[tokio::test]
    async fn connecting_to_a_server_with_priority_and_fairness_turns_client_limits_off() {
        for (apf, expected_qps) in [(true, -1.0), (false, 50.0)] {
            let url = ping_server(apf).await;
            let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
            let kubeconfig = directory.path().join("kubeconfig");
            std::fs::write(
                &kubeconfig,
                format!(
                    "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {url}\n\
                     users:\n- name: u\n  user: {{}}\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n\
                     current-context: x\n"
                ),
            )
            .unwrap_or_else(|error| panic!("{error}"));
            let path = kubeconfig.to_string_lossy().into_owned();
            let (_, settings) = connect(&path, 50.0, 300)
                .await
                .unwrap_or_else(|error| panic!("{error}"));
            assert_eq!(settings.qps, expected_qps, "APF headers: {apf}");
        }
    }

    #[tokio::test]
    async fn priority_and_fairness_is_recognised_by_its_response_header() {
        for apf in [true, false] {
            let url = ping_server(apf).await;
            let config = kube::Config::new(url.parse().unwrap_or_else(|error| panic!("{error}")));
            let client = build_client(config, 50.0, 300).unwrap_or_else(|error| panic!("{error}"));
            assert_eq!(priority_and_fairness_enabled(&client).await, apf, "{url}");
        }
    }

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
