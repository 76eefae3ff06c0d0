//! The Flux kinds the CLI reads and patches, handled as dynamic objects: what their API
//! resource is, where their revision lives, and how their conditions read.

use eddy_api::meta::{conditions, reasons};
use kube::api::{Api, ApiResource, DynamicObject};
use serde_json::Value;

/// A Flux kind the CLI knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    GitRepository,
    OciRepository,
    Bucket,
    HelmRepository,
    HelmChart,
    Kustomization,
    HelmRelease,
}

/// Kinds whose events `eddy events` shows (Flux's list plus FluxConfig).
pub(crate) const EVENT_KINDS: [&str; 15] = [
    "GitRepository",
    "OCIRepository",
    "Bucket",
    "HelmRepository",
    "HelmChart",
    "ExternalArtifact",
    "Kustomization",
    "HelmRelease",
    "Alert",
    "Provider",
    "Receiver",
    "ImageRepository",
    "ImagePolicy",
    "ImageUpdateAutomation",
    "FluxConfig",
];

impl Kind {
    /// The API resource (group, version, plural) from the api crate's types.
    pub(crate) fn resource(self) -> ApiResource {
        use eddy_api::{helm::v2, kustomize::v1 as kustomize, source::v1 as source};
        match self {
            Kind::GitRepository => ApiResource::erase::<source::GitRepository>(&()),
            Kind::OciRepository => ApiResource::erase::<source::OCIRepository>(&()),
            Kind::Bucket => ApiResource::erase::<source::Bucket>(&()),
            Kind::HelmRepository => ApiResource::erase::<source::HelmRepository>(&()),
            Kind::HelmChart => ApiResource::erase::<source::HelmChart>(&()),
            Kind::Kustomization => ApiResource::erase::<kustomize::Kustomization>(&()),
            Kind::HelmRelease => ApiResource::erase::<v2::HelmRelease>(&()),
        }
    }

    /// The kind's name, e.g. `GitRepository`.
    pub(crate) fn name(self) -> String {
        self.resource().kind
    }

    /// What flux calls the kind in progress lines: `source git`, `kustomization`.
    pub(crate) fn human(self) -> &'static str {
        match self {
            Kind::GitRepository => "source git",
            Kind::OciRepository => "source oci",
            Kind::Bucket => "source bucket",
            Kind::HelmRepository => "source helm",
            Kind::HelmChart => "source chart",
            Kind::Kustomization => "kustomization",
            Kind::HelmRelease => "helmrelease",
        }
    }

    /// The kind named `kind` (exact API spelling).
    pub(crate) fn from_name(kind: &str) -> Option<Kind> {
        [
            Kind::GitRepository,
            Kind::OciRepository,
            Kind::Bucket,
            Kind::HelmRepository,
            Kind::HelmChart,
            Kind::Kustomization,
            Kind::HelmRelease,
        ]
        .into_iter()
        .find(|candidate| candidate.name() == kind)
    }

    /// Whether the kind is a source (its revision is its artifact's).
    fn is_source(self) -> bool {
        !matches!(self, Kind::Kustomization | Kind::HelmRelease)
    }

    /// The revision `flux get` shows: the artifact's for sources, the last applied one for
    /// Kustomizations, the newest history entry's chart version for HelmReleases.
    pub(crate) fn revision(self, object: &DynamicObject) -> String {
        let status = &object.data["status"];
        let text = match self {
            Kind::Kustomization => status["lastAppliedRevision"].as_str(),
            Kind::HelmRelease => status["history"][0]["chartVersion"]
                .as_str()
                .or_else(|| status["lastAttemptedRevision"].as_str()),
            _ => status["artifact"]["revision"].as_str(),
        };
        text.unwrap_or_default().to_string()
    }

    /// What flux prints once a reconcile succeeded.
    pub(crate) fn success_message(self, object: &DynamicObject) -> String {
        if self.is_source() {
            format!("fetched revision {}", self.revision(object))
        } else {
            format!("applied revision {}", self.revision(object))
        }
    }
}

/// A namespaced (or, without a namespace, all-namespaces) API for `kind`.
pub(crate) fn api(
    client: &kube::Client,
    kind: Kind,
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    let resource = kind.resource();
    match namespace {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

/// The condition of `type_` in `status.conditions`, if any.
pub(crate) fn condition<'a>(object: &'a DynamicObject, type_: &str) -> Option<&'a Value> {
    object.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|condition| condition["type"].as_str() == Some(type_))
}

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field].as_str().unwrap_or_default()
}

