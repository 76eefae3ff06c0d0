//! End to end against the dev cluster (an embedded API server): the Receiver reconciler
//! publishes the webhook path, a signed GitHub push annotates the GitRepository through the real
//! API, and an event POSTed to the event server reaches a sink through an Alert and Provider read
//! from watch caches, while a failing Provider leaves a Kubernetes Event on its Alert.

mod support;

use eddy_api::notification::v1::Receiver;
use eddy_api::notification::v1beta3::{Alert, Provider};
use eddy_runtime::controller::{self, Harness, HarnessSettings, RunOptions};
use eddy_runtime::events::EventRecorder;
use eddy_runtime::metrics::Metrics;
use eddy_runtime::reconcile::RequeuePolicy;
use eddy_testkit::{DEADLINE, TestCluster, eventually};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use kube::core::GroupVersionKind;
use notification_controller::cluster::{Cluster, KubeCluster};
use notification_controller::events::{EventServer, EventServerSettings};
use notification_controller::notifier::RetryPolicy;
use notification_controller::notifier::webhook::sign;
use notification_controller::receiver::{ReceiverReconciler, ReceiverServer};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Sink, kustomization_event};
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "e2e-token";

fn git_repositories(client: &kube::Client) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "source.toolkit.fluxcd.io",
        "v1",
        "GitRepository",
    ));
    Api::namespaced_with(client.clone(), "flux-system", &resource)
}

