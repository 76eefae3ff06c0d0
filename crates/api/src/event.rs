//! The event JSON every Flux controller POSTs to notification-controller
//! (fluxcd/pkg `apis/event/v1beta1`, group `event.toolkit.fluxcd.io`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Severity `info`: a normal event.
pub const SEVERITY_INFO: &str = "info";
/// Severity `error`: a warning event.
pub const SEVERITY_ERROR: &str = "error";
/// Severity `trace`: recorded as a Kubernetes event only, never sent over HTTP.
pub const SEVERITY_TRACE: &str = "trace";
/// Longest message Flux sends; longer messages are truncated.
pub const MAX_MESSAGE_LENGTH: usize = 39_000;

/// A Flux event, as sent over HTTP.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The object the event is about.
    pub involved_object: ObjectReference,
    /// `info` or `error`.
    pub severity: String,
    /// When the event happened (RFC 3339).
    pub timestamp: String,
    /// What happened, for people.
    pub message: String,
    /// Machine-readable CamelCase reason.
    pub reason: String,
    /// `<api group>/<key>` pairs, e.g. `kustomize.toolkit.fluxcd.io/revision`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// The controller that emitted the event, e.g. `kustomize-controller`.
    pub reporting_controller: String,
    /// The instance (pod host name) that emitted the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporting_instance: Option<String>,
}

/// `corev1.ObjectReference` as it appears in the event JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    /// Kind of the object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Namespace of the object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Name of the object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// UID of the object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// API version of the object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// Resource version of the object when the event was emitted.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    /// A field within the object, if the event is about one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field_path: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flux_event_json_round_trips() {
        let json = serde_json::json!({
            "involvedObject": {
                "kind": "Kustomization",
                "namespace": "flux-system",
                "name": "apps",
                "uid": "cc4d0095-83f4-4f08-98f2-d2e9f3731fb9",
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "resourceVersion": "56921"
            },
            "severity": "info",
            "timestamp": "2022-02-25T14:00:00Z",
            "message": "Deployment/dev/app configured",
            "reason": "ReconciliationSucceeded",
            "metadata": {"kustomize.toolkit.fluxcd.io/revision": "main@sha1:1f2e3d"},
            "reportingController": "kustomize-controller",
            "reportingInstance": "kustomize-controller-7f5d6c9b8-x2x4z"
        });
        let event: Event = serde_json::from_value(json.clone()).expect("deserializes");
        assert_eq!(serde_json::to_value(&event).expect("serializes"), json);
    }
}
