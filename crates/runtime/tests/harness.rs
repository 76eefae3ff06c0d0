//! Drives the harness against a verifying mock API server (tower-test), asserting the exact
//! requests a reconcile sends: finalizer patches and the one server-side apply of status.

use eddy_api::meta::Reconciled;
use eddy_runtime::controller::{Harness, HarnessSettings, Reconciler, Run};
use eddy_runtime::events::EventRecorder;
use eddy_runtime::metrics::Metrics;
use eddy_runtime::reconcile::{RequeuePolicy, StepError, Success};
use http::{Request, Response};
use http_body_util::BodyExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use kube::client::Body;
use kube::runtime::controller::Action;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[derive(CustomResource, Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "test.eddy.dev",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus"
)]
struct WidgetSpec {
    interval: String,
    #[serde(default)]
    suspend: bool,
    #[serde(default)]
    fail: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct WidgetStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    conditions: Option<Vec<Condition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_handled_reconcile_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    polish: Option<String>,
}
eddy_api::impl_status_fields!(WidgetStatus);

impl Reconciled for Widget {
    type Status = WidgetStatus;
    fn suspended(&self) -> bool {
        self.spec.suspend
    }
    fn interval(&self) -> &str {
        &self.spec.interval
    }
    fn status(&self) -> Option<&WidgetStatus> {
        self.status.as_ref()
    }
}

#[derive(Default)]
struct Polisher {
    finalized: AtomicUsize,
}

impl Reconciler for Polisher {
    type Object = Widget;

    async fn reconcile(
        &self,
        widget: &Widget,
        run: &mut Run<Widget>,
    ) -> Result<Success, StepError> {
        if let Some(reason) = &widget.spec.fail {
            run.progress = "polishing".to_string();
            return Err(StepError::retryable(reason, "the polish ran out"));
        }
        run.status.polish = Some("shiny".to_string());
        Ok(Success::new("widget polished"))
    }

