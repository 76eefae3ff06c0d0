//! The receiver server end to end over HTTP against an in-memory cluster.

mod support;

use eddy_api::meta::LocalObjectReference;
use eddy_api::notification::v1::{
    FluxObjectKind, Receiver, ReceiverResource, ReceiverSpec, ReceiverStatus, ReceiverType,
    webhook_path,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use notification_controller::cluster::ObjectKey;
use notification_controller::memory::MemoryCluster;
use notification_controller::notifier::webhook::sign;
use notification_controller::receiver::ReceiverServer;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "webhook-token";
const ANNOTATION: &str = "reconcile.fluxcd.io/requestedAt";

fn repository(name: &str) -> ObjectKey {
    ObjectKey {
        api_version: "source.toolkit.fluxcd.io/v1".into(),
        kind: "GitRepository".into(),
        namespace: "flux-system".into(),
        name: name.into(),
    }
}

fn receiver(
    receiver_type: ReceiverType,
    resources: Vec<ReceiverResource>,
    ready: bool,
) -> Receiver {
    let mut receiver = Receiver::new(
        "hooks",
        ReceiverSpec {
            receiver_type,
            events: Some(vec!["ping".into(), "push".into()]),
            resources,
            secret_ref: Some(LocalObjectReference {
                name: "receiver-token".into(),
            }),
            ..ReceiverSpec::default()
        },
    );
    receiver.metadata.namespace = Some("flux-system".into());
    receiver.status = Some(ReceiverStatus {
        webhook_path: Some(webhook_path(TOKEN, "hooks", "flux-system")),
        conditions: Some(vec![Condition {
            type_: "Ready".into(),
            status: if ready { "True" } else { "False" }.into(),
            reason: "Succeeded".into(),
            message: String::new(),
            observed_generation: None,
            last_transition_time: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
        }]),
        ..ReceiverStatus::default()
    });
    receiver
}

fn resource(name: &str) -> ReceiverResource {
    ReceiverResource {
        kind: FluxObjectKind::GitRepository,
        name: name.into(),
        ..ReceiverResource::default()
    }
}

async fn start(cluster: &MemoryCluster) -> String {
    let server = ReceiverServer::new(cluster.clone(), false);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(notification_controller::serve::serve(
        listener,
        server.router(),
        CancellationToken::new(),
        "receiver-server",
    ));
    url
}

fn cluster_with(receiver: Receiver) -> MemoryCluster {
    let cluster = MemoryCluster::new();
    cluster.put_secret(
        "flux-system",
        "receiver-token",
        &[("token", TOKEN.as_bytes())],
    );
    cluster.put_object(repository("podinfo"), &[("team", "a")]);
    cluster.put_object(repository("other"), &[("team", "b")]);
    cluster.put_receiver(receiver);
    cluster
}

async fn github_push(url: &str, signature_key: &[u8], event: &str) -> u16 {
    let body = br#"{"ref":"refs/heads/main","after":"5394cb7f48332b2de7c17dd8b8384bbc84b7e738"}"#;
    support::client()
        .post(format!(
            "{url}{}",
            webhook_path(TOKEN, "hooks", "flux-system")
        ))
        .header("Content-Type", "application/json")
        .header("X-GitHub-Event", event)
        .header(
            "X-Hub-Signature-256",
            format!("sha256={}", sign(body, signature_key)),
        )
        .body(body.to_vec())
        .send()
        .await
        .expect("answer")
        .status()
        .as_u16()
}

fn requested_at(cluster: &MemoryCluster, name: &str) -> Option<String> {
    cluster
        .object(&repository(name))
        .and_then(|object| object.annotations.get(ANNOTATION).cloned())
}

#[tokio::test]
async fn a_signed_github_push_annotates_the_listed_git_repository_within_a_second() {
    let cluster = cluster_with(receiver(
        ReceiverType::GitHub,
        vec![resource("podinfo")],
        true,
    ));
    let url = start(&cluster).await;
    let started = Instant::now();
    assert_eq!(github_push(&url, TOKEN.as_bytes(), "push").await, 200);
    tokio::time::timeout(
        Duration::from_secs(1),
        cluster.wait_for(|cluster| requested_at(cluster, "podinfo").is_some()),
    )
    .await
    .expect("annotated within 1s");
    assert!(started.elapsed() < Duration::from_secs(1));
    let value = requested_at(&cluster, "podinfo").expect("annotation");
    let go_time = regex::Regex::new(
        r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})? \+0000 UTC m=\+\d+\.\d{9}$",
    )
    .expect("regex");
    assert!(go_time.is_match(&value), "{value}");
    assert_eq!(requested_at(&cluster, "other"), None);
}

