//! The FluxConfig status from what the generated objects report: per-object compliance,
//! the roll-up, `sourceSyncedCommitId` and the timestamps. Pure: the reconciler reads the
//! objects and passes them in.

use eddy_api::clusterconfig::v1alpha1::{
    ComplianceState, FluxConfigStatus, HelmReleasePropertiesDefinition, ObjectReferenceDefinition,
    ObjectStatusConditionDefinition, ObjectStatusDefinition, ProvisioningState,
    source_synced_commit_id,
};
use eddy_api::helm::v2::HelmRelease;
use eddy_api::kustomize::v1::Kustomization;
use eddy_api::meta::conditions::READY;
use eddy_api::meta::reasons;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use serde_json::Value;

/// The generated objects as last read.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// Kind of the source (`GitRepository`, `Bucket`, `OCIRepository`).
    pub source_kind: String,
    /// Name of the source.
    pub source_name: String,
    /// Namespace of the generated objects.
    pub namespace: String,
    /// The source object, if it exists (any source kind, as JSON).
    pub source: Option<Value>,
    /// The generated Kustomizations that exist, with the names expected.
    pub kustomizations: Vec<(String, Option<Kustomization>)>,
    /// HelmReleases in the kustomizations' inventories, with the Kustomization that applied
    /// each.
    pub helm_releases: Vec<(HelmRelease, ObjectReferenceDefinition)>,
}

/// What the observation says about the configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The roll-up.
    pub compliance: ComplianceState,
    /// One entry per object.
    pub statuses: Vec<ObjectStatusDefinition>,
    /// `<ref>/<sha>` of the source artifact.
    pub source_synced_commit_id: Option<String>,
    /// When the source artifact last changed.
    pub source_updated_at: Option<Time>,
    /// A one-line reason for the roll-up, for the Ready condition.
    pub summary: String,
}

fn conditions_of(value: Option<&Value>) -> Vec<Condition> {
    value
        .and_then(|status| status.get("conditions"))
        .and_then(|conditions| serde_json::from_value(conditions.clone()).ok())
        .unwrap_or_default()
}

fn ready(conditions: &[Condition]) -> Option<&Condition> {
    conditions.iter().find(|condition| condition.type_ == READY)
}

/// Compliance of one object from its Ready condition: True at the current generation is
/// Compliant, False is Non-Compliant, anything else is still Pending. A Kustomization waiting
/// for a dependency (`DependencyNotReady`) is Pending too: it has not failed, and counting it
/// as a failure would flap the configuration to Non-Compliant on every commit that reaches an
/// earlier layer first.
fn compliance(conditions: &[Condition], current: bool, suspended: bool) -> ComplianceState {
    if suspended {
        return ComplianceState::Suspended;
    }
    match ready(conditions).map(|condition| (condition.status.as_str(), condition.reason.as_str()))
    {
        Some(("True", _)) if current => ComplianceState::Compliant,
        Some(("False", reasons::DEPENDENCY_NOT_READY)) => ComplianceState::Pending,
        Some(("False", _)) => ComplianceState::NonCompliant,
        _ => ComplianceState::Pending,
    }
}

fn status_conditions(conditions: &[Condition]) -> Option<Vec<ObjectStatusConditionDefinition>> {
    (!conditions.is_empty()).then(|| conditions.iter().map(Into::into).collect())
}

fn object_status(
    name: &str,
    namespace: &str,
    kind: &str,
    state: ComplianceState,
    conditions: &[Condition],
) -> ObjectStatusDefinition {
    ObjectStatusDefinition {
        name: Some(name.to_string()),
        namespace: Some(namespace.to_string()),
        kind: Some(kind.to_string()),
        compliance_state: Some(state),
        applied_by: None,
        status_conditions: status_conditions(conditions),
        helm_release_properties: None,
    }
}

fn ready_message(conditions: &[Condition]) -> String {
    ready(conditions)
        .map(|condition| condition.message.clone())
        .unwrap_or_default()
}

