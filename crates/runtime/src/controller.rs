//! The one reconciler shape every Eddy controller runs:
//!
//! ```text
//! watch (generation, requestedAt, deletion) ──► reconcile(object)
//!   deleting?  ──► finalize ──► remove finalizer ──► done
//!   ensure finalizer
//!   suspended? ──► record, stop (no requeue until the spec changes)
//!   steps (kind-specific, in order; each sets only its own negative conditions)
//!   summarize  ──► Ready / Reconciling / Stalled, observedGeneration, lastHandledReconcileAt
//!   one server-side apply of status (field manager gotk-<controller>)
//!   events + metrics
//!   requeue: success → interval ± jitter; stalling → none; waiting → fixed; retryable → backoff
//! ```
//!
//! A kind implements [`Reconciler`]; [`Harness`] does everything else, so every controller
//! handles finalizers, suspend, conditions, requeues, events and metrics the same way.

use crate::events::{EventRecorder, EventSubject, EventType};
use crate::metrics::{Metrics, ObjectLabels, ReconcileResult};
use crate::reconcile::{ErrorKind, RequeuePolicy, StepError, Success, summarize};
use eddy_api::meta::{FINALIZER, Reconciled, annotations, parse_duration};
use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Resource;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{PredicateConfig, WatchStreamExt, reflector, watcher};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The message of the Reconciling condition while an attempt is under way.
pub const DEFAULT_PROGRESS_MESSAGE: &str = "reconciliation in progress";

/// What one kind's controller implements: its ordered steps and its clean-up.
pub trait Reconciler: Send + Sync + 'static {
    /// The kind reconciled.
    type Object: Reconciled
        + kube::Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static;

    /// Runs the kind's steps in order. Steps update `run.status` (their own fields and negative
    /// conditions only) and queue events; the harness writes Ready/Reconciling/Stalled.
    fn reconcile(
        &self,
        object: &Self::Object,
        run: &mut Run<Self::Object>,
    ) -> impl Future<Output = Result<Success, StepError>> + Send;

    /// Releases what the object holds outside the Kubernetes API (stored artifacts, applied
    /// objects) before its finalizer is removed.
    fn finalize(&self, object: &Self::Object)
    -> impl Future<Output = Result<(), StepError>> + Send;
}

/// The working state of one reconcile: the status being built and the events to emit.
#[derive(Debug)]
pub struct Run<K: Reconciled> {
    /// The status the steps build, starting from the object's current status.
    pub status: K::Status,
    /// Message of the Reconciling condition if the attempt does not finish.
    pub progress: String,
    /// Events to emit after the status is written.
    pub events: Vec<PendingEvent>,
    /// A requeue sooner than the interval after success (e.g. waiting for health checks).
    pub requeue_after: Option<Duration>,
    /// Whether the controller's cache already shows the object being deleted.
    deletion_check: Option<DeletionCheck>,
}

/// Looks up the latest version of the reconciled object in the controller's cache.
#[derive(Clone)]
pub struct DeletionCheck(Arc<dyn Fn() -> bool + Send + Sync>);

impl DeletionCheck {
    /// Whether the object has a deletionTimestamp now.
    pub fn is_requested(&self) -> bool {
        (self.0)()
    }

    /// Resolves once the object has a deletionTimestamp, looking every `interval`.
    pub async fn requested(&self, interval: Duration) {
        while !self.is_requested() {
            tokio::time::sleep(interval).await;
        }
    }
}

impl Debug for DeletionCheck {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("DeletionCheck")
    }
}

/// An event a step asks the harness to emit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingEvent {
    /// Normal, Warning or Trace.
    pub event_type: EventType,
    /// Flux reason.
    pub reason: String,
    /// Message for people.
    pub message: String,
    /// Unprefixed metadata keys (`revision`), sent as `<group>/<key>`.
    pub metadata: BTreeMap<String, String>,
}

impl<K: Reconciled> Run<K> {
    /// An attempt on `object`: its status as it stands, no events, no deletion check.
    pub fn new(object: &K) -> Self {
        Self {
            status: object.status().cloned().unwrap_or_default(),
            progress: DEFAULT_PROGRESS_MESSAGE.to_string(),
            events: Vec::new(),
            requeue_after: None,
            deletion_check: None,
        }
    }

