//! What the integration tests share: a dev cluster with the CRDs and flux-config-agent
//! running in-process. Source- and kustomize-controller are not running: tests write the
//! generated objects' status themselves, as those controllers would.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "shared by several test binaries; a failed unwrap is how tests report failure"
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use eddy_api::clusterconfig::v1alpha1::FluxConfig;
use eddy_api::meta::field_managers::FLUX_CONFIG_AGENT_STATUS;
use eddy_testkit::{ControllerUnderTest, TestCluster, wait_until};
use flux_config_agent::fluxconfig::watch::add_watches;
use flux_config_agent::fluxconfig::{
    FluxConfigReconciler, Settings, StatusReporter, WebhookSettings,
};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// How long any wait for the agent may take before the test fails.
pub use eddy_testkit::DEADLINE;

/// A dev cluster with the agent running.
pub struct Environment {
    pub cluster: TestCluster,
    pub client: kube::Client,
    /// Bodies the status webhook received, when one was asked for.
    pub webhook: Arc<Mutex<Vec<Value>>>,
    shutdown: CancellationToken,
}

/// Knobs of the agent under test.
pub struct Options {
    pub multi_tenancy: bool,
    pub webhook: bool,
    /// Re-check delay while Pending or Non-Compliant.
    pub recheck: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            multi_tenancy: true,
            webhook: false,
            recheck: Duration::from_secs(2),
        }
    }
}

