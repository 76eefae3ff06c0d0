//! The Flux-style commands against an in-process dev cluster, with the test playing the
//! controllers (writing status): `get` tables and `-o json`, `reconcile` annotating and waiting,
//! `suspend`/`resume`, `events` and `tree`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is how these tests report failure"
)]

mod common;

use common::Cluster;
use eddy_api::meta::annotations::RECONCILE_REQUESTED_AT;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const NAMESPACE: &str = "default";
const SHA: &str = "6a3a5e0c1f7b3b4f1e0f2f7a9b8c7d6e5f4a3b2c";

fn api<K: kube::Resource<DynamicType = ()>>(cluster: &Cluster) -> Api<DynamicObject> {
    Api::namespaced_with(
        cluster.client.clone(),
        NAMESPACE,
        &ApiResource::erase::<K>(&()),
    )
}

fn kustomizations(cluster: &Cluster) -> Api<DynamicObject> {
    api::<eddy_api::kustomize::v1::Kustomization>(cluster)
}

fn repositories(cluster: &Cluster) -> Api<DynamicObject> {
    api::<eddy_api::source::v1::GitRepository>(cluster)
}

fn ready(status: &str, reason: &str, message: &str) -> Value {
    json!({
        "type": "Ready", "status": status, "reason": reason, "message": message,
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    })
}

async fn create(api: &Api<DynamicObject>, object: Value) {
    let object: DynamicObject = serde_json::from_value(object).unwrap();
    api.create(&PostParams::default(), &object).await.unwrap();
}

async fn set_status(api: &Api<DynamicObject>, name: &str, status: Value) {
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": status})),
    )
    .await
    .unwrap();
}

/// A GitRepository `demo` with an artifact and a Kustomization `apps` applied from it.
async fn demo(cluster: &Cluster) {
    let repositories = repositories(cluster);
    create(
        &repositories,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "demo", "namespace": NAMESPACE},
            "spec": {"url": "https://git.example.com/demo", "interval": "1m"},
        }),
    )
    .await;
    set_status(
        &repositories,
        "demo",
        json!({
            "observedGeneration": 1,
            "conditions": [ready("True", "Succeeded", &format!("stored artifact for revision 'main@sha1:{SHA}'"))],
            "artifact": {
                "path": "x", "url": "http://x/x.tar.gz", "revision": format!("main@sha1:{SHA}"),
                "digest": "sha256:00", "lastUpdateTime": "2026-01-01T00:00:00Z",
            },
        }),
    )
    .await;
    let kustomizations = kustomizations(cluster);
    create(
        &kustomizations,
        json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": NAMESPACE},
            "spec": {
                "interval": "1m", "path": "./apps", "prune": true,
                "sourceRef": {"kind": "GitRepository", "name": "demo"},
            },
        }),
    )
    .await;
    set_status(
        &kustomizations,
        "apps",
        json!({
            "observedGeneration": 1,
            "conditions": [ready("True", "ReconciliationSucceeded", &format!("Applied revision: main@sha1:{SHA}"))],
            "lastAppliedRevision": format!("main@sha1:{SHA}"),
        }),
    )
    .await;
}

#[tokio::test]
async fn get_prints_flux_tables_and_json() {
    let cluster = Cluster::start().await;
    demo(&cluster).await;
    let sources = cluster.eddy(&["get", "sources", "git"]).await.ok();
    let lines: Vec<&str> = sources.stdout.lines().collect();
    assert_eq!(
        lines[0].split('\t').map(str::trim).collect::<Vec<_>>(),
        ["NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"]
    );
    assert_eq!(
        lines[1].split('\t').map(str::trim).collect::<Vec<_>>(),
        [
            "demo",
            "main@sha1:6a3a5e0c",
            "False",
            "True",
            "stored artifact for revision 'main@sha1:6a3a5e0c'"
        ]
    );

    let ks = cluster.eddy(&["get", "ks", "-A"]).await.ok();
    assert!(ks.stdout.starts_with("NAMESPACE"), "{}", ks.stdout);
    assert!(ks.stdout.contains("apps"), "{}", ks.stdout);

    let json = cluster
        .eddy(&["get", "kustomizations", "apps", "-o", "json"])
        .await
        .ok();
    let object: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(object["kind"], "Kustomization");
    assert_eq!(
        object["status"]["lastAppliedRevision"],
        format!("main@sha1:{SHA}")
    );

    let yaml = cluster
        .eddy(&["get", "sources", "git", "demo", "-o", "yaml"])
        .await
        .ok();
    assert!(
        yaml.stdout.contains("kind: GitRepository"),
        "{}",
        yaml.stdout
    );

    let all = cluster.eddy(&["get", "all"]).await.ok();
    assert!(all.stdout.contains("gitrepository/demo"), "{}", all.stdout);
    assert!(all.stdout.contains("kustomization/apps"), "{}", all.stdout);

    let missing = cluster.eddy(&["get", "hr"]).await.failed();
    assert!(
        missing
            .stderr
            .contains("✗ no HelmRelease objects found in \"default\" namespace"),
        "{}",
        missing.stderr
    );
}