    /// A check that tells whether the object has been marked for deletion since this attempt
    /// started (from the watch cache, no request): a long step, such as waiting for health,
    /// can stop early, as the finalizer is next. `None` outside a running controller.
    pub fn deletion_check(&self) -> Option<DeletionCheck> {
        self.deletion_check.clone()
    }

    /// Queues a normal event.
    pub fn event(
        &mut self,
        reason: &str,
        message: impl Into<String>,
        metadata: BTreeMap<String, String>,
    ) {
        self.events.push(PendingEvent {
            event_type: EventType::Normal,
            reason: reason.to_string(),
            message: message.into(),
            metadata,
        });
    }
}

/// A failure of the harness itself (as opposed to a step): talking to the API server.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A request to the API server failed.
    #[error("{action} {kind} {namespace}/{name}: {source}")]
    Kube {
        /// What was being done.
        action: &'static str,
        /// Kind of the object.
        kind: String,
        /// Namespace of the object.
        namespace: String,
        /// Name of the object.
        name: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
}

/// Settings of a harness that do not come from the kind.
#[derive(Clone, Debug)]
pub struct HarnessSettings {
    /// Controller name, e.g. `source-controller` (metrics and events).
    pub controller: String,
    /// Field manager of status and finalizer writes, e.g. `gotk-source-controller`.
    pub field_manager: String,
}

type Clock = Arc<dyn Fn() -> Time + Send + Sync>;

/// Runs a [`Reconciler`] with the shared reconciler shape.
pub struct Harness<R: Reconciler> {
    reconciler: R,
    client: kube::Client,
    settings: HarnessSettings,
    requeue: RequeuePolicy,
    metrics: Metrics,
    recorder: EventRecorder,
    clock: Clock,
    in_flight: AtomicI64,
    /// The controller's cache of the reconciled kind, once `run` started it.
    store: std::sync::OnceLock<Store<R::Object>>,
}

impl<R: Reconciler> Harness<R> {
    /// A harness for `reconciler`.
    pub fn new(
        reconciler: R,
        client: kube::Client,
        settings: HarnessSettings,
        requeue: RequeuePolicy,
        metrics: Metrics,
        recorder: EventRecorder,
    ) -> Self {
        Self {
            reconciler,
            client,
            settings,
            requeue,
            metrics,
            recorder,
            clock: Arc::new(|| Time(k8s_openapi::jiff::Timestamp::now())),
            in_flight: AtomicI64::new(0),
            store: std::sync::OnceLock::new(),
        }
    }