/// Works out compliance from what was observed.
pub fn report(observed: &Observed, suspended: bool) -> Report {
    let mut statuses = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    let mut waiting: Vec<String> = Vec::new();

    let source_status = observed
        .source
        .as_ref()
        .and_then(|source| source.get("status"));
    let source_conditions = conditions_of(source_status);
    let generation = observed
        .source
        .as_ref()
        .and_then(|source| source.pointer("/metadata/generation"))
        .and_then(Value::as_i64);
    let observed_generation = source_status
        .and_then(|status| status.get("observedGeneration"))
        .and_then(Value::as_i64);
    let artifact = source_status.and_then(|status| status.get("artifact"));
    let revision = artifact
        .and_then(|artifact| artifact.get("revision"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let source_updated_at = artifact
        .and_then(|artifact| artifact.get("lastUpdateTime"))
        .and_then(|time| serde_json::from_value::<Time>(time.clone()).ok());
    let source_state = if observed.source.is_some() {
        let current = generation.is_some() && generation == observed_generation;
        compliance(&source_conditions, current && revision.is_some(), suspended)
    } else {
        ComplianceState::Pending
    };
    let source_label = format!("{}/{}", observed.source_kind, observed.source_name);
    match source_state {
        ComplianceState::NonCompliant => problems.push(format!(
            "{source_label}: {}",
            ready_message(&source_conditions)
        )),
        ComplianceState::Pending => waiting.push(source_label),
        _ => {}
    }
    statuses.push(object_status(
        &observed.source_name,
        &observed.namespace,
        &observed.source_kind,
        source_state,
        &source_conditions,
    ));

    for (name, kustomization) in &observed.kustomizations {
        let label = format!("Kustomization/{name}");
        let Some(kustomization) = kustomization else {
            waiting.push(label);
            statuses.push(object_status(
                name,
                &observed.namespace,
                "Kustomization",
                if suspended {
                    ComplianceState::Suspended
                } else {
                    ComplianceState::Pending
                },
                &[],
            ));
            continue;
        };
        let status = kustomization.status.as_ref();
        let conditions = status
            .and_then(|status| status.conditions.clone())
            .unwrap_or_default();
        let current = status.and_then(|status| status.observed_generation)
            == kustomization.metadata.generation
            && revision.is_some()
            && status.and_then(|status| status.last_applied_revision.clone()) == revision;
        let mut state = compliance(&conditions, current, suspended);
        // No artifact yet because the source has not produced one: waiting, not failing.
        let waits_for_source = ready(&conditions)
            .is_some_and(|ready| ready.reason == reasons::ARTIFACT_FAILED)
            && source_state == ComplianceState::Pending;
        if state == ComplianceState::NonCompliant && waits_for_source {
            state = ComplianceState::Pending;
        }
        match state {
            ComplianceState::NonCompliant => {
                problems.push(format!("{label}: {}", ready_message(&conditions)));
            }
            ComplianceState::Pending => waiting.push(label),
            _ => {}
        }
        statuses.push(object_status(
            name,
            &observed.namespace,
            "Kustomization",
            state,
            &conditions,
        ));
    }

    for (release, applied_by) in &observed.helm_releases {
        let status = release.status.as_ref();
        let conditions = status
            .and_then(|status| status.conditions.clone())
            .unwrap_or_default();
        let current =
            status.and_then(|status| status.observed_generation) == release.metadata.generation;
        let state = compliance(&conditions, current, false);
        let name = release.metadata.name.clone().unwrap_or_default();
        let namespace = release.metadata.namespace.clone().unwrap_or_default();
        if state == ComplianceState::NonCompliant {
            problems.push(format!(
                "HelmRelease/{namespace}/{name}: {}",
                ready_message(&conditions)
            ));
        }
        let mut entry = object_status(&name, &namespace, "HelmRelease", state, &conditions);
        entry.applied_by = Some(applied_by.clone());
        entry.helm_release_properties = status.map(|status| HelmReleasePropertiesDefinition {
            last_revision_applied: status
                .latest_snapshot()
                .map(|snapshot| snapshot.version)
                .or(status.last_release_revision),
            helm_chart_ref: status
                .helm_chart_namespace_and_name()
                .map(|(namespace, name)| ObjectReferenceDefinition {
                    name: Some(name.to_string()),
                    namespace: Some(namespace.to_string()),
                }),
            failure_count: status.failures,
            install_failure_count: status.install_failures,
            upgrade_failure_count: status.upgrade_failures,
        });
        statuses.push(entry);
    }

    let source_synced_commit_id = revision.as_deref().map(source_synced_commit_id);
    let (compliance, summary) = if suspended {
        (
            ComplianceState::Suspended,
            "the configuration is suspended".to_string(),
        )
    } else if !problems.is_empty() {
        (ComplianceState::NonCompliant, problems.join("; "))
    } else if !waiting.is_empty() {
        (
            ComplianceState::Pending,
            format!("waiting for {}", waiting.join(", ")),
        )
    } else {
        (
            ComplianceState::Compliant,
            format!(
                "applied revision {}",
                source_synced_commit_id.clone().unwrap_or_default()
            ),
        )
    };
    Report {
        compliance,
        statuses,
        source_synced_commit_id,
        source_updated_at,
        summary,
    }
}

/// The ARM-visible part of a status: what the webhook reports and what moves
/// `statusUpdatedAt`.
pub fn arm_view(status: &FluxConfigStatus) -> FluxConfigStatus {
    FluxConfigStatus {
        status_updated_at: None,
        observed_generation: None,
        conditions: None,
        last_handled_reconcile_at: None,
        last_config_update_time: None,
        ..status.clone()
    }
}

/// Writes the ARM fields of `status`, moving `statusUpdatedAt` to `now` only when one of them
/// changed. Returns whether they changed.
pub fn record(
    status: &mut FluxConfigStatus,
    provisioning: ProvisioningState,
    error_message: Option<String>,
    report: Option<&Report>,
    public_key: Option<String>,
    now: &Time,
) -> bool {
    let before = arm_view(status);
    status.provisioning_state = Some(provisioning);
    status.error_message = error_message;
    status.repository_public_key = public_key;
    match report {
        Some(report) => {
            status.compliance_state = Some(report.compliance);
            status.statuses = Some(report.statuses.clone());
            if report.source_synced_commit_id.is_some() {
                status.source_synced_commit_id = report.source_synced_commit_id.clone();
                status.source_updated_at = report.source_updated_at.clone();
            }
        }
        None => {
            if status.compliance_state.is_none() {
                status.compliance_state = Some(ComplianceState::Unknown);
            }
        }
    }
    let changed = arm_view(status) != before;
    if changed || status.status_updated_at.is_none() {
        status.status_updated_at = Some(now.clone());
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn source(ready: &str, revision: &str) -> Value {
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "cc", "namespace": "n", "generation": 1},
            "status": {"observedGeneration": 1,
                "conditions": [{"type": "Ready", "status": ready, "reason": "r", "message": "m",
                    "lastTransitionTime": "2026-01-01T00:00:00Z"}],
                "artifact": {"revision": revision, "path": "p", "url": "u",
                    "lastUpdateTime": "2026-01-01T00:00:00Z"}},
        })
    }

    fn kustomization(ready: &str, revision: &str) -> Kustomization {
        serde_json::from_value(json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "cc-apps", "namespace": "n", "generation": 2},
            "spec": {"interval": "1m", "prune": false, "sourceRef": {"kind": "GitRepository", "name": "cc"}},
            "status": {"observedGeneration": 2, "lastAppliedRevision": revision,
                "conditions": [{"type": "Ready", "status": ready, "reason": "r", "message": "broken",
                    "lastTransitionTime": "2026-01-01T00:00:00Z"}]},
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn observed(source: Option<Value>, kustomization: Option<Kustomization>) -> Observed {
        Observed {
            source_kind: "GitRepository".into(),
            source_name: "cc".into(),
            namespace: "n".into(),
            source,
            kustomizations: vec![("cc-apps".into(), kustomization)],
            helm_releases: Vec::new(),
        }
    }

    #[test]
    fn everything_ready_at_the_source_revision_is_compliant() {
        let report = report(
            &observed(
                Some(source("True", "main@sha1:abc")),
                Some(kustomization("True", "main@sha1:abc")),
            ),
            false,
        );
        assert_eq!(report.compliance, ComplianceState::Compliant);
        assert_eq!(report.source_synced_commit_id.as_deref(), Some("main/abc"));
        assert_eq!(report.statuses.len(), 2);
    }

    #[test]
    fn a_kustomization_behind_the_source_is_pending() {
        let report = report(
            &observed(
                Some(source("True", "main@sha1:new")),
                Some(kustomization("True", "main@sha1:old")),
            ),
            false,
        );
        assert_eq!(report.compliance, ComplianceState::Pending);
        assert_eq!(
            report.statuses[1].compliance_state,
            Some(ComplianceState::Pending)
        );
    }

    #[test]
    fn a_failed_kustomization_makes_the_configuration_non_compliant() {
        let report = report(
            &observed(
                Some(source("True", "main@sha1:abc")),
                Some(kustomization("False", "main@sha1:abc")),
            ),
            false,
        );
        assert_eq!(report.compliance, ComplianceState::NonCompliant);
        assert!(report.summary.contains("broken"));
    }

    #[test]
    fn a_kustomization_waiting_for_its_dependency_is_pending_not_failed() {
        let mut waiting = kustomization("False", "main@sha1:old");
        if let Some(conditions) = waiting
            .status
            .as_mut()
            .and_then(|status| status.conditions.as_mut())
        {
            conditions[0].reason = reasons::DEPENDENCY_NOT_READY.to_string();
        }
        let report = report(
            &observed(Some(source("True", "main@sha1:new")), Some(waiting)),
            false,
        );
        assert_eq!(report.compliance, ComplianceState::Pending);
    }

    #[test]
    fn a_kustomization_without_an_artifact_is_pending_while_its_source_is() {
        let mut early = kustomization("False", "");
        if let Some(conditions) = early
            .status
            .as_mut()
            .and_then(|status| status.conditions.as_mut())
        {
            conditions[0].reason = reasons::ARTIFACT_FAILED.to_string();
        }
        let pending = report(
            &observed(Some(source("Unknown", "")), Some(early.clone())),
            false,
        );
        assert_eq!(pending.compliance, ComplianceState::Pending);
        let failed = report(
            &observed(Some(source("True", "main@sha1:abc")), Some(early)),
            false,
        );
        assert_eq!(failed.compliance, ComplianceState::NonCompliant);
    }

    #[test]
    fn nothing_observed_yet_is_pending_and_suspension_wins() {
        assert_eq!(
            report(&observed(None, None), false).compliance,
            ComplianceState::Pending
        );
        assert_eq!(
            report(&observed(None, None), true).compliance,
            ComplianceState::Suspended
        );
    }

    #[test]
    fn status_updated_at_moves_only_when_the_arm_fields_change() {
        let mut status = FluxConfigStatus::default();
        let first = Time(k8s_openapi::jiff::Timestamp::from_second(1).unwrap_or_default());
        let later = Time(k8s_openapi::jiff::Timestamp::from_second(2).unwrap_or_default());
        let observed = report(&observed(None, None), false);
        assert!(record(
            &mut status,
            ProvisioningState::Succeeded,
            None,
            Some(&observed),
            None,
            &first
        ));
        assert!(!record(
            &mut status,
            ProvisioningState::Succeeded,
            None,
            Some(&observed),
            None,
            &later
        ));
        assert_eq!(status.status_updated_at, Some(first));
    }
}
