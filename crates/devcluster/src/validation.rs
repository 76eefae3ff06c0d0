//! Validation kube-apiserver applies to every object (labels, annotations, owner references)
//! and the immutable fields of built-in kinds. Immutability matters beyond correctness: tools
//! such as Flux's apply engine recognise the resulting 422 Invalid and recreate the object.

use serde_json::{Value, json};

use crate::kinds::ResourceType;
use crate::object::name_problem;
use crate::status::{ApiError, Cause, cause};

const NAME_PART: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const ANNOTATIONS_LIMIT: usize = 256 * 1024;

fn is_name_part(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn qualified_name_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && let Some(problem) = name_problem(prefix, crate::kinds::NameRule::Subdomain)
    {
        return Some(format!("prefix part {problem}"));
    }
    if name.len() > 63 {
        return Some("name part must be no more than 63 characters".into());
    }
    (!is_name_part(name)).then(|| NAME_PART.to_string())
}

fn string_map_problems(
    object: &Value,
    field: &str,
    labels: bool,
    causes: &mut Vec<Cause>,
) -> Result<(), ApiError> {
    let Some(map) = object.pointer(&format!("/metadata/{field}")) else {
        return Ok(());
    };
    let Some(map) = map.as_object() else {
        if map.is_null() {
            return Ok(());
        }
        return Err(ApiError::bad_request(format!(
            "json: cannot unmarshal {} into Go struct field ObjectMeta.metadata.{field} of type map[string]string",
            if map.is_array() { "array" } else { "value" }
        )));
    };
    let path = format!("metadata.{field}");
    let mut total = 0;
    for (key, value) in map {
        let Some(value) = value.as_str() else {
            return Err(ApiError::bad_request(format!(
                "json: cannot unmarshal {value} into Go struct field ObjectMeta.metadata.{field} of type string"
            )));
        };
        total += key.len() + value.len();
        if let Some(problem) = qualified_name_problem(key) {
            causes.push(cause(
                "FieldValueInvalid",
                &path,
                format!("Invalid value: \"{key}\": {problem}"),
            ));
        }
        if labels && (value.len() > 63 || !(value.is_empty() || is_name_part(value))) {
            let problem = if value.len() > 63 {
                "must be no more than 63 characters"
            } else {
                LABEL_VALUE
            };
            causes.push(cause(
                "FieldValueInvalid",
                &path,
                format!("Invalid value: \"{value}\": {problem}"),
            ));
        }
    }
    if !labels && total > ANNOTATIONS_LIMIT {
        causes.push(cause(
            "FieldValueTooLong",
            &path,
            format!("Too long: must have at most {ANNOTATIONS_LIMIT} bytes"),
        ));
    }
    Ok(())
}

/// Problems with an object's metadata; malformed types are 400s, bad values become causes.
pub(crate) fn metadata_causes(object: &Value) -> Result<Vec<Cause>, ApiError> {
    let mut causes = Vec::new();
    string_map_problems(object, "labels", true, &mut causes)?;
    string_map_problems(object, "annotations", false, &mut causes)?;
    if let Some(references) = object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
    {
        for (index, reference) in references.iter().enumerate() {
            for field in ["apiVersion", "kind", "name", "uid"] {
                let present = reference
                    .get(field)
                    .and_then(Value::as_str)
                    .is_some_and(|v| !v.is_empty());
                if !present {
                    causes.push(cause(
                        "FieldValueInvalid",
                        &format!("metadata.ownerReferences[{index}].{field}"),
                        format!("Invalid value: \"\": {field} must not be empty"),
                    ));
                }
            }
        }
    }
    Ok(causes)
}

fn at<'a>(object: &'a Value, pointer: &str) -> &'a Value {
    object.pointer(pointer).unwrap_or(&Value::Null)
}

fn immutable(field: &str, value: &Value) -> Cause {
    cause(
        "FieldValueInvalid",
        field,
        format!("Invalid value: {value}: field is immutable"),
    )
}

fn without(object: &Value, fields: &[&str]) -> Value {
    let mut copy = object.clone();
    if let Some(map) = copy.as_object_mut() {
        for field in fields {
            map.remove(*field);
        }
    }
    copy
}

/// Carries over fields an update may omit but not clear (a Service's cluster IP).
pub(crate) fn carry_over(resource: &ResourceType, existing: &Value, candidate: &mut Value) {
    if resource.custom || (resource.group.as_str(), resource.kind.as_str()) != ("", "Service") {
        return;
    }
    for field in ["clusterIP", "clusterIPs"] {
        let old = at(existing, &format!("/spec/{field}"));
        if !old.is_null()
            && at(candidate, &format!("/spec/{field}")).is_null()
            && let Some(spec) = candidate.get_mut("spec").and_then(Value::as_object_mut)
        {
            spec.insert(field.into(), old.clone());
        }
    }
}

