//! The pure parts of event handling, in Flux's order: metadata cleanup on receipt, the
//! deduplication key, removal of internal metadata, Alert matching (sources, severity,
//! inclusion then exclusion lists), provider gates (commit-status events), and the metadata
//! merge of RFC 0008.

use crate::event::{Event, keys};
use eddy_api::notification::v1::CrossNamespaceObjectReference;
use eddy_api::notification::v1beta3::{Alert, EventSeverity, ProviderType};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Keeps only metadata prefixed with `event.toolkit.fluxcd.io/` or the involved object's group,
/// and drops `<group>/checksum` and `<group>/digest` (compared case-insensitively).
pub fn cleanup_metadata(event: &mut Event) {
    let event_prefix = format!("{}/", keys::EVENT_GROUP);
    let object_prefix = format!("{}/", event.object_group());
    let excluded = [
        format!("{object_prefix}{}", keys::CHECKSUM),
        format!("{object_prefix}{}", keys::DIGEST),
    ];
    event.metadata.retain(|key, _| {
        !excluded
            .iter()
            .any(|excluded| excluded.eq_ignore_ascii_case(key))
            && (key.starts_with(&event_prefix) || key.starts_with(&object_prefix))
    });
}

/// The deduplication key: hex SHA-256 of
/// `event/name=…/namespace=…/kind=…/message=…[/originRevision=…][/revision=…][/token=…]`.
pub fn dedup_key(event: &Event) -> String {
    let object = &event.involved_object;
    let mut parts = vec![
        "event".to_string(),
        format!("name={}", object.name),
        format!("namespace={}", object.namespace),
        format!("kind={}", object.kind),
        format!("message={}", event.message),
    ];
    let group = event.object_group();
    for (key, label) in [
        (keys::ORIGIN_REVISION, "originRevision"),
        (keys::REVISION, "revision"),
        (keys::TOKEN, "token"),
    ] {
        if let Some(value) = event.metadata.get(&format!("{group}/{key}")) {
            parts.push(format!("{label}={value}"));
        }
    }
    hex::encode(Sha256::digest(parts.join("/").as_bytes()))
}

/// Drops `<group>/token`, which only serves deduplication.
pub fn exclude_internal_metadata(event: &mut Event) {
    let key = format!("{}/{}", event.object_group(), keys::TOKEN);
    event.metadata.remove(&key);
}

/// How an event source of an Alert matches an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceMatch {
    /// It does not.
    No,
    /// It does.
    Yes,
    /// It does if the involved object carries these labels.
    IfLabelled(BTreeMap<String, String>),
}

/// Matches one event source (namespace defaulting to the Alert's) and the Alert's severity.
pub fn source_matches(
    event: &Event,
    alert: &Alert,
    source: &CrossNamespaceObjectReference,
) -> SourceMatch {
    let alert_namespace = alert.metadata.namespace.as_deref().unwrap_or_default();
    let namespace = source
        .namespace
        .as_deref()
        .filter(|namespace| !namespace.is_empty())
        .unwrap_or(alert_namespace);
    let object = &event.involved_object;
    if object.namespace != namespace || object.kind != source.kind.as_str() {
        return SourceMatch::No;
    }
    if alert.spec.get_event_severity() == EventSeverity::Error
        && event.severity != crate::event::SEVERITY_ERROR
    {
        return SourceMatch::No;
    }
    if source.name != "*" && source.name != object.name {
        return SourceMatch::No;
    }
    match &source.match_labels {
        None => SourceMatch::Yes,
        Some(labels) => SourceMatch::IfLabelled(labels.clone()),
    }
}

/// Whether `labels` carry every `wanted` label.
pub fn labels_match(labels: &BTreeMap<String, String>, wanted: &BTreeMap<String, String>) -> bool {
    wanted
        .iter()
        .all(|(key, value)| labels.get(key) == Some(value))
}

/// The result of the inclusion and exclusion lists, with the expressions that did not compile
/// (Flux reports each as an `InvalidConfig` warning and skips it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageFilter {
    /// Whether the message passes.
    pub passes: bool,
    /// Warnings: `failed to compile inclusion regex: …`.
    pub invalid: Vec<String>,
}