/// Plays kustomize-controller once: waits for a new requestedAt and answers it with `ready`.
async fn answer_reconcile(api: Api<DynamicObject>, name: &str, ready: Value) {
    let token =
        eddy_testkit::eventually("the requestedAt annotation", common::DEADLINE, || async {
            let object = api.get(name).await.unwrap();
            object
                .metadata
                .annotations
                .and_then(|annotations| annotations.get(RECONCILE_REQUESTED_AT).cloned())
        })
        .await;
    set_status(
        &api,
        name,
        json!({"lastHandledReconcileAt": token, "observedGeneration": 1, "conditions": [ready]}),
    )
    .await;
}

#[tokio::test]
async fn reconcile_annotates_and_completes_when_the_controller_answers() {
    let cluster = Cluster::start().await;
    demo(&cluster).await;
    let child = cluster
        .command(&["reconcile", "kustomization", "apps", "--timeout", "20s"])
        .spawn()
        .unwrap();
    answer_reconcile(
        kustomizations(&cluster),
        "apps",
        ready(
            "True",
            "ReconciliationSucceeded",
            "Applied revision: main@sha1:abc",
        ),
    )
    .await;
    let run = common::Run::from(child.wait_with_output().await.unwrap()).ok();
    for line in [
        "► annotating Kustomization apps in default namespace",
        "✔ Kustomization annotated",
        "◎ waiting for Kustomization reconciliation",
        "✔ Kustomization reconciliation completed",
        &format!("✔ applied revision main@sha1:{SHA}"),
    ] {
        assert!(
            run.stderr.contains(line),
            "missing {line:?} in\n{}",
            run.stderr
        );
    }
}

