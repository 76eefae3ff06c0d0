//! `Alert`: forwards events of selected Flux objects to a Provider, filtered by severity and
//! message patterns. Alerts have no status.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::meta::LocalObjectReference;
use crate::notification::v1::CrossNamespaceObjectReference;

/// Desired state of an Alert: which events to forward, and to which Provider.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "notification.toolkit.fluxcd.io",
    version = "v1beta3",
    kind = "Alert",
    plural = "alerts",
    namespaced,
    derive = "PartialEq",
    category = "all",
    category = "fluxcd",
    category = "fluxcd-notifications",
    doc = "Alert is the Schema for the alerts API",
    annotation("kustomize.toolkit.fluxcd.io/substitute", "disabled"),
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct AlertSpec {
    /// The Provider events are sent to.
    pub provider_ref: LocalObjectReference,
    /// `info` forwards every event, `error` only errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "info"))]
    pub event_severity: Option<EventSeverity>,
    /// Objects whose events are forwarded, by kind, name and namespace.
    pub event_sources: Vec<CrossNamespaceObjectReference>,
    /// Go regular expressions; when set, only messages matching one are forwarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_list: Option<Vec<String>>,
    /// Metadata added to forwarded events; keys already set by the emitter are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_metadata: Option<BTreeMap<String, String>>,
    /// Go regular expressions; messages matching one are dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusion_list: Option<Vec<String>>,
    /// Short description of impact and cluster (deprecated: use `eventMetadata`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub summary: Option<String>,
    /// Stops forwarding events while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

/// Severity filter of an Alert.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventSeverity {
    /// Every event.
    #[default]
    Info,
    /// Error events only.
    Error,
}

impl AlertSpec {
    /// The severity filter, `info` when unset.
    pub fn get_event_severity(&self) -> EventSeverity {
        self.event_severity.unwrap_or_default()
    }

    /// Whether events are currently forwarded.
    pub fn suspended(&self) -> bool {
        self.suspend.unwrap_or(false)
    }
}
