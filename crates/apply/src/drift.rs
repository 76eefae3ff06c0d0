//! Whether an object in the cluster differs from what applying would make of it
//! (fluxcd/pkg `ssa/manager_diff.go` `hasDrifted`, `ssa/normalize` `DryRunUnstructured`).
//!
//! The comparison is between the existing object and the result of a server-side dry-run
//! apply: labels, annotations, and everything outside `metadata` and `status`. Objects that
//! have not drifted are not applied, so their resourceVersion does not move.

use serde_json::Value;

use crate::object::{annotations, labels};

/// Whether `dry_run` (the dry-run apply result) differs from `existing`.
pub fn has_drifted(existing: Option<&Value>, dry_run: &Value) -> bool {
    let Some(existing) = existing else {
        return true;
    };
    let resource_version = dry_run
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if resource_version.is_empty() {
        return true;
    }
    if labels(dry_run) != labels(existing) || annotations(dry_run) != annotations(existing) {
        return true;
    }
    comparable(existing) != comparable(dry_run)
}

/// The object without `metadata` and `status`, normalised as Flux does before comparing.
fn comparable(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(fields) = copy.as_object_mut() {
        fields.remove("metadata");
        fields.remove("status");
    }
    normalize_horizontal_pod_autoscaler(&mut copy);
    copy
}

/// The API server keeps duplicate and type-less HPA metrics that a dry run drops; without
/// removing them an HPA would look drifted forever.
fn normalize_horizontal_pod_autoscaler(object: &mut Value) {
    if object.get("kind").and_then(Value::as_str) != Some("HorizontalPodAutoscaler") {
        return;
    }
    let Some(metrics) = object
        .pointer_mut("/spec/metrics")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    let mut unique: Vec<Value> = Vec::with_capacity(metrics.len());
    for metric in metrics.drain(..) {
        let typed = metric
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|kind| !kind.is_empty());
        if typed && !unique.contains(&metric) {
            unique.push(metric);
        }
    }
    *metrics = unique;
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config_map(resource_version: &str, data: Value, labels: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "resourceVersion": resource_version, "labels": labels,
                "managedFields": [{"manager": "x"}]},
            "data": data})
    }

    #[test]
    fn missing_object_has_drifted() {
        assert!(has_drifted(None, &config_map("1", json!({}), json!({}))));
    }

    #[test]
    fn dry_run_without_resource_version_is_a_creation() {
        let existing = config_map("1", json!({"a": "1"}), json!({}));
        assert!(has_drifted(
            Some(&existing),
            &config_map("", json!({"a": "1"}), json!({}))
        ));
    }

    #[test]
    fn identical_body_and_metadata_have_not_drifted() {
        let existing = config_map("1", json!({"a": "1"}), json!({"l": "v"}));
        let mut dry_run = existing.clone();
        dry_run["metadata"]["managedFields"] = json!([{"manager": "y"}]);
        dry_run["status"] = json!({"ignored": true});
        assert!(!has_drifted(Some(&existing), &dry_run));
    }

    #[test]
    fn changed_data_or_labels_have_drifted() {
        let existing = config_map("1", json!({"a": "1"}), json!({"l": "v"}));
        assert!(has_drifted(
            Some(&existing),
            &config_map("1", json!({"a": "2"}), json!({"l": "v"}))
        ));
        assert!(has_drifted(
            Some(&existing),
            &config_map("1", json!({"a": "1"}), json!({"l": "w"}))
        ));
    }

    #[test]
    fn absent_and_empty_labels_are_the_same() {
        let mut existing = config_map("1", json!({}), json!({}));
        if let Some(metadata) = existing["metadata"].as_object_mut() {
            metadata.remove("labels");
        }
        assert!(!has_drifted(
            Some(&existing),
            &config_map("1", json!({}), json!({}))
        ));
    }

    #[test]
    fn duplicate_autoscaler_metrics_are_not_drift() {
        let autoscaler = |metrics: Value| {
            json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "h", "resourceVersion": "1"},
                "spec": {"metrics": metrics}})
        };
        let metric = json!({"type": "Resource", "resource": {"name": "cpu"}});
        let existing = autoscaler(json!([metric.clone(), metric.clone(), {"type": ""}]));
        assert!(!has_drifted(Some(&existing), &autoscaler(json!([metric]))));
    }
}
