//! What besides a Kustomization's own changes triggers its reconcile (KC
//! `SetupWithManager`): a new artifact revision of the source it references, and a change to
//! a ConfigMap or Secret it substitutes from, when that object carries the
//! `reconcile.fluxcd.io/watch: Enabled` label (`--watch-configs-label-selector`).
//!
//! One addition to Flux: a Kustomization depending on another is reconciled as soon as that
//! dependency becomes Ready at a new revision, instead of only after
//! `--requeue-dependency`. Flux enqueues both at a new artifact and the dependant then waits out
//! the requeue interval (30 s by default); here a commit reaches every layer in seconds. The
//! dependency checks themselves are Flux's, so the order of application is unchanged.

use std::hash::{DefaultHasher, Hash, Hasher};

use eddy_api::kustomize::v1::{Kustomization, SourceKind};
use eddy_api::meta::ConfigObjectKind;
use eddy_api::meta::conditions::{READY, RECONCILING};
use eddy_api::source::v1::{Bucket, ExternalArtifact, GitRepository, OCIRepository};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{PredicateConfig, WatchStreamExt, predicates, watcher};

use futures::StreamExt as _;
use kube::runtime::reflector::store::Writer;

use super::source::{SourceCacheWriters, source_namespace};

/// Which watches to add.
#[derive(Clone, Debug, Default)]
pub struct WatchOptions {
    /// Namespace watched, or all.
    pub namespace: Option<String>,
    /// Label selector of watched ConfigMaps and Secrets; `None` disables those watches.
    pub configs_label_selector: Option<String>,
    /// Whether ExternalArtifact sources are watched (the `ExternalArtifact` gate).
    pub external_artifacts: bool,
}

/// Adds the source and config watches to the Kustomization controller; with `sources`, the
/// source watches also fill the reconciler's [`super::SourceCache`].
pub fn add_watches(
    controller: Controller<Kustomization>,
    client: &kube::Client,
    options: &WatchOptions,
    sources: Option<SourceCacheWriters>,
) -> Controller<Kustomization> {
    let store = controller.store();
    let mut controller = controller;
    let (git, oci, buckets, external) = match sources {
        Some(writers) => (
            Some(writers.git_repositories),
            Some(writers.oci_repositories),
            Some(writers.buckets),
            Some(writers.external_artifacts),
        ),
        None => (None, None, None, None),
    };
    controller = watch_source::<GitRepository>(
        controller,
        client,
        options,
        &store,
        (SourceKind::GitRepository, git),
        |source| source.artifact().map(|artifact| artifact.revision.clone()),
    );
    controller = watch_source::<OCIRepository>(
        controller,
        client,
        options,
        &store,
        (SourceKind::OciRepository, oci),
        |source| source.artifact().map(|artifact| artifact.revision.clone()),
    );
    controller = watch_source::<Bucket>(
        controller,
        client,
        options,
        &store,
        (SourceKind::Bucket, buckets),
        |source| source.artifact().map(|artifact| artifact.revision.clone()),
    );
    if options.external_artifacts {
        controller = watch_source::<ExternalArtifact>(
            controller,
            client,
            options,
            &store,
            (SourceKind::ExternalArtifact, external),
            |source| source.artifact().map(|artifact| artifact.revision.clone()),
        );
    }
    controller = watch_dependencies(controller, client, options, &store);
    if let Some(selector) = &options.configs_label_selector {
        controller = watch_config::<ConfigMap>(
            controller,
            client,
            options,
            selector,
            &store,
            ConfigObjectKind::ConfigMap,
        );
        controller = watch_config::<Secret>(
            controller,
            client,
            options,
            selector,
            &store,
            ConfigObjectKind::Secret,
        );
    }
    controller
}

fn api<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

fn hash_of(value: &Option<String>) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

fn watch_source<K>(
    controller: Controller<Kustomization>,
    client: &kube::Client,
    options: &WatchOptions,
    store: &Store<Kustomization>,
    (kind, cache): (SourceKind, Option<Writer<K>>),
    revision: fn(&K) -> Option<String>,
) -> Controller<Kustomization>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let events = watcher(
        api::<K>(client, options.namespace.as_deref()),
        watcher::Config::default(),
    )
    .default_backoff()
    // Nothing reads the managed fields of a source; a cache without them is smaller.
    .modify(|source| kube::Resource::meta_mut(source).managed_fields = None);
    let objects = match cache {
        Some(writer) => events.reflect(writer).applied_objects().boxed(),
        None => events.applied_objects().boxed(),
    };
    let sources = objects.predicate_filter(
        move |source: &K| Some(hash_of(&revision(source))),
        PredicateConfig::default(),
    );
    let store = store.clone();
    controller.watches_stream(sources, move |source: K| {
        let meta = kube::Resource::meta(&source);
        let namespace = meta.namespace.clone().unwrap_or_default();
        let name = meta.name.clone().unwrap_or_default();
        let Some(revision) = revision(&source) else {
            return Vec::new();
        };
        requests_for_revision(&store, kind, &namespace, &name, &revision)
    })
}