async fn create<K>(api: &Api<K>, value: serde_json::Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let object: K = serde_json::from_value(value).expect("object");
    api.create(&PostParams::default(), &object)
        .await
        .expect("create");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_and_alerts_work_against_an_api_server() {
    let api_server = TestCluster::start().await;
    let client = api_server.client.clone();

    create(
        &Api::<Namespace>::all(client.clone()),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}}),
    )
    .await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "flux-system");
    create(&secrets, json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "receiver-token"}, "stringData": {"token": TOKEN}})).await;
    let repositories = git_repositories(&client);
    create(
        &repositories,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "podinfo", "namespace": "flux-system"},
            "spec": {"url": "https://github.com/stefanprodan/podinfo", "interval": "5m"}
        }),
    )
    .await;
    let receivers: Api<Receiver> = Api::namespaced(client.clone(), "flux-system");
    create(&receivers, json!({
        "apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
        "metadata": {"name": "github", "namespace": "flux-system"},
        "spec": {"type": "github", "events": ["ping", "push"], "secretRef": {"name": "receiver-token"},
                 "resources": [{"kind": "GitRepository", "name": "podinfo"}]}
    })).await;

    let shutdown = CancellationToken::new();
    let recorder =
        EventRecorder::new("notification-controller", Some(client.clone()), "").expect("recorder");
    let cluster =
        KubeCluster::start(client.clone(), recorder.clone(), None, shutdown.clone()).await;
    let harness = Arc::new(Harness::new(
        ReceiverReconciler::new(cluster.clone()),
        client.clone(),
        HarnessSettings {
            controller: "notification-controller".into(),
            field_manager: "notification-controller".into(),
        },
        RequeuePolicy::new(Duration::from_millis(50), Duration::from_secs(5), 0),
        Metrics::new().expect("metrics"),
        recorder,
    ));
    tokio::spawn(controller::run(
        harness,
        RunOptions {
            namespace: None,
            label_selector: String::new(),
            concurrency: 2,
            shutdown_grace: std::time::Duration::from_secs(5),
        },
        shutdown.clone(),
        |controller| controller,
    ));

    // The reconciler publishes the path; the server's cache sees it.
    let path = eddy_api::notification::v1::webhook_path(TOKEN, "github", "flux-system");
    let status = eventually("the webhook path in status", DEADLINE, || {
        let receivers = receivers.clone();
        async move {
            receivers
                .get("github")
                .await
                .ok()?
                .status
                .filter(|s| s.webhook_path.is_some())
        }
    })
    .await;
    assert_eq!(status.webhook_path.as_deref(), Some(path.as_str()));
    let ready = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find(|condition| condition.type_ == "Ready")
        .expect("Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("True", "Succeeded")
    );
    assert_eq!(
        ready.message,
        format!("Receiver initialized for path: {path}")
    );
    eventually("the receiver cache", DEADLINE, || {
        let cluster = cluster.clone();
        let path = path.clone();
        async move {
            cluster
                .receiver_for_path(&path)
                .await
                .ok()?
                .filter(|r| r.status.as_ref().is_some_and(|s| s.conditions.is_some()))
        }
    })
    .await;

    // A signed push annotates the GitRepository.
    let receiver_server = ReceiverServer::new(cluster.clone(), false);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let receiver_url = format!("http://{}{path}", listener.local_addr().expect("address"));
    tokio::spawn(notification_controller::serve::serve(
        listener,
        receiver_server.router(),
        shutdown.clone(),
        "receiver-server",
    ));
    let body = br#"{"ref":"refs/heads/main"}"#;
    let started = Instant::now();
    let answer = support::client()
        .post(&receiver_url)
        .header("Content-Type", "application/json")
        .header("X-GitHub-Event", "push")
        .header(
            "X-Hub-Signature-256",
            format!("sha256={}", sign(body, TOKEN.as_bytes())),
        )
        .body(body.to_vec())
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status().as_u16(), 200);
    let repository = repositories.get("podinfo").await.expect("GitRepository");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let requested_at = repository
        .metadata
        .annotations
        .unwrap_or_default()
        .get("reconcile.fluxcd.io/requestedAt")
        .cloned()
        .expect("requestedAt annotation");
    assert!(requested_at.contains(" +0000 UTC m=+"), "{requested_at}");

    // Events flow through Alerts and Providers read from the API server.
    let sink = Sink::start(vec![(200, "")]).await;
    let providers: Api<Provider> = Api::namespaced(client.clone(), "flux-system");
    let alerts: Api<Alert> = Api::namespaced(client.clone(), "flux-system");
    create(
        &providers,
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider",
        "metadata": {"name": "hook", "namespace": "flux-system"},
        "spec": {"type": "generic", "address": format!("{}/hook", sink.address)}}),
    )
    .await;
    create(
        &providers,
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider",
        "metadata": {"name": "broken", "namespace": "flux-system"},
        "spec": {"type": "slack", "address": "http://127.0.0.1:9/unreachable"}}),
    )
    .await;
    for (name, provider) in [("hook", "hook"), ("broken", "broken")] {
        create(&alerts, json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": {"providerRef": {"name": provider}, "eventSources": [{"kind": "Kustomization", "name": "*"}]}})).await;
    }
    eventually("the alert and provider caches", DEADLINE, || {
        let cluster = cluster.clone();
        async move {
            let alerts = cluster.alerts().await.ok()?;
            let provider = cluster.provider("flux-system", "broken").await.ok();
            (alerts.len() == 2 && provider.is_some()).then_some(())
        }
    })
    .await;
    let event_server = EventServer::new(
        cluster.clone(),
        EventServerSettings {
            retry: RetryPolicy {
                attempts: 2,
                min_wait: Duration::from_millis(10),
                max_wait: Duration::from_millis(10),
            },
            ..EventServerSettings::default()
        },
    );
    let handled = event_server
        .handle(
            &serde_json::to_vec(&kustomization_event(
                "info",
                "Deployment/default/web configured",
            ))
            .expect("json"),
        )
        .await;
    assert_eq!(handled.status().as_u16(), 202);
    let request = sink.next().await;
    assert!(request.text().contains("Deployment/default/web configured"));
    event_server.idle().await;
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(client.clone(), "flux-system");
    let warning = eventually("the NotificationDispatchFailed event", DEADLINE, || {
        let events = events.clone();
        async move {
            events
                .list(&Default::default())
                .await
                .ok()?
                .items
                .into_iter()
                .find(|event| event.reason.as_deref() == Some("NotificationDispatchFailed"))
        }
    })
    .await;
    assert_eq!(warning.type_.as_deref(), Some("Warning"));
    assert_eq!(
        warning.regarding.and_then(|r| r.name).as_deref(),
        Some("broken")
    );
    assert!(
        warning.note.unwrap_or_default().starts_with("failed to send notification for Kustomization/flux-system/apps: postMessage failed: failed to execute request: POST http://127.0.0.1:9 giving up after 2 attempt(s)"),
    );

    shutdown.cancel();
    api_server.cluster.shutdown().await;
}
