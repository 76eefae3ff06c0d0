//! The resource manager against the embedded dev cluster: staged apply, dry-run failures that
//! leave a stage untouched, forced recreation, drift correction, skipping, pruning and waits.

use std::time::Duration;

use eddy_api::kustomize::v1::ResourceInventory;
use eddy_apply::ignore::{IgnoreRule, IgnoreRules, Selector};
use eddy_apply::inventory::{Owner, inventory_of, stale_objects};
use eddy_apply::manager::{ApplyError, ApplyOptions, DeleteOptions, ResourceManager, WaitOptions};
use eddy_apply::policy::CleanupOptions;
use eddy_apply::{ChangeSet, ObjectRef};
use eddy_devcluster::{DevCluster, RunningCluster};
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use serde_json::{Value, json};

struct Harness {
    // Kept alive for the duration of the test: dropping it stops the server.
    _cluster: RunningCluster,
    client: Client,
    manager: ResourceManager,
}

async fn start() -> Harness {
    let cluster = DevCluster::builder()
        .build()
        .serve()
        .await
        .unwrap_or_else(|error| panic!("dev cluster did not start: {error}"));
    let kubeconfig = Kubeconfig::from_yaml(&cluster.kubeconfig())
        .unwrap_or_else(|error| panic!("kubeconfig: {error}"));
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|error| panic!("config: {error}"));
    let client = Client::try_from(config).unwrap_or_else(|error| panic!("client: {error}"));
    let manager = ResourceManager::new(client.clone(), "kustomize-controller").with_concurrency(4);
    Harness {
        _cluster: cluster,
        client,
        manager,
    }
}

fn options() -> ApplyOptions {
    ApplyOptions {
        wait_interval: Duration::from_millis(50),
        wait_timeout: Duration::from_secs(10),
        ..ApplyOptions::default()
    }
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

fn config_map(namespace: &str, name: &str, value: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace}, "data": {"key": value}})
}

fn deployment(namespace: &str, name: &str, replicas: i64, app: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}},
            "template": {"metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}})
}

fn actions(change_set: &ChangeSet) -> Vec<String> {
    change_set
        .entries
        .iter()
        .map(|entry| entry.to_string())
        .collect()
}

impl Harness {
    async fn read(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
        let api: Api<DynamicObject> = if namespace.is_empty() {
            Api::all_with(self.client.clone(), &resource)
        } else {
            Api::namespaced_with(self.client.clone(), namespace, &resource)
        };
        api.get_opt(name)
            .await
            .unwrap_or_else(|error| panic!("get {kind}/{name}: {error}"))
            .map(|object| serde_json::to_value(object).unwrap_or(Value::Null))
    }

