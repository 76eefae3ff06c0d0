//! `metadata.managedFields` for the API server: decoding entries into managers, running an
//! apply or recording an update, and encoding the result as kube-apiserver does (one entry per
//! manager, operation, subresource and — for updates — API version; sorted; `time` refreshed
//! when the entry's fields change). Also the two kubectl-compatibility rules kube-apiserver
//! applies to the `kubectl` manager around `kubectl.kubernetes.io/last-applied-configuration`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::fieldpath::{FieldSet, PathElement, readable_path};
use super::schema::Schema;
use super::{ApplyError, Conflict, Managers, Owned, Updater};
use crate::kinds::ResourceType;
use crate::status::{ApiError, cause};

/// The annotation kubectl's client-side apply keeps the last applied configuration in.
pub(crate) const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The manager whose applies keep the last-applied annotation in step (as kube-apiserver does).
const KUBECTL: &str = "kubectl";

/// What a write is, for ownership.
pub(crate) struct Write<'r> {
    /// The resource written.
    pub(crate) resource: &'r ResourceType,
    /// The manager name.
    pub(crate) manager: &'r str,
    /// The subresource written, if any.
    pub(crate) subresource: Option<&'r str>,
    /// `force=true` on an apply.
    pub(crate) force: bool,
    /// The time of the write.
    pub(crate) now: &'r str,
}

/// One managedFields entry's identity and metadata.
#[derive(Debug, Clone)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    subresource: String,
    time: Option<String>,
}

/// kube-apiserver's manager identifier: the entry without fields and time, and without the API
/// version for appliers.
fn identity(manager: &str, operation: &str, api_version: &str, subresource: &str) -> String {
    let mut map = Map::new();
    map.insert("manager".into(), json!(manager));
    map.insert("operation".into(), json!(operation));
    if operation != "Apply" {
        map.insert("apiVersion".into(), json!(api_version));
    }
    if !subresource.is_empty() {
        map.insert("subresource".into(), json!(subresource));
    }
    Value::Object(map).to_string()
}

fn decode(object: Option<&Value>) -> (Managers, BTreeMap<String, Entry>) {
    let mut managers = Managers::new();
    let mut entries = BTreeMap::new();
    let listed = object
        .and_then(|object| object.pointer("/metadata/managedFields"))
        .and_then(Value::as_array);
    for entry in listed.into_iter().flatten() {
        let text = |key: &str| {
            entry
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let decoded = Entry {
            manager: text("manager"),
            operation: text("operation"),
            api_version: text("apiVersion"),
            subresource: text("subresource"),
            time: entry.get("time").and_then(Value::as_str).map(String::from),
        };
        let id = identity(
            &decoded.manager,
            &decoded.operation,
            &decoded.api_version,
            &decoded.subresource,
        );
        let set = FieldSet::from_fields_v1(entry.get("fieldsV1").unwrap_or(&Value::Null));
        managers.insert(
            id.clone(),
            Owned {
                set,
                api_version: decoded.api_version.clone(),
                applied: decoded.operation == "Apply",
            },
        );
        entries.insert(id, decoded);
    }
    (managers, entries)
}

fn encode(
    managers: &Managers,
    before: &Managers,
    entries: &BTreeMap<String, Entry>,
    current: (&str, Entry),
    changed: bool,
    now: &str,
) -> Value {
    let mut encoded: Vec<(Entry, Value)> = Vec::new();
    for (id, owned) in managers {
        let mut entry = match (entries.get(id), id == current.0) {
            (_, true) => current.1.clone(),
            (Some(entry), false) => entry.clone(),
            (None, false) => continue,
        };
        entry.api_version = owned.api_version.clone();
        // Only the writing manager's time moves, and only when its write changed something
        // (kube-apiserver's managedFieldsUpdater); others keep theirs even when they lose fields.
        let current_changed =
            id == current.0 && (changed || before.get(id).is_none_or(|old| old.set != owned.set));
        if current_changed || entry.time.is_none() {
            entry.time = Some(now.to_string());
        }
        encoded.push((entry, owned.set.to_fields_v1()));
    }
    // kube-apiserver's order: operation, time, manager, apiVersion, subresource.
    encoded.sort_by(|(a, _), (b, _)| {
        a.operation
            .cmp(&b.operation)
            .then_with(|| a.time.cmp(&b.time))
            .then_with(|| a.manager.cmp(&b.manager))
            .then_with(|| a.api_version.cmp(&b.api_version))
            .then_with(|| a.subresource.cmp(&b.subresource))
    });
    let list: Vec<Value> = encoded
        .into_iter()
        .map(|(entry, fields)| {
            let mut map = Map::new();
            map.insert("manager".into(), json!(entry.manager));
            map.insert("operation".into(), json!(entry.operation));
            map.insert("apiVersion".into(), json!(entry.api_version));
            map.insert("time".into(), json!(entry.time.unwrap_or_default()));
            map.insert("fieldsType".into(), json!("FieldsV1"));
            map.insert("fieldsV1".into(), fields);
            if !entry.subresource.is_empty() {
                map.insert("subresource".into(), json!(entry.subresource));
            }
            Value::Object(map)
        })
        .collect();
    Value::Array(list)
}

fn schema_for(resource: &ResourceType) -> Schema<'_> {
    match (&resource.schema, resource.custom) {
        (Some(schema), true) => Schema::Openapi(schema),
        (_, true) => Schema::Deduced,
        _ => Schema::builtin(&resource.api_version(), &resource.kind),
    }
}

