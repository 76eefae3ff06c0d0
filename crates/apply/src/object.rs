//! Reading the identity and metadata of JSON Kubernetes objects.

use std::collections::BTreeMap;

use eddy_api::kustomize::v1::ObjectId;
use serde_json::Value;

/// The identity of an object and the API version it is written in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    /// API group, empty for the core group.
    pub group: String,
    /// API version within the group, e.g. `v1`.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Namespace, empty for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectRef {
    /// Reads `apiVersion`, `kind`, `metadata.namespace` and `metadata.name`.
    pub fn of(object: &Value) -> Self {
        let api_version = text(object, "/apiVersion");
        let (group, version) = split_api_version(api_version);
        Self {
            group: group.to_string(),
            version: version.to_string(),
            kind: text(object, "/kind").to_string(),
            namespace: text(object, "/metadata/namespace").to_string(),
            name: text(object, "/metadata/name").to_string(),
        }
    }

    /// `group/version`, or just `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The inventory identity (no version).
    pub fn id(&self) -> ObjectId {
        ObjectId::new(&self.namespace, &self.name, &self.group, &self.kind)
    }

    /// Flux's subject notation: `Kind/namespace/name`, or `Kind/name` when cluster-scoped.
    pub fn subject(&self) -> String {
        subject(&self.kind, &self.namespace, &self.name)
    }
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.subject())
    }
}

/// `Kind/namespace/name`, or `Kind/name` without a namespace (fluxcd/pkg `FmtObjMetadata`).
pub fn subject(kind: &str, namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        format!("{kind}/{name}")
    } else {
        format!("{kind}/{namespace}/{name}")
    }
}

/// Splits `apps/v1` into (`apps`, `v1`) and `v1` into (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

/// The string at a JSON pointer, or empty.
pub(crate) fn text<'value>(object: &'value Value, pointer: &str) -> &'value str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The labels of an object.
pub fn labels(object: &Value) -> BTreeMap<&str, &str> {
    string_map(object, "/metadata/labels")
}

/// The annotations of an object.
pub fn annotations(object: &Value) -> BTreeMap<&str, &str> {
    string_map(object, "/metadata/annotations")
}

fn string_map<'value>(object: &'value Value, pointer: &str) -> BTreeMap<&'value str, &'value str> {
    object
        .pointer(pointer)
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(key, value)| Some((key.as_str(), value.as_str()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether any `key: value` of `selector` is a label or annotation of the object, values
/// compared case-insensitively (fluxcd/pkg `AnyInMetadata`).
pub fn any_in_metadata(object: &Value, selector: &[(&str, &str)]) -> bool {
    let labels = labels(object);
    let annotations = annotations(object);
    selector.iter().any(|(key, expected)| {
        [labels.get(key), annotations.get(key)]
            .into_iter()
            .flatten()
            .any(|value| !value.is_empty() && value.eq_ignore_ascii_case(expected))
    })
}

/// The Jobs among `objects` that set `spec.ttlSecondsAfterFinished`, which the cluster
/// deletes once finished (fluxcd/pkg `ExtractJobsWithTTL`); pass them as
/// [`crate::WaitOptions::jobs_with_ttl`].
pub fn jobs_with_ttl(objects: &[Value]) -> Vec<ObjectRef> {
    objects
        .iter()
        .filter(|object| {
            text(object, "/kind") == "Job"
                && text(object, "/apiVersion").starts_with("batch/")
                && object
                    .pointer("/spec/ttlSecondsAfterFinished")
                    .is_some_and(Value::is_i64)
        })
        .map(ObjectRef::of)
        .collect()
}

/// Sets labels on an object, creating `metadata.labels` when needed.
pub fn set_labels(object: &mut Value, labels: &[(&str, &str)]) {
    set_metadata_map(object, "labels", labels);
}

/// Sets annotations on an object, creating `metadata.annotations` when needed.
pub fn set_annotations(object: &mut Value, annotations: &[(&str, &str)]) {
    set_metadata_map(object, "annotations", annotations);
}

fn set_metadata_map(object: &mut Value, field: &str, entries: &[(&str, &str)]) {
    if entries.is_empty() {
        return;
    }
    let Some(root) = object.as_object_mut() else {
        return;
    };
    let metadata = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    let Some(metadata) = metadata.as_object_mut() else {
        return;
    };
    let map = metadata
        .entry(field)
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    if !map.is_object() {
        *map = Value::Object(serde_json::Map::new());
    }
    if let Some(map) = map.as_object_mut() {
        for (key, value) in entries {
            map.insert((*key).to_string(), Value::String((*value).to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reference_reads_group_version_kind_namespace_and_name() {
        let object = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "app", "namespace": "dev"}});
        let reference = ObjectRef::of(&object);
        assert_eq!(reference.group, "apps");
        assert_eq!(reference.version, "v1");
        assert_eq!(reference.api_version(), "apps/v1");
        assert_eq!(reference.subject(), "Deployment/dev/app");
        assert_eq!(reference.id().to_id(), "dev_app_apps_Deployment");
    }

    #[test]
    fn core_cluster_scoped_reference_has_empty_group_and_namespace() {
        let object = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}});
        let reference = ObjectRef::of(&object);
        assert_eq!(reference.api_version(), "v1");
        assert_eq!(reference.subject(), "Namespace/dev");
        assert_eq!(reference.id().to_id(), "_dev__Namespace");
    }

    #[test]
    fn metadata_selector_matches_labels_or_annotations_ignoring_case() {
        let object = json!({"metadata": {"labels": {"a": "Disabled"},
            "annotations": {"b": "IfNotPresent"}}});
        assert!(any_in_metadata(&object, &[("a", "disabled")]));
        assert!(any_in_metadata(
            &object,
            &[("x", "y"), ("b", "ifnotpresent")]
        ));
        assert!(!any_in_metadata(&object, &[("a", "enabled")]));
        assert!(!any_in_metadata(&json!({}), &[("a", "")]));
    }

    #[test]
    fn only_jobs_with_a_ttl_are_listed() {
        let objects = [
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "ttl"},
                "spec": {"ttlSecondsAfterFinished": 60}}),
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "plain"},
                "spec": {}}),
            json!({"apiVersion": "example.com/v1", "kind": "Job", "metadata": {"name": "other"},
                "spec": {"ttlSecondsAfterFinished": 60}}),
        ];
        let names: Vec<String> = jobs_with_ttl(&objects)
            .into_iter()
            .map(|object| object.name)
            .collect();
        assert_eq!(names, ["ttl"]);
    }

    #[test]
    fn setting_labels_creates_missing_metadata() {
        let mut object = json!({"kind": "ConfigMap"});
        set_labels(&mut object, &[("a", "1")]);
        set_annotations(&mut object, &[("b", "2")]);
        assert_eq!(object["metadata"]["labels"]["a"], "1");
        assert_eq!(object["metadata"]["annotations"]["b"], "2");
    }
}
