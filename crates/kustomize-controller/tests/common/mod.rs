//! What the integration tests share: a dev cluster with Flux's CRDs, an artifact server the
//! tests publish tarballs to (standing in for source-controller: a GitRepository's
//! `status.artifact` is written by the test), and kustomize-controller running in-process.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "shared by several test binaries; a failed unwrap is how tests report failure"
)]

use std::time::Duration;

use eddy_api::kustomize::v1::Kustomization;
use eddy_api::meta::field_managers::KUSTOMIZE_CONTROLLER_STATUS;
use eddy_api::source::v1::GitRepository;
use eddy_artifact::{Storage, artifact_path, artifact_url};
use eddy_runtime::client::ClientSettings;
use eddy_testkit::{ControllerUnderTest, TestCluster, wait_until};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kustomize_controller::kustomization::watch::{WatchOptions, add_watches};
use kustomize_controller::kustomization::{
    Clients, KustomizationReconciler, Settings, SourceCache,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// How long any wait for the controller may take before the test fails.
pub use eddy_testkit::DEADLINE;

/// A dev cluster with the controller running and an artifact server.
pub struct Environment {
    pub cluster: TestCluster,
    pub client: kube::Client,
    pub namespace: String,
    storage: Storage,
    address: String,
    _storage_root: tempfile::TempDir,
    shutdown: CancellationToken,
}

/// Knobs of the controller under test.
#[derive(Default)]
pub struct Options {
    pub no_cross_namespace_refs: bool,
    /// `--requeue-dependency`; 1 s when unset.
    pub requeue_dependency: Option<Duration>,
}

impl Environment {
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Self {
        let cluster = TestCluster::start().await;
        let client = cluster.client.clone();
        let config = cluster.config.clone();

        let storage_root = tempfile::tempdir().unwrap();
        let storage = Storage::new(storage_root.path()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let app = eddy_artifact::router(storage_root.path().to_owned());
        tokio::spawn(async move { axum::serve(listener, app).await });

        let settings = Settings {
            no_cross_namespace_refs: options.no_cross_namespace_refs,
            requeue_dependency: options.requeue_dependency.unwrap_or(Duration::from_secs(1)),
            http_retry: 1,
            health_check_interval: Duration::from_millis(200),
            apply: kustomize_controller::kustomization::ApplySettings {
                stage_wait_interval: Duration::from_millis(100),
                stage_wait_timeout: Duration::from_secs(10),
                ..Settings::default().apply
            },
            ..Settings::default()
        };
        let clients = Clients::new(
            client.clone(),
            Some(ClientSettings {
                config,
                qps: 100.0,
                burst: 300,
            }),
            "",
        );
        let (sources, source_writers) = SourceCache::new();
        let reconciler = KustomizationReconciler::new(clients, reqwest::Client::new(), settings)
            .with_source_cache(sources);
        let namespace = "flux-system".to_string();
        eddy_testkit::create_namespace(&client, &namespace).await;
        let shutdown = CancellationToken::new();
        let watch_client = client.clone();
        let watch = WatchOptions {
            namespace: None,
            configs_label_selector: Some("reconcile.fluxcd.io/watch=Enabled".into()),
            external_artifacts: false,
        };
        ControllerUnderTest::new("kustomize-controller", KUSTOMIZE_CONTROLLER_STATUS).spawn(
            reconciler,
            &client,
            shutdown.clone(),
            move |controller| add_watches(controller, &watch_client, &watch, Some(source_writers)),
        );
        Self {
            cluster,
            client,
            namespace,
            storage,
            address,
            _storage_root: storage_root,
            shutdown,
        }
    }

    /// Archives `files` as the artifact of GitRepository `name` at `revision` and writes its
    /// status (creating the GitRepository on first use), as source-controller would.
    pub async fn publish(&self, name: &str, revision: &str, files: &[(&str, &str)]) {
        let source = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let file = source.path().join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        let file_name = format!("{}.tar.gz", revision.replace([':', '@', '/'], "-"));
        let path = artifact_path("GitRepository", &self.namespace, name, &file_name);
        let summary = self.storage.archive(&path, source.path(), None).unwrap();
        let repositories: Api<GitRepository> =
            Api::namespaced(self.client.clone(), &self.namespace);
        if repositories.get_opt(name).await.unwrap().is_none() {
            self.create_repository(name).await;
        }
        let status = json!({"status": {
            "observedGeneration": 1,
            "conditions": [ready_condition()],
            "artifact": {
                "path": path,
                "url": artifact_url(&self.address, &path),
                "revision": revision,
                "digest": summary.digest,
                "size": summary.size,
                "lastUpdateTime": "2026-01-01T00:00:00Z",
            },
        }});
        repositories
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .unwrap();
    }

    /// Creates a GitRepository without an artifact.
    pub async fn create_repository(&self, name: &str) {
        let repositories: Api<GitRepository> =
            Api::namespaced(self.client.clone(), &self.namespace);
        let repository: GitRepository = serde_json::from_value(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": {"url": "https://git.example.invalid/repo", "interval": "10m"},
        }))
        .unwrap();
        repositories
            .create(&PostParams::default(), &repository)
            .await
            .unwrap();
    }

    pub fn kustomizations(&self) -> Api<Kustomization> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Creates a Kustomization from a JSON spec.
    pub async fn create(&self, name: &str, spec: Value) -> Kustomization {
        let object: Kustomization = serde_json::from_value(json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": spec,
        }))
        .unwrap();
        self.kustomizations()
            .create(&PostParams::default(), &object)
            .await
            .unwrap()
    }

    /// Merges `spec` into a Kustomization's spec.
    pub async fn patch_spec(&self, name: &str, spec: Value) {
        eddy_testkit::patch_spec(&self.kustomizations(), name, spec).await;
    }

    /// Sets `reconcile.fluxcd.io/requestedAt` to a fresh value.
    pub async fn request_reconcile(&self, name: &str) -> String {
        eddy_testkit::request_reconcile(&self.kustomizations(), name).await
    }

    /// Polls the Kustomization until `accept` holds, failing after `deadline`.
    pub async fn wait_for(
        &self,
        name: &str,
        what: &str,
        deadline: Duration,
        accept: impl FnMut(&Kustomization) -> bool,
    ) -> Kustomization {
        eddy_testkit::wait_for_object(&self.kustomizations(), name, what, deadline, accept).await
    }

    /// Waits until Ready=True at `revision` for the current generation.
    pub async fn wait_ready(&self, name: &str, revision: &str) -> Kustomization {
        self.wait_for(name, &format!("ready at {revision}"), DEADLINE, |ks| {
            let status = ks.status.as_ref();
            status.and_then(|status| status.observed_generation) == ks.metadata.generation
                && status.and_then(|status| status.last_applied_revision.as_deref())
                    == Some(revision)
                && condition(ks, "Ready").is_some_and(|ready| ready.status == "True")
        })
        .await
    }

    /// Waits until Ready=False with `reason`.
    pub async fn wait_not_ready(&self, name: &str, reason: &str) -> Kustomization {
        self.wait_for(name, &format!("not ready ({reason})"), DEADLINE, |ks| {
            condition(ks, "Ready")
                .is_some_and(|ready| ready.status == "False" && ready.reason == reason)
        })
        .await
    }

    /// Reads any object as JSON.
    pub async fn read(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        let api = self.dynamic(api_version, kind, namespace);
        api.get_opt(name)
            .await
            .unwrap()
            .map(|object| serde_json::to_value(object).unwrap())
    }

    pub fn dynamic(&self, api_version: &str, kind: &str, namespace: &str) -> Api<DynamicObject> {
        eddy_testkit::dynamic(&self.client, api_version, kind, namespace)
    }

    /// Polls an object until `accept` holds for it (or its absence), failing after the deadline.
    pub async fn wait_object(
        &self,
        (api_version, kind, namespace, name): (&str, &str, &str, &str),
        what: &str,
        mut accept: impl FnMut(Option<&Value>) -> bool,
    ) -> Option<Value> {
        let target = format!("{kind}/{namespace}/{name} to be {what}");
        wait_until(&target, DEADLINE, async || {
            let current = self.read(api_version, kind, namespace, name).await;
            if accept(current.as_ref()) {
                return Ok(current);
            }
            Err(format!("{current:?}"))
        })
        .await
    }

    /// Polls until an event with `reason` about a Kustomization has a note `accept` takes.
    pub async fn wait_event(
        &self,
        name: &str,
        reason: &str,
        accept: impl Fn(&str) -> bool,
    ) -> String {
        let expected = format!("a {reason} event about {name} as expected");
        wait_until(&expected, DEADLINE, async || {
            let notes = self.event_notes(name, reason).await;
            match notes.iter().find(|note| accept(note)) {
                Some(note) => Ok(note.clone()),
                None => Err(format!("saw {notes:?}")),
            }
        })
        .await
    }

    /// The notes of the Kubernetes events with `reason` about a Kustomization.
    pub async fn event_notes(&self, name: &str, reason: &str) -> Vec<String> {
        eddy_testkit::event_notes(&self.client, &self.namespace, name, reason).await
    }
}

