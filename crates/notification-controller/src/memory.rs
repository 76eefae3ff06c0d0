//! An in-memory [`Cluster`]: Alerts, Providers, Secrets, Receivers and arbitrary labelled
//! objects held in maps, with every annotation patch and Alert warning recorded so tests can
//! assert on them. Used by the crate's tests; not a Kubernetes emulation beyond that.

use crate::cluster::{Cluster, ClusterError, ObjectKey};
use eddy_api::notification::v1::Receiver;
use eddy_api::notification::v1beta3::{Alert, Provider};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// A labelled, annotated object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredObject {
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
}

/// A Warning event recorded on an Alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedWarning {
    /// `namespace/name` of the Alert.
    pub alert: String,
    /// Reason.
    pub reason: String,
    /// Message.
    pub message: String,
}

#[derive(Default)]
struct State {
    alerts: Vec<Alert>,
    providers: BTreeMap<(String, String), Provider>,
    secrets: BTreeMap<(String, String), BTreeMap<String, Vec<u8>>>,
    receivers: Vec<Receiver>,
    objects: BTreeMap<ObjectKey, StoredObject>,
    warnings: Vec<RecordedWarning>,
    fail_annotations: bool,
}

/// The in-memory cluster; clones share state.
#[derive(Clone, Default)]
pub struct MemoryCluster {
    state: Arc<Mutex<State>>,
    annotated: Arc<tokio::sync::Notify>,
}

fn key_of<K: kube::Resource>(object: &K) -> (String, String) {
    let meta = object.meta();
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

impl MemoryCluster {
    /// An empty cluster.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds (or replaces) an Alert.
    pub fn put_alert(&self, alert: Alert) {
        let mut state = self.lock();
        let key = key_of(&alert);
        state.alerts.retain(|existing| key_of(existing) != key);
        state.alerts.push(alert);
    }

    /// Adds (or replaces) a Provider.
    pub fn put_provider(&self, provider: Provider) {
        self.lock().providers.insert(key_of(&provider), provider);
    }

    /// Adds (or replaces) a Secret.
    pub fn put_secret(&self, namespace: &str, name: &str, data: &[(&str, &[u8])]) {
        let data = data
            .iter()
            .map(|(key, value)| ((*key).to_string(), value.to_vec()))
            .collect();
        self.lock()
            .secrets
            .insert((namespace.to_string(), name.to_string()), data);
    }

    /// Adds (or replaces) a Receiver.
    pub fn put_receiver(&self, receiver: Receiver) {
        let mut state = self.lock();
        let key = key_of(&receiver);
        state.receivers.retain(|existing| key_of(existing) != key);
        state.receivers.push(receiver);
    }

    /// Adds (or replaces) an object with labels.
    pub fn put_object(&self, key: ObjectKey, labels: &[(&str, &str)]) {
        let labels = labels
            .iter()
            .map(|(key, value)| ((*key).to_string(), (*value).to_string()))
            .collect();
        self.lock().objects.insert(
            key,
            StoredObject {
                labels,
                annotations: BTreeMap::new(),
            },
        );
    }

    /// The stored object, if any.
    pub fn object(&self, key: &ObjectKey) -> Option<StoredObject> {
        self.lock().objects.get(key).cloned()
    }

    /// Makes every annotation patch fail (to test 500 answers).
    pub fn fail_annotations(&self, fail: bool) {
        self.lock().fail_annotations = fail;
    }

    /// Warnings recorded on Alerts so far.
    pub fn warnings(&self) -> Vec<RecordedWarning> {
        self.lock().warnings.clone()
    }

    /// Waits until an annotation patch happens (or returns at once if `condition` already holds).
    pub async fn wait_for(&self, condition: impl Fn(&Self) -> bool) {
        loop {
            let notified = self.annotated.notified();
            if condition(self) {
                return;
            }
            notified.await;
        }
    }
}

impl Cluster for MemoryCluster {
    async fn alerts(&self) -> Result<Vec<Alert>, ClusterError> {
        Ok(self.lock().alerts.clone())
    }

    async fn provider(&self, namespace: &str, name: &str) -> Result<Provider, ClusterError> {
        self.lock()
            .providers
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
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
        self.lock()
            .secrets
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
            .ok_or_else(|| ClusterError::NotFound(format!("secrets \"{name}\"")))
    }

    async fn object_labels(
        &self,
        key: &ObjectKey,
    ) -> Result<BTreeMap<String, String>, ClusterError> {
        self.lock()
            .objects
            .get(key)
            .map(|object| object.labels.clone())
            .ok_or_else(|| ClusterError::NotFound(key.to_string()))
    }

    async fn list_objects(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<Vec<String>, ClusterError> {
        Ok(self
            .lock()
            .objects
            .iter()
            .filter(|(key, object)| {
                key.api_version == api_version
                    && key.kind == kind
                    && key.namespace == namespace
                    && labels
                        .iter()
                        .all(|(label, value)| object.labels.get(label) == Some(value))
            })
            .map(|(key, _)| key.name.clone())
            .collect())
    }

    async fn annotate(
        &self,
        key: &ObjectKey,
        annotation: &str,
        value: &str,
    ) -> Result<(), ClusterError> {
        let result = {
            let mut state = self.lock();
            if state.fail_annotations {
                Err(ClusterError::Api("the server is unavailable".into()))
            } else {
                match state.objects.get_mut(key) {
                    Some(object) => {
                        object
                            .annotations
                            .insert(annotation.to_string(), value.to_string());
                        Ok(())
                    }
                    None => Err(ClusterError::NotFound(key.to_string())),
                }
            }
        };
        self.annotated.notify_waiters();
        result
    }

    async fn receiver_for_path(&self, path: &str) -> Result<Option<Receiver>, ClusterError> {
        Ok(self
            .lock()
            .receivers
            .iter()
            .find(|receiver| {
                receiver
                    .status
                    .as_ref()
                    .and_then(|status| status.webhook_path.as_deref())
                    == Some(path)
            })
            .cloned())
    }

    async fn warn_alert(&self, alert: &Alert, reason: &str, message: &str) {
        let (namespace, name) = key_of(alert);
        self.lock().warnings.push(RecordedWarning {
            alert: format!("{namespace}/{name}"),
            reason: reason.to_string(),
            message: message.to_string(),
        });
        self.annotated.notify_waiters();
    }
}
