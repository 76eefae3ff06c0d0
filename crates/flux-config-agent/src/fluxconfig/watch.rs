//! What besides a FluxConfig's own changes triggers its reconcile: a status change (or
//! deletion) of a generated source or Kustomization, found by the `clusterconfig.azure.com`
//! labels, and of a HelmRelease one of its Kustomizations applied, found through the
//! Kustomization's owner labels. Only status changes count, so the agent's own applies do not
//! wake it. A change of the protected-parameters Secret counts too.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use eddy_api::clusterconfig::v1alpha1::FluxConfig;
use eddy_api::helm::v2::HelmRelease;
use eddy_api::kustomize::v1::Kustomization;
use eddy_api::meta::labels::{
    CLUSTERCONFIG_IS_MANAGED, CLUSTERCONFIG_NAME, CLUSTERCONFIG_NAMESPACE, KUSTOMIZE_NAME,
    KUSTOMIZE_NAMESPACE,
};
use eddy_api::source::v1::{Bucket, GitRepository, OCIRepository};
use futures::{StreamExt, future};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::ObjectMeta;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{PredicateConfig, WatchStreamExt, predicates, watcher};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Which Kustomization (namespace, name) belongs to which FluxConfig, learnt from the
/// Kustomization watch, for mapping HelmReleases.
type Owners = Arc<Mutex<HashMap<(String, String), ObjectRef<FluxConfig>>>>;

/// The FluxConfig a generated object's labels point to.
pub fn config_of(meta: &ObjectMeta) -> Option<ObjectRef<FluxConfig>> {
    let labels = meta.labels.as_ref()?;
    if labels.get(CLUSTERCONFIG_IS_MANAGED).map(String::as_str) != Some("true") {
        return None;
    }
    let name = labels.get(CLUSTERCONFIG_NAME)?;
    let namespace = labels.get(CLUSTERCONFIG_NAMESPACE)?;
    Some(ObjectRef::new(name).within(namespace))
}

fn api<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<DynamicType = (), Scope = NamespaceResourceScope>,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

/// A watch of `K` passing on objects whose status changed, and deletions.
fn status_changes<K>(
    api: Api<K>,
    config: watcher::Config,
) -> impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let mut seen: HashMap<String, u64> = HashMap::new();
    watcher(api, config)
        .default_backoff()
        .filter_map(move |event| {
            let passed = match event {
                Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => {
                    let uid = object.meta().uid.clone().unwrap_or_default();
                    let mut hasher = DefaultHasher::new();
                    serde_json::to_value(&object)
                        .ok()
                        .and_then(|value| value.get("status").cloned())
                        .map(|status| status.to_string())
                        .hash(&mut hasher);
                    object.meta().deletion_timestamp.is_some().hash(&mut hasher);
                    let hash = hasher.finish();
                    (seen.insert(uid, hash) != Some(hash)).then_some(Ok(object))
                }
                Ok(watcher::Event::Delete(object)) => {
                    seen.remove(&object.meta().uid.clone().unwrap_or_default());
                    Some(Ok(object))
                }
                Ok(watcher::Event::Init | watcher::Event::InitDone) => None,
                Err(error) => Some(Err(error)),
            };
            future::ready(passed)
        })
}

fn watch_managed<K>(
    controller: Controller<FluxConfig>,
    client: &kube::Client,
    namespace: Option<&str>,
) -> Controller<FluxConfig>
where
    K: kube::Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let selector = format!("{CLUSTERCONFIG_IS_MANAGED}=true");
    let stream = status_changes(
        api::<K>(client, namespace),
        watcher::Config::default().labels(&selector),
    );
    controller.watches_stream(stream, |object: K| config_of(object.meta()))
}

/// Adds the watches of generated objects to the FluxConfig controller.
pub fn add_watches(
    controller: Controller<FluxConfig>,
    client: &kube::Client,
    namespace: Option<&str>,
) -> Controller<FluxConfig> {
    let mut controller = controller;
    controller = watch_managed::<GitRepository>(controller, client, namespace);
    controller = watch_managed::<Bucket>(controller, client, namespace);
    controller = watch_managed::<OCIRepository>(controller, client, namespace);

    let owners: Owners = Arc::default();
    let selector = format!("{CLUSTERCONFIG_IS_MANAGED}=true");
    let learnt = Arc::clone(&owners);
    let kustomizations = status_changes(
        api::<Kustomization>(client, namespace),
        watcher::Config::default().labels(&selector),
    );
    controller = controller.watches_stream(kustomizations, move |kustomization: Kustomization| {
        let config = config_of(&kustomization.metadata)?;
        let key = (
            kustomization.metadata.namespace.clone().unwrap_or_default(),
            kustomization.metadata.name.clone().unwrap_or_default(),
        );
        learnt
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, config.clone());
        Some(config)
    });

    // The protected parameters (written by `eddy config`, labelled with their configuration):
    // new credentials take effect without waiting for the resync. The agent's own
    // `<config>-auth` is left out, so writing it never wakes the agent.
    let protected = format!("{CLUSTERCONFIG_NAME},!{CLUSTERCONFIG_IS_MANAGED}");
    let secrets = watcher(
        api::<PartialObjectMeta<Secret>>(client, namespace),
        watcher::Config::default().labels(&protected),
    )
    .default_backoff()
    .applied_objects()
    .predicate_filter(predicates::resource_version, PredicateConfig::default());
    controller = controller.watches_stream(secrets, |secret: PartialObjectMeta<Secret>| {
        let labels = secret.metadata.labels.as_ref()?;
        Some(
            ObjectRef::new(labels.get(CLUSTERCONFIG_NAME)?)
                .within(labels.get(CLUSTERCONFIG_NAMESPACE)?),
        )
    });

    // HelmReleases are applied anywhere the Kustomizations put them: watch all namespaces
    // the agent watches, with kustomize-controller's owner label.
    let releases = status_changes(
        api::<HelmRelease>(client, namespace),
        watcher::Config::default().labels(KUSTOMIZE_NAME),
    );
    controller.watches_stream(releases, move |release: HelmRelease| {
        let labels = release.metadata.labels.as_ref()?;
        let key = (
            labels.get(KUSTOMIZE_NAMESPACE)?.clone(),
            labels.get(KUSTOMIZE_NAME)?.clone(),
        );
        owners
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .cloned()
    })
}