impl Environment {
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Self {
        let cluster = TestCluster::start().await;
        let client = cluster.client.clone();
        let shutdown = CancellationToken::new();

        let received = Arc::new(Mutex::new(Vec::new()));
        let reporter = if options.webhook {
            let sink = Arc::clone(&received);
            let app = axum::Router::new().route(
                "/status",
                axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                    let sink = Arc::clone(&sink);
                    async move {
                        sink.lock().unwrap().push(body);
                        "ok"
                    }
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, app).await });
            StatusReporter::start(
                WebhookSettings {
                    min_backoff: Duration::from_millis(50),
                    ..WebhookSettings::new(format!("http://{address}/status"))
                },
                reqwest::Client::new(),
                shutdown.clone(),
            )
        } else {
            StatusReporter::disabled()
        };

        let settings = Settings {
            multi_tenancy: options.multi_tenancy,
            recheck: options.recheck,
            deletion_poll: Duration::from_millis(200),
        };
        let reconciler = FluxConfigReconciler::new(client.clone(), settings, reporter);
        let watch_client = client.clone();
        ControllerUnderTest::new("flux-config-agent", FLUX_CONFIG_AGENT_STATUS).spawn(
            reconciler,
            &client,
            shutdown.clone(),
            move |controller| add_watches(controller, &watch_client, None),
        );
        Self {
            cluster,
            client,
            webhook: received,
            shutdown,
        }
    }

    pub async fn create_namespace(&self, name: &str) {
        eddy_testkit::create_namespace(&self.client, name).await;
    }

    pub fn configs(&self, namespace: &str) -> Api<FluxConfig> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Creates a FluxConfig from a JSON spec.
    pub async fn create_config(&self, namespace: &str, name: &str, spec: Value) -> FluxConfig {
        let object: FluxConfig = serde_json::from_value(json!({
            "apiVersion": "clusterconfig.azure.com/v1alpha1", "kind": "FluxConfig",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }))
        .unwrap();
        self.configs(namespace)
            .create(&PostParams::default(), &object)
            .await
            .unwrap()
    }

    /// Merges `spec` into a FluxConfig's spec (null removes a key).
    pub async fn patch_config(&self, namespace: &str, name: &str, spec: Value) {
        eddy_testkit::patch_spec(&self.configs(namespace), name, spec).await;
    }

    pub async fn delete_config(&self, namespace: &str, name: &str) {
        self.configs(namespace)
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }

    /// Polls the FluxConfig until `accept` holds, failing after the deadline.
    pub async fn wait_config(
        &self,
        namespace: &str,
        name: &str,
        what: &str,
        accept: impl FnMut(&FluxConfig) -> bool,
    ) -> FluxConfig {
        let configs = self.configs(namespace);
        let what = format!("{what} (FluxConfig {namespace}/{name})");
        eddy_testkit::wait_for_object(&configs, name, &what, DEADLINE, accept).await
    }

    pub fn dynamic(&self, api_version: &str, kind: &str, namespace: &str) -> Api<DynamicObject> {
        eddy_testkit::dynamic(&self.client, api_version, kind, namespace)
    }

    /// Reads any object as JSON.
    pub async fn read(
        &self,
        (api_version, kind, namespace, name): (&str, &str, &str, &str),
    ) -> Option<Value> {
        self.dynamic(api_version, kind, namespace)
            .get_opt(name)
            .await
            .unwrap()
            .map(|object| serde_json::to_value(object).unwrap())
    }

    /// Polls an object until `accept` holds for it (or its absence).
    pub async fn wait_object(
        &self,
        target: (&str, &str, &str, &str),
        what: &str,
        mut accept: impl FnMut(Option<&Value>) -> bool,
    ) -> Option<Value> {
        wait_until(&format!("{target:?} to be {what}"), DEADLINE, async || {
            let current = self.read(target).await;
            if accept(current.as_ref()) {
                return Ok(current);
            }
            Err(format!("{current:?}"))
        })
        .await
    }

    /// Waits until the object exists and returns it.
    pub async fn wait_exists(&self, target: (&str, &str, &str, &str)) -> Value {
        self.wait_object(target, "created", |object| object.is_some())
            .await
            .unwrap()
    }

    /// Waits until the object is gone.
    pub async fn wait_gone(&self, target: (&str, &str, &str, &str)) {
        self.wait_object(target, "gone", |object| object.is_none())
            .await;
    }

    /// Writes a GitRepository status as source-controller would: Ready at its generation
    /// with an artifact of `revision`.
    pub async fn source_ready(&self, namespace: &str, name: &str, revision: &str) {
        let target = (
            "source.toolkit.fluxcd.io/v1",
            "GitRepository",
            namespace,
            name,
        );
        let current = self.wait_exists(target).await;
        let generation = current["metadata"]["generation"].clone();
        let status = json!({"status": {
            "observedGeneration": generation,
            "conditions": [condition("True", "Succeeded", &format!("stored artifact for revision '{revision}'"))],
            "artifact": {
                "path": format!("gitrepository/{namespace}/{name}/a.tar.gz"),
                "url": format!("http://source-controller/gitrepository/{namespace}/{name}/a.tar.gz"),
                "revision": revision,
                "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
                "lastUpdateTime": "2026-01-02T03:04:05Z",
            },
        }});
        self.dynamic(target.0, target.1, namespace)
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .unwrap();
    }

    /// Writes a Kustomization status as kustomize-controller would.
    pub async fn kustomization_status(
        &self,
        namespace: &str,
        name: &str,
        ready: &str,
        revision: &str,
        message: &str,
        inventory: Value,
    ) {
        let target = (
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            namespace,
            name,
        );
        let current = self.wait_exists(target).await;
        let generation = current["metadata"]["generation"].clone();
        let reason = if ready == "True" {
            "ReconciliationSucceeded"
        } else {
            "ReconciliationFailed"
        };
        let status = json!({"status": {
            "observedGeneration": generation,
            "conditions": [condition(ready, reason, message)],
            "lastAppliedRevision": revision,
            "lastAttemptedRevision": revision,
            "inventory": inventory,
        }});
        self.dynamic(target.0, target.1, namespace)
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .unwrap();
    }
}

impl Drop for Environment {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn condition(status: &str, reason: &str, message: &str) -> Value {
    json!({"type": "Ready", "status": status, "reason": reason, "message": message,
        "lastTransitionTime": "2026-01-02T03:04:05Z"})
}
