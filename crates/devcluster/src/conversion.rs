//! Conversion between versions of one built-in resource. Objects are stored in the version
//! they were written in and converted when read in another, which is all kube-apiserver's
//! storage-version machinery amounts to for a single in-memory store. Custom resources use the
//! `None` strategy: only `apiVersion` changes.

use serde_json::{Map, Value, json};

/// Converts `object` to `api_version` when a conversion between its version and that one is
/// known; otherwise only rewrites `apiVersion`.
pub(crate) fn convert(object: &Value, api_version: &str) -> Value {
    let from = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    let mut converted = match (kind, from, api_version) {
        ("HorizontalPodAutoscaler", "autoscaling/v2", "autoscaling/v1") => hpa_v2_to_v1(object),
        ("HorizontalPodAutoscaler", "autoscaling/v1", "autoscaling/v2") => hpa_v1_to_v2(object),
        ("Event", "v1", "events.k8s.io/v1") => rename_fields(object, CORE_TO_EVENTS),
        ("Event", "events.k8s.io/v1", "v1") => rename_fields(object, EVENTS_TO_CORE),
        _ => object.clone(),
    };
    if let Some(map) = converted.as_object_mut() {
        map.insert("apiVersion".into(), json!(api_version));
    }
    converted
}

/// Field names of a core/v1 Event and their events.k8s.io/v1 equivalents.
const CORE_TO_EVENTS: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
];
const EVENTS_TO_CORE: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

fn rename_fields(object: &Value, renames: &[(&str, &str)]) -> Value {
    let Value::Object(fields) = object else {
        return object.clone();
    };
    let renamed = fields
        .iter()
        .map(|(key, value)| {
            let key = renames
                .iter()
                .find(|(from, _)| from == key)
                .map_or(key.as_str(), |(_, to)| to);
            (key.to_string(), value.clone())
        })
        .collect();
    Value::Object(renamed)
}

fn copy_fields(from: &Value, to: &mut Map<String, Value>, fields: &[&str]) {
    for field in fields {
        if let Some(value) = from.get(*field) {
            to.insert((*field).to_string(), value.clone());
        }
    }
}

fn cpu_utilization(metrics: Option<&Value>, target: &str) -> Option<Value> {
    metrics?.as_array()?.iter().find_map(|metric| {
        let resource = metric.get("resource")?;
        (metric.get("type")? == "Resource" && resource.get("name")? == "cpu")
            .then(|| resource.get(target)?.get("averageUtilization").cloned())
            .flatten()
    })
}

fn hpa_v2_to_v1(object: &Value) -> Value {
    let mut converted = object.clone();
    let spec = object.get("spec").cloned().unwrap_or(json!({}));
    let mut new_spec = Map::new();
    copy_fields(
        &spec,
        &mut new_spec,
        &["scaleTargetRef", "minReplicas", "maxReplicas"],
    );
    if let Some(target) = cpu_utilization(spec.get("metrics"), "target") {
        new_spec.insert("targetCPUUtilizationPercentage".into(), target);
    }
    converted["spec"] = Value::Object(new_spec);
    if let Some(status) = object.get("status") {
        let mut new_status = Map::new();
        copy_fields(
            status,
            &mut new_status,
            &[
                "observedGeneration",
                "lastScaleTime",
                "currentReplicas",
                "desiredReplicas",
            ],
        );
        if let Some(current) = cpu_utilization(status.get("currentMetrics"), "current") {
            new_status.insert("currentCPUUtilizationPercentage".into(), current);
        }
        converted["status"] = Value::Object(new_status);
    }
    converted
}

fn cpu_metric(percentage: &Value, field: &str) -> Value {
    json!([{"type": "Resource", "resource": {"name": "cpu", field: {"type": "Utilization", "averageUtilization": percentage}}}])
}

fn hpa_v1_to_v2(object: &Value) -> Value {
    let mut converted = object.clone();
    let spec = object.get("spec").cloned().unwrap_or(json!({}));
    let mut new_spec = Map::new();
    copy_fields(
        &spec,
        &mut new_spec,
        &["scaleTargetRef", "minReplicas", "maxReplicas"],
    );
    if let Some(target) = spec.get("targetCPUUtilizationPercentage") {
        new_spec.insert("metrics".into(), cpu_metric(target, "target"));
    }
    converted["spec"] = Value::Object(new_spec);
    if let Some(status) = object.get("status") {
        let mut new_status = Map::new();
        copy_fields(
            status,
            &mut new_status,
            &[
                "observedGeneration",
                "lastScaleTime",
                "currentReplicas",
                "desiredReplicas",
            ],
        );
        if let Some(current) = status.get("currentCPUUtilizationPercentage") {
            new_status.insert("currentMetrics".into(), cpu_metric(current, "current"));
        }
        converted["status"] = Value::Object(new_status);
    }
    converted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hpa_cpu_targets_round_trip_between_v1_and_v2() {
        let v1 = json!({
            "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3, "targetCPUUtilizationPercentage": 70}
        });
        let v2 = convert(&v1, "autoscaling/v2");
        assert_eq!(v2["apiVersion"], "autoscaling/v2");
        assert_eq!(
            v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            70
        );
        assert_eq!(convert(&v2, "autoscaling/v1"), v1);
    }

    #[test]
    fn core_events_read_as_events_k8s_io_and_back() {
        let core = json!({
            "apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
            "involvedObject": {"kind": "Pod", "name": "p"}, "message": "hello", "reason": "Started", "count": 2
        });
        let events = convert(&core, "events.k8s.io/v1");
        assert_eq!(events["regarding"]["name"], "p");
        assert_eq!(events["note"], "hello");
        assert_eq!(events["deprecatedCount"], 2);
        assert_eq!(convert(&events, "v1"), core);
    }

    #[test]
    fn unknown_conversions_only_change_the_api_version() {
        let object = json!({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"a": 1}});
        let converted = convert(&object, "example.com/v2");
        assert_eq!(
            converted,
            json!({"apiVersion": "example.com/v2", "kind": "Widget", "spec": {"a": 1}})
        );
    }
}