impl Drop for Environment {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn ready_condition() -> Value {
    json!({"type": "Ready", "status": "True", "reason": "Succeeded",
        "message": "stored artifact", "lastTransitionTime": "2026-01-01T00:00:00Z",
        "observedGeneration": 1})
}

/// A condition of a Kustomization.
pub fn condition<'a>(ks: &'a Kustomization, type_: &str) -> Option<&'a Condition> {
    ks.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .and_then(|all| all.iter().find(|condition| condition.type_ == type_))
}

/// The inventory ids of a Kustomization.
pub fn inventory_ids(ks: &Kustomization) -> Vec<String> {
    ks.status
        .as_ref()
        .and_then(|status| status.inventory.as_ref())
        .map(|inventory| {
            inventory
                .entries
                .iter()
                .map(|entry| entry.id.clone())
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Manifests
// ---------------------------------------------------------------------------------------------

pub fn namespace_yaml(name: &str) -> String {
    format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n")
}

pub fn config_map_yaml(namespace: &str, name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\ndata:\n  key: \"{value}\"\n"
    )
}

pub fn service_yaml(namespace: &str, name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  selector:\n    app: {name}\n  ports:\n  - port: 80\n    targetPort: 8080\n"
    )
}

/// A Deployment the dev cluster's workload simulator never makes ready.
pub fn never_ready_deployment_yaml(namespace: &str, name: &str, replicas: u32) -> String {
    deployment_yaml(namespace, name, replicas).replacen(
        "metadata:\n",
        &format!(
            "metadata:\n  annotations:\n    {}: \"true\"\n",
            eddy_devcluster::NEVER_READY_ANNOTATION
        ),
        1,
    )
}

pub fn deployment_yaml(namespace: &str, name: &str, replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: app\n        image: nginx:1.27\n"
    )
}