/// Applies `inclusionList` (when set, one must match) then `exclusionList` (any match drops).
pub fn filter_message(message: &str, alert: &Alert) -> MessageFilter {
    let mut invalid = Vec::new();
    let mut matches_any = |expressions: &[String], list: &str| {
        expressions
            .iter()
            .any(|expression| match regex::Regex::new(expression) {
                Ok(pattern) => pattern.is_match(message),
                Err(_) => {
                    invalid.push(format!("failed to compile {list} regex: {expression}"));
                    false
                }
            })
    };
    let inclusion = alert.spec.inclusion_list.as_deref().unwrap_or_default();
    let included = inclusion.is_empty() || matches_any(inclusion, "inclusion");
    let excluded = included
        && matches_any(
            alert.spec.exclusion_list.as_deref().unwrap_or_default(),
            "exclusion",
        );
    MessageFilter {
        passes: included && !excluded,
        invalid,
    }
}

/// Whether the event asks commit-status providers for an update (`<group>/commit_status:
/// update`).
pub fn is_commit_status_update(event: &Event) -> bool {
    event
        .metadata
        .get(&format!("{}/{}", event.object_group(), keys::COMMIT_STATUS))
        .is_some_and(|value| value == keys::COMMIT_STATUS_UPDATE)
}

/// Whether the event names a commit (`event.toolkit.fluxcd.io/commit`).
pub fn has_commit_key(event: &Event) -> bool {
    event
        .metadata
        .get(&format!("{}/{}", keys::EVENT_GROUP, keys::COMMIT))
        .is_some_and(|value| !value.is_empty())
}

/// Why an event is not sent to a Provider, when it is not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderGate {
    /// Send it.
    Send,
    /// Commit-status updates go to Git and generic providers only.
    NotForThisProvider,
    /// A commit-status provider gets only updates, commits and errors.
    NoCommitMetadata,
}

/// Flux's gates between an event and a provider type.
pub fn provider_gate(event: &Event, provider_type: ProviderType) -> ProviderGate {
    let generic = matches!(
        provider_type,
        ProviderType::Generic | ProviderType::GenericHmac
    );
    let commit_status = provider_type.is_commit_status();
    let update = is_commit_status_update(event);
    if !commit_status && !generic && update {
        return ProviderGate::NotForThisProvider;
    }
    if commit_status && !has_commit_key(event) && !update && !event.is_error() {
        return ProviderGate::NoCommitMetadata;
    }
    ProviderGate::Send
}

/// The default commit status id: `<kind>/<name>/<first part of the Provider UID>`, lower case.
pub fn default_commit_status(provider_uid: &str, event: &Event) -> String {
    let uid_prefix = provider_uid.split('-').next().unwrap_or_default();
    format!(
        "{}/{}/{uid_prefix}",
        event.involved_object.kind, event.involved_object.name
    )
    .to_lowercase()
}

/// A metadata key set by more than one source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataConflict {
    /// Key.
    pub key: String,
    /// Sources, lowest precedence first.
    pub sources: Vec<&'static str>,
}

