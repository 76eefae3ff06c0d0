//! Normalising built objects before they are applied (fluxcd/pkg `ssa/normalize`
//! `UnstructuredList`, which kustomize-controller runs on every build).
//!
//! The API server defaults some fields and rewrites others; sending the object already in
//! that form keeps the dry-run comparison stable and avoids ownership of fields the user never
//! wrote:
//!
//! - container and Service ports without a protocol get `TCP`;
//! - a Secret's `stringData` is folded into `data` (base64), as the API server would;
//! - `status` is dropped from everything but CustomResourceDefinitions.
//!
//! Flux also round-trips built-in kinds through their Go types, which drops unknown fields
//! and canonicalises quantities; that part is not reproduced here.

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::object::text;
use crate::stages::is_custom_resource_definition;

/// Normalises every object (`UnstructuredList`); Roles and ClusterRoles are left as they are.
pub fn normalize_objects(objects: &mut [Value]) {
    for object in objects {
        let is_role = text(object, "/apiVersion") == "rbac.authorization.k8s.io/v1"
            && matches!(text(object, "/kind"), "Role" | "ClusterRole");
        if !is_role {
            normalize_object(object);
        }
    }
}

/// Normalises one object.
pub fn normalize_object(object: &mut Value) {
    let group = text(object, "/apiVersion")
        .rsplit_once('/')
        .map(|(group, _)| group.to_string())
        .unwrap_or_default();
    let kind = text(object, "/kind").to_string();
    match (group.as_str(), kind.as_str()) {
        ("", "Pod") => default_container_protocols(object.pointer_mut("/spec")),
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") | ("batch", "Job") => {
            default_container_protocols(object.pointer_mut("/spec/template/spec"));
        }
        ("batch", "CronJob") => {
            default_container_protocols(object.pointer_mut("/spec/jobTemplate/spec/template/spec"));
        }
        ("", "Service") => default_protocols(object.pointer_mut("/spec/ports")),
        ("", "Secret") => fold_string_data(object),
        _ => {}
    }
    if !is_custom_resource_definition(object)
        && let Some(fields) = object.as_object_mut()
    {
        fields.remove("status");
    }
}

fn default_container_protocols(pod_spec: Option<&mut Value>) {
    let Some(containers) = pod_spec
        .and_then(|spec| spec.get_mut("containers"))
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for container in containers {
        default_protocols(container.get_mut("ports"));
    }
}

fn default_protocols(ports: Option<&mut Value>) {
    let Some(ports) = ports.and_then(Value::as_array_mut) else {
        return;
    };
    for port in ports.iter_mut().filter_map(Value::as_object_mut) {
        let missing = port
            .get("protocol")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty);
        if missing {
            port.insert("protocol".into(), Value::String("TCP".into()));
        }
    }
}

fn fold_string_data(secret: &mut Value) {
    let Some(fields) = secret.as_object_mut() else {
        return;
    };
    let Some(Value::Object(string_data)) = fields.remove("stringData") else {
        return;
    };
    if string_data.is_empty() {
        return;
    }
    let data = fields
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if !data.is_object() {
        *data = Value::Object(Map::new());
    }
    if let Some(data) = data.as_object_mut() {
        for (key, value) in string_data {
            let plain = value.as_str().unwrap_or_default();
            data.insert(
                key,
                Value::String(base64::engine::general_purpose::STANDARD.encode(plain)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn ports_without_protocol_default_to_tcp() {
        let mut objects = vec![
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                "spec": {"template": {"spec": {"containers": [
                    {"name": "a", "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]}]}}}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                "spec": {"ports": [{"port": 80}]}}),
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
                "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
                    {"name": "a", "ports": [{"containerPort": 1}]}]}}}}}}),
        ];
        normalize_objects(&mut objects);
        assert_eq!(
            objects[0]["spec"]["template"]["spec"]["containers"][0]["ports"],
            json!([{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 53, "protocol": "UDP"}])
        );
        assert_eq!(objects[1]["spec"]["ports"][0]["protocol"], "TCP");
        assert_eq!(
            objects[2]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["ports"]
                [0]["protocol"],
            "TCP"
        );
    }

    #[test]
    fn secret_string_data_is_folded_into_data() {
        let mut secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"kept": "eA=="}, "stringData": {"password": "hunter2", "kept": "y"}});
        normalize_object(&mut secret);
        assert_eq!(
            secret,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                "data": {"kept": "eQ==", "password": "aHVudGVyMg=="}})
        );
    }

    #[test]
    fn status_is_dropped_except_from_custom_resource_definitions() {
        let mut objects = vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                "status": {"x": 1}}),
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": "w"}, "status": {"x": 1}}),
        ];
        normalize_objects(&mut objects);
        assert_eq!(objects[0].get("status"), None);
        assert!(objects[1].get("status").is_some());
    }

    #[test]
    fn roles_are_left_untouched() {
        let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "r"}, "status": {"x": 1}});
        let mut objects = vec![role.clone()];
        normalize_objects(&mut objects);
        assert_eq!(objects[0], role);
    }
}
