//! Storage: one ordered map of JSON objects, one global resourceVersion counter and a bounded
//! log of changes that watches replay from. Everything sits behind one mutex that is never held
//! across an `.await`, so every request sees a consistent snapshot and resourceVersions are
//! handed out in exactly the order changes become visible to watchers. With a data directory,
//! each change is also appended to the write-ahead log (`persist`) under that lock, before any
//! watcher or response sees it.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::{Notify, broadcast};

use crate::persist::{Journal, Loaded, PERSISTED_HISTORY};
use crate::registry::Registry;

/// Where an object lives: its storage identity, independent of the API version it is read in.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub(crate) struct ObjectKey {
    /// API group.
    pub(crate) group: String,
    /// Plural resource name.
    pub(crate) resource: String,
    /// Namespace, empty for cluster-scoped objects.
    pub(crate) namespace: String,
    /// Object name.
    pub(crate) name: String,
}

impl ObjectKey {
    /// Builds a key.
    pub(crate) fn new(group: &str, resource: &str, namespace: &str, name: &str) -> Self {
        ObjectKey {
            group: group.into(),
            resource: resource.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

/// The type of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    /// The object was created.
    Added,
    /// The object changed.
    Modified,
    /// The object was removed.
    Deleted,
}

/// One change, as kept in the log and fanned out to watchers.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    /// The resourceVersion the change produced.
    pub(crate) resource_version: u64,
    /// What happened.
    pub(crate) event_type: EventType,
    /// Which object.
    pub(crate) key: ObjectKey,
    /// The object after the change (its last state, for deletions).
    pub(crate) object: Value,
    /// The object before the change, for modifications; watches with selectors use it to
    /// turn an object leaving or entering the selection into DELETED or ADDED.
    pub(crate) previous: Option<Value>,
}

/// The state behind the lock.
pub(crate) struct Inner {
    objects: BTreeMap<ObjectKey, Value>,
    /// Indexes the garbage collector reads so a pass costs what is owned or deleting, not
    /// everything stored.
    uids: HashMap<String, ObjectKey>,
    owned: BTreeSet<ObjectKey>,
    deleting: BTreeSet<ObjectKey>,
    resource_version: u64,
    log: VecDeque<Arc<Change>>,
    log_capacity: usize,
    /// Every change with a resourceVersion above this is in the log.
    log_floor: u64,
    sender: broadcast::Sender<Arc<Change>>,
    /// The write-ahead log, when a data directory is configured.
    journal: Option<Journal>,
    /// The served resources; CRDs change it, so it shares the lock with the objects.
    pub(crate) registry: Registry,
}

/// Shared storage.
pub(crate) struct Store {
    inner: Mutex<Inner>,
    /// Woken after changes that may leave garbage (deletions, owner references, namespaces).
    pub(crate) collector_wakeup: Notify,
}

impl Store {
    /// An empty store keeping `log_capacity` changes for watches.
    pub(crate) fn new(log_capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(8192);
        Store {
            inner: Mutex::new(Inner {
                objects: BTreeMap::new(),
                uids: HashMap::new(),
                owned: BTreeSet::new(),
                deleting: BTreeSet::new(),
                resource_version: 0,
                log: VecDeque::new(),
                log_capacity: log_capacity.max(1),
                log_floor: 0,
                sender,
                journal: None,
                registry: Registry::default(),
            }),
            collector_wakeup: Notify::new(),
        }
    }

    /// Locks the state. A panic while holding the lock cannot leave a half-written object
    /// (writes are single map operations), so a poisoned lock is still usable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Inner {
    /// The current (latest) resourceVersion.
    pub(crate) fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// The lowest resourceVersion a watch may start from.
    pub(crate) fn log_floor(&self) -> u64 {
        self.log_floor
    }

    /// One object.
    pub(crate) fn get(&self, key: &ObjectKey) -> Option<&Value> {
        self.objects.get(key)
    }

    /// Objects of a resource, optionally in one namespace, in key order, starting after `after`.
    pub(crate) fn list<'a>(
        &'a self,
        group: &'a str,
        resource: &'a str,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a Value)> + 'a {
        let start = ObjectKey::new(group, resource, namespace.unwrap_or(""), "");
        self.objects.range(start..).take_while(move |(key, _)| {
            key.group == group
                && key.resource == resource
                && namespace.is_none_or(|namespace| key.namespace == namespace)
        })
    }