/// Ready's status and message as `flux get` prints them (`False`, "waiting to be reconciled"
/// before the first status).
pub(crate) fn ready_and_message(object: &DynamicObject) -> (String, String) {
    match condition(object, conditions::READY) {
        Some(ready) => (text(ready, "status").into(), text(ready, "message").into()),
        None => ("False".into(), "waiting to be reconciled".into()),
    }
}

/// `spec.suspend`.
pub(crate) fn suspended(object: &DynamicObject) -> bool {
    object.data["spec"]["suspend"].as_bool().unwrap_or(false)
}

/// Whether a reconcile has come to a conclusion, and which.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Still working on it (or on an older generation).
    Pending,
    /// Ready=True.
    Ready,
    /// Ready=False for good (stalled, or failed and not retrying at once); the message.
    Failed(String),
}

/// Reads the outcome from the status: the current generation observed, and Ready decided
/// (kstatus: `Reconciling=True` with reason `Progressing` means not yet; a failure that is
/// being retried counts as failed, since the command reports the attempt it asked for).
pub(crate) fn outcome(object: &DynamicObject) -> Outcome {
    let generation = object.metadata.generation.unwrap_or(0);
    let Some(ready) = condition(object, conditions::READY) else {
        return Outcome::Pending;
    };
    // As flux's readiness check: the Ready condition's own observedGeneration when it has one
    // (a retried failure leaves status.observedGeneration behind), else the status's.
    let observed = match ready["observedGeneration"].as_i64() {
        Some(observed) if observed != 0 => observed,
        _ => object.data["status"]["observedGeneration"]
            .as_i64()
            .unwrap_or(-1),
    };
    if observed < generation {
        return Outcome::Pending;
    }
    let reconciling = condition(object, conditions::RECONCILING)
        .filter(|condition| text(condition, "status") == "True");
    let stalled = condition(object, conditions::STALLED)
        .is_some_and(|condition| text(condition, "status") == "True");
    match text(ready, "status") {
        "True" if reconciling.is_none() => Outcome::Ready,
        "False"
            if stalled
                || reconciling.is_none_or(|condition| {
                    text(condition, "reason") == reasons::PROGRESSING_WITH_RETRY
                }) =>
        {
            Outcome::Failed(text(ready, "message").to_string())
        }
        _ => Outcome::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(generation: i64, status: Value) -> DynamicObject {
        let mut object: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": "default", "generation": generation},
        }))
        .expect("object");
        object.data["status"] = status;
        object
    }

    fn condition(type_: &str, status: &str, reason: &str) -> Value {
        json!({"type": type_, "status": status, "reason": reason, "message": "msg"})
    }

    #[test]
    fn a_ready_object_at_its_generation_has_succeeded() {
        let ready = object(
            2,
            json!({"observedGeneration": 2, "conditions": [condition("Ready", "True", "ReconciliationSucceeded")]}),
        );
        assert_eq!(outcome(&ready), Outcome::Ready);
    }

    #[test]
    fn an_older_generation_or_a_reconcile_in_progress_is_pending() {
        let old = object(
            3,
            json!({"observedGeneration": 2, "conditions": [condition("Ready", "True", "ReconciliationSucceeded")]}),
        );
        assert_eq!(outcome(&old), Outcome::Pending);
        let progressing = object(
            2,
            json!({"observedGeneration": 2, "conditions": [
                condition("Reconciling", "True", "Progressing"),
                condition("Ready", "Unknown", "Progressing")]}),
        );
        assert_eq!(outcome(&progressing), Outcome::Pending);
    }

    #[test]
    fn a_failure_being_retried_or_stalled_has_failed() {
        let retrying = object(
            1,
            json!({"observedGeneration": 1, "conditions": [
                condition("Reconciling", "True", "ProgressingWithRetry"),
                condition("Ready", "False", "BuildFailed")]}),
        );
        assert_eq!(outcome(&retrying), Outcome::Failed("msg".into()));
        let stalled = object(
            1,
            json!({"observedGeneration": 1, "conditions": [
                condition("Stalled", "True", "InvalidPath"),
                condition("Ready", "False", "InvalidPath")]}),
        );
        assert_eq!(outcome(&stalled), Outcome::Failed("msg".into()));
    }
}
