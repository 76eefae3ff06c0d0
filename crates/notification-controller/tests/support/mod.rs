//! Test support: HTTP and HTTPS sinks that record every request (method, request target,
//! headers, exact body bytes) and answer from a script, plus object builders.

#![allow(dead_code, unreachable_pub)]

use eddy_api::meta::LocalObjectReference;
use eddy_api::notification::v1::{CrossNamespaceObjectReference, FluxObjectKind};
use eddy_api::notification::v1beta3::{Alert, AlertSpec, Provider, ProviderSpec, ProviderType};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc};

/// One request a sink received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("utf-8 body")
    }
}

/// A recording HTTP(S) server on 127.0.0.1 answering with scripted (status, body) pairs; the
/// last pair repeats.
pub struct Sink {
    pub address: String,
    received: Mutex<mpsc::UnboundedReceiver<Recorded>>,
    count: Arc<AtomicUsize>,
}

impl Sink {
    pub async fn start(responses: Vec<(u16, &str)>) -> Self {
        Self::start_with(responses, None).await
    }

    /// An HTTPS sink with a certificate for 127.0.0.1 issued by a fresh CA; returns the CA PEM.
    pub async fn start_tls(responses: Vec<(u16, &str)>) -> (Self, String) {
        eddy_runtime::process::install_crypto_provider();
        let ca_key = rcgen::KeyPair::generate().expect("ca key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("ca");
        let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
        let leaf =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .expect("params")
                .signed_by(&leaf_key, &ca)
                .expect("leaf");
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
            )
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        (Self::start_with(responses, Some(acceptor)).await, ca.pem())
    }

    async fn start_with(
        responses: Vec<(u16, &str)>,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let (sender, received) = mpsc::unbounded_channel();
        let count = Arc::new(AtomicUsize::new(0));
        let responses: Arc<Vec<(u16, String)>> = Arc::new(
            responses
                .into_iter()
                .map(|(status, body)| (status, body.to_string()))
                .collect(),
        );
        let counter = count.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let sender = sender.clone();
                let responses = responses.clone();
                let counter = counter.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                serve_one(stream, &sender, &responses, &counter).await;
                            }
                        }
                        None => serve_one(stream, &sender, &responses, &counter).await,
                    }
                });
            }
        });
        Self {
            address: format!("{scheme}://127.0.0.1:{port}"),
            received: Mutex::new(received),
            count,
        }
    }

    /// The next request, failing the test after 10 s.
    pub async fn next(&self) -> Recorded {
        tokio::time::timeout(Duration::from_secs(10), self.received.lock().await.recv())
            .await
            .expect("a request within 10s")
            .expect("sink open")
    }

    /// Requests answered so far.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

async fn serve_one<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    sender: &mpsc::UnboundedSender<Recorded>,
    responses: &[(u16, String)],
    counter: &AtomicUsize,
) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        if let Some(index) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break index;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let length = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buffer[header_end + 4..].to_vec();
    while body.len() < length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(read) => body.extend_from_slice(&chunk[..read]),
        }
    }
    let index = counter.fetch_add(1, Ordering::SeqCst);
    let (status, response_body) = responses
        .get(index.min(responses.len().saturating_sub(1)))
        .cloned()
        .unwrap_or((200, String::new()));
    let _ = sender.send(Recorded {
        method,
        target,
        headers,
        body,
    });
    let response = format!(
        "HTTP/1.1 {status} Status\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{response_body}",
        response_body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// An Alert in `flux-system` for Kustomizations named `name` (or `*`).
pub fn alert(name: &str, provider: &str, source_name: &str) -> Alert {
    let mut alert = Alert::new(
        name,
        AlertSpec {
            provider_ref: LocalObjectReference {
                name: provider.to_string(),
            },
            event_sources: vec![CrossNamespaceObjectReference {
                kind: FluxObjectKind::Kustomization,
                name: source_name.to_string(),
                ..CrossNamespaceObjectReference::default()
            }],
            ..AlertSpec::default()
        },
    );
    alert.metadata.namespace = Some("flux-system".into());
    alert
}

/// A Provider in `flux-system`.
pub fn provider(name: &str, provider_type: ProviderType, address: &str) -> Provider {
    let mut provider = Provider::new(
        name,
        ProviderSpec {
            provider_type,
            address: Some(address.to_string()),
            ..ProviderSpec::default()
        },
    );
    provider.metadata.namespace = Some("flux-system".into());
    provider.metadata.uid = Some("0c9c2e41-d2f9-4f9b-9c41-2ab0a5a4b4b0".into());
    provider
}

/// A Kustomization event as kustomize-controller sends it.
pub fn kustomization_event(severity: &str, message: &str) -> serde_json::Value {
    serde_json::json!({
        "involvedObject": {
            "kind": "Kustomization",
            "namespace": "flux-system",
            "name": "apps",
            "uid": "cc4d0095-83f4-4f08-98f2-d2e9f3731fb9",
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "resourceVersion": "56921"
        },
        "severity": severity,
        "timestamp": "2024-05-01T10:00:00Z",
        "message": message,
        "reason": if severity == "error" { "HealthCheckFailed" } else { "ReconciliationSucceeded" },
        "metadata": {
            "kustomize.toolkit.fluxcd.io/revision": "main@sha1:5394cb7f48332b2de7c17dd8b8384bbc84b7e738",
            "kustomize.toolkit.fluxcd.io/checksum": "dropped",
            "event.toolkit.fluxcd.io/cluster": "prod-eu"
        },
        "reportingController": "kustomize-controller",
        "reportingInstance": "kustomize-controller-7f5d6c9b8-x2x4z"
    })
}

/// A plain HTTP client for tests (installs the process's crypto provider first).
pub fn client() -> reqwest::Client {
    eddy_runtime::process::install_crypto_provider();
    reqwest::Client::new()
}