/// Merges metadata by RFC 0008 precedence, low to high: `event.toolkit.fluxcd.io/*` (prefix
/// stripped), the Alert's `eventMetadata`, its `summary` (key `summary`), `<object group>/*`
/// (prefix stripped). Returns the keys set by more than one source.
pub fn combine_metadata(event: &mut Event, alert: &Alert) -> Vec<MetadataConflict> {
    const EVENT_GROUP_SOURCE: &str = "involved object annotations";
    const ALERT_METADATA_SOURCE: &str = "Alert object .spec.eventMetadata";
    const ALERT_SUMMARY_SOURCE: &str = "Alert object .spec.summary";
    const OBJECT_GROUP_SOURCE: &str = "involved object controller metadata";
    let mut metadata = BTreeMap::new();
    let mut sources: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    let mut set = |key: &str, value: &str, source: &'static str| {
        metadata.insert(key.to_string(), value.to_string());
        sources.entry(key.to_string()).or_default().push(source);
    };
    let event_prefix = format!("{}/", keys::EVENT_GROUP);
    for (key, value) in &event.metadata {
        if let Some(stripped) = key.strip_prefix(&event_prefix) {
            set(stripped, value, EVENT_GROUP_SOURCE);
        }
    }
    for (key, value) in alert.spec.event_metadata.iter().flatten() {
        set(key, value, ALERT_METADATA_SOURCE);
    }
    if let Some(summary) = alert
        .spec
        .summary
        .as_deref()
        .filter(|summary| !summary.is_empty())
    {
        set("summary", summary, ALERT_SUMMARY_SOURCE);
    }
    let object_prefix = format!("{}/", event.object_group());
    for (key, value) in &event.metadata {
        if let Some(stripped) = key.strip_prefix(&object_prefix) {
            set(stripped, value, OBJECT_GROUP_SOURCE);
        }
    }
    if !metadata.is_empty() {
        event.metadata = metadata;
    }
    sources
        .into_iter()
        .filter(|(_, sources)| sources.len() > 1)
        .map(|(key, sources)| MetadataConflict { key, sources })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_api::notification::v1::FluxObjectKind;
    use eddy_api::notification::v1beta3::AlertSpec;

    fn event(severity: &str, message: &str) -> Event {
        serde_json::from_value(serde_json::json!({
            "involvedObject": {"kind": "Kustomization", "namespace": "apps", "name": "web",
                               "apiVersion": "kustomize.toolkit.fluxcd.io/v1"},
            "severity": severity,
            "message": message,
            "reason": "ReconciliationSucceeded",
            "metadata": {
                "kustomize.toolkit.fluxcd.io/revision": "main@sha1:abc",
                "kustomize.toolkit.fluxcd.io/checksum": "x",
                "kustomize.toolkit.fluxcd.io/token": "t",
                "event.toolkit.fluxcd.io/env": "prod",
                "source.toolkit.fluxcd.io/revision": "other group"
            },
            "reportingController": "kustomize-controller"
        }))
        .expect("event")
    }

    fn alert(spec: AlertSpec) -> Alert {
        let mut alert = Alert::new("on-call", spec);
        alert.metadata.namespace = Some("apps".into());
        alert
    }

    fn source(name: &str) -> CrossNamespaceObjectReference {
        CrossNamespaceObjectReference {
            kind: FluxObjectKind::Kustomization,
            name: name.to_string(),
            ..CrossNamespaceObjectReference::default()
        }
    }

    #[test]
    fn cleanup_keeps_only_event_and_object_group_keys_without_checksums() {
        let mut event = event("info", "m");
        cleanup_metadata(&mut event);
        assert_eq!(
            event.metadata.keys().collect::<Vec<_>>(),
            [
                "event.toolkit.fluxcd.io/env",
                "kustomize.toolkit.fluxcd.io/revision",
                "kustomize.toolkit.fluxcd.io/token"
            ]
        );
        exclude_internal_metadata(&mut event);
        assert!(
            !event
                .metadata
                .contains_key("kustomize.toolkit.fluxcd.io/token")
        );
    }

    #[test]
    fn dedup_key_covers_object_message_and_revisions() {
        let base = event("info", "applied");
        let key = dedup_key(&base);
        let expected = hex::encode(Sha256::digest(
            b"event/name=web/namespace=apps/kind=Kustomization/message=applied/revision=main@sha1:abc/token=t",
        ));
        assert_eq!(key, expected);
        assert_ne!(key, dedup_key(&event("info", "applied again")));
        assert_eq!(key, dedup_key(&event("error", "applied")));
    }

    #[test]
    fn sources_match_by_namespace_kind_name_and_wildcard() {
        let event = event("info", "m");
        let any = alert(AlertSpec {
            event_sources: vec![source("*")],
            ..AlertSpec::default()
        });
        assert_eq!(source_matches(&event, &any, &source("*")), SourceMatch::Yes);
        assert_eq!(
            source_matches(&event, &any, &source("web")),
            SourceMatch::Yes
        );
        assert_eq!(
            source_matches(&event, &any, &source("api")),
            SourceMatch::No
        );
        let mut elsewhere = source("web");
        elsewhere.namespace = Some("flux-system".into());
        assert_eq!(source_matches(&event, &any, &elsewhere), SourceMatch::No);
        let mut labelled = source("*");
        labelled.match_labels = Some(BTreeMap::from([("team".into(), "a".into())]));
        assert_eq!(
            source_matches(&event, &any, &labelled),
            SourceMatch::IfLabelled(BTreeMap::from([("team".into(), "a".into())]))
        );
    }

    #[test]
    fn error_severity_alerts_skip_info_events() {
        let errors_only = alert(AlertSpec {
            event_severity: Some(EventSeverity::Error),
            ..AlertSpec::default()
        });
        assert_eq!(
            source_matches(&event("info", "m"), &errors_only, &source("web")),
            SourceMatch::No
        );
        assert_eq!(
            source_matches(&event("error", "m"), &errors_only, &source("web")),
            SourceMatch::Yes
        );
    }

    #[test]
    fn exclusion_beats_inclusion_and_bad_expressions_are_reported() {
        let filtered = alert(AlertSpec {
            inclusion_list: Some(vec![".*succeeded.*".into()]),
            exclusion_list: Some(vec!["^no-op.*".into(), "([".into()]),
            ..AlertSpec::default()
        });
        assert!(filter_message("reconciliation succeeded", &filtered).passes);
        assert!(!filter_message("no-op: reconciliation succeeded", &filtered).passes);
        assert!(!filter_message("failed", &filtered).passes);
        assert_eq!(
            filter_message("reconciliation succeeded", &filtered).invalid,
            ["failed to compile exclusion regex: (["]
        );
    }

    #[test]
    fn metadata_merges_by_precedence_and_reports_conflicts() {
        let mut event = event("info", "m");
        event.metadata.insert(
            "event.toolkit.fluxcd.io/summary".into(),
            "from annotation".into(),
        );
        cleanup_metadata(&mut event);
        exclude_internal_metadata(&mut event);
        let alert = alert(AlertSpec {
            event_metadata: Some(BTreeMap::from([
                ("env".to_string(), "staging".to_string()),
                ("cluster".to_string(), "eu-1".to_string()),
            ])),
            summary: Some("from alert".into()),
            ..AlertSpec::default()
        });
        let conflicts = combine_metadata(&mut event, &alert);
        assert_eq!(
            event.metadata,
            BTreeMap::from([
                ("cluster".to_string(), "eu-1".to_string()),
                ("env".to_string(), "staging".to_string()),
                ("revision".to_string(), "main@sha1:abc".to_string()),
                ("summary".to_string(), "from alert".to_string()),
            ])
        );
        assert_eq!(
            conflicts,
            vec![
                MetadataConflict {
                    key: "env".into(),
                    sources: vec![
                        "involved object annotations",
                        "Alert object .spec.eventMetadata"
                    ]
                },
                MetadataConflict {
                    key: "summary".into(),
                    sources: vec!["involved object annotations", "Alert object .spec.summary"]
                },
            ]
        );
    }

    #[test]
    fn commit_status_events_only_reach_git_and_generic_providers() {
        let mut update = event("info", "m");
        update.metadata.insert(
            "kustomize.toolkit.fluxcd.io/commit_status".into(),
            "update".into(),
        );
        assert_eq!(
            provider_gate(&update, ProviderType::Slack),
            ProviderGate::NotForThisProvider
        );
        assert_eq!(
            provider_gate(&update, ProviderType::Generic),
            ProviderGate::Send
        );
        assert_eq!(
            provider_gate(&update, ProviderType::GitHub),
            ProviderGate::Send
        );
        let plain = event("info", "m");
        assert_eq!(
            provider_gate(&plain, ProviderType::GitHub),
            ProviderGate::NoCommitMetadata
        );
        assert_eq!(
            provider_gate(&event("error", "m"), ProviderType::GitLab),
            ProviderGate::Send
        );
        assert_eq!(
            provider_gate(&plain, ProviderType::Slack),
            ProviderGate::Send
        );
    }

    #[test]
    fn default_commit_status_uses_the_provider_uid_prefix() {
        let event = event("info", "m");
        assert_eq!(
            default_commit_status("0c9c2e41-d2f9-4f9b-9c41-2ab0a5a4b4b0", &event),
            "kustomization/web/0c9c2e41"
        );
    }
}