    async fn apply(&self, objects: Vec<Value>, options: &ApplyOptions) -> ChangeSet {
        match self.manager.apply_all_staged(objects, options).await {
            Ok(change_set) => change_set,
            Err(error) => panic!("apply failed: {error}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staged_apply_creates_then_reports_unchanged_then_configured() {
    let harness = start().await;
    let objects = vec![
        config_map("dev", "cfg", "one"),
        deployment("dev", "app", 1, "app"),
        namespace("dev"),
    ];
    let created = harness.apply(objects.clone(), &options()).await;
    assert_eq!(
        actions(&created),
        [
            "Namespace/dev created",
            "ConfigMap/dev/cfg created",
            "Deployment/dev/app created"
        ]
    );
    let unchanged = harness.apply(objects, &options()).await;
    assert_eq!(
        actions(&unchanged),
        [
            "Namespace/dev unchanged",
            "ConfigMap/dev/cfg unchanged",
            "Deployment/dev/app unchanged"
        ]
    );
    let changed = harness
        .apply(
            vec![
                namespace("dev"),
                config_map("dev", "cfg", "two"),
                deployment("dev", "app", 1, "app"),
            ],
            &options(),
        )
        .await;
    assert_eq!(changed.changes_log(), "ConfigMap/dev/cfg configured");
    let live = harness.read("v1", "ConfigMap", "dev", "cfg").await;
    assert_eq!(
        live.map(|object| object["data"]["key"].clone()),
        Some(json!("two"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_invalid_object_fails_its_stage_and_applies_nothing_of_it() {
    let harness = start().await;
    harness
        .apply(
            vec![namespace("dev"), config_map("dev", "cfg", "before")],
            &options(),
        )
        .await;

    let result = harness
        .manager
        .apply_all_staged(
            vec![
                namespace("dev"),
                config_map("dev", "cfg", "after"),
                deployment("dev", "Broken_Name", 1, "broken"),
            ],
            &options(),
        )
        .await;
    let error = match result {
        Ok(change_set) => panic!("apply succeeded: {change_set}"),
        Err(error) => error,
    };
    assert!(
        matches!(&error.error, ApplyError::DryRun { subject, .. } if subject == "Deployment/dev/Broken_Name"),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with("Deployment/dev/Broken_Name dry-run failed (Invalid)"),
        "{error}"
    );
    assert_eq!(actions(&error.change_set), ["Namespace/dev unchanged"]);
    let live = harness.read("v1", "ConfigMap", "dev", "cfg").await;
    assert_eq!(
        live.map(|object| object["data"]["key"].clone()),
        Some(json!("before"))
    );
    assert_eq!(
        harness
            .read("apps/v1", "Deployment", "dev", "Broken_Name")
            .await,
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immutable_field_change_recreates_the_object_only_with_force() {
    let harness = start().await;
    harness
        .apply(
            vec![namespace("dev"), deployment("dev", "app", 1, "one")],
            &options(),
        )
        .await;
    let changed = vec![namespace("dev"), deployment("dev", "app", 1, "two")];

    let refused = harness
        .manager
        .apply_all_staged(changed.clone(), &options())
        .await;
    let error = refused
        .err()
        .map(|error| error.to_string())
        .unwrap_or_default();
    assert!(
        error.starts_with("Deployment/dev/app dry-run failed"),
        "expected a dry-run error, got {error:?}"
    );

    let forced = ApplyOptions {
        force: true,
        ..options()
    };
    let recreated = harness.apply(changed, &forced).await;
    assert_eq!(recreated.changes_log(), "Deployment/dev/app created");
    let live = harness.read("apps/v1", "Deployment", "dev", "app").await;
    assert_eq!(
        live.map(|object| object["spec"]["selector"]["matchLabels"]["app"].clone()),
        Some(json!("two"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_annotation_allows_recreation_without_the_force_option() {
    let harness = start().await;
    harness
        .apply(
            vec![namespace("dev"), deployment("dev", "app", 1, "one")],
            &options(),
        )
        .await;
    let mut changed = deployment("dev", "app", 1, "two");
    changed["metadata"]["annotations"] = json!({"kustomize.toolkit.fluxcd.io/force": "Enabled"});
    let recreated = harness
        .apply(vec![namespace("dev"), changed], &options())
        .await;
    assert_eq!(recreated.changes_log(), "Deployment/dev/app created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_made_by_another_manager_is_put_back() {
    let harness = start().await;
    let objects = vec![namespace("dev"), config_map("dev", "cfg", "desired")];
    harness.apply(objects.clone(), &options()).await;

    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap"));
    let api: Api<DynamicObject> = Api::namespaced_with(harness.client.clone(), "dev", &resource);
    api.patch(
        "cfg",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"key": "drifted"}})),
    )
    .await
    .unwrap_or_else(|error| panic!("manual edit failed: {error}"));

    let corrected = harness.apply(objects, &options()).await;
    assert_eq!(corrected.changes_log(), "ConfigMap/dev/cfg configured");
    let live = harness.read("v1", "ConfigMap", "dev", "cfg").await;
    assert_eq!(
        live.map(|object| object["data"]["key"].clone()),
        Some(json!("desired"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignored_and_if_not_present_objects_are_skipped() {
    let harness = start().await;
    let mut ignored = config_map("dev", "ignored", "x");
    ignored["metadata"]["annotations"] = json!({"kustomize.toolkit.fluxcd.io/ssa": "Ignore"});
    let mut once = config_map("dev", "once", "first");
    once["metadata"]["annotations"] = json!({"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"});
    let first = harness
        .apply(vec![namespace("dev"), ignored.clone(), once], &options())
        .await;
    assert_eq!(
        actions(&first),
        [
            "Namespace/dev created",
            "ConfigMap/dev/ignored skipped",
            "ConfigMap/dev/once created"
        ]
    );
    assert_eq!(
        harness.read("v1", "ConfigMap", "dev", "ignored").await,
        None
    );

    let mut once_changed = config_map("dev", "once", "second");
    once_changed["metadata"]["annotations"] =
        json!({"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"});
    let second = harness
        .apply(vec![namespace("dev"), ignored, once_changed], &options())
        .await;
    assert_eq!(second.changes_log(), "");
    let live = harness.read("v1", "ConfigMap", "dev", "once").await;
    assert_eq!(
        live.map(|object| object["data"]["key"].clone()),
        Some(json!("first"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kind_fails_the_dry_run_naming_the_object() {
    let harness = start().await;
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default"}});
    let error = harness
        .manager
        .apply_all_staged(vec![widget], &options())
        .await
        .err()
        .map(|error| error.to_string());
    assert_eq!(
        error.as_deref(),
        Some(
            "Widget/default/w dry-run failed: no matches for kind \"Widget\" in version \"example.com/v1\""
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resource_definition_is_established_before_its_objects_are_applied() {
    let harness = start().await;
    let definition = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object",
                    "x-kubernetes-preserve-unknown-fields": true}}}]}});
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default"}, "spec": {"size": 3}});
    let change_set = harness.apply(vec![widget, definition], &options()).await;
    assert_eq!(
        actions(&change_set),
        [
            "CustomResourceDefinition/widgets.example.com created",
            "Widget/default/w created"
        ]
    );
    assert!(
        harness
            .read("example.com/v1", "Widget", "default", "w")
            .await
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_deletes_only_owned_stale_objects_that_did_not_opt_out() {
    let harness = start().await;
    let owner = Owner::new("apps", "flux-system");
    let mut objects = vec![
        namespace("dev"),
        config_map("dev", "kept", "x"),
        config_map("dev", "stale", "x"),
        config_map("dev", "protected", "x"),
    ];
    objects[3]["metadata"]["annotations"] =
        json!({"kustomize.toolkit.fluxcd.io/prune": "disabled"});
    for object in &mut objects {
        owner.label(object);
    }
    let first = harness.apply(objects.clone(), &options()).await;
    let previous = inventory_of(&first);

    // Another Kustomization's object that happens to be listed in this inventory.
    let mut foreign = config_map("dev", "foreign", "x");
    Owner::new("other", "flux-system").label(&mut foreign);
    harness.apply(vec![foreign], &options()).await;
    let mut previous_with_foreign = previous.clone();
    eddy_apply::inventory::merge(
        &mut previous_with_foreign,
        &[ObjectRef::of(&config_map("dev", "foreign", "x"))],
    );

    let second = harness
        .apply(vec![objects[0].clone(), objects[1].clone()], &options())
        .await;
    let current = inventory_of(&second);
    let stale = stale_objects(&previous_with_foreign, &current)
        .unwrap_or_else(|error| panic!("inventory: {error}"));
    let (deleted, result) = harness
        .manager
        .delete_all(&stale, &DeleteOptions::new(owner))
        .await;
    assert_eq!(result, Ok(()));
    let mut outcome = actions(&deleted);
    outcome.sort();
    assert_eq!(
        outcome,
        [
            "ConfigMap/dev/foreign skipped",
            "ConfigMap/dev/protected skipped",
            "ConfigMap/dev/stale deleted"
        ]
    );
    assert_eq!(harness.read("v1", "ConfigMap", "dev", "stale").await, None);
    assert!(
        harness
            .read("v1", "ConfigMap", "dev", "protected")
            .await
            .is_some()
    );
    assert!(
        harness
            .read("v1", "ConfigMap", "dev", "foreign")
            .await
            .is_some()
    );
    assert!(
        harness
            .read("v1", "ConfigMap", "dev", "kept")
            .await
            .is_some()
    );
    assert_ne!(previous, ResourceInventory::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_deployment_that_never_becomes_ready_times_out() {
    let harness = start().await;
    let mut stuck = deployment("dev", "app", 1, "app");
    stuck["metadata"]["annotations"] = json!({eddy_devcluster::NEVER_READY_ANNOTATION: "true"});
    harness
        .apply(
            vec![
                namespace("dev"),
                config_map("dev", "cfg", "x"),
                stuck.clone(),
            ],
            &options(),
        )
        .await;
    let objects = [
        ObjectRef::of(&config_map("dev", "cfg", "x")),
        ObjectRef::of(&stuck),
    ];
    let wait = WaitOptions {
        interval: Duration::from_millis(50),
        timeout: Duration::from_millis(400),
        fail_fast: true,
        jobs_with_ttl: Vec::new(),
    };
    let error = harness
        .manager
        .wait_for(&objects, &wait)
        .await
        .err()
        .map(|error| error.to_string())
        .unwrap_or_default();
    assert!(
        error.starts_with("timeout waiting for: [Deployment/dev/app status: 'InProgress'"),
        "{error}"
    );
    assert!(!error.contains("ConfigMap"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_ready_objects_succeeds_and_missing_ones_are_not_found() {
    let harness = start().await;
    harness
        .apply(
            vec![namespace("dev"), config_map("dev", "cfg", "x")],
            &options(),
        )
        .await;
    let ready = [
        ObjectRef::of(&namespace("dev")),
        ObjectRef::of(&config_map("dev", "cfg", "x")),
    ];
    let wait = WaitOptions {
        interval: Duration::from_millis(50),
        timeout: Duration::from_secs(5),
        fail_fast: true,
        jobs_with_ttl: Vec::new(),
    };
    assert_eq!(harness.manager.wait_for(&ready, &wait).await, Ok(()));
    let missing = ObjectRef::of(&config_map("dev", "missing", "x"));
    assert_eq!(
        harness.manager.status_of(&missing).await.status,
        eddy_apply::kstatus::Status::NotFound
    );
    assert_eq!(
        harness
            .manager
            .wait_for_termination(&[missing], &wait)
            .await,
        Ok(())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_last_applied_annotation_is_removed_before_apply() {
    let harness = start().await;
    harness.apply(vec![namespace("dev")], &options()).await;
    let mut edited_by_kubectl = config_map("dev", "cfg", "x");
    edited_by_kubectl["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/last-applied-configuration": "{}", "keep": "me"});
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap"));
    let api: Api<DynamicObject> = Api::namespaced_with(harness.client.clone(), "dev", &resource);
    let object: DynamicObject = serde_json::from_value(edited_by_kubectl)
        .unwrap_or_else(|error| panic!("fixture: {error}"));
    api.create(&kube::api::PostParams::default(), &object)
        .await
        .unwrap_or_else(|error| panic!("create: {error}"));

    let with_cleanup = ApplyOptions {
        cleanup: CleanupOptions::kustomize_controller("kustomize-controller", &[]),
        ..options()
    };
    let mut desired = config_map("dev", "cfg", "x");
    desired["metadata"]["annotations"] = json!({"keep": "me"});
    let change_set = harness
        .apply(vec![namespace("dev"), desired.clone()], &with_cleanup)
        .await;
    assert_eq!(change_set.changes_log(), "ConfigMap/dev/cfg configured");
    let annotations = harness
        .read("v1", "ConfigMap", "dev", "cfg")
        .await
        .map(|object| object["metadata"]["annotations"].clone());
    assert_eq!(annotations, Some(json!({"keep": "me"})));

    let again = harness
        .apply(vec![namespace("dev"), desired], &with_cleanup)
        .await;
    assert_eq!(again.changes_log(), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignored_fields_are_not_drift_and_keep_their_live_value() {
    let harness = start().await;
    let objects = vec![namespace("dev"), deployment("dev", "app", 1, "app")];
    harness.apply(objects.clone(), &options()).await;

    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment"));
    let api: Api<DynamicObject> = Api::namespaced_with(harness.client.clone(), "dev", &resource);
    api.patch(
        "app",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 4}})),
    )
    .await
    .unwrap_or_else(|error| panic!("scaling failed: {error}"));

    let rules = IgnoreRules::compile(&[IgnoreRule {
        paths: vec!["/spec/replicas".into()],
        selector: Some(Selector {
            kind: "Deployment".into(),
            ..Selector::default()
        }),
    }])
    .unwrap_or_else(|error| panic!("rules: {error}"));
    let ignoring = ApplyOptions {
        drift_ignore_rules: rules,
        ..options()
    };
    let unchanged = harness.apply(objects, &ignoring).await;
    assert_eq!(unchanged.changes_log(), "");

    let mut relabelled = deployment("dev", "app", 1, "app");
    relabelled["metadata"]["labels"] = json!({"team": "a"});
    let configured = harness
        .apply(vec![namespace("dev"), relabelled], &ignoring)
        .await;
    assert_eq!(configured.changes_log(), "Deployment/dev/app configured");
    let live = harness.read("apps/v1", "Deployment", "dev", "app").await;
    assert_eq!(
        live.map(|object| object["spec"]["replicas"].clone()),
        Some(json!(4))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignored_object_of_an_unknown_kind_is_skipped() {
    let harness = start().await;
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default",
            "annotations": {"kustomize.toolkit.fluxcd.io/reconcile": "disabled"}}});
    let change_set = harness.apply(vec![widget], &options()).await;
    assert_eq!(actions(&change_set), ["Widget/default/w skipped"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_job_with_a_ttl_counts_as_finished() {
    let harness = start().await;
    let job = json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "migrate", "namespace": "default"},
        "spec": {"ttlSecondsAfterFinished": 0}});
    let objects = [ObjectRef::of(&job)];
    let without_ttl = WaitOptions {
        interval: Duration::from_millis(50),
        timeout: Duration::from_millis(200),
        fail_fast: true,
        jobs_with_ttl: Vec::new(),
    };
    let error = harness.manager.wait_for(&objects, &without_ttl).await;
    assert_eq!(
        error.err().map(|error| error.to_string()).as_deref(),
        Some("timeout waiting for: [Job/default/migrate status: 'NotFound']")
    );
    let with_ttl = WaitOptions {
        jobs_with_ttl: eddy_apply::object::jobs_with_ttl(&[job]),
        ..without_ttl
    };
    assert_eq!(harness.manager.wait_for(&objects, &with_ttl).await, Ok(()));
}