    /// Replaces the clock used for condition timestamps (tests).
    pub fn with_clock(mut self, clock: impl Fn() -> Time + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The reconciler this harness runs.
    pub fn reconciler(&self) -> &R {
        &self.reconciler
    }

    /// Reconciles one object: the whole shape described in the module documentation.
    pub async fn reconcile(&self, object: Arc<R::Object>) -> Result<Action, HarnessError> {
        let depth = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.metrics
            .set_queue_depth(&self.settings.controller, depth);
        let result = self.reconcile_inner(&object).await;
        let depth = self.in_flight.fetch_sub(1, Ordering::SeqCst) - 1;
        self.metrics
            .set_queue_depth(&self.settings.controller, depth);
        result
    }

    async fn reconcile_inner(&self, object: &R::Object) -> Result<Action, HarnessError> {
        let started = Instant::now();
        let meta = kube::Resource::meta(object);
        let name = meta.name.clone().unwrap_or_default();
        let namespace = meta.namespace.clone().unwrap_or_default();
        let kind = R::Object::kind(&()).into_owned();
        let key = format!("{namespace}/{name}");
        let labels = ObjectLabels {
            kind: &kind,
            name: &name,
            namespace: &namespace,
        };
        let api: Api<R::Object> = Api::namespaced(self.client.clone(), &namespace);
        let has_finalizer = meta
            .finalizers
            .as_ref()
            .is_some_and(|all| all.iter().any(|f| f == FINALIZER));

        if meta.deletion_timestamp.is_some() {
            if !has_finalizer {
                return Ok(Action::await_change());
            }
            if let Err(error) = self.reconciler.finalize(object).await {
                self.emit(
                    object,
                    EventType::Warning,
                    &error.reason,
                    &error.message,
                    &BTreeMap::new(),
                )
                .await;
                self.metrics.record_reconcile(
                    &self.settings.controller,
                    &labels,
                    started.elapsed(),
                    ReconcileResult::Error,
                );
                return Ok(self.requeue_for_error(&key, error.kind));
            }
            self.remove_finalizer(&api, object).await?;
            self.requeue.forget(&key);
            self.metrics.forget(&labels);
            return Ok(Action::await_change());
        }

        if !has_finalizer {
            self.add_finalizer(&api, object).await?;
        }

        if object.suspended() {
            self.metrics.record_suspend(&labels, true);
            tracing::info!(kind = %kind, namespace = %namespace, name = %name, "reconciliation is suspended for this object");
            return Ok(Action::await_change());
        }
        self.metrics.record_suspend(&labels, false);

        let mut run = Run::new(object);
        if let Some(store) = self.store.get() {
            let store = store.clone();
            let key = ObjectRef::from_obj(object);
            run.deletion_check = Some(DeletionCheck(Arc::new(move || {
                store
                    .get(&key)
                    .is_some_and(|latest| latest.meta().deletion_timestamp.is_some())
            })));
        }
        let outcome = self.reconciler.reconcile(object, &mut run).await;
        let requested_at = meta
            .annotations
            .as_ref()
            .and_then(|all| all.get(annotations::RECONCILE_REQUESTED_AT))
            .map(String::as_str);
        let now = (self.clock)();
        summarize(
            &mut run.status,
            &outcome,
            meta.generation,
            requested_at,
            &run.progress,
            &now,
        );
        self.patch_status(&api, &name, &namespace, &run.status)
            .await?;

        for event in &run.events {
            self.emit(
                object,
                event.event_type,
                &event.reason,
                &event.message,
                &event.metadata,
            )
            .await;
        }
        self.metrics.record_conditions(
            &labels,
            eddy_api::meta::StatusFields::conditions(&run.status),
        );

        match outcome {
            Ok(_) => {
                let interval =
                    parse_duration(object.interval()).unwrap_or(Duration::from_secs(600));
                let wait = self
                    .requeue
                    .on_success(&key, run.requeue_after.unwrap_or(interval));
                self.metrics.record_reconcile(
                    &self.settings.controller,
                    &labels,
                    started.elapsed(),
                    ReconcileResult::Success,
                );
                Ok(Action::requeue(wait))
            }
            Err(error) => {
                tracing::warn!(kind = %kind, namespace = %namespace, name = %name, reason = %error.reason, "{}", error.message);
                self.emit(
                    object,
                    event_type_of(&error),
                    &error.reason,
                    &error.message,
                    &BTreeMap::new(),
                )
                .await;
                self.metrics.record_reconcile(
                    &self.settings.controller,
                    &labels,
                    started.elapsed(),
                    ReconcileResult::Error,
                );
                Ok(self.requeue_for_error(&key, error.kind))
            }
        }
    }

    fn requeue_for_error(&self, key: &str, kind: ErrorKind) -> Action {
        match self.requeue.on_error(key, kind) {
            Some(after) => {
                self.metrics.record_queue_retry(&self.settings.controller);
                Action::requeue(after)
            }
            None => Action::await_change(),
        }
    }

    async fn emit(
        &self,
        object: &R::Object,
        event_type: EventType,
        reason: &str,
        message: &str,
        metadata: &BTreeMap<String, String>,
    ) {
        self.recorder
            .record(
                &EventSubject::of(object),
                event_type,
                reason,
                message,
                metadata,
            )
            .await;
    }

    async fn patch_status(
        &self,
        api: &Api<R::Object>,
        name: &str,
        namespace: &str,
        status: &<R::Object as Reconciled>::Status,
    ) -> Result<(), HarnessError> {
        let body = serde_json::json!({
            "apiVersion": R::Object::api_version(&()),
            "kind": R::Object::kind(&()),
            "status": status,
        });
        let params = PatchParams::apply(&self.settings.field_manager).force();
        api.patch_status(name, &params, &Patch::Apply(&body))
            .await
            .map(|_| ())
            .map_err(|source| self.kube_error("patching status of", name, namespace, source))
    }

    async fn add_finalizer(
        &self,
        api: &Api<R::Object>,
        object: &R::Object,
    ) -> Result<(), HarnessError> {
        let meta = kube::Resource::meta(object);
        let patch = match &meta.finalizers {
            Some(finalizers) if !finalizers.is_empty() => serde_json::json!([
                {"op": "test", "path": "/metadata/finalizers", "value": finalizers},
                {"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER},
            ]),
            _ => serde_json::json!([
                {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]},
            ]),
        };
        self.json_patch(api, object, patch, "adding finalizer to")
            .await
    }

    async fn remove_finalizer(
        &self,
        api: &Api<R::Object>,
        object: &R::Object,
    ) -> Result<(), HarnessError> {
        let finalizers = kube::Resource::meta(object)
            .finalizers
            .clone()
            .unwrap_or_default();
        let Some(index) = finalizers.iter().position(|f| f == FINALIZER) else {
            return Ok(());
        };
        let patch = serde_json::json!([
            {"op": "test", "path": format!("/metadata/finalizers/{index}"), "value": FINALIZER},
            {"op": "remove", "path": format!("/metadata/finalizers/{index}")},
        ]);
        self.json_patch(api, object, patch, "removing finalizer from")
            .await
    }

    async fn json_patch(
        &self,
        api: &Api<R::Object>,
        object: &R::Object,
        patch: serde_json::Value,
        action: &'static str,
    ) -> Result<(), HarnessError> {
        let meta = kube::Resource::meta(object);
        let name = meta.name.clone().unwrap_or_default();
        let namespace = meta.namespace.clone().unwrap_or_default();
        let patch: json_patch::Patch = serde_json::from_value(patch).map_err(|error| {
            self.kube_error(action, &name, &namespace, kube::Error::SerdeError(error))
        })?;
        api.patch(&name, &PatchParams::default(), &Patch::<()>::Json(patch))
            .await
            .map(|_| ())
            .map_err(|source| self.kube_error(action, &name, &namespace, source))
    }

    fn kube_error(
        &self,
        action: &'static str,
        name: &str,
        namespace: &str,
        source: kube::Error,
    ) -> HarnessError {
        HarnessError::Kube {
            action,
            kind: R::Object::kind(&()).into_owned(),
            namespace: namespace.to_string(),
            name: name.to_string(),
            source,
        }
    }

    fn error_action(&self, object: &R::Object, error: &HarnessError) -> Action {
        let meta = kube::Resource::meta(object);
        let key = format!(
            "{}/{}",
            meta.namespace.as_deref().unwrap_or_default(),
            meta.name.as_deref().unwrap_or_default()
        );
        tracing::warn!(error = %crate::client::one_line(error), "reconcile failed");
        self.requeue_for_error(&key, ErrorKind::Retryable)
    }
}

/// The type of the event a failed reconcile emits: Warning, except for an object that is only
/// blocked on others ([`ErrorKind::Blocked`]), which Flux reports at info severity.
fn event_type_of(error: &StepError) -> EventType {
    match error.kind {
        ErrorKind::Blocked(_) => EventType::Normal,
        ErrorKind::Stalling | ErrorKind::Waiting(_) | ErrorKind::Retryable => EventType::Warning,
    }
}

/// What the watch of the reconciled kind reacts to: a new generation (spec change), a new
/// `reconcile.fluxcd.io/requestedAt` and deletion — as Flux's GenerationChanged +
/// ReconcileRequested predicates. Not status writes or finalizer changes: those are the harness's
/// own writes, and reacting to them would reconcile every new object twice.
pub fn trigger_hash<K: kube::Resource>(object: &K) -> Option<u64> {
    let meta = object.meta();
    let mut hasher = DefaultHasher::new();
    meta.uid.hash(&mut hasher);
    meta.generation.hash(&mut hasher);
    meta.deletion_timestamp.is_some().hash(&mut hasher);
    meta.annotations
        .as_ref()
        .and_then(|all| all.get(annotations::RECONCILE_REQUESTED_AT))
        .hash(&mut hasher);
    Some(hasher.finish())
}

/// How to run a controller: which objects to watch, how many at once, and how long to let
/// in-flight reconciles finish after shutdown is asked for.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Namespace to watch, or all.
    pub namespace: Option<String>,
    /// Label selector (sharding).
    pub label_selector: String,
    /// Objects reconciled at once.
    pub concurrency: u16,
    /// Longest wait for in-flight reconciles once `shutdown` fires; the controller then stops
    /// regardless (a watch stuck retrying, e.g. on a CRD that is not installed, must not keep
    /// the process alive).
    pub shutdown_grace: Duration,
}