#[tokio::test]
async fn a_wrong_signature_is_a_400_and_annotates_nothing() {
    let cluster = cluster_with(receiver(
        ReceiverType::GitHub,
        vec![resource("podinfo")],
        true,
    ));
    let url = start(&cluster).await;
    assert_eq!(github_push(&url, b"not-the-token", "push").await, 400);
    assert_eq!(github_push(&url, TOKEN.as_bytes(), "issues").await, 400);
    assert_eq!(requested_at(&cluster, "podinfo"), None);
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let cluster = cluster_with(receiver(
        ReceiverType::Generic,
        vec![resource("podinfo")],
        true,
    ));
    let url = start(&cluster).await;
    let client = support::client();
    for path in [
        "/hook/0000000000000000000000000000000000000000000000000000000000000000".to_string(),
        "/".to_string(),
        "/other".to_string(),
        format!("{}?extra=1", webhook_path(TOKEN, "hooks", "flux-system")),
    ] {
        let status = client
            .post(format!("{url}{path}"))
            .body("{}")
            .send()
            .await
            .expect("answer")
            .status();
        assert_eq!(status.as_u16(), 404, "{path}");
    }
    assert_eq!(requested_at(&cluster, "podinfo"), None);
}

#[tokio::test]
async fn suspended_or_unready_receivers_are_503() {
    let mut suspended = receiver(ReceiverType::Generic, vec![resource("podinfo")], true);
    suspended.spec.suspend = Some(true);
    let url = start(&cluster_with(suspended)).await;
    let path = webhook_path(TOKEN, "hooks", "flux-system");
    let post = |url: String| async move {
        support::client()
            .post(url)
            .body("{}")
            .send()
            .await
            .expect("answer")
            .status()
            .as_u16()
    };
    assert_eq!(post(format!("{url}{path}")).await, 503);
    let unready = receiver(ReceiverType::Generic, vec![resource("podinfo")], false);
    let url = start(&cluster_with(unready)).await;
    assert_eq!(post(format!("{url}{path}")).await, 503);
}

#[tokio::test]
async fn a_wildcard_annotates_only_objects_with_the_labels() {
    let mut wildcard = resource("*");
    wildcard.match_labels = Some([("team".to_string(), "a".to_string())].into());
    let cluster = cluster_with(receiver(ReceiverType::Generic, vec![wildcard], true));
    let url = start(&cluster).await;
    let status = support::client()
        .post(format!(
            "{url}{}",
            webhook_path(TOKEN, "hooks", "flux-system")
        ))
        .send()
        .await
        .expect("answer")
        .status();
    assert_eq!(status.as_u16(), 200);
    assert!(requested_at(&cluster, "podinfo").is_some());
    assert_eq!(requested_at(&cluster, "other"), None);
}

#[tokio::test]
async fn failed_annotations_and_missing_objects_are_500() {
    let cluster = cluster_with(receiver(
        ReceiverType::Generic,
        vec![resource("missing")],
        true,
    ));
    let url = start(&cluster).await;
    let path = format!("{url}{}", webhook_path(TOKEN, "hooks", "flux-system"));
    let status = support::client()
        .post(&path)
        .send()
        .await
        .expect("answer")
        .status();
    assert_eq!(status.as_u16(), 500);
    let cluster = cluster_with(receiver(
        ReceiverType::Generic,
        vec![resource("podinfo")],
        true,
    ));
    cluster.fail_annotations(true);
    let url = start(&cluster).await;
    let path = format!("{url}{}", webhook_path(TOKEN, "hooks", "flux-system"));
    let status = support::client()
        .post(&path)
        .send()
        .await
        .expect("answer")
        .status();
    assert_eq!(status.as_u16(), 500);
}

#[tokio::test]
async fn kinds_without_a_default_api_version_need_one() {
    let kustomization = ReceiverResource {
        kind: FluxObjectKind::Kustomization,
        name: "apps".into(),
        ..ReceiverResource::default()
    };
    let cluster = cluster_with(receiver(
        ReceiverType::Generic,
        vec![kustomization.clone()],
        true,
    ));
    let url = start(&cluster).await;
    let path = format!("{url}{}", webhook_path(TOKEN, "hooks", "flux-system"));
    let status = support::client()
        .post(&path)
        .send()
        .await
        .expect("answer")
        .status();
    assert_eq!(
        status.as_u16(),
        500,
        "Flux requires apiVersion for Kustomization"
    );

    let key = ObjectKey {
        api_version: "kustomize.toolkit.fluxcd.io/v1".into(),
        kind: "Kustomization".into(),
        namespace: "flux-system".into(),
        name: "apps".into(),
    };
    let explicit = ReceiverResource {
        api_version: Some("kustomize.toolkit.fluxcd.io/v1".into()),
        ..kustomization
    };
    let cluster = cluster_with(receiver(ReceiverType::Generic, vec![explicit], true));
    cluster.put_object(key.clone(), &[]);
    let url = start(&cluster).await;
    let path = format!("{url}{}", webhook_path(TOKEN, "hooks", "flux-system"));
    let status = support::client()
        .post(&path)
        .send()
        .await
        .expect("answer")
        .status();
    assert_eq!(status.as_u16(), 200);
    assert!(
        cluster
            .object(&key)
            .is_some_and(|object| object.annotations.contains_key(ANNOTATION))
    );
}
