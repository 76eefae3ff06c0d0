//! A reconciler running in-process under eddy-runtime's harness, as its binary runs it but with
//! test timings: retries from 200 ms to 2 s without jitter keep failure tests short and
//! intervals exact.

use std::sync::Arc;
use std::time::Duration;

use eddy_runtime::controller::{Harness, HarnessSettings, Reconciler, RunOptions};
use eddy_runtime::events::EventRecorder;
use eddy_runtime::metrics::Metrics;
use eddy_runtime::reconcile::RequeuePolicy;
use kube::runtime::Controller;
use tokio_util::sync::CancellationToken;

/// Which controller a test runs, and how.
#[derive(Clone, Debug)]
pub struct ControllerUnderTest {
    /// The controller's name (`kustomize-controller`), as in its events and metrics.
    pub name: &'static str,
    /// The field manager of its status writes.
    pub field_manager: &'static str,
    /// Namespace watched, or all.
    pub namespace: Option<String>,
    /// Objects reconciled at once.
    pub concurrency: u16,
}

impl ControllerUnderTest {
    /// All namespaces, four at once.
    pub fn new(name: &'static str, field_manager: &'static str) -> Self {
        Self {
            name,
            field_manager,
            namespace: None,
            concurrency: 4,
        }
    }

    /// Spawns `reconciler` with `client` (events go to the cluster too) until `shutdown`;
    /// `customize` adds the controller's watches.
    pub fn spawn<R: Reconciler>(
        self,
        reconciler: R,
        client: &kube::Client,
        shutdown: CancellationToken,
        customize: impl FnOnce(Controller<R::Object>) -> Controller<R::Object> + Send + 'static,
    ) {
        let harness = Arc::new(Harness::new(
            reconciler,
            client.clone(),
            HarnessSettings {
                controller: self.name.into(),
                field_manager: self.field_manager.into(),
            },
            RequeuePolicy::new(Duration::from_millis(200), Duration::from_secs(2), 0),
            Metrics::new().unwrap_or_else(|error| panic!("metrics: {error}")),
            EventRecorder::new(self.name, Some(client.clone()), "")
                .unwrap_or_else(|error| panic!("event recorder: {error}")),
        ));
        tokio::spawn(eddy_runtime::controller::run(
            harness,
            RunOptions {
                namespace: self.namespace,
                label_selector: String::new(),
                concurrency: self.concurrency,
                shutdown_grace: Duration::from_secs(5),
            },
            shutdown,
            customize,
        ));
    }
}