/// Fields no manager owns: system metadata kube-apiserver strips from every set, and the half
/// of an object a write cannot change (status through the main resource, everything but status
/// through `/status`).
fn ignored(write: &Write<'_>, objects: &[Option<&Value>]) -> FieldSet {
    let mut set = FieldSet::default();
    let field = |name: &str| PathElement::Field(name.to_string());
    for name in ["apiVersion", "kind"] {
        set.insert(&[field(name)]);
    }
    for name in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "generation",
        "managedFields",
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        set.insert(&[field("metadata"), field(name)]);
    }
    match write.subresource {
        Some("status") => {
            for object in objects.iter().flatten() {
                for key in object.as_object().into_iter().flat_map(Map::keys) {
                    if key != "status" {
                        set.insert(&[field(key)]);
                    }
                }
            }
        }
        Some(_) => {}
        None if write.resource.has_status => set.insert(&[field("status")]),
        None => {}
    }
    set
}

/// Sets `metadata.managedFields` on a written object.
fn store(object: &mut Value, managed: Value) {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        if managed.as_array().is_some_and(Vec::is_empty) {
            metadata.remove("managedFields");
        } else {
            metadata.insert("managedFields".into(), managed);
        }
    }
}

/// Records a non-apply write (create, update, patch) of `new` by the write's manager.
pub(crate) fn record_update(write: &Write<'_>, live: Option<&Value>, new: &mut Value) {
    let api_version = write.resource.api_version();
    // A client that sends managedFields different from the stored ones resets them (an empty
    // list clears them all), as kube-apiserver allows.
    let submitted = new.pointer("/metadata/managedFields").cloned();
    let stored = live
        .and_then(|live| live.pointer("/metadata/managedFields"))
        .cloned();
    let base = match (&submitted, live) {
        (Some(submitted), _) if Some(submitted) != stored.as_ref() => {
            Some(json!({"metadata": {"managedFields": submitted}}))
        }
        (_, Some(live)) => Some(live.clone()),
        _ => None,
    };
    let (before, entries) = decode(base.as_ref());
    let mut managers = before.clone();
    let schema = schema_for(write.resource);
    let updater = Updater::new(&schema, ignored(write, &[live, Some(new)]), false);
    let subresource = write.subresource.unwrap_or("");
    let id = identity(write.manager, "Update", &api_version, subresource);
    // kube-apiserver compares a create against an empty object of the kind, in which struct
    // fields such as metadata (and, for built-in kinds, spec and status) already exist, so
    // the creator does not own those containers themselves.
    let skeleton = live.is_none().then(|| {
        let mut empty = Map::new();
        empty.insert("metadata".into(), json!({}));
        if !write.resource.custom {
            for field in ["spec", "status"] {
                if new.get(field).is_some_and(Value::is_object) {
                    empty.insert(field.into(), json!({}));
                }
            }
        }
        Value::Object(empty)
    });
    let changed = updater.update(
        live.or(skeleton.as_ref()),
        new,
        &api_version,
        &mut managers,
        &id,
    );
    let current = Entry {
        manager: write.manager.to_string(),
        operation: "Update".into(),
        api_version: api_version.clone(),
        subresource: subresource.to_string(),
        time: entries.get(&id).and_then(|entry| entry.time.clone()),
    };
    let encoded = encode(
        &managers,
        &before,
        &entries,
        (&id, current),
        changed,
        write.now,
    );
    store(new, encoded);
}

