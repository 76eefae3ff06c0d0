//! What kube-apiserver's controllers do after a write: the garbage collector (owner references
//! with background, foreground and orphan propagation), the namespace controller (a deleted
//! namespace empties before it goes) and CRD cleanup. A background task runs passes whenever a
//! write wakes it, until a pass changes nothing.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::object::{
    finalizers, is_deleting, meta_str, metadata_mut, new_uid, owner_uids, set_finalizers, timestamp,
};
use crate::server::App;
use crate::store::{EventType, Inner, ObjectKey};

/// Removes an object for good.
pub(crate) fn remove_object(inner: &mut Inner, key: &ObjectKey) -> Option<Value> {
    inner.remove(key)
}

/// The finalizer that holds a deleted CRD until its custom resources are gone.
pub(crate) const DEFINITION_CLEANUP: &str = "customresourcecleanup.apiextensions.k8s.io";

fn definition_resource(crd: &Value) -> (String, String) {
    let text = |pointer: &str| {
        crd.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (text("/spec/group"), text("/spec/names/plural"))
}

/// Whether any custom resource of a CRD exists.
pub(crate) fn definition_has_objects(inner: &Inner, crd: &Value) -> bool {
    let (group, plural) = definition_resource(crd);
    inner.list(&group, &plural, None).next().is_some()
}

/// Deletes every object of a CRD's resource and unregisters it.
pub(crate) fn remove_definition(inner: &mut Inner, crd: &Value) {
    let group = crd
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or("");
    let plural = crd
        .pointer("/spec/names/plural")
        .and_then(Value::as_str)
        .unwrap_or("");
    let keys: Vec<ObjectKey> = inner
        .list(group, plural, None)
        .map(|(key, _)| key.clone())
        .collect();
    for key in keys {
        inner.remove(&key);
    }
    inner.registry.replace(group, plural, Vec::new());
}

/// Creates the namespaces every cluster has.
pub(crate) fn bootstrap(inner: &mut Inner) {
    let now = timestamp(jiff::Timestamp::now());
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let namespace = json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "uid": new_uid(),
                "creationTimestamp": now,
                "labels": {"kubernetes.io/metadata.name": name},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        });
        inner.write(
            ObjectKey::new("", "namespaces", "", name),
            namespace,
            EventType::Added,
        );
    }
}

/// Starts deleting an object as a controller would: background policy, honouring finalizers.
fn delete_in_background(inner: &mut Inner, key: &ObjectKey, now: &str) -> bool {
    let Some(existing) = inner.get(key).cloned() else {
        return false;
    };
    if is_deleting(&existing) {
        return false;
    }
    if finalizers(&existing).is_empty() {
        if key.group == "apiextensions.k8s.io" && key.resource == "customresourcedefinitions" {
            remove_definition(inner, &existing);
        }
        inner.remove(key);
        return true;
    }
    let mut marked = existing;
    if let Some(metadata) = metadata_mut(&mut marked) {
        metadata.insert("deletionTimestamp".into(), json!(now));
        metadata.insert("deletionGracePeriodSeconds".into(), json!(0));
    }
    inner.write(key.clone(), marked, EventType::Modified);
    true
}

fn drop_finalizer(inner: &mut Inner, key: &ObjectKey, finalizer: &str) -> bool {
    let Some(existing) = inner.get(key).cloned() else {
        return false;
    };
    let mut held = finalizers(&existing);
    let before = held.len();
    held.retain(|held| held != finalizer);
    if held.len() == before {
        return false;
    }
    let mut updated = existing;
    set_finalizers(&mut updated, &held);
    inner.write(key.clone(), updated, EventType::Modified);
    if held.is_empty() {
        inner.remove(key);
    }
    true
}

/// The state of an owner, as the collector sees it.
struct Owner {
    finalizers: Vec<String>,
    deleting: bool,
}

fn owner(inner: &Inner, uid: &str) -> Option<Owner> {
    let object = inner.get(inner.by_uid(uid)?)?;
    Some(Owner {
        finalizers: finalizers(object),
        deleting: is_deleting(object),
    })
}