#[tokio::test]
async fn reconcile_with_source_reconciles_the_source_first() {
    let cluster = Cluster::start().await;
    demo(&cluster).await;
    let child = cluster
        .command(&["reconcile", "ks", "apps", "--with-source"])
        .spawn()
        .unwrap();
    answer_reconcile(
        repositories(&cluster),
        "demo",
        ready("True", "Succeeded", "stored artifact"),
    )
    .await;
    answer_reconcile(
        kustomizations(&cluster),
        "apps",
        ready("True", "ReconciliationSucceeded", "Applied"),
    )
    .await;
    let run = common::Run::from(child.wait_with_output().await.unwrap()).ok();
    let source = run.stderr.find("annotating GitRepository demo").unwrap();
    let kustomization = run.stderr.find("annotating Kustomization apps").unwrap();
    assert!(source < kustomization, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("✔ fetched revision main@sha1:{SHA}")),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn reconcile_exits_non_zero_when_the_object_ends_not_ready() {
    let cluster = Cluster::start().await;
    demo(&cluster).await;
    let child = cluster
        .command(&["reconcile", "kustomization", "apps"])
        .spawn()
        .unwrap();
    answer_reconcile(
        kustomizations(&cluster),
        "apps",
        ready("False", "BuildFailed", "kustomization path not found"),
    )
    .await;
    let run = common::Run::from(child.wait_with_output().await.unwrap()).failed();
    assert!(
        run.stderr
            .contains("✗ Kustomization reconciliation failed: 'kustomization path not found'"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn suspend_and_resume_flip_spec_suspend_and_resume_waits() {
    let cluster = Cluster::start().await;
    demo(&cluster).await;
    let suspended = cluster.eddy(&["suspend", "ks", "apps"]).await.ok();
    assert!(
        suspended
            .stderr
            .contains("► suspending kustomization apps in default namespace")
    );
    assert!(suspended.stderr.contains("✔ kustomization suspended"));
    let api = kustomizations(&cluster);
    let object = api.get("apps").await.unwrap();
    assert_eq!(object.data["spec"]["suspend"], true);
    let generation = object.metadata.generation.unwrap();

    let refused = cluster.eddy(&["reconcile", "ks", "apps"]).await.failed();
    assert!(
        refused.stderr.contains("resource is suspended"),
        "{}",
        refused.stderr
    );

    let child = cluster
        .command(&["resume", "kustomization", "apps"])
        .spawn()
        .unwrap();
    // Play the controller: once resumed (a new generation), report it reconciled.
    let resumed_generation =
        eddy_testkit::eventually("the resume patch", common::DEADLINE, || async {
            let object = api.get("apps").await.unwrap();
            (object.data["spec"]["suspend"] == false).then(|| object.metadata.generation.unwrap())
        })
        .await;
    assert!(resumed_generation > generation);
    set_status(
        &api,
        "apps",
        json!({"observedGeneration": resumed_generation,
               "conditions": [ready("True", "ReconciliationSucceeded", "Applied")]}),
    )
    .await;
    let run = common::Run::from(child.wait_with_output().await.unwrap()).ok();
    assert!(
        run.stderr.contains("✔ kustomization resumed"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("✔ Kustomization apps reconciliation completed"),
        "{}",
        run.stderr
    );

    let missing = cluster
        .eddy(&["suspend", "source", "git", "nothing"])
        .await
        .failed();
    assert!(
        missing
            .stderr
            .contains("✗ GitRepository nothing not found in default namespace"),
        "{}",
        missing.stderr
    );
}

#[tokio::test]
async fn tree_draws_the_inventory_and_descends_into_applied_kustomizations() {
    let cluster = Cluster::start().await;
    demo(&cluster).await;
    let api = kustomizations(&cluster);
    create(
        &api,
        json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "infra", "namespace": NAMESPACE},
            "spec": {"interval": "1m", "prune": true, "sourceRef": {"kind": "GitRepository", "name": "demo"}},
        }),
    )
    .await;
    set_status(
        &api,
        "infra",
        json!({"inventory": {"entries": [
            {"id": "_dev__Namespace", "v": "v1"},
            {"id": "dev_podinfo_apps_Deployment", "v": "v1"},
        ]}}),
    )
    .await;
    set_status(
        &api,
        "apps",
        json!({"inventory": {"entries": [
            {"id": "default_apps_kustomize.toolkit.fluxcd.io_Kustomization", "v": "v1"},
            {"id": "default_infra_kustomize.toolkit.fluxcd.io_Kustomization", "v": "v1"},
            {"id": "dev_podinfo_source.toolkit.fluxcd.io_GitRepository", "v": "v1"},
        ]}}),
    )
    .await;
    let tree = cluster.eddy(&["tree", "kustomization", "apps"]).await.ok();
    assert_eq!(
        tree.stdout,
        "Kustomization/default/apps\n\
         ├── Kustomization/default/infra\n\
         │   ├── Namespace/dev\n\
         │   └── Deployment/dev/podinfo\n\
         └── GitRepository/dev/podinfo\n\n"
    );
    let compact = cluster
        .eddy(&["tree", "ks", "apps", "--compact", "-o", "json"])
        .await
        .ok();
    let value: Value = serde_json::from_str(&compact.stdout).unwrap();
    assert_eq!(value["resource"]["Name"], "apps");
    assert_eq!(
        value["resources"][0]["resource"]["GroupKind"]["Kind"],
        "Kustomization"
    );
    assert!(value["resources"][0].get("resources").is_none(), "{value}");
}

#[tokio::test]
async fn events_lists_the_events_of_flux_objects_only() {
    let cluster = Cluster::start().await;
    demo(&cluster).await;
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(cluster.client.clone(), NAMESPACE);
    for (name, kind, object, reason, message) in [
        (
            "e1",
            "Kustomization",
            "apps",
            "ReconciliationSucceeded",
            "Reconciliation finished",
        ),
        (
            "e2",
            "GitRepository",
            "demo",
            "NewArtifact",
            "stored artifact",
        ),
        ("e3", "Pod", "web", "Scheduled", "assigned"),
    ] {
        let event: k8s_openapi::api::core::v1::Event = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": NAMESPACE},
            "involvedObject": {"kind": kind, "name": object, "namespace": NAMESPACE},
            "reason": reason, "message": message, "type": "Normal",
            "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z",
            "count": 1,
        }))
        .unwrap();
        events.create(&PostParams::default(), &event).await.unwrap();
    }
    let all = cluster.eddy(&["events"]).await.ok();
    assert!(all.stdout.starts_with("LAST SEEN"), "{}", all.stdout);
    assert!(all.stdout.contains("Kustomization/apps"), "{}", all.stdout);
    assert!(all.stdout.contains("GitRepository/demo"), "{}", all.stdout);
    assert!(!all.stdout.contains("Pod/web"), "{}", all.stdout);

    let only = cluster
        .eddy(&["events", "--for", "GitRepository/demo"])
        .await
        .ok();
    assert!(
        only.stdout.contains("GitRepository/demo"),
        "{}",
        only.stdout
    );
    assert!(
        !only.stdout.contains("Kustomization/apps"),
        "{}",
        only.stdout
    );

    // A Kustomization's events come with its source's.
    let with_source = cluster
        .eddy(&["events", "--for", "Kustomization/apps"])
        .await
        .ok();
    assert!(
        with_source.stdout.contains("Kustomization/apps"),
        "{}",
        with_source.stdout
    );
    assert!(
        with_source.stdout.contains("GitRepository/demo"),
        "{}",
        with_source.stdout
    );
}