    async fn finalize(&self, _widget: &Widget) -> Result<(), StepError> {
        self.finalized.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

fn harness() -> (Arc<Harness<Polisher>>, Handle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, "default");
    let harness = Harness::new(
        Polisher::default(),
        client,
        HarnessSettings {
            controller: "widget-controller".into(),
            field_manager: "gotk-widget-controller".into(),
        },
        RequeuePolicy::new(Duration::from_millis(750), Duration::from_secs(900), 0),
        Metrics::new().expect("metrics"),
        EventRecorder::disabled("widget-controller"),
    )
    .with_clock(|| Time(k8s_openapi::jiff::Timestamp::from_second(1_700_000_000).expect("valid")));
    (Arc::new(harness), handle)
}

fn widget(spec: Value, finalizers: Value, extra_metadata: Value) -> Arc<Widget> {
    let mut metadata = json!({
        "name": "gear",
        "namespace": "default",
        "uid": "0b8b1c62-0000-4000-8000-000000000001",
        "generation": 2,
        "resourceVersion": "10",
        "annotations": {"reconcile.fluxcd.io/requestedAt": "2024-05-01T10:00:00Z"},
    });
    if !finalizers.is_null() {
        metadata["finalizers"] = finalizers;
    }
    if let (Some(target), Some(extra)) = (metadata.as_object_mut(), extra_metadata.as_object()) {
        target.extend(extra.clone());
    }
    let object = json!({"apiVersion": "test.eddy.dev/v1", "kind": "Widget", "metadata": metadata, "spec": spec});
    Arc::new(serde_json::from_value(object).expect("widget"))
}

/// Receives the next request, checks method, URI and content type, returns its JSON body, and
/// answers with `response`.
async fn expect_request(
    handle: &mut Handle,
    method: &str,
    uri: &str,
    content_type: &str,
    response: Value,
) -> Value {
    let (request, send) = handle.next_request().await.expect("a request");
    assert_eq!(request.method().as_str(), method);
    assert_eq!(request.uri().to_string(), uri);
    assert_eq!(
        request
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some(content_type)
    );
    let body = request
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let json: Value = serde_json::from_slice(&body).expect("json body");
    send.send_response(
        Response::builder()
            .body(Body::from(serde_json::to_vec(&response).expect("json")))
            .expect("response"),
    );
    json
}

#[tokio::test]
async fn first_reconcile_adds_the_finalizer_then_applies_ready_status() {
    let (harness, mut handle) = harness();
    let object = widget(json!({"interval": "10m"}), Value::Null, json!({}));
    let echo = serde_json::to_value(object.as_ref()).expect("json");
    let server = tokio::spawn(async move {
        let finalizer_patch = expect_request(
            &mut handle,
            "PATCH",
            "/apis/test.eddy.dev/v1/namespaces/default/widgets/gear?",
            "application/json-patch+json",
            echo.clone(),
        )
        .await;
        assert_eq!(
            finalizer_patch,
            json!([{"op": "add", "path": "/metadata/finalizers", "value": ["finalizers.fluxcd.io"]}])
        );
        let status_patch = expect_request(
            &mut handle,
            "PATCH",
            "/apis/test.eddy.dev/v1/namespaces/default/widgets/gear/status?&force=true&fieldManager=gotk-widget-controller",
            "application/apply-patch+yaml",
            echo,
        )
        .await;
        assert_eq!(
            status_patch,
            json!({
                "apiVersion": "test.eddy.dev/v1",
                "kind": "Widget",
                "status": {
                    "observedGeneration": 2,
                    "conditions": [{
                        "lastTransitionTime": "2023-11-14T22:13:20Z",
                        "message": "widget polished",
                        "observedGeneration": 2,
                        "reason": "Succeeded",
                        "status": "True",
                        "type": "Ready"
                    }],
                    "lastHandledReconcileAt": "2024-05-01T10:00:00Z",
                    "polish": "shiny"
                }
            })
        );
        handle
    });
    let action = harness.reconcile(object).await.expect("reconciled");
    assert_eq!(action, Action::requeue(Duration::from_secs(600)));
    let mut handle = server.await.expect("verifier");
    // Nothing else was sent.
    drop(harness);
    assert!(handle.next_request().await.is_none());
}

#[tokio::test]
async fn a_retryable_failure_applies_not_ready_status_and_backs_off() {
    let (harness, mut handle) = harness();
    let object = widget(
        json!({"interval": "10m", "fail": "PolishFailed"}),
        json!(["finalizers.fluxcd.io"]),
        json!({}),
    );
    let echo = serde_json::to_value(object.as_ref()).expect("json");
    let server = tokio::spawn(async move {
        let status_patch = expect_request(
            &mut handle,
            "PATCH",
            "/apis/test.eddy.dev/v1/namespaces/default/widgets/gear/status?&force=true&fieldManager=gotk-widget-controller",
            "application/apply-patch+yaml",
            echo,
        )
        .await;
        assert_eq!(
            status_patch["status"],
            json!({
                "conditions": [
                    {
                        "lastTransitionTime": "2023-11-14T22:13:20Z",
                        "message": "polishing",
                        "observedGeneration": 2,
                        "reason": "ProgressingWithRetry",
                        "status": "True",
                        "type": "Reconciling"
                    },
                    {
                        "lastTransitionTime": "2023-11-14T22:13:20Z",
                        "message": "the polish ran out",
                        "observedGeneration": 2,
                        "reason": "PolishFailed",
                        "status": "False",
                        "type": "Ready"
                    }
                ],
                "lastHandledReconcileAt": "2024-05-01T10:00:00Z"
            })
        );
    });
    let first = harness.reconcile(object.clone()).await.expect("reconciled");
    server.await.expect("verifier");
    assert_eq!(first, Action::requeue(Duration::from_millis(750)));
}

#[tokio::test]
async fn a_suspended_object_is_left_alone() {
    let (harness, mut handle) = harness();
    let object = widget(
        json!({"interval": "10m", "suspend": true}),
        json!(["finalizers.fluxcd.io"]),
        json!({}),
    );
    let action = harness.reconcile(object).await.expect("reconciled");
    assert_eq!(action, Action::await_change());
    drop(harness);
    assert!(
        handle.next_request().await.is_none(),
        "a suspended object gets no writes"
    );
}

#[tokio::test]
async fn deletion_finalizes_then_removes_only_our_finalizer() {
    let (harness, mut handle) = harness();
    let object = widget(
        json!({"interval": "10m"}),
        json!(["example.com/keep", "finalizers.fluxcd.io"]),
        json!({"deletionTimestamp": "2024-05-01T11:00:00Z"}),
    );
    let echo = serde_json::to_value(object.as_ref()).expect("json");
    let server = tokio::spawn(async move {
        let patch = expect_request(
            &mut handle,
            "PATCH",
            "/apis/test.eddy.dev/v1/namespaces/default/widgets/gear?",
            "application/json-patch+json",
            echo,
        )
        .await;
        assert_eq!(
            patch,
            json!([
                {"op": "test", "path": "/metadata/finalizers/1", "value": "finalizers.fluxcd.io"},
                {"op": "remove", "path": "/metadata/finalizers/1"}
            ])
        );
    });
    let action = harness.reconcile(object).await.expect("reconciled");
    server.await.expect("verifier");
    assert_eq!(action, Action::await_change());
    assert_eq!(harness.reconciler().finalized.load(Ordering::SeqCst), 1);
}