/// One garbage-collection pass; returns whether anything changed. It reads only the objects
/// that have owner references or are being deleted, so it stays cheap with many objects.
pub(crate) fn collect_garbage(inner: &mut Inner) -> bool {
    let now = timestamp(jiff::Timestamp::now());
    let mut changed = false;

    // Namespaces being deleted: delete their contents, then the namespace itself.
    let terminating: Vec<String> = inner
        .deleting_keys()
        .into_iter()
        .filter(|key| key.group.is_empty() && key.resource == "namespaces")
        .map(|key| key.name)
        .collect();
    for namespace in terminating {
        let contents: Vec<ObjectKey> = inner
            .all()
            .filter(|(key, _)| key.namespace == namespace)
            .map(|(key, _)| key.clone())
            .collect();
        if contents.is_empty() {
            let key = ObjectKey::new("", "namespaces", "", &namespace);
            if let Some(existing) = inner.get(&key).cloned()
                && finalizers(&existing).is_empty()
            {
                inner.remove(&key);
                changed = true;
            }
            continue;
        }
        for key in contents {
            changed |= delete_in_background(inner, &key, &now);
        }
    }

    // Dependents: collect those whose owners are all gone, follow foreground and orphan owners.
    let mut referenced: HashSet<String> = HashSet::new();
    for key in inner.owned_keys() {
        let Some(object) = inner.get(&key) else {
            continue;
        };
        let uids = owner_uids(object);
        let mut orphaned_by = Vec::new();
        let mut live = 0;
        let mut foreground_owner = false;
        for uid in &uids {
            let Some(owner) = owner(inner, uid) else {
                continue;
            };
            if owner.deleting && owner.finalizers.iter().any(|f| f == "orphan") {
                orphaned_by.push(uid.clone());
                continue;
            }
            live += 1;
            referenced.insert(uid.clone());
            if owner.deleting && owner.finalizers.iter().any(|f| f == "foregroundDeletion") {
                foreground_owner = true;
            }
        }
        if !orphaned_by.is_empty() || (live > 0 && live < uids.len()) {
            // Drop references to orphaning owners and to owners that no longer exist.
            let mut updated = object.clone();
            let live_uids: Vec<String> = uids
                .iter()
                .filter(|uid| inner.by_uid(uid).is_some() && !orphaned_by.contains(uid))
                .cloned()
                .collect();
            if let Some(metadata) = metadata_mut(&mut updated) {
                let kept: Vec<Value> = metadata
                    .get("ownerReferences")
                    .and_then(Value::as_array)
                    .map(|references| {
                        references
                            .iter()
                            .filter(|reference| {
                                reference
                                    .get("uid")
                                    .and_then(Value::as_str)
                                    .is_some_and(|uid| live_uids.iter().any(|live| live == uid))
                            })
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                if kept.is_empty() {
                    metadata.remove("ownerReferences");
                } else {
                    metadata.insert("ownerReferences".into(), Value::Array(kept));
                }
            }
            inner.write(key.clone(), updated, EventType::Modified);
            changed = true;
            continue;
        }
        if live == 0 || foreground_owner {
            changed |= delete_in_background(inner, &key, &now);
        }
    }

    // Deleted CRDs: delete their objects (honouring finalizers), then let the CRD go.
    for key in inner.deleting_keys() {
        if key.group != "apiextensions.k8s.io" || key.resource != "customresourcedefinitions" {
            continue;
        }
        let Some(crd) = inner.get(&key).cloned() else {
            continue;
        };
        if !finalizers(&crd)
            .iter()
            .any(|held| held == DEFINITION_CLEANUP)
        {
            continue;
        }
        let (group, plural) = definition_resource(&crd);
        let objects: Vec<ObjectKey> = inner
            .list(&group, &plural, None)
            .map(|(key, _)| key.clone())
            .collect();
        if objects.is_empty() {
            inner.registry.replace(&group, &plural, Vec::new());
            changed |= drop_finalizer(inner, &key, DEFINITION_CLEANUP);
        } else {
            for object in objects {
                changed |= delete_in_background(inner, &object, &now);
            }
        }
    }

    // Owners waiting on their dependents.
    for key in inner.deleting_keys() {
        let Some(object) = inner.get(&key) else {
            continue;
        };
        let uid = meta_str(object, "uid").to_string();
        if referenced.contains(&uid) {
            continue;
        }
        let held = finalizers(object);
        for finalizer in ["foregroundDeletion", "orphan"] {
            if held.iter().any(|held| held == finalizer) {
                changed |= drop_finalizer(inner, &key, finalizer);
            }
        }
    }
    changed
}

/// Runs garbage collection whenever a write wakes the collector.
pub(crate) async fn run_collector(app: Arc<App>) {
    loop {
        app.store.collector_wakeup.notified().await;
        for _ in 0..1000 {
            let mut inner = app.store.lock();
            if !collect_garbage(&mut inner) {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn object(name: &str, uid: &str, owners: &[&str]) -> Value {
        let references: Vec<Value> = owners
            .iter()
            .map(|owner| json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner}))
            .collect();
        let mut object = json!({"metadata": {"name": name, "namespace": "default", "uid": uid}});
        if !references.is_empty() {
            object["metadata"]["ownerReferences"] = json!(references);
        }
        object
    }

    fn settle(inner: &mut Inner) {
        for _ in 0..100 {
            if !collect_garbage(inner) {
                return;
            }
        }
    }

    #[test]
    fn dependents_of_a_removed_owner_are_collected() {
        let store = Store::new(100);
        let mut inner = store.lock();
        let owner = ObjectKey::new("", "configmaps", "default", "owner");
        let child = ObjectKey::new("", "configmaps", "default", "child");
        inner.write(owner.clone(), object("owner", "u1", &[]), EventType::Added);
        inner.write(
            child.clone(),
            object("child", "u2", &["u1"]),
            EventType::Added,
        );
        settle(&mut inner);
        assert!(inner.get(&child).is_some());
        inner.remove(&owner);
        settle(&mut inner);
        assert!(inner.get(&child).is_none());
    }

    #[test]
    fn orphaning_keeps_dependents_and_drops_their_references() {
        let store = Store::new(100);
        let mut inner = store.lock();
        let owner = ObjectKey::new("", "configmaps", "default", "owner");
        let child = ObjectKey::new("", "configmaps", "default", "child");
        let mut deleting_owner = object("owner", "u1", &[]);
        deleting_owner["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        deleting_owner["metadata"]["finalizers"] = json!(["orphan"]);
        inner.write(owner.clone(), deleting_owner, EventType::Added);
        inner.write(
            child.clone(),
            object("child", "u2", &["u1"]),
            EventType::Added,
        );
        settle(&mut inner);
        assert!(inner.get(&owner).is_none());
        let remaining = inner.get(&child).cloned().unwrap_or_default();
        assert!(remaining.pointer("/metadata/ownerReferences").is_none());
    }

    #[test]
    fn a_deleted_definition_waits_for_its_objects_and_their_finalizers() {
        let store = Store::new(100);
        let mut inner = store.lock();
        let crd_key = ObjectKey::new(
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "",
            "widgets.example.com",
        );
        let crd = json!({"metadata": {"name": "widgets.example.com", "uid": "c1", "deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": [DEFINITION_CLEANUP]},
                         "spec": {"group": "example.com", "names": {"plural": "widgets", "kind": "Widget"}}});
        inner.write(crd_key.clone(), crd, EventType::Modified);
        let widget_key = ObjectKey::new("example.com", "widgets", "default", "w");
        let widget =
            json!({"metadata": {"name": "w", "uid": "w1", "finalizers": ["example.com/hold"]}});
        inner.write(widget_key.clone(), widget, EventType::Added);
        settle(&mut inner);
        assert!(inner.get(&crd_key).is_some(), "CRD went before its objects");
        assert!(inner.get(&widget_key).is_some_and(is_deleting));
        let mut released = inner.get(&widget_key).cloned().unwrap_or_default();
        set_finalizers(&mut released, &[]);
        inner.write(widget_key.clone(), released, EventType::Modified);
        inner.remove(&widget_key);
        settle(&mut inner);
        assert!(inner.get(&crd_key).is_none());
    }

    #[test]
    fn foreground_deletion_removes_dependents_before_the_owner() {
        let store = Store::new(100);
        let mut inner = store.lock();
        let owner = ObjectKey::new("", "configmaps", "default", "owner");
        let child = ObjectKey::new("", "configmaps", "default", "child");
        let mut deleting_owner = object("owner", "u1", &[]);
        deleting_owner["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        deleting_owner["metadata"]["finalizers"] = json!(["foregroundDeletion"]);
        inner.write(owner.clone(), deleting_owner, EventType::Added);
        inner.write(
            child.clone(),
            object("child", "u2", &["u1"]),
            EventType::Added,
        );
        assert!(collect_garbage(&mut inner));
        assert!(inner.get(&child).is_none());
        assert!(inner.get(&owner).is_some());
        settle(&mut inner);
        assert!(inner.get(&owner).is_none());
    }
}
