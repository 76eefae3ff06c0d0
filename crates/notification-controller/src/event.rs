//! The Flux event as notification-controller reads and forwards it: decoded as leniently as Go's
//! `json.Unmarshal` decodes `eventv1.Event` (missing fields are empty, `null` is empty), and
//! encoded as Go encodes it (field order, `timestamp` in UTC seconds, empty metadata omitted).

use eddy_api::event::ObjectReference;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// Metadata keys producers prefix with `<object group>/` (or `event.toolkit.fluxcd.io/`).
pub mod keys {
    /// The group whose prefixed metadata comes from object annotations.
    pub const EVENT_GROUP: &str = "event.toolkit.fluxcd.io";
    /// Revision of the object's artifact or applied source.
    pub const REVISION: &str = "revision";
    /// Revision of the origin source.
    pub const ORIGIN_REVISION: &str = "originRevision";
    /// Checksum of an artifact (dropped on receipt).
    pub const CHECKSUM: &str = "checksum";
    /// Digest of an artifact (dropped on receipt).
    pub const DIGEST: &str = "digest";
    /// A per-event token producers use to defeat deduplication (internal, dropped before
    /// dispatch).
    pub const TOKEN: &str = "token";
    /// A commit SHA a commit-status provider reports on.
    pub const COMMIT: &str = "commit";
    /// Set to `update` on events meant as commit-status updates.
    pub const COMMIT_STATUS: &str = "commit_status";
    /// The value of `commit_status` that marks a commit-status update.
    pub const COMMIT_STATUS_UPDATE: &str = "update";
}

/// Severity `error`.
pub const SEVERITY_ERROR: &str = "error";
/// Severity `info`.
pub const SEVERITY_INFO: &str = "info";

/// A Flux event (`event.toolkit.fluxcd.io` v1beta1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The object the event is about.
    #[serde(default, deserialize_with = "null_as_default")]
    pub involved_object: ObjectReference,
    /// `info` or `error`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub severity: String,
    /// When the event was recorded; `null` when the producer sent none.
    #[serde(
        default,
        serialize_with = "serialize_timestamp",
        deserialize_with = "deserialize_timestamp"
    )]
    pub timestamp: Option<jiff::Timestamp>,
    /// What happened, for people.
    #[serde(default, deserialize_with = "null_as_default")]
    pub message: String,
    /// CamelCase reason.
    #[serde(default, deserialize_with = "null_as_default")]
    pub reason: String,
    /// Metadata, sorted by key (as Go encodes maps).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub metadata: BTreeMap<String, String>,
    /// The controller that emitted the event.
    #[serde(default, deserialize_with = "null_as_default")]
    pub reporting_controller: String,
    /// The instance that emitted the event.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub reporting_instance: String,
}

impl Event {
    /// The API group of the involved object (`kustomize.toolkit.fluxcd.io`), empty for the core
    /// group or an unparsable `apiVersion`, as Go's `schema.ParseGroupVersion`.
    pub fn object_group(&self) -> &str {
        let api_version = self.involved_object.api_version.as_str();
        match api_version.split('/').count() {
            2 => api_version.split('/').next().unwrap_or_default(),
            _ => "",
        }
    }

    /// `kind/namespace/name` of the involved object, as Flux prints it in messages.
    pub fn involved_object_string(&self) -> String {
        let object = &self.involved_object;
        format!("{}/{}/{}", object.kind, object.namespace, object.name)
    }

    /// `kind lowercased/name.namespace`, the object name chat providers show.
    pub fn object_display_name(&self) -> String {
        let object = &self.involved_object;
        format!(
            "{}/{}.{}",
            object.kind.to_lowercase(),
            object.name,
            object.namespace
        )
    }

    /// Whether the event is an error.
    pub fn is_error(&self) -> bool {
        self.severity == SEVERITY_ERROR
    }

    /// The revision a commit-status provider reports on: metadata `commit`, else
    /// `originRevision`, else `revision` (after metadata has been combined, so unprefixed).
    pub fn revision(&self) -> Option<&str> {
        [keys::COMMIT, keys::ORIGIN_REVISION, keys::REVISION]
            .iter()
            .find_map(|key| self.metadata.get(*key).map(String::as_str))
    }
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

fn serialize_timestamp<S: Serializer>(
    timestamp: &Option<jiff::Timestamp>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match timestamp {
        // metav1.Time: RFC 3339 in UTC, whole seconds.
        Some(timestamp) => {
            serializer.serialize_str(&timestamp.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        }
        None => serializer.serialize_none(),
    }
}

fn deserialize_timestamp<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<jiff::Timestamp>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) => text
            .parse::<jiff::Timestamp>()
            .map(Some)
            .map_err(|error| serde::de::Error::custom(format!("timestamp {text:?}: {error}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_round_trips_in_gos_field_order() {
        let body = r#"{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"apps","uid":"u","apiVersion":"kustomize.toolkit.fluxcd.io/v1","resourceVersion":"1"},"severity":"info","timestamp":"2024-05-01T10:00:00.5+02:00","message":"m","reason":"R","metadata":{"b":"2","a":"1"},"reportingController":"kustomize-controller","reportingInstance":"pod"}"#;
        let event: Event = serde_json::from_str(body).expect("decodes");
        assert_eq!(event.object_group(), "kustomize.toolkit.fluxcd.io");
        let encoded =
            String::from_utf8(crate::go_json::to_vec(&event).expect("encodes")).expect("utf-8");
        assert_eq!(
            encoded,
            r#"{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"apps","uid":"u","apiVersion":"kustomize.toolkit.fluxcd.io/v1","resourceVersion":"1"},"severity":"info","timestamp":"2024-05-01T08:00:00Z","message":"m","reason":"R","metadata":{"a":"1","b":"2"},"reportingController":"kustomize-controller","reportingInstance":"pod"}"#
        );
    }

    #[test]
    fn missing_and_null_fields_decode_as_empty_like_go() {
        let event: Event =
            serde_json::from_str(r#"{"message":"hi","metadata":null,"timestamp":null}"#)
                .expect("decodes");
        assert_eq!(event.message, "hi");
        assert!(event.metadata.is_empty());
        assert_eq!(event.timestamp, None);
        assert_eq!(event.object_group(), "");
    }

    #[test]
    fn a_bad_timestamp_is_malformed() {
        assert!(serde_json::from_str::<Event>(r#"{"timestamp":"yesterday"}"#).is_err());
        assert!(serde_json::from_str::<Event>(r#"{"timestamp":""}"#).is_err());
    }

    #[test]
    fn revision_prefers_commit_then_origin_revision() {
        let mut event = Event::default();
        event
            .metadata
            .insert("revision".into(), "main@sha1:aaa".into());
        assert_eq!(event.revision(), Some("main@sha1:aaa"));
        event
            .metadata
            .insert("originRevision".into(), "main@sha1:bbb".into());
        assert_eq!(event.revision(), Some("main@sha1:bbb"));
        event.metadata.insert("commit".into(), "ccc".into());
        assert_eq!(event.revision(), Some("ccc"));
    }
}
