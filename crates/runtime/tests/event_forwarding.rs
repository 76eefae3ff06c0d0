//! The event recorder POSTs Flux event JSON to `--events-addr`, retries server errors with
//! backoff and treats 429 (notification-controller's duplicate answer) as delivered.

use axum::extract::State;
use axum::http::StatusCode;
use eddy_runtime::events::{EventRecorder, EventSubject, EventType};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Clone)]
struct Sink {
    received: mpsc::UnboundedSender<Value>,
    answers: Arc<Mutex<Vec<StatusCode>>>,
}

async fn receive(State(sink): State<Sink>, body: axum::Json<Value>) -> StatusCode {
    let _ = sink.received.send(body.0);
    let mut answers = sink
        .answers
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if answers.is_empty() {
        StatusCode::ACCEPTED
    } else {
        answers.remove(0)
    }
}

/// Starts a sink answering with `answers` in order (then 202); returns its URL and the
/// channel of received bodies.
async fn start_sink(answers: Vec<StatusCode>) -> (String, mpsc::UnboundedReceiver<Value>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let sink = Sink {
        received: sender,
        answers: Arc::new(Mutex::new(answers)),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let router = axum::Router::new()
        .route("/", axum::routing::post(receive))
        .with_state(sink);
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}/"), receiver)
}

fn subject() -> EventSubject {
    EventSubject {
        api_version: "source.toolkit.fluxcd.io/v1".into(),
        kind: "GitRepository".into(),
        namespace: "flux-system".into(),
        name: "podinfo".into(),
        uid: "u-1".into(),
        resource_version: "7".into(),
        annotations: BTreeMap::new(),
    }
}

async fn next(receiver: &mut mpsc::UnboundedReceiver<Value>) -> Option<Value> {
    tokio::time::timeout(Duration::from_secs(5), receiver.recv())
        .await
        .ok()
        .flatten()
}

#[tokio::test]
async fn events_are_posted_as_flux_event_json() {
    eddy_runtime::process::install_crypto_provider();
    let (url, mut received) = start_sink(vec![]).await;
    let recorder = EventRecorder::new("source-controller", None, &url).expect("recorder");
    let metadata = BTreeMap::from([("revision".to_string(), "main@sha1:abc".to_string())]);
    recorder
        .record(
            &subject(),
            EventType::Normal,
            "NewArtifact",
            "stored artifact for commit 'init'",
            &metadata,
        )
        .await;
    let event = next(&mut received).await.expect("an event");
    assert_eq!(event["involvedObject"]["kind"], "GitRepository");
    assert_eq!(event["involvedObject"]["name"], "podinfo");
    assert_eq!(event["severity"], "info");
    assert_eq!(event["reason"], "NewArtifact");
    assert_eq!(event["message"], "stored artifact for commit 'init'");
    assert_eq!(event["reportingController"], "source-controller");
    assert_eq!(
        event["metadata"]["source.toolkit.fluxcd.io/revision"],
        "main@sha1:abc"
    );
}

#[tokio::test]
async fn server_errors_are_retried_until_delivered() {
    eddy_runtime::process::install_crypto_provider();
    let (url, mut received) = start_sink(vec![
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::SERVICE_UNAVAILABLE,
    ])
    .await;
    let recorder = EventRecorder::new("kustomize-controller", None, &url)
        .expect("recorder")
        .with_retries(4, Duration::from_millis(10));
    recorder
        .record(
            &subject(),
            EventType::Warning,
            "BuildFailed",
            "boom",
            &BTreeMap::new(),
        )
        .await;
    for attempt in 1..=3 {
        let event = next(&mut received)
            .await
            .unwrap_or_else(|| panic!("attempt {attempt}"));
        assert_eq!(event["severity"], "error");
    }
}

#[tokio::test]
async fn a_duplicate_answer_is_not_retried_and_trace_events_are_not_sent() {
    eddy_runtime::process::install_crypto_provider();
    let (url, mut received) = start_sink(vec![StatusCode::TOO_MANY_REQUESTS]).await;
    let recorder = EventRecorder::new("kustomize-controller", None, &url)
        .expect("recorder")
        .with_retries(4, Duration::from_millis(10));
    recorder
        .record(
            &subject(),
            EventType::Normal,
            "Progressing",
            "dup",
            &BTreeMap::new(),
        )
        .await;
    assert!(next(&mut received).await.is_some(), "first delivery");
    recorder
        .record(
            &subject(),
            EventType::Trace,
            "ArtifactUpToDate",
            "trace only",
            &BTreeMap::new(),
        )
        .await;
    recorder
        .record(
            &subject(),
            EventType::Normal,
            "Marker",
            "after",
            &BTreeMap::new(),
        )
        .await;
    let following = next(&mut received).await.expect("the marker event");
    assert_eq!(
        following["reason"], "Marker",
        "neither a retry of the 429 nor the trace event was sent"
    );
}