    /// Like [`Inner::list`], but starting after the object `after` (namespace, name): the
    /// continuation of a paginated list, without walking the pages before it.
    pub(crate) fn list_after<'a>(
        &'a self,
        group: &'a str,
        resource: &'a str,
        namespace: Option<&'a str>,
        after: Option<(&str, &str)>,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a Value)> + 'a {
        use std::ops::Bound;
        let start = match after {
            Some((after_namespace, after_name)) => {
                Bound::Excluded(ObjectKey::new(group, resource, after_namespace, after_name))
            }
            None => Bound::Included(ObjectKey::new(group, resource, namespace.unwrap_or(""), "")),
        };
        self.objects
            .range((start, Bound::Unbounded))
            .take_while(move |(key, _)| key.group == group && key.resource == resource)
            .filter(move |(key, _)| namespace.is_none_or(|namespace| key.namespace == namespace))
    }

    /// Every object, in key order.
    pub(crate) fn all(&self) -> impl Iterator<Item = (&ObjectKey, &Value)> {
        self.objects.iter()
    }

    /// Stores an object under a fresh resourceVersion and records the change.
    pub(crate) fn write(
        &mut self,
        key: ObjectKey,
        mut object: Value,
        event_type: EventType,
    ) -> Value {
        self.resource_version += 1;
        set_resource_version(&mut object, self.resource_version);
        self.index(&key, Some(&object));
        let previous = self.objects.insert(key.clone(), object.clone());
        self.record(key, object.clone(), event_type, previous);
        object
    }

    /// Removes an object, recording a DELETED change carrying a fresh resourceVersion.
    pub(crate) fn remove(&mut self, key: &ObjectKey) -> Option<Value> {
        let mut object = self.objects.remove(key)?;
        self.index(key, None);
        if let Some(uid) = object.pointer("/metadata/uid").and_then(Value::as_str) {
            self.uids.remove(uid);
        }
        self.resource_version += 1;
        set_resource_version(&mut object, self.resource_version);
        self.record(key.clone(), object.clone(), EventType::Deleted, None);
        Some(object)
    }

    fn index(&mut self, key: &ObjectKey, object: Option<&Value>) {
        let owned = object
            .and_then(|object| object.pointer("/metadata/ownerReferences"))
            .and_then(Value::as_array)
            .is_some_and(|references| !references.is_empty());
        let deleting = object
            .and_then(|object| object.pointer("/metadata/deletionTimestamp"))
            .is_some_and(|stamp| !stamp.is_null());
        for (set, member) in [(&mut self.owned, owned), (&mut self.deleting, deleting)] {
            if member {
                set.insert(key.clone());
            } else {
                set.remove(key);
            }
        }
        if let Some(uid) = object
            .and_then(|object| object.pointer("/metadata/uid"))
            .and_then(Value::as_str)
        {
            self.uids.insert(uid.to_string(), key.clone());
        }
    }

    /// The object with a uid.
    pub(crate) fn by_uid(&self, uid: &str) -> Option<&ObjectKey> {
        self.uids.get(uid)
    }

    /// Objects that have owner references.
    pub(crate) fn owned_keys(&self) -> Vec<ObjectKey> {
        self.owned.iter().cloned().collect()
    }

    /// Objects with a deletionTimestamp.
    pub(crate) fn deleting_keys(&self) -> Vec<ObjectKey> {
        self.deleting.iter().cloned().collect()
    }

    fn record(
        &mut self,
        key: ObjectKey,
        object: Value,
        event_type: EventType,
        previous: Option<Value>,
    ) {
        let change = Arc::new(Change {
            resource_version: self.resource_version,
            event_type,
            key,
            object,
            previous,
        });
        if self.log.len() >= self.log_capacity
            && let Some(dropped) = self.log.pop_front()
        {
            self.log_floor = dropped.resource_version;
        }
        self.log.push_back(change.clone());
        // On disk before any watcher (or the writer's response) can see it.
        self.journal_append(&change);
        // Nobody listening is fine: watchers subscribe before reading the log.
        let _ = self.sender.send(change);
    }

    /// Logs a change to the data directory, compacting the log when it has grown. A failing
    /// disk cannot undo the change in memory; it is reported loudly instead.
    fn journal_append(&mut self, change: &Change) {
        let Some(mut journal) = self.journal.take() else {
            return;
        };
        if let Err(error) = journal.append(change) {
            tracing::error!(%error, "the change could not be persisted");
        }
        if journal.wants_compaction()
            && let Err(error) = self.compact_into(&mut journal)
        {
            tracing::error!(%error, "compacting the data directory failed");
        }
        self.journal = Some(journal);
    }

    fn compact_into(&self, journal: &mut Journal) -> Result<(), crate::persist::DataDirError> {
        let skip = self.log.len().saturating_sub(PERSISTED_HISTORY);
        let log_floor = match skip {
            0 => self.log_floor,
            _ => self.log[skip - 1].resource_version,
        };
        journal.compact(
            self.resource_version,
            log_floor,
            self.objects.iter(),
            self.log.iter().skip(skip).map(AsRef::as_ref),
        )
    }

    /// Stops logging to the data directory (at shutdown), releasing it for the next server;
    /// anything still written afterwards stays in memory.
    pub(crate) fn close_journal(&mut self) {
        self.journal = None;
    }

    /// Replaces the (empty) state with what a data directory held, then keeps logging to it.
    /// The state is compacted into a fresh snapshot right away, which also clears out any
    /// damaged log tail for good.
    pub(crate) fn restore(
        &mut self,
        loaded: Loaded,
        mut journal: Journal,
    ) -> Result<(), crate::persist::DataDirError> {
        self.resource_version = loaded.resource_version;
        self.log_floor = loaded.log_floor;
        for (key, object) in loaded.objects {
            self.index(&key, Some(&object));
            self.objects.insert(key, object);
        }
        let skip = loaded.changes.len().saturating_sub(self.log_capacity);
        // `previous` feeds selector transitions; rebuild it from the history itself.
        let mut latest: HashMap<ObjectKey, Value> = HashMap::new();
        for (index, stored) in loaded.changes.into_iter().enumerate() {
            let event_type: EventType = stored.event_type.into();
            let previous = match event_type {
                EventType::Modified => latest.get(&stored.key).cloned(),
                EventType::Added | EventType::Deleted => None,
            };
            if event_type == EventType::Deleted {
                latest.remove(&stored.key);
            } else {
                latest.insert(stored.key.clone(), stored.object.clone());
            }
            if index < skip {
                self.log_floor = self.log_floor.max(stored.resource_version);
                continue;
            }
            self.log.push_back(Arc::new(Change {
                resource_version: stored.resource_version,
                event_type,
                key: stored.key,
                object: stored.object,
                previous,
            }));
        }
        self.compact_into(&mut journal)?;
        self.journal = Some(journal);
        Ok(())
    }

    /// Changes after `resource_version` still in the log, oldest first.
    pub(crate) fn changes_since(&self, resource_version: u64) -> Vec<Arc<Change>> {
        let start = self
            .log
            .partition_point(|change| change.resource_version <= resource_version);
        self.log.range(start..).cloned().collect()
    }

    /// A receiver of every later change.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.sender.subscribe()
    }
}