fn conflict_manager(id: &str) -> String {
    let entry: Value = serde_json::from_str(id).unwrap_or(Value::Null);
    let text = |key: &str| entry.get(key).and_then(Value::as_str).unwrap_or("");
    if entry.is_null() {
        return format!("{id:?}");
    }
    let mut out = format!("{:?}", text("manager"));
    if !text("subresource").is_empty() {
        out = format!("{out} with subresource {:?}", text("subresource"));
    }
    if text("operation") == "Update" {
        out = format!("{out} using {}", text("apiVersion"));
    }
    out
}

/// kube-apiserver's 409 for apply conflicts.
fn conflict_error(conflicts: &[Conflict]) -> ApiError {
    let causes = conflicts
        .iter()
        .map(|conflict| {
            cause(
                "FieldManagerConflict",
                &readable_path(&conflict.path),
                format!("conflict with {}", conflict_manager(&conflict.manager)),
            )
        })
        .collect();
    let message = if let [only] = conflicts {
        format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            conflict_manager(&only.manager),
            readable_path(&only.path)
        )
    } else {
        let mut by_manager: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for conflict in conflicts {
            by_manager
                .entry(conflict_manager(&conflict.manager))
                .or_default()
                .push(readable_path(&conflict.path));
        }
        let mut lines = Vec::new();
        for (manager, paths) in by_manager {
            lines.push(format!("conflicts with {manager}:"));
            lines.extend(paths.into_iter().map(|path| format!("- {path}")));
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    let mut error = ApiError::new(409, "Conflict", message);
    error.details.causes = causes;
    error
}

fn last_applied(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/annotations")
        .and_then(|annotations| annotations.get(LAST_APPLIED))
        .and_then(Value::as_str)
}

/// Go's `json.Marshal` of a map: keys sorted.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Whether every conflict is on a field kubectl's client-side apply set last and that nobody
/// changed since (kube-apiserver lets the `kubectl` manager take those over, so moving from
/// client-side to server-side apply does not conflict with `kubectl-client-side-apply`).
fn conflicts_allowed_by_last_applied(
    updater: &Updater<'_, '_>,
    live: &Value,
    conflicts: &[Conflict],
) -> bool {
    let Some(text) = last_applied(live) else {
        return false;
    };
    let Ok(applied) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    let typed = updater.typed();
    let comparison = typed.compare(Some(&applied), Some(live));
    let allowed = typed.field_set(&applied).difference(&comparison.modified);
    conflicts.iter().all(|conflict| allowed.has(&conflict.path))
}

/// Server-side apply of `config` onto `live` (absent when the apply creates). Returns the new
/// object with its managedFields.
pub(crate) fn apply(
    write: &Write<'_>,
    live: Option<&Value>,
    config: &Value,
) -> Result<Value, ApiError> {
    if config
        .pointer("/metadata/managedFields")
        .is_some_and(|managed| !managed.is_null())
    {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    let api_version = write.resource.api_version();
    let (before, entries) = decode(live);
    let schema = schema_for(write.resource);
    let updater = Updater::new(&schema, ignored(write, &[live, Some(config)]), false);
    let subresource = write.subresource.unwrap_or("");
    let id = identity(write.manager, "Apply", &api_version, subresource);
    let mut managers = before.clone();
    let run = |managers: &mut Managers, force: bool| {
        updater.apply(live, config, &api_version, managers, &id, force)
    };
    let mut result = run(&mut managers, write.force);
    if write.manager == KUBECTL
        && let (Err(ApplyError::Conflicts(conflicts)), Some(live)) = (&result, live)
        && conflicts_allowed_by_last_applied(&updater, live, conflicts)
    {
        managers = before.clone();
        result = run(&mut managers, true);
    }
    let mut new = match result {
        Ok(new) => new,
        Err(ApplyError::Conflicts(conflicts)) => return Err(conflict_error(&conflicts)),
        Err(ApplyError::Invalid(message)) => {
            return Err(ApiError::new(
                500,
                "InternalError",
                format!("failed to create typed patch object: {message}"),
            ));
        }
    };
    let current = Entry {
        manager: write.manager.to_string(),
        operation: "Apply".into(),
        api_version: api_version.clone(),
        subresource: subresource.to_string(),
        time: entries.get(&id).and_then(|entry| entry.time.clone()),
    };
    let changed = live.is_none_or(|live| {
        let strip = |object: &Value| {
            let mut copy = object.clone();
            if let Some(metadata) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.remove("managedFields");
                metadata.remove("resourceVersion");
            }
            copy
        };
        strip(live) != strip(&new)
    });
    let encoded = encode(
        &managers,
        &before,
        &entries,
        (&id, current),
        changed,
        write.now,
    );
    store(&mut new, encoded);
    if write.manager == KUBECTL && last_applied(&new).is_some() {
        let mut applied = config.clone();
        if let Some(annotations) = applied
            .pointer_mut("/metadata/annotations")
            .and_then(Value::as_object_mut)
        {
            annotations.remove(LAST_APPLIED);
            if annotations.is_empty()
                && let Some(metadata) = applied.get_mut("metadata").and_then(Value::as_object_mut)
            {
                metadata.remove("annotations");
            }
        }
        let text = sorted(&applied).to_string();
        if let Some(annotations) = new
            .pointer_mut("/metadata/annotations")
            .and_then(Value::as_object_mut)
        {
            annotations.insert(LAST_APPLIED.into(), Value::String(format!("{text}\n")));
        }
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_managers_are_identified_with_their_version_and_appliers_without() {
        assert_eq!(
            identity("kubectl", "Apply", "apps/v1", ""),
            r#"{"manager":"kubectl","operation":"Apply"}"#
        );
        assert_eq!(
            identity("flux", "Update", "apps/v1", "status"),
            r#"{"manager":"flux","operation":"Update","apiVersion":"apps/v1","subresource":"status"}"#
        );
    }

    #[test]
    fn conflicts_are_worded_as_kube_apiserver_words_them() {
        let path = |fields: &[&str]| -> Vec<PathElement> {
            fields
                .iter()
                .map(|field| PathElement::Field(field.to_string()))
                .collect()
        };
        let csa = identity("kubectl-client-side-apply", "Update", "apps/v1", "");
        let one = conflict_error(&[Conflict {
            manager: csa.clone(),
            path: path(&["spec", "replicas"]),
        }]);
        assert_eq!(one.code, 409);
        assert_eq!(
            one.message,
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
        );
        assert_eq!(one.details.causes[0].reason, "FieldManagerConflict");
        assert_eq!(one.details.causes[0].field, ".spec.replicas");
        let two = conflict_error(&[
            Conflict {
                manager: csa,
                path: path(&["spec", "replicas"]),
            },
            Conflict {
                manager: identity("helm", "Apply", "apps/v1", ""),
                path: path(&["metadata", "labels", "app"]),
            },
        ]);
        assert_eq!(
            two.message,
            "Apply failed with 2 conflicts: conflicts with \"helm\":\n- .metadata.labels.app\nconflicts with \"kubectl-client-side-apply\" using apps/v1:\n- .spec.replicas"
        );
    }

    #[test]
    fn last_applied_is_written_with_sorted_keys() {
        let config = json!({"spec": {"b": 1, "a": 2}, "apiVersion": "v1"});
        assert_eq!(
            sorted(&config).to_string(),
            r#"{"apiVersion":"v1","spec":{"a":2,"b":1}}"#
        );
    }
}
