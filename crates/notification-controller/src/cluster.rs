//! The Kubernetes operations the event and receiver servers need, behind one trait so the
//! servers can be tested without an API server ([`crate::memory::MemoryCluster`]), and
//! [`KubeCluster`], the implementation over kube with watch caches for Alerts, Providers and
//! Receivers (Flux reads them from its informer cache too).

use eddy_api::notification::v1::Receiver;
use eddy_api::notification::v1beta3::{Alert, Provider};
use eddy_runtime::events::{EventRecorder, EventSubject, EventType};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use std::collections::BTreeMap;
use std::future::Future;
use tokio_util::sync::CancellationToken;

/// A failed Kubernetes operation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// The object does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The API server refused or could not be reached.
    #[error("{0}")]
    Api(String),
}

/// An object addressed by API version, kind, namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// `group/version`.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} \"{}/{}\"", self.kind, self.namespace, self.name)
    }
}

/// What the servers read and write in the cluster.
pub trait Cluster: Clone + Send + Sync + 'static {
    /// Every Alert (in the watched namespaces).
    fn alerts(&self) -> impl Future<Output = Result<Vec<Alert>, ClusterError>> + Send;

    /// One Provider.
    fn provider(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<Provider, ClusterError>> + Send;

    /// The decoded data of one Secret.
    fn secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, Vec<u8>>, ClusterError>> + Send;

    /// The labels of one object (which must exist).
    fn object_labels(
        &self,
        key: &ObjectKey,
    ) -> impl Future<Output = Result<BTreeMap<String, String>, ClusterError>> + Send;

    /// The names of the objects of a kind in a namespace carrying all `labels`.
    fn list_objects(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        labels: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<Vec<String>, ClusterError>> + Send;

    /// Sets one annotation on an object with a merge patch.
    fn annotate(
        &self,
        key: &ObjectKey,
        annotation: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), ClusterError>> + Send;

    /// The Receiver whose `status.webhookPath` is `path`.
    fn receiver_for_path(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<Option<Receiver>, ClusterError>> + Send;

    /// Records a Warning event on an Alert (e.g. `NotificationDispatchFailed`).
    fn warn_alert(
        &self,
        alert: &Alert,
        reason: &str,
        message: &str,
    ) -> impl Future<Output = ()> + Send;
}

/// How long start-up waits for the watch caches to fill.
const CACHE_FILL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The cluster over kube: watch caches for Alerts, Providers and Receivers, direct reads of
/// Secrets and involved objects, Kubernetes Events through the runtime's recorder.
#[derive(Clone)]
pub struct KubeCluster {
    client: kube::Client,
    recorder: EventRecorder,
    alerts: Store<Alert>,
    providers: Store<Provider>,
    receivers: Store<Receiver>,
}

impl KubeCluster {
    /// Starts the watches (in `namespace`, or all) and returns once their caches are filled.
    pub async fn start(
        client: kube::Client,
        recorder: EventRecorder,
        namespace: Option<&str>,
        shutdown: CancellationToken,
    ) -> Self {
        let alerts = watch_cache::<Alert>(&client, namespace, shutdown.clone());
        let providers = watch_cache::<Provider>(&client, namespace, shutdown.clone());
        let receivers = watch_cache::<Receiver>(&client, namespace, shutdown);
        // A missing CRD or RBAC rule would keep a cache empty forever: wait a while, then serve
        // with what is there and say so (the watch keeps retrying in the background).
        let filled = tokio::time::timeout(CACHE_FILL_TIMEOUT, async {
            alerts.wait_until_ready().await.is_ok()
                && providers.wait_until_ready().await.is_ok()
                && receivers.wait_until_ready().await.is_ok()
        })
        .await;
        if !matches!(filled, Ok(true)) {
            tracing::warn!(
                "the Alert, Provider and Receiver caches are not filled yet (are the CRDs installed and readable?); serving anyway"
            );
        }
        Self {
            client,
            recorder,
            alerts,
            providers,
            receivers,
        }
    }

    /// The Receivers whose `secretRef` names this Secret (to reconcile them when it changes).
    pub fn receivers_using_secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> Vec<reflector::ObjectRef<Receiver>> {
        self.receivers
            .state()
            .iter()
            .filter(|receiver| {
                receiver.metadata.namespace.as_deref() == Some(namespace)
                    && receiver
                        .spec
                        .secret_ref
                        .as_ref()
                        .is_some_and(|reference| reference.name == name)
            })
            .map(|receiver| reflector::ObjectRef::from_obj(receiver.as_ref()))
            .collect()
    }

    fn dynamic_api(&self, api_version: &str, kind: &str, namespace: &str) -> Api<DynamicObject> {
        let (group, version) = match api_version.split_once('/') {
            Some((group, version)) => (group, version),
            None => ("", api_version),
        };
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
        Api::namespaced_with(self.client.clone(), namespace, &resource)
    }
}

fn watch_cache<K>(
    client: &kube::Client,
    namespace: Option<&str>,
    shutdown: CancellationToken,
) -> Store<K>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let api: Api<K> = match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    };
    let (reader, writer) = reflector::store();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                next = stream.next() => match next {
                    Some(Ok(_)) => {}
                    Some(Err(error)) => tracing::warn!(kind = %K::kind(&()), error = %error, "watch error; retrying"),
                    None => break,
                },
            }
        }
    });
    reader
}

