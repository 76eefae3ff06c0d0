//! The Kustomization reconciler against the dev cluster: the acceptance list of issue 7 as far
//! as a cluster without workload controllers allows.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is how these tests report failure"
)]

mod common;

use std::time::{Duration, Instant};

use common::{
    DEADLINE, Environment, Options, condition, config_map_yaml, deployment_yaml, inventory_ids,
    namespace_yaml, never_ready_deployment_yaml, service_yaml,
};
use eddy_testkit::wait_until;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::json;

fn labels_of(object: &serde_json::Value) -> (String, String) {
    let labels = &object["metadata"]["labels"];
    (
        labels["kustomize.toolkit.fluxcd.io/name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        labels["kustomize.toolkit.fluxcd.io/namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

fn app_files(replicas: u32, with_service: bool) -> Vec<(String, String)> {
    let mut files = vec![
        ("infra/namespace.yaml".to_string(), namespace_yaml("dev")),
        (
            "apps/deployment.yaml".to_string(),
            deployment_yaml("dev", "web", replicas),
        ),
        (
            "apps/config.yaml".to_string(),
            config_map_yaml("dev", "web-config", "one"),
        ),
    ];
    if with_service {
        files.push(("apps/service.yaml".to_string(), service_yaml("dev", "web")));
    }
    files
}

fn borrowed(files: &[(String, String)]) -> Vec<(&str, &str)> {
    files
        .iter()
        .map(|(path, text)| (path.as_str(), text.as_str()))
        .collect()
}

fn spec(path: &str, interval: &str) -> serde_json::Value {
    json!({"interval": interval, "path": path, "prune": true,
        "sourceRef": {"kind": "GitRepository", "name": "repo"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infra_and_apps_become_ready_with_owner_labels_and_inventory() {
    let env = Environment::start().await;
    env.publish("repo", "main@sha1:1111", &borrowed(&app_files(1, true)))
        .await;
    env.create("infra", spec("./infra", "10m")).await;
    let mut apps = spec("./apps", "10m");
    apps["dependsOn"] = json!([{"name": "infra"}]);
    env.create("apps", apps).await;

    let infra = env.wait_ready("infra", "main@sha1:1111").await;
    let apps = env.wait_ready("apps", "main@sha1:1111").await;
    assert_eq!(inventory_ids(&infra), ["_dev__Namespace"]);
    assert_eq!(
        inventory_ids(&apps),
        [
            "dev_web-config__ConfigMap",
            "dev_web__Service",
            "dev_web_apps_Deployment"
        ]
    );
    let ready = condition(&apps, "Ready").unwrap();
    assert_eq!(ready.reason, "ReconciliationSucceeded");
    assert_eq!(ready.message, "Applied revision: main@sha1:1111");
    let status = apps.status.as_ref().unwrap();
    assert_eq!(
        status.last_attempted_revision.as_deref(),
        Some("main@sha1:1111")
    );
    let history = status.history.as_ref().unwrap();
    assert_eq!(history[0].last_reconciled_status, "ReconciliationSucceeded");
    assert!(history[0].digest.starts_with("sha256:"));

    for (api_version, kind, namespace, name, owner) in [
        ("v1", "Namespace", "", "dev", "infra"),
        ("apps/v1", "Deployment", "dev", "web", "apps"),
        ("v1", "Service", "dev", "web", "apps"),
        ("v1", "ConfigMap", "dev", "web-config", "apps"),
    ] {
        let object = env.read(api_version, kind, namespace, name).await.unwrap();
        assert_eq!(
            labels_of(&object),
            (owner.to_string(), "flux-system".to_string()),
            "{kind}/{name}"
        );
    }
    env.wait_event("apps", "Progressing", |note| {
        note.contains("Deployment/dev/web created")
            && note.contains("ConfigMap/dev/web-config created")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependant_follows_its_dependency_to_a_new_revision_without_waiting_for_the_requeue() {
    // With a 10 minute --requeue-dependency, only the dependency watch can bring apps to the
    // new revision before the test's deadline.
    let env = Environment::start_with(Options {
        requeue_dependency: Some(Duration::from_secs(600)),
        ..Options::default()
    })
    .await;
    env.publish("repo", "main@sha1:1111", &borrowed(&app_files(1, true)))
        .await;
    env.create("infra", spec("./infra", "10m")).await;
    let mut apps = spec("./apps", "10m");
    apps["dependsOn"] = json!([{"name": "infra"}]);
    env.create("apps", apps).await;
    env.wait_ready("apps", "main@sha1:1111").await;

    env.publish("repo", "main@sha1:2222", &borrowed(&app_files(3, true)))
        .await;
    env.wait_ready("infra", "main@sha1:2222").await;
    env.wait_ready("apps", "main@sha1:2222").await;
    let deployment = env
        .read("apps/v1", "Deployment", "dev", "web")
        .await
        .unwrap();
    assert_eq!(deployment["spec"]["replicas"], json!(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_revision_is_applied_within_seconds_and_a_removed_object_is_pruned_then_restored() {
    let env = Environment::start().await;
    env.publish("repo", "main@sha1:1111", &borrowed(&app_files(1, true)))
        .await;
    env.create("apps", spec("./", "10m")).await;
    env.wait_ready("apps", "main@sha1:1111").await;

    // A new artifact reaches the cluster long before the 10 minute interval.
    let published = Instant::now();
    env.publish("repo", "main@sha1:2222", &borrowed(&app_files(3, true)))
        .await;
    env.wait_ready("apps", "main@sha1:2222").await;
    assert!(published.elapsed() < Duration::from_secs(10));
    let deployment = env
        .read("apps/v1", "Deployment", "dev", "web")
        .await
        .unwrap();
    assert_eq!(deployment["spec"]["replicas"], json!(3));

    env.publish("repo", "main@sha1:3333", &borrowed(&app_files(3, false)))
        .await;
    let apps = env.wait_ready("apps", "main@sha1:3333").await;
    assert!(env.read("v1", "Service", "dev", "web").await.is_none());
    assert!(!inventory_ids(&apps).contains(&"dev_web__Service".to_string()));
    env.wait_event("apps", "Progressing", |note| {
        note.contains("Service/dev/web deleted")
    })
    .await;

    env.publish("repo", "main@sha1:4444", &borrowed(&app_files(3, true)))
        .await;
    env.wait_ready("apps", "main@sha1:4444").await;
    assert!(env.read("v1", "Service", "dev", "web").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_invalid_object_applies_nothing_of_its_stage_and_keeps_the_previous_state() {
    let env = Environment::start().await;
    let good = vec![
        ("ns.yaml".to_string(), namespace_yaml("dev")),
        (
            "cm.yaml".to_string(),
            config_map_yaml("dev", "settings", "one"),
        ),
    ];
    env.publish("repo", "main@sha1:1111", &borrowed(&good))
        .await;
    env.create("apps", spec("./", "10m")).await;
    env.wait_ready("apps", "main@sha1:1111").await;

    let invalid_service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: broken\n  namespace: dev\n  labels:\n    tier: \"not a valid label value!\"\nspec:\n  ports:\n  - port: 80\n";
    let bad = vec![
        ("ns.yaml".to_string(), namespace_yaml("dev")),
        (
            "cm.yaml".to_string(),
            config_map_yaml("dev", "settings", "two"),
        ),
        ("svc.yaml".to_string(), invalid_service.to_string()),
    ];
    env.publish("repo", "main@sha1:2222", &borrowed(&bad)).await;
    let failed = env.wait_not_ready("apps", "ReconciliationFailed").await;
    let ready = condition(&failed, "Ready").unwrap();
    assert!(
        ready
            .message
            .starts_with("Service/dev/broken dry-run failed"),
        "{}",
        ready.message
    );
    let status = failed.status.as_ref().unwrap();
    assert_eq!(
        status.last_applied_revision.as_deref(),
        Some("main@sha1:1111")
    );
    assert_eq!(
        status.last_attempted_revision.as_deref(),
        Some("main@sha1:2222")
    );
    let config = env
        .read("v1", "ConfigMap", "dev", "settings")
        .await
        .unwrap();
    assert_eq!(
        config["data"]["key"],
        json!("one"),
        "the valid change was not applied"
    );
    assert!(env.read("v1", "Service", "dev", "broken").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_kustomization_stops_its_health_check_and_prunes_at_once() {
    let env = Environment::start().await;
    let files = vec![
        ("ns.yaml".to_string(), namespace_yaml("dev")),
        (
            "deploy.yaml".to_string(),
            never_ready_deployment_yaml("dev", "stuck", 1),
        ),
    ];
    env.publish("repo", "main@sha1:1111", &borrowed(&files))
        .await;
    let mut wait = spec("./", "10m");
    wait["wait"] = json!(true);
    wait["timeout"] = json!("10m");
    env.create("apps", wait).await;
    env.wait_for("apps", "running its health checks", DEADLINE, |ks| {
        condition(ks, "Healthy").is_some_and(|healthy| healthy.status == "Unknown")
    })
    .await;

    env.kustomizations()
        .delete("apps", &DeleteParams::default())
        .await
        .unwrap();
    // Well within the ten-minute timeout the health check was given.
    wait_until("the Kustomization to be gone", DEADLINE, async || match env
        .kustomizations()
        .get_opt("apps")
        .await
        .unwrap()
    {
        None => Ok(()),
        Some(_) => Err("still there".to_string()),
    })
    .await;
    env.wait_object(
        ("apps/v1", "Deployment", "dev", "stuck"),
        "pruned",
        |object| object.is_none(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_never_ready_deployment_fails_its_health_check_at_the_timeout() {
    let env = Environment::start().await;
    let files = vec![
        ("ns.yaml".to_string(), namespace_yaml("dev")),
        (
            "deploy.yaml".to_string(),
            never_ready_deployment_yaml("dev", "stuck", 1),
        ),
    ];
    env.publish("repo", "main@sha1:1111", &borrowed(&files))
        .await;
    let mut wait = spec("./", "10m");
    wait["wait"] = json!(true);
    // Flux never waits less than 30 s, whatever the timeout says.
    wait["timeout"] = json!("1s");
    let started = Instant::now();
    env.create("apps", wait).await;
    // The harness reconciles a new object a second time right after the first (its
    // finalizer write is a trigger), so the failure is read from history and events, which
    // outlive the next attempt's progress conditions.
    let failed = env
        .wait_for(
            "apps",
            "failing its health check",
            Duration::from_secs(60),
            |ks| {
                ks.status
                    .as_ref()
                    .and_then(|status| status.history.as_ref())
                    .and_then(|history| history.first())
                    .is_some_and(|snapshot| snapshot.last_reconciled_status == "HealthCheckFailed")
            },
        )
        .await;
    assert!(started.elapsed() >= Duration::from_secs(30));
    let history = failed.status.as_ref().unwrap().history.as_ref().unwrap();
    assert_eq!(
        history[0].metadata.as_ref().unwrap()["revision"],
        "main@sha1:1111"
    );
    env.wait_event("apps", "HealthCheckFailed", |note| {
        note == "timeout waiting for: [Deployment/dev/stuck status: 'InProgress']"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depends_on_holds_the_dependant_until_its_dependency_is_ready() {
    let env = Environment::start().await;
    env.create_repository("infra-repo").await;
    env.publish("repo", "main@sha1:1111", &borrowed(&app_files(1, false)))
        .await;
    let mut infra = spec("./infra", "10m");
    infra["sourceRef"]["name"] = json!("infra-repo");
    env.create("infra", infra).await;
    let mut apps = spec("./apps", "10m");
    apps["dependsOn"] = json!([{"name": "infra"}]);
    env.create("apps", apps).await;

    let held = env.wait_not_ready("apps", "DependencyNotReady").await;
    assert_eq!(
        condition(&held, "Ready").unwrap().message,
        "dependency 'flux-system/infra' is not ready"
    );
    env.wait_not_ready("infra", "ArtifactFailed").await;
    assert!(
        env.read("apps/v1", "Deployment", "dev", "web")
            .await
            .is_none()
    );

    env.publish(
        "infra-repo",
        "main@sha1:aaaa",
        &borrowed(&app_files(1, false)),
    )
    .await;
    env.wait_ready("infra", "main@sha1:aaaa").await;
    env.wait_ready("apps", "main@sha1:1111").await;
    assert!(
        env.read("apps/v1", "Deployment", "dev", "web")
            .await
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_corrected_at_the_next_interval() {
    let env = Environment::start().await;
    let files = vec![
        ("ns.yaml".to_string(), namespace_yaml("dev")),
        (
            "cm.yaml".to_string(),
            config_map_yaml("dev", "settings", "desired"),
        ),
    ];
    env.publish("repo", "main@sha1:1111", &borrowed(&files))
        .await;
    env.create("apps", spec("./", "1s")).await;
    env.wait_ready("apps", "main@sha1:1111").await;

    env.dynamic("v1", "ConfigMap", "dev")
        .patch(
            "settings",
            &PatchParams::apply("kubectl").force(),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "settings", "namespace": "dev"},
                "data": {"key": "drifted"}})),
        )
        .await
        .unwrap();
    env.wait_object(
        ("v1", "ConfigMap", "dev", "settings"),
        "restored",
        |object| object.is_some_and(|object| object["data"]["key"] == json!("desired")),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn substitutions_come_from_labelled_config_maps_and_their_changes_trigger_a_reconcile() {
    let env = Environment::start().await;
    let files = vec![
        ("ns.yaml".to_string(), namespace_yaml("dev")),
        (
            "cm.yaml".to_string(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: dev\ndata:\n  greeting: ${greeting}\n  escaped: $${literal}\n  fallback: ${missing:=default}\n".to_string(),
        ),
    ];
    env.publish("repo", "main@sha1:1111", &borrowed(&files))
        .await;
    let variables: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(env.client.clone(), &env.namespace);
    let vars = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "vars", "labels": {"reconcile.fluxcd.io/watch": "Enabled"}},
        "data": {"greeting": "hello"}});
    variables
        .patch("vars", &PatchParams::apply("test"), &Patch::Apply(&vars))
        .await
        .unwrap();
    let mut substituted = spec("./", "10m");
    substituted["postBuild"] = json!({"substituteFrom": [{"kind": "ConfigMap", "name": "vars"}]});
    env.create("apps", substituted).await;
    env.wait_ready("apps", "main@sha1:1111").await;
    let config = env
        .read("v1", "ConfigMap", "dev", "settings")
        .await
        .unwrap();
    assert_eq!(
        config["data"],
        json!({"greeting": "hello", "escaped": "${literal}", "fallback": "default"})
    );

    let changed = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "vars", "labels": {"reconcile.fluxcd.io/watch": "Enabled"}},
        "data": {"greeting": "bonjour"}});
    variables
        .patch("vars", &PatchParams::apply("test"), &Patch::Apply(&changed))
        .await
        .unwrap();
    env.wait_object(
        ("v1", "ConfigMap", "dev", "settings"),
        "re-substituted",
        |object| object.is_some_and(|object| object["data"]["greeting"] == json!("bonjour")),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_pruning_kustomization_deletes_its_objects() {
    let env = Environment::start().await;
    let files = vec![
        ("ns.yaml".to_string(), namespace_yaml("dev")),
        (
            "cm.yaml".to_string(),
            config_map_yaml("dev", "settings", "one"),
        ),
        (
            "kept.yaml".to_string(),
            config_map_yaml("dev", "kept", "one"),
        ),
    ];
    env.publish("repo", "main@sha1:1111", &borrowed(&files))
        .await;
    env.create("apps", spec("./", "10m")).await;
    env.wait_ready("apps", "main@sha1:1111").await;

    env.kustomizations()
        .delete("apps", &DeleteParams::default())
        .await
        .unwrap();
    env.wait_object(
        ("v1", "ConfigMap", "dev", "settings"),
        "deleted",
        |object| object.is_none(),
    )
    .await;
    let started = Instant::now();
    while env
        .kustomizations()
        .get_opt("apps")
        .await
        .unwrap()
        .is_some()
    {
        assert!(
            started.elapsed() < common::DEADLINE,
            "finalizer never removed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_namespace_sources_are_refused_when_blocked() {
    let env = Environment::start_with(Options {
        no_cross_namespace_refs: true,
        ..Options::default()
    })
    .await;
    let mut cross = spec("./", "10m");
    cross["sourceRef"]["namespace"] = json!("elsewhere");
    env.create("apps", cross).await;
    let denied = env.wait_not_ready("apps", "AccessDenied").await;
    assert_eq!(
        condition(&denied, "Ready").unwrap().message,
        "can't access 'GitRepository/elsewhere/repo', cross-namespace references have been blocked"
    );
    assert_eq!(condition(&denied, "Stalled").unwrap().status, "True");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_directory_gets_the_overrides_of_the_kustomization() {
    let env = Environment::start().await;
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
        kube::Api::all(env.client.clone());
    namespaces
        .create(
            &kube::api::PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "prod"}})).unwrap(),
        )
        .await
        .unwrap();
    let files = vec![(
        "cm.yaml".to_string(),
        config_map_yaml("dev", "settings", "one"),
    )];
    env.publish("repo", "main@sha1:1111", &borrowed(&files))
        .await;
    let mut overridden = spec("./", "10m");
    overridden["targetNamespace"] = json!("prod");
    overridden["namePrefix"] = json!("p-");
    overridden["commonMetadata"] = json!({"labels": {"team": "web"}});
    overridden["patches"] = json!([{
        "patch": "- op: replace\n  path: /data/key\n  value: patched\n",
        "target": {"kind": "ConfigMap"}
    }]);
    env.create("apps", overridden).await;
    env.wait_ready("apps", "main@sha1:1111").await;
    let config = env
        .read("v1", "ConfigMap", "prod", "p-settings")
        .await
        .unwrap();
    assert_eq!(config["data"]["key"], json!("patched"));
    assert_eq!(config["metadata"]["labels"]["team"], json!("web"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requested_at_reconciles_at_once_despite_a_long_interval() {
    let env = Environment::start().await;
    let files = vec![
        ("ns.yaml".to_string(), namespace_yaml("dev")),
        (
            "cm.yaml".to_string(),
            config_map_yaml("dev", "settings", "desired"),
        ),
    ];
    env.publish("repo", "main@sha1:1111", &borrowed(&files))
        .await;
    env.create("apps", spec("./", "1h")).await;
    env.wait_ready("apps", "main@sha1:1111").await;
    env.dynamic("v1", "ConfigMap", "dev")
        .patch(
            "settings",
            &PatchParams::apply("kubectl").force(),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "settings", "namespace": "dev"},
                "data": {"key": "drifted"}})),
        )
        .await
        .unwrap();
    let token = env.request_reconcile("apps").await;
    env.wait_for("apps", "handling the request", common::DEADLINE, |ks| {
        ks.status
            .as_ref()
            .and_then(|status| status.last_handled_reconcile_at.as_deref())
            == Some(token.as_str())
    })
    .await;
    let config = env
        .read("v1", "ConfigMap", "dev", "settings")
        .await
        .unwrap();
    assert_eq!(config["data"]["key"], json!("desired"));
    env.wait_event("apps", "Progressing", |note| {
        note == "ConfigMap/dev/settings configured"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_immutable_field_change_is_recreated_only_with_force() {
    let env = Environment::start().await;
    let deployment = |app: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: dev\nspec:\n  selector:\n    matchLabels:\n      app: {app}\n  template:\n    metadata:\n      labels:\n        app: {app}\n    spec:\n      containers:\n      - name: app\n        image: nginx:1.27\n"
        )
    };
    let files = |app: &str| {
        vec![
            ("ns.yaml".to_string(), namespace_yaml("dev")),
            ("deploy.yaml".to_string(), deployment(app)),
        ]
    };
    env.publish("repo", "main@sha1:1111", &borrowed(&files("a")))
        .await;
    env.create("apps", spec("./", "10m")).await;
    env.wait_ready("apps", "main@sha1:1111").await;

    env.publish("repo", "main@sha1:2222", &borrowed(&files("b")))
        .await;
    let refused = env.wait_not_ready("apps", "ReconciliationFailed").await;
    let message = &condition(&refused, "Ready").unwrap().message;
    assert!(
        message.starts_with("Deployment/dev/web dry-run failed"),
        "{message}"
    );

    env.patch_spec("apps", json!({"force": true})).await;
    env.wait_ready("apps", "main@sha1:2222").await;
    let recreated = env
        .read("apps/v1", "Deployment", "dev", "web")
        .await
        .unwrap();
    assert_eq!(
        recreated["spec"]["selector"]["matchLabels"]["app"],
        json!("b")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_expressions_decide_the_health_of_the_kinds_they_name() {
    let env = Environment::start().await;
    let probe = |phase: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\n  namespace: dev\n  labels:\n    phase: {phase}\n"
        )
    };
    let files = |phase: &str| {
        vec![
            ("ns.yaml".to_string(), namespace_yaml("dev")),
            ("probe.yaml".to_string(), probe(phase)),
        ]
    };
    env.publish("repo", "main@sha1:1111", &borrowed(&files("broken")))
        .await;
    let mut checked = spec("./", "10m");
    checked["wait"] = json!(true);
    checked["healthCheckExprs"] = json!([{
        "apiVersion": "v1", "kind": "ConfigMap",
        "failed": "metadata.labels.phase == 'broken'",
        "current": "metadata.labels.phase == 'done'",
    }]);
    env.create("apps", checked).await;
    let failed = env.wait_not_ready("apps", "HealthCheckFailed").await;
    assert_eq!(
        condition(&failed, "Ready").unwrap().message,
        "failed early due to stalled resources: [ConfigMap/dev/probe status: 'Failed']"
    );

    env.publish("repo", "main@sha1:2222", &borrowed(&files("done")))
        .await;
    let healthy = env.wait_ready("apps", "main@sha1:2222").await;
    assert_eq!(condition(&healthy, "Healthy").unwrap().status, "True");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_health_check_expression_that_does_not_parse_stalls_the_kustomization() {
    let env = Environment::start().await;
    let mut checked = spec("./", "10m");
    checked["healthCheckExprs"] = json!([{"apiVersion": "v1", "kind": "ConfigMap",
        "current": "metadata.("}]);
    env.create("apps", checked).await;
    let stalled = env.wait_not_ready("apps", "InvalidCELExpression").await;
    assert_eq!(condition(&stalled, "Stalled").unwrap().status, "True");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_without_rights_is_refused_until_a_role_binding_grants_them() {
    use k8s_openapi::api::rbac::v1::RoleBinding;
    let env = Environment::start().await;
    let files = vec![(
        "config.yaml".to_string(),
        config_map_yaml(&env.namespace, "tenant-config", "one"),
    )];
    env.publish("repo", "main@sha1:1111", &borrowed(&files))
        .await;
    let mut tenant = spec("./", "10m");
    tenant["serviceAccountName"] = json!("tenant");
    env.create("tenant", tenant).await;

    // Applied as system:serviceaccount:<ns>:tenant, which RBAC allows nothing.
    let refused = env
        .wait_for("tenant", "refused by RBAC", Duration::from_secs(30), |ks| {
            condition(ks, "Ready").is_some_and(|ready| {
                ready.status == "False"
                    && ready.message.contains(&format!(
                        "User \"system:serviceaccount:{}:tenant\" cannot",
                        env.namespace
                    ))
            })
        })
        .await;
    assert!(
        condition(&refused, "Ready")
            .unwrap()
            .message
            .contains("forbidden"),
        "{:?}",
        condition(&refused, "Ready")
    );
    assert!(
        env.read("v1", "ConfigMap", &env.namespace, "tenant-config")
            .await
            .is_none()
    );

    // A RoleBinding to the built-in `edit` role in its own namespace is enough.
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "tenant-edit", "namespace": env.namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "ServiceAccount", "name": "tenant", "namespace": env.namespace}],
    }))
    .unwrap();
    kube::Api::<RoleBinding>::namespaced(env.client.clone(), &env.namespace)
        .create(&Default::default(), &binding)
        .await
        .unwrap();
    env.request_reconcile("tenant").await;
    env.wait_ready("tenant", "main@sha1:1111").await;
    assert!(
        env.read("v1", "ConfigMap", &env.namespace, "tenant-config")
            .await
            .is_some()
    );
}