/// Runs the controller until `shutdown` is cancelled. `customize` adds extra watches (e.g. a
/// Kustomization's sources) to the kube-runtime controller before it starts.
pub async fn run<R: Reconciler>(
    harness: Arc<Harness<R>>,
    options: RunOptions,
    shutdown: CancellationToken,
    customize: impl FnOnce(Controller<R::Object>) -> Controller<R::Object>,
) {
    let api: Api<R::Object> = match &options.namespace {
        Some(namespace) => Api::namespaced(harness.client.clone(), namespace),
        None => Api::all(harness.client.clone()),
    };
    let mut watch_config = watcher::Config::default();
    if !options.label_selector.is_empty() {
        watch_config = watch_config.labels(&options.label_selector);
    }
    let (reader, writer) = reflector::store();
    // A second run of the same harness keeps the first cache; nothing else sets it.
    let _ = harness.store.set(reader.clone());
    let controller_name = harness.settings.controller.clone();
    let metrics = harness.metrics.clone();
    let objects = watcher(api, watch_config)
        .default_backoff()
        // No reconciler reads its object's managed fields; with a thousand objects in the
        // store they would be a good part of the controller's memory.
        .modify(|object| object.meta_mut().managed_fields = None)
        .reflect(writer)
        .applied_objects()
        .predicate_filter(trigger_hash::<R::Object>, PredicateConfig::default())
        .inspect(move |_| metrics.record_queue_add(&controller_name));
    // kube-runtime holds reconciles until the first list is in the store and, on graceful
    // shutdown, waits for that too; a shutdown before the first list has nothing in flight.
    let store = reader.clone();
    let controller = Controller::for_stream(objects, reader)
        .with_config(ControllerConfig::default().concurrency(options.concurrency));
    let grace = options.shutdown_grace;
    let stopping = shutdown.clone();
    let controller = customize(controller)
        .graceful_shutdown_on(async move { stopping.cancelled().await })
        .run(
            |object, harness: Arc<Harness<R>>| async move { harness.reconcile(object).await },
            |object, error, harness: Arc<Harness<R>>| harness.error_action(&object, error),
            harness,
        )
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(error = %crate::client::one_line(&error), "controller event");
            }
        });
    tokio::pin!(controller);
    tokio::select! {
        () = &mut controller => {}
        () = shutdown.cancelled() => {
            let synced = matches!(
                futures::FutureExt::now_or_never(store.wait_until_ready()),
                Some(Ok(()))
            );
            if !synced {
                tracing::debug!("stopped before the first list completed; nothing was in flight");
                return;
            }
            if tokio::time::timeout(grace, &mut controller).await.is_err() {
                tracing::warn!(grace = ?grace, "the controller did not wind down within --graceful-shutdown-timeout (in-flight reconciles, or a watch retrying, e.g. on a CRD that is not installed); stopping anyway");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_on_a_dependency_is_a_normal_event_and_failures_are_warnings() {
        let after = Duration::from_secs(30);
        let dependency = StepError::blocked(
            eddy_api::meta::reasons::DEPENDENCY_NOT_READY,
            "dependency 'a' is not ready",
            after,
        );
        assert_eq!(event_type_of(&dependency), EventType::Normal);
        let build = StepError::waiting("BuildFailed", "kustomize build failed", after);
        assert_eq!(event_type_of(&build), EventType::Warning);
        let retry = StepError::retryable(eddy_api::meta::reasons::PROGRESSING, "x");
        assert_eq!(event_type_of(&retry), EventType::Warning);
    }
}
