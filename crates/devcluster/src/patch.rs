//! The patch formats: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and a strategic merge
//! patch for built-in kinds. The strategic merge is driven by a table of the list merge keys
//! kubectl's client-side apply relies on (containers by name, ports, env, volumes, ...) and the
//! `$patch`, `$retainKeys`, `$setElementOrder` and `$deleteFromPrimitiveList` directives; it is
//! not schema-driven, so lists it does not know are replaced, like atomic lists.
//! Server-side apply (`application/apply-patch+yaml`) is not a patch format here: the caller
//! hands it to `ssa`, which merges by schema and tracks field ownership.

use serde_json::{Map, Value};

use crate::status::ApiError;

/// The supported patch content types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchType {
    /// `application/merge-patch+json`.
    Merge,
    /// `application/json-patch+json`.
    Json,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/apply-patch+yaml`.
    Apply,
}

impl PatchType {
    /// The patch type a Content-Type header names.
    pub(crate) fn from_content_type(content_type: &str) -> Option<Self> {
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        match media_type {
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/json-patch+json" => Some(PatchType::Json),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => {
                Some(PatchType::Apply)
            }
            _ => None,
        }
    }
}

/// Applies a JSON patch document; errors carry kube-apiserver's codes (400 unparsable, 422 failing).
/// Like kube-apiserver's JSON patch library, a `test` for `null` passes on a missing path —
/// kube-rs's finalizer helper relies on that to add the first finalizer safely.
pub(crate) fn apply_json_patch(target: &mut Value, body: &[u8]) -> Result<(), ApiError> {
    let operations: Vec<Value> = serde_json::from_slice(body)
        .map_err(|error| ApiError::bad_request(format!("error decoding patch: {error}")))?;
    for (index, operation) in operations.into_iter().enumerate() {
        let path = operation.get("path").and_then(Value::as_str).unwrap_or("");
        if operation.get("op").and_then(Value::as_str) == Some("test")
            && operation.get("value").is_some_and(Value::is_null)
            && target.pointer(path).is_none()
        {
            continue;
        }
        let parsed: json_patch::PatchOperation = serde_json::from_value(operation)
            .map_err(|error| ApiError::bad_request(format!("error decoding patch: {error}")))?;
        json_patch::patch(target, &json_patch::Patch(vec![parsed])).map_err(|error| {
            let detail =
                error
                    .to_string()
                    .replacen("operation '/0'", &format!("operation '/{index}'"), 1);
            ApiError::new(
                422,
                "Invalid",
                format!("the server rejected our request due to an error in our request: {detail}"),
            )
        })?;
    }
    Ok(())
}

/// Parses a JSON object patch body (merge or strategic).
pub(crate) fn parse_object_patch(body: &[u8]) -> Result<Value, ApiError> {
    let patch: Value = serde_json::from_slice(body)
        .map_err(|error| ApiError::bad_request(format!("error decoding patch: {error}")))?;
    if !patch.is_object() {
        return Err(ApiError::bad_request(
            "error decoding patch: the patch must be a JSON object",
        ));
    }
    Ok(patch)
}

/// Applies a JSON merge patch.
pub(crate) fn apply_merge_patch(target: &mut Value, patch: &Value) {
    json_patch::merge(target, patch);
}

/// The merge key of a list field, when it is merged rather than replaced.
fn merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    let has = |key: &str| items.iter().any(|item| item.get(key).is_some());
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims"
        | "secrets"
        | "readinessGates" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "hostAliases" => Some("ip"),
        "conditions" => Some("type"),
        "ownerReferences" => Some("uid"),
        "ports" if has("containerPort") => Some("containerPort"),
        "ports" => Some("port"),
        "topologySpreadConstraints" => Some("topologyKey"),
        _ => None,
    }
}

/// Lists of scalars merged as sets.
fn is_set_list(field: &str) -> bool {
    field == "finalizers"
}

/// Applies a strategic merge patch to an object of a built-in kind.
pub(crate) fn apply_strategic_patch(target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    merge_map(target, patch)
}

fn merge_map(target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    match patch_map.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut replacement = patch_map.clone();
            replacement.remove("$patch");
            *target = Value::Object(replacement);
            return Ok(());
        }
        Some("delete") => {
            *target = Value::Null;
            return Ok(());
        }
        Some("merge") | None => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown patch type: {other} in map"
            )));
        }
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target_map) = target else {
        return Ok(());
    };
    if let Some(Value::Array(retained)) = patch_map.get("$retainKeys") {
        let keep: Vec<&str> = retained.iter().filter_map(Value::as_str).collect();
        target_map.retain(|key, _| keep.contains(&key.as_str()));
    }
    for (key, value) in patch_map {
        if key == "$patch" || key == "$retainKeys" || key.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(items)), Value::Array(removed)) =
                (target_map.get_mut(field), value)
            {
                items.retain(|item| !removed.contains(item));
            }
            continue;
        }
        match value {
            Value::Null => {
                target_map.remove(key);
            }
            Value::Object(_) => {
                let child = target_map.entry(key.clone()).or_insert(Value::Null);
                merge_map(child, value)?;
                if child.is_null() {
                    target_map.remove(key);
                }
            }
            Value::Array(items) => {
                let existing = target_map.remove(key);
                let merged = merge_list(key, existing, items)?;
                target_map.insert(key.clone(), merged);
            }
            scalar => {
                target_map.insert(key.clone(), scalar.clone());
            }
        }
    }
    Ok(())
}

fn merge_list(field: &str, existing: Option<Value>, patch: &[Value]) -> Result<Value, ApiError> {
    if patch
        .iter()
        .any(|item| item.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return Ok(Value::Array(
            patch
                .iter()
                .filter(|item| item.get("$patch").is_none())
                .cloned()
                .collect(),
        ));
    }
    let mut current = match existing {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    if is_set_list(field) {
        for item in patch {
            if !current.contains(item) {
                current.push(item.clone());
            }
        }
        return Ok(Value::Array(current));
    }
    let Some(key) = merge_key(field, patch) else {
        return Ok(Value::Array(patch.to_vec()));
    };
    for item in patch {
        let Some(identity) = item.get(key) else {
            return Err(ApiError::bad_request(format!(
                "map: {item} does not contain declared merge key: {key}"
            )));
        };
        let position = current
            .iter()
            .position(|existing| existing.get(key) == Some(identity));
        let deleting = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (position, deleting) {
            (Some(index), true) => {
                current.remove(index);
            }
            (None, true) => {}
            (Some(index), false) => merge_map(&mut current[index], item)?,
            (None, false) => {
                let mut added = Value::Null;
                merge_map(&mut added, item)?;
                current.push(added);
            }
        }
    }
    Ok(Value::Array(current))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_patch_merges_containers_by_name() {
        let mut deployment = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80}]},
            {"name": "sidecar", "image": "busybox"}
        ]}}}});
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
            "containers": [{"name": "web", "image": "nginx:2"}]
        }}}});
        assert_eq!(apply_strategic_patch(&mut deployment, &patch), Ok(()));
        let containers = &deployment["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers[0]["image"], "nginx:2");
        assert_eq!(containers[0]["ports"][0]["containerPort"], 80);
        assert_eq!(containers[1]["name"], "sidecar");
    }

    #[test]
    fn strategic_patch_honours_delete_and_replace_directives() {
        let mut object =
            json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}], "x": {"y": 1, "z": 2}}});
        let patch = json!({"spec": {
            "containers": [{"name": "a", "$patch": "delete"}],
            "x": {"$patch": "replace", "w": 3}
        }});
        assert_eq!(apply_strategic_patch(&mut object, &patch), Ok(()));
        assert_eq!(object["spec"]["containers"], json!([{"name": "b"}]));
        assert_eq!(object["spec"]["x"], json!({"w": 3}));
    }

    #[test]
    fn strategic_patch_deletes_null_fields_and_replaces_unknown_lists() {
        let mut object =
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"args": ["x", "y"]}});
        let patch = json!({"metadata": {"labels": {"a": null}}, "spec": {"args": ["z"]}});
        assert_eq!(apply_strategic_patch(&mut object, &patch), Ok(()));
        assert_eq!(object["metadata"]["labels"], json!({"b": "2"}));
        assert_eq!(object["spec"]["args"], json!(["z"]));
    }

    #[test]
    fn failing_json_patch_operations_are_unprocessable() {
        let mut object = json!({"a": 1});
        let error = apply_json_patch(&mut object, br#"[{"op": "remove", "path": "/b"}]"#);
        assert_eq!(error.map_err(|error| error.code), Err(422));
        let error = apply_json_patch(&mut object, b"{not json");
        assert_eq!(error.map_err(|error| error.code), Err(400));
        assert_eq!(
            apply_json_patch(
                &mut object,
                br#"[{"op": "replace", "path": "/a", "value": 2}]"#
            ),
            Ok(())
        );
        assert_eq!(object, json!({"a": 2}));
    }

    #[test]
    fn testing_for_null_passes_on_a_missing_path() {
        let mut object = json!({"metadata": {}});
        let patch = br#"[{"op":"test","path":"/metadata/finalizers","value":null},{"op":"add","path":"/metadata/finalizers","value":["x"]}]"#;
        assert_eq!(apply_json_patch(&mut object, patch), Ok(()));
        assert_eq!(object["metadata"]["finalizers"], json!(["x"]));
        let failing = br#"[{"op":"test","path":"/metadata/finalizers","value":null}]"#;
        assert_eq!(
            apply_json_patch(&mut object, failing).map_err(|e| e.code),
            Err(422)
        );
    }
}
