//! The recorder's Kubernetes Events against a real API server (the dev cluster): a repeat is
//! counted in the series of the first Event, a new message is a new Event.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]

use std::collections::BTreeMap;

use eddy_devcluster::DevCluster;
use eddy_runtime::events::{EventRecorder, EventSubject, EventType};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

#[tokio::test]
async fn a_repeated_event_is_one_event_with_a_count_and_a_new_message_is_another() {
    eddy_runtime::process::install_crypto_provider();
    let cluster = DevCluster::builder().build().serve().await.unwrap();
    let kubeconfig = Kubeconfig::from_yaml(&cluster.kubeconfig()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let recorder = EventRecorder::new("kustomize-controller", Some(client.clone()), "").unwrap();
    let subject = EventSubject {
        api_version: "kustomize.toolkit.fluxcd.io/v1".into(),
        kind: "Kustomization".into(),
        namespace: "default".into(),
        name: "apps".into(),
        uid: "5b0c6e34-0d7e-4bd4-9c2e-1f0f3c2a8e11".into(),
        ..EventSubject::default()
    };
    let no_metadata = BTreeMap::new();
    for _ in 0..3 {
        recorder
            .record(
                &subject,
                EventType::Warning,
                "HealthCheckFailed",
                "timeout waiting for: [Deployment/dev/web status: 'InProgress']",
                &no_metadata,
            )
            .await;
    }
    recorder
        .record(
            &subject,
            EventType::Normal,
            "ReconciliationSucceeded",
            "Reconciliation finished in 120ms",
            &no_metadata,
        )
        .await;

    let events: Api<Event> = Api::namespaced(client, "default");
    let mut listed: Vec<(String, String, Option<i32>)> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|event| {
            assert_eq!(
                event.regarding.as_ref().and_then(|r| r.name.as_deref()),
                Some("apps")
            );
            assert_eq!(
                event.reporting_controller.as_deref(),
                Some("kustomize-controller")
            );
            (
                event.type_.unwrap_or_default(),
                event.note.unwrap_or_default(),
                event.series.map(|series| series.count),
            )
        })
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            (
                "Normal".to_string(),
                "Reconciliation finished in 120ms".to_string(),
                None
            ),
            (
                "Warning".to_string(),
                "timeout waiting for: [Deployment/dev/web status: 'InProgress']".to_string(),
                Some(3)
            ),
        ]
    );
}