fn api_error(what: String, error: kube::Error) -> ClusterError {
    match &error {
        kube::Error::Api(status) if status.code == 404 => ClusterError::NotFound(what),
        _ => ClusterError::Api(format!("{what}: {error}")),
    }
}

impl Cluster for KubeCluster {
    async fn alerts(&self) -> Result<Vec<Alert>, ClusterError> {
        Ok(self
            .alerts
            .state()
            .iter()
            .map(|alert| (**alert).clone())
            .collect())
    }

    async fn provider(&self, namespace: &str, name: &str) -> Result<Provider, ClusterError> {
        let key = reflector::ObjectRef::new(name).within(namespace);
        self.providers
            .get(&key)
            .map(|provider| (*provider).clone())
            .ok_or_else(|| {
                ClusterError::NotFound(format!(
                    "Provider.notification.toolkit.fluxcd.io \"{name}\""
                ))
            })
    }

    async fn secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<BTreeMap<String, Vec<u8>>, ClusterError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let secret = api
            .get(name)
            .await
            .map_err(|error| api_error(format!("secrets \"{name}\""), error))?;
        let mut data: BTreeMap<String, Vec<u8>> = secret
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(key, value)| (key, value.0))
            .collect();
        for (key, value) in secret.string_data.unwrap_or_default() {
            data.insert(key, value.into_bytes());
        }
        Ok(data)
    }

    async fn object_labels(
        &self,
        key: &ObjectKey,
    ) -> Result<BTreeMap<String, String>, ClusterError> {
        let api = self.dynamic_api(&key.api_version, &key.kind, &key.namespace);
        let object = api
            .get_metadata(&key.name)
            .await
            .map_err(|error| api_error(key.to_string(), error))?;
        Ok(object.metadata.labels.unwrap_or_default())
    }

    async fn list_objects(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<Vec<String>, ClusterError> {
        let api = self.dynamic_api(api_version, kind, namespace);
        let selector = labels
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join(",");
        let list = api
            .list_metadata(&ListParams::default().labels(&selector))
            .await
            .map_err(|error| api_error(format!("{kind} in {namespace}"), error))?;
        Ok(list
            .items
            .into_iter()
            .filter_map(|object| object.metadata.name)
            .collect())
    }

    async fn annotate(
        &self,
        key: &ObjectKey,
        annotation: &str,
        value: &str,
    ) -> Result<(), ClusterError> {
        let api = self.dynamic_api(&key.api_version, &key.kind, &key.namespace);
        let patch = serde_json::json!({"metadata": {"annotations": {annotation: value}}});
        api.patch_metadata(&key.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(|error| api_error(key.to_string(), error))
    }

    async fn receiver_for_path(&self, path: &str) -> Result<Option<Receiver>, ClusterError> {
        Ok(self
            .receivers
            .state()
            .iter()
            .find(|receiver| {
                receiver
                    .status
                    .as_ref()
                    .and_then(|status| status.webhook_path.as_deref())
                    == Some(path)
            })
            .map(|receiver| (**receiver).clone()))
    }

    async fn warn_alert(&self, alert: &Alert, reason: &str, message: &str) {
        self.recorder
            .record(
                &EventSubject::of(alert),
                EventType::Warning,
                reason,
                message,
                &BTreeMap::new(),
            )
            .await;
    }
}
