//! The Receiver reconciler on the runtime harness against a verifying mock API server
//! (tower-test): the exact status it applies. Secrets come from an in-memory cluster.

use eddy_runtime::controller::{Harness, HarnessSettings};
use eddy_runtime::events::EventRecorder;
use eddy_runtime::metrics::Metrics;
use eddy_runtime::reconcile::RequeuePolicy;
use http::{Request, Response};
use http_body_util::BodyExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::client::Body;
use kube::runtime::controller::Action;
use notification_controller::memory::MemoryCluster;
use notification_controller::receiver::ReceiverReconciler;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

const STATUS_URI: &str = "/apis/notification.toolkit.fluxcd.io/v1/namespaces/flux-system/receivers/github/status?&force=true&fieldManager=notification-controller";

fn harness(cluster: MemoryCluster) -> (Arc<Harness<ReceiverReconciler<MemoryCluster>>>, Handle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, "default");
    let harness = Harness::new(
        ReceiverReconciler::new(cluster),
        client,
        HarnessSettings {
            controller: "notification-controller".into(),
            field_manager: "notification-controller".into(),
        },
        RequeuePolicy::new(Duration::from_millis(750), Duration::from_secs(900), 0),
        Metrics::new().expect("metrics"),
        EventRecorder::disabled("notification-controller"),
    )
    .with_clock(|| Time(k8s_openapi::jiff::Timestamp::from_second(1_700_000_000).expect("valid")));
    (Arc::new(harness), handle)
}

fn receiver(spec: Value) -> Arc<eddy_api::notification::v1::Receiver> {
    Arc::new(
        serde_json::from_value(json!({
            "apiVersion": "notification.toolkit.fluxcd.io/v1",
            "kind": "Receiver",
            "metadata": {
                "name": "github", "namespace": "flux-system", "generation": 1,
                "uid": "1b0b1c62-0000-4000-8000-000000000001", "resourceVersion": "7",
                "finalizers": ["finalizers.fluxcd.io"]
            },
            "spec": spec
        }))
        .expect("receiver"),
    )
}

async fn applied_status(handle: &mut Handle, echo: Value) -> Value {
    let (request, send) = handle.next_request().await.expect("a status patch");
    assert_eq!(request.method().as_str(), "PATCH");
    assert_eq!(request.uri().to_string(), STATUS_URI);
    let body = request
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    send.send_response(
        Response::builder()
            .body(Body::from(serde_json::to_vec(&echo).expect("json")))
            .expect("response"),
    );
    serde_json::from_slice(&body).expect("json body")
}

fn spec() -> Value {
    json!({
        "type": "github",
        "events": ["ping", "push"],
        "secretRef": {"name": "receiver-token"},
        "resources": [{"kind": "GitRepository", "name": "podinfo"}]
    })
}

#[tokio::test]
async fn a_receiver_with_a_token_publishes_its_webhook_path_and_is_ready() {
    let cluster = MemoryCluster::new();
    cluster.put_secret("flux-system", "receiver-token", &[("token", b"token")]);
    let (harness, mut handle) = harness(cluster);
    let object = receiver(spec());
    let echo = serde_json::to_value(object.as_ref()).expect("json");
    let server = tokio::spawn(async move { applied_status(&mut handle, echo).await });
    let action = harness.reconcile(object).await.expect("reconciled");
    let status = server.await.expect("verifier");
    // sha256("token" + "github" + "flux-system")
    let path = eddy_api::notification::v1::webhook_path("token", "github", "flux-system");
    assert_eq!(
        status,
        json!({
            "apiVersion": "notification.toolkit.fluxcd.io/v1",
            "kind": "Receiver",
            "status": {
                "conditions": [{
                    "lastTransitionTime": "2023-11-14T22:13:20Z",
                    "message": format!("Receiver initialized for path: {path}"),
                    "observedGeneration": 1,
                    "reason": "Succeeded",
                    "status": "True",
                    "type": "Ready"
                }],
                "webhookPath": path,
                "observedGeneration": 1
            }
        })
    );
    assert_eq!(action, Action::requeue(Duration::from_secs(600)));
}

#[tokio::test]
async fn a_secret_without_token_is_token_not_found_and_clears_the_path() {
    let cluster = MemoryCluster::new();
    cluster.put_secret("flux-system", "receiver-token", &[("other", b"x")]);
    let (harness, mut handle) = harness(cluster);
    let mut object = (*receiver(spec())).clone();
    object.status = Some(eddy_api::notification::v1::ReceiverStatus {
        webhook_path: Some("/hook/old".into()),
        ..Default::default()
    });
    let object = Arc::new(object);
    let echo = serde_json::to_value(object.as_ref()).expect("json");
    let server = tokio::spawn(async move { applied_status(&mut handle, echo).await });
    let action = harness.reconcile(object).await.expect("reconciled");
    let status = server.await.expect("verifier");
    assert_eq!(status["status"].get("webhookPath"), None);
    let ready = status["status"]["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|condition| condition["type"] == "Ready")
        .expect("ready")
        .clone();
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["reason"], "TokenNotFound");
    assert_eq!(
        ready["message"],
        "invalid 'flux-system/receiver-token' secret data: required fields 'token'"
    );
    assert_eq!(action, Action::requeue(Duration::from_millis(750)));
}

#[tokio::test]
async fn a_cel_resource_filter_stalls_instead_of_annotating_everything() {
    let cluster = MemoryCluster::new();
    cluster.put_secret("flux-system", "receiver-token", &[("token", b"token")]);
    let (harness, mut handle) = harness(cluster);
    let mut filtered = spec();
    filtered["resourceFilter"] = json!("req.ref == 'refs/heads/main'");
    let object = receiver(filtered);
    let echo = serde_json::to_value(object.as_ref()).expect("json");
    let server = tokio::spawn(async move { applied_status(&mut handle, echo).await });
    let action = harness.reconcile(object).await.expect("reconciled");
    let status = server.await.expect("verifier");
    let conditions = status["status"]["conditions"]
        .as_array()
        .expect("conditions");
    assert_eq!(conditions[0]["type"], "Stalled");
    assert_eq!(conditions[0]["reason"], "ValidationFailed");
    assert_eq!(action, Action::await_change());
}