/// The Kustomizations referencing a source whose artifact is now `revision`, leaving out those
/// Ready or reconciling at that revision already (KC `requestsForRevisionChangeOf`).
pub fn requests_for_revision(
    store: &Store<Kustomization>,
    kind: SourceKind,
    namespace: &str,
    name: &str,
    revision: &str,
) -> Vec<ObjectRef<Kustomization>> {
    store
        .state()
        .iter()
        .filter(|kustomization| {
            kustomization.spec.source_ref.kind == kind
                && kustomization.spec.source_ref.name == name
                && source_namespace(kustomization) == namespace
        })
        .filter(|kustomization| {
            let status = kustomization.status.as_ref();
            let conditions = status
                .and_then(|status| status.conditions.as_deref())
                .unwrap_or_default();
            let busy_or_ready = eddy_runtime::conditions::is_true(conditions, READY)
                || eddy_runtime::conditions::is_true(conditions, RECONCILING);
            let attempted = status.and_then(|status| status.last_attempted_revision.as_deref());
            !(busy_or_ready && attempted == Some(revision))
        })
        .map(|kustomization| ObjectRef::from_obj(kustomization.as_ref()))
        .collect()
}

/// Whether a Kustomization is Ready, and at which applied revision: what its dependants wait
/// for.
fn readiness_of(kustomization: &Kustomization) -> (bool, Option<String>) {
    let status = kustomization.status.as_ref();
    let conditions = status
        .and_then(|status| status.conditions.as_deref())
        .unwrap_or_default();
    (
        eddy_runtime::conditions::is_true(conditions, READY),
        status.and_then(|status| status.last_applied_revision.clone()),
    )
}

fn watch_dependencies(
    controller: Controller<Kustomization>,
    client: &kube::Client,
    options: &WatchOptions,
    store: &Store<Kustomization>,
) -> Controller<Kustomization> {
    let dependencies = watcher(
        api::<Kustomization>(client, options.namespace.as_deref()),
        watcher::Config::default(),
    )
    .default_backoff()
    .applied_objects()
    .predicate_filter(
        |kustomization: &Kustomization| {
            let mut hasher = DefaultHasher::new();
            readiness_of(kustomization).hash(&mut hasher);
            Some(hasher.finish())
        },
        PredicateConfig::default(),
    );
    let store = store.clone();
    controller.watches_stream(dependencies, move |dependency: Kustomization| {
        let (ready, revision) = readiness_of(&dependency);
        if !ready {
            return Vec::new();
        }
        let namespace = dependency.metadata.namespace.clone().unwrap_or_default();
        let name = dependency.metadata.name.clone().unwrap_or_default();
        requests_for_ready_dependency(&store, &namespace, &name, revision.as_deref())
    })
}

/// The Kustomizations depending on the Kustomization `namespace/name`, which just became Ready
/// at `revision`, except those Ready at that revision already. One that is reconciling right
/// now is reconciled once more afterwards, which closes the race with its dependency check.
pub fn requests_for_ready_dependency(
    store: &Store<Kustomization>,
    namespace: &str,
    name: &str,
    revision: Option<&str>,
) -> Vec<ObjectRef<Kustomization>> {
    store
        .state()
        .iter()
        .filter(|dependant| {
            let own_namespace = dependant.metadata.namespace.as_deref().unwrap_or_default();
            dependant.spec.depends_on.iter().flatten().any(|reference| {
                reference.name == name
                    && reference.namespace.as_deref().unwrap_or(own_namespace) == namespace
            })
        })
        .filter(|dependant| {
            // Already Ready at that revision: nothing to catch up with.
            let status = dependant.status.as_ref();
            let conditions = status
                .and_then(|status| status.conditions.as_deref())
                .unwrap_or_default();
            let attempted = status.and_then(|status| status.last_attempted_revision.as_deref());
            !(eddy_runtime::conditions::is_true(conditions, READY)
                && attempted.is_some()
                && attempted == revision)
        })
        .map(|dependant| ObjectRef::from_obj(dependant.as_ref()))
        .collect()
}

fn watch_config<K>(
    controller: Controller<Kustomization>,
    client: &kube::Client,
    options: &WatchOptions,
    selector: &str,
    store: &Store<Kustomization>,
    kind: ConfigObjectKind,
) -> Controller<Kustomization>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let configs = watcher(
        api::<PartialObjectMeta<K>>(client, options.namespace.as_deref()),
        watcher::Config::default().labels(selector),
    )
    .default_backoff()
    .applied_objects()
    .predicate_filter(predicates::resource_version, PredicateConfig::default());
    let store = store.clone();
    controller.watches_stream(configs, move |config| {
        let namespace = config.metadata.namespace.clone().unwrap_or_default();
        let name = config.metadata.name.clone().unwrap_or_default();
        requests_for_config(&store, kind, &namespace, &name)
    })
}

/// The Kustomizations substituting from a ConfigMap or Secret (KC
/// `requestsForConfigDependency`).
pub fn requests_for_config(
    store: &Store<Kustomization>,
    kind: ConfigObjectKind,
    namespace: &str,
    name: &str,
) -> Vec<ObjectRef<Kustomization>> {
    store
        .state()
        .iter()
        .filter(|kustomization| kustomization.metadata.namespace.as_deref() == Some(namespace))
        .filter(|kustomization| {
            kustomization
                .spec
                .post_build
                .as_ref()
                .and_then(|post_build| post_build.substitute_from.as_ref())
                .is_some_and(|references| {
                    references
                        .iter()
                        .any(|reference| reference.kind == kind && reference.name == name)
                })
        })
        .map(|kustomization| ObjectRef::from_obj(kustomization.as_ref()))
        .collect()
}
