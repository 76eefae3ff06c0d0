//! Reading and nudging Kubernetes objects the way controller tests do, for any kind.

use std::fmt::Debug;
use std::time::Duration;

use eddy_api::meta::annotations::RECONCILE_REQUESTED_AT;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::poll::wait_until;

/// Polls object `name` until `accept` holds for it, returning it.
///
/// # Panics
/// When the object cannot be read, or after `deadline` with `what` and the object's last status.
pub async fn wait_for_object<K>(
    api: &Api<K>,
    name: &str,
    what: &str,
    deadline: Duration,
    mut accept: impl FnMut(&K) -> bool,
) -> K
where
    K: kube::Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    wait_until(&format!("{name} to be {what}"), deadline, async || {
        let current = api.get(name).await.expect("the object can be read");
        if accept(&current) {
            return Ok(current);
        }
        let status = serde_json::to_value(&current)
            .ok()
            .and_then(|object| object.get("status").cloned())
            .unwrap_or(Value::Null);
        Err(format!(
            "status: {}",
            serde_json::to_string_pretty(&status).unwrap_or_default()
        ))
    })
    .await
}

/// Merges `spec` into object `name`'s spec (`null` removes a key).
///
/// # Panics
/// When the patch is refused.
pub async fn patch_spec<K>(api: &Api<K>, name: &str, spec: Value)
where
    K: kube::Resource + Clone + DeserializeOwned + Debug,
{
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": spec})),
    )
    .await
    .expect("spec patched");
}

/// Asks for a reconcile as `flux reconcile` does: sets the requestedAt annotation to a fresh
/// value, which it returns (controllers echo it in `status.lastHandledReconcileAt`).
///
/// # Panics
/// When the patch is refused.
pub async fn request_reconcile<K>(api: &Api<K>, name: &str) -> String
where
    K: kube::Resource + Clone + DeserializeOwned + Debug,
{
    let value = format!("{:?}", std::time::SystemTime::now());
    let mut annotations = serde_json::Map::new();
    annotations.insert(RECONCILE_REQUESTED_AT.to_string(), json!(value));
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": annotations}})),
    )
    .await
    .expect("reconcile requested");
    value
}

/// An API for any kind by `apiVersion` and kind; an empty namespace means cluster-wide.
pub fn dynamic(
    client: &kube::Client,
    api_version: &str,
    kind: &str,
    namespace: &str,
) -> Api<DynamicObject> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    if namespace.is_empty() {
        Api::all_with(client.clone(), &resource)
    } else {
        Api::namespaced_with(client.clone(), namespace, &resource)
    }
}

/// Creates a namespace.
///
/// # Panics
/// When it cannot be created (it exists already, say).
pub async fn create_namespace(client: &kube::Client, name: &str) {
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let mut namespace = k8s_openapi::api::core::v1::Namespace::default();
    namespace.metadata.name = Some(name.to_string());
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .expect("namespace created");
}

/// The notes of the Kubernetes events (events.k8s.io) in `namespace` with `reason` about the
/// object called `name`.
///
/// # Panics
/// When the events cannot be listed.
pub async fn event_notes(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    reason: &str,
) -> Vec<String> {
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(client.clone(), namespace);
    events
        .list(&Default::default())
        .await
        .expect("events listed")
        .items
        .into_iter()
        .filter(|event| {
            event.reason.as_deref() == Some(reason)
                && event
                    .regarding
                    .as_ref()
                    .and_then(|regarding| regarding.name.as_deref())
                    == Some(name)
        })
        .filter_map(|event| event.note)
        .collect()
}