/// Sets `metadata.resourceVersion`.
pub(crate) fn set_resource_version(object: &mut Value, resource_version: u64) {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert(
            "resourceVersion".into(),
            Value::String(resource_version.to_string()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_get_increasing_resource_versions_and_land_in_the_log() {
        let store = Store::new(10);
        let mut inner = store.lock();
        let key = ObjectKey::new("", "configmaps", "default", "a");
        let first = inner.write(
            key.clone(),
            json!({"metadata": {"name": "a"}}),
            EventType::Added,
        );
        let second = inner.write(
            key.clone(),
            json!({"metadata": {"name": "a"}}),
            EventType::Modified,
        );
        assert_eq!(first["metadata"]["resourceVersion"], "1");
        assert_eq!(second["metadata"]["resourceVersion"], "2");
        assert_eq!(inner.changes_since(1).len(), 1);
        let removed = inner.remove(&key);
        assert_eq!(
            removed.map(|object| object["metadata"]["resourceVersion"].clone()),
            Some(json!("3"))
        );
        assert!(inner.get(&key).is_none());
    }

    #[test]
    fn indexes_follow_owner_references_deletion_and_uids() {
        let store = Store::new(10);
        let mut inner = store.lock();
        let key = ObjectKey::new("", "configmaps", "default", "a");
        let owned = json!({"metadata": {"uid": "u1", "ownerReferences": [{"uid": "u0"}]}});
        inner.write(key.clone(), owned, EventType::Added);
        assert_eq!(inner.owned_keys(), vec![key.clone()]);
        assert_eq!(inner.by_uid("u1"), Some(&key));
        let deleting =
            json!({"metadata": {"uid": "u1", "deletionTimestamp": "2026-01-01T00:00:00Z"}});
        inner.write(key.clone(), deleting, EventType::Modified);
        assert!(inner.owned_keys().is_empty());
        assert_eq!(inner.deleting_keys(), vec![key.clone()]);
        inner.remove(&key);
        assert!(inner.deleting_keys().is_empty());
        assert_eq!(inner.by_uid("u1"), None);
    }

    #[test]
    fn the_log_floor_rises_as_old_changes_are_dropped() {
        let store = Store::new(2);
        let mut inner = store.lock();
        for name in ["a", "b", "c"] {
            let key = ObjectKey::new("", "configmaps", "default", name);
            inner.write(key, json!({"metadata": {"name": name}}), EventType::Added);
        }
        assert_eq!(inner.log_floor(), 1);
        assert_eq!(inner.changes_since(1).len(), 2);
    }

    #[test]
    fn listing_stays_inside_one_resource_and_namespace() {
        let store = Store::new(10);
        let mut inner = store.lock();
        for (resource, namespace, name) in [
            ("configmaps", "a", "x"),
            ("configmaps", "b", "y"),
            ("secrets", "a", "z"),
        ] {
            let key = ObjectKey::new("", resource, namespace, name);
            inner.write(key, json!({"metadata": {}}), EventType::Added);
        }
        assert_eq!(inner.list("", "configmaps", None).count(), 2);
        assert_eq!(inner.list("", "configmaps", Some("a")).count(), 1);
        assert_eq!(inner.list("", "secrets", Some("b")).count(), 0);
    }
}