/// Immutable-field violations of an update to a built-in kind.
pub(crate) fn immutable_causes(
    resource: &ResourceType,
    existing: &Value,
    candidate: &Value,
) -> Vec<Cause> {
    if resource.custom {
        return Vec::new();
    }
    let mut causes = Vec::new();
    let changed = |pointer: &str| at(existing, pointer) != at(candidate, pointer);
    match (resource.group.as_str(), resource.kind.as_str()) {
        ("apps", "Deployment" | "ReplicaSet" | "DaemonSet") if changed("/spec/selector") => {
            causes.push(immutable("spec.selector", at(candidate, "/spec/selector")));
        }
        ("apps", "StatefulSet") => {
            let mutable = [
                "replicas",
                "ordinals",
                "template",
                "updateStrategy",
                "persistentVolumeClaimRetentionPolicy",
                "minReadySeconds",
            ];
            if without(at(existing, "/spec"), &mutable) != without(at(candidate, "/spec"), &mutable)
            {
                causes.push(cause("FieldValueForbidden", "spec", "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"));
            }
        }
        ("batch", "Job") => {
            for (pointer, field) in [
                ("/spec/selector", "spec.selector"),
                ("/spec/template", "spec.template"),
                ("/spec/completionMode", "spec.completionMode"),
            ] {
                if changed(pointer) {
                    causes.push(immutable(field, at(candidate, pointer)));
                }
            }
        }
        ("", "ConfigMap" | "Secret") => {
            if at(existing, "/immutable") == &json!(true) {
                for field in ["data", "binaryData", "stringData", "immutable"] {
                    if changed(&format!("/{field}")) {
                        causes.push(cause(
                            "FieldValueForbidden",
                            field,
                            "Forbidden: field is immutable when `immutable` is set",
                        ));
                    }
                }
            }
            if resource.kind == "Secret" && changed("/type") {
                causes.push(immutable("type", at(candidate, "/type")));
            }
        }
        ("", "Service") => {
            let old = at(existing, "/spec/clusterIP");
            let new = at(candidate, "/spec/clusterIP");
            if !old.is_null() && old != &json!("") && old != new {
                causes.push(cause(
                    "FieldValueInvalid",
                    "spec.clusterIPs[0]",
                    format!("Invalid value: {new}: may not change once set"),
                ));
            }
        }
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding")
            if changed("/roleRef") =>
        {
            causes.push(cause(
                "FieldValueInvalid",
                "roleRef",
                format!(
                    "Invalid value: {}: cannot change roleRef",
                    at(candidate, "/roleRef")
                ),
            ));
        }
        ("", "PersistentVolumeClaim") => {
            let mutable = ["resources", "volumeAttributesClassName", "volumeName"];
            if without(at(existing, "/spec"), &mutable) != without(at(candidate, "/spec"), &mutable)
            {
                causes.push(cause("FieldValueForbidden", "spec", "Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"));
            }
        }
        ("storage.k8s.io", "StorageClass") => {
            for field in [
                "parameters",
                "provisioner",
                "reclaimPolicy",
                "volumeBindingMode",
            ] {
                if changed(&format!("/{field}")) {
                    causes.push(cause(
                        "FieldValueForbidden",
                        field,
                        format!("Forbidden: updates to {field} are forbidden."),
                    ));
                }
            }
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") if changed("/spec/group") => {
            causes.push(immutable("spec.group", at(candidate, "/spec/group")));
        }
        _ => {}
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    fn resource(group: &str, version: &str, plural: &str) -> std::sync::Arc<ResourceType> {
        let found = Registry::default().find(group, version, plural);
        let Some(found) = found else {
            panic!("no {plural}");
        };
        found
    }

    #[test]
    fn bad_label_keys_and_values_are_invalid() {
        let object = json!({"metadata": {"labels": {"good": "yes", "bad key": "x", "k": "-nope"}}});
        let causes = metadata_causes(&object).unwrap_or_default();
        assert_eq!(causes.len(), 2, "{causes:?}");
        assert!(causes.iter().all(|cause| cause.field == "metadata.labels"));
        let numeric = json!({"metadata": {"labels": {"a": 1}}});
        assert_eq!(
            metadata_causes(&numeric).map_err(|error| error.code),
            Err(400)
        );
    }

    #[test]
    fn deployment_selectors_are_immutable() {
        let deployments = resource("apps", "v1", "deployments");
        let old = json!({"spec": {"selector": {"matchLabels": {"app": "a"}}, "replicas": 1}});
        let scaled = json!({"spec": {"selector": {"matchLabels": {"app": "a"}}, "replicas": 3}});
        assert!(immutable_causes(&deployments, &old, &scaled).is_empty());
        let moved = json!({"spec": {"selector": {"matchLabels": {"app": "b"}}}});
        let causes = immutable_causes(&deployments, &old, &moved);
        assert!(causes[0].text().contains("field is immutable"));
    }

    #[test]
    fn immutable_config_maps_refuse_data_changes() {
        let config_maps = resource("", "v1", "configmaps");
        let old = json!({"immutable": true, "data": {"a": "1"}});
        let new = json!({"immutable": true, "data": {"a": "2"}});
        assert_eq!(immutable_causes(&config_maps, &old, &new)[0].field, "data");
    }

    #[test]
    fn services_keep_their_cluster_ip() {
        let services = resource("", "v1", "services");
        let old = json!({"spec": {"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"]}});
        let mut new = json!({"spec": {"ports": []}});
        carry_over(&services, &old, &mut new);
        assert_eq!(new["spec"]["clusterIP"], "10.96.0.10");
        let changed = json!({"spec": {"clusterIP": "10.96.0.11"}});
        assert!(
            immutable_causes(&services, &old, &changed)[0]
                .message
                .contains("may not change once set")
        );
    }
}
