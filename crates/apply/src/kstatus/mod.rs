//! kstatus: the health of any Kubernetes object, computed from the object alone
//! (`sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute`, which Flux health checks use).
//!
//! The order of the rules is the contract:
//!
//! 1. `metadata.deletionTimestamp` set ⇒ [`Status::Terminating`].
//! 2. `metadata.generation` differs from `status.observedGeneration` (when the latter exists)
//!    ⇒ [`Status::InProgress`] (`LatestGenerationNotObserved`).
//! 3. A `Reconciling=True` condition ⇒ InProgress; a `Stalled=True` condition ⇒
//!    [`Status::Failed`]. These "abnormal-true" conditions are how custom resources (Flux's own
//!    kinds included) report progress. A `Ready` condition alone is *not* interpreted: a
//!    custom resource with `Ready=False` and neither of the two is Current, exactly as in
//!    cli-utils (Flux users add `healthCheckExprs` for such kinds).
//! 4. Built-in kinds have their own rules (module `builtin`): Deployment, StatefulSet, DaemonSet,
//!    ReplicaSet, Pod, PersistentVolumeClaim, Service, Job, CronJob, PodDisruptionBudget,
//!    CustomResourceDefinition; Secret and ConfigMap are always ready.
//! 5. Anything else is [`Status::Current`].
//!
//! [`Status::NotFound`] and [`Status::Unknown`] come from the poller: the object is missing,
//! or its status could not be computed (a malformed field, an unknown Pod phase).

mod builtin;

use jiff::Timestamp;
use serde_json::Value;

/// The health of an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Not yet reconciled to its desired state.
    InProgress,
    /// Reconciliation failed and will not make progress on its own.
    Failed,
    /// Reconciled and healthy.
    Current,
    /// Being deleted.
    Terminating,
    /// Does not exist.
    NotFound,
    /// Could not be determined.
    Unknown,
}

impl Status {
    /// kstatus's name for the status (`InProgress`, `Current`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::InProgress => "InProgress",
            Status::Failed => "Failed",
            Status::Current => "Current",
            Status::Terminating => "Terminating",
            Status::NotFound => "NotFound",
            Status::Unknown => "Unknown",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One of kstatus's standard conditions, as derived for an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// `Reconciling` or `Stalled`.
    pub type_: String,
    /// `True`.
    pub status: String,
    /// CamelCase reason.
    pub reason: String,
    /// Human-readable explanation.
    pub message: String,
}

/// The computed health of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The status.
    pub status: Status,
    /// Why, in kstatus's words.
    pub message: String,
    /// The standard conditions the object would carry.
    pub conditions: Vec<Condition>,
}

impl Outcome {
    fn new(status: Status, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            conditions: Vec::new(),
        }
    }

    fn current(message: impl Into<String>) -> Self {
        Self::new(Status::Current, message)
    }

    fn in_progress(reason: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            status: Status::InProgress,
            conditions: vec![condition("Reconciling", reason, &message)],
            message,
        }
    }

    fn failed(reason: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            status: Status::Failed,
            conditions: vec![condition("Stalled", reason, &message)],
            message,
        }
    }

    /// The outcome for an object that does not exist.
    pub fn not_found() -> Self {
        Self::new(Status::NotFound, "Resource not found")
    }

    /// The outcome for an object whose status could not be read or computed.
    pub fn unknown(message: impl Into<String>) -> Self {
        Self::new(Status::Unknown, message)
    }
}

fn condition(type_: &str, reason: &str, message: &str) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: "True".to_string(),
        reason: reason.to_string(),
        message: message.to_string(),
    }
}

/// Why a status could not be computed (reported as [`Status::Unknown`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ComputeError(pub String);

/// Computes the health of `object` as cli-utils' `status.Compute` does; errors become
/// [`Status::Unknown`] with the error as message.
pub fn compute(object: &Value) -> Outcome {
    compute_at(object, Timestamp::now())
}

/// [`compute`] with an explicit current time (a Pending, unschedulable Pod gets a grace
/// period measured from its creation).
pub fn compute_at(object: &Value, now: Timestamp) -> Outcome {
    match try_compute(object, now) {
        Ok(outcome) => outcome,
        Err(error) => Outcome::unknown(error.0),
    }
}

/// Computes health with the readers kustomize-controller installs: Flux's Job reader
/// (fluxcd/pkg `runtime/statusreaders`: a Job is in progress until it completes, Current if
/// suspended, Failed on `Failed=True`) and cli-utils' rules for everything else.
pub fn compute_for_flux(object: &Value, now: Timestamp) -> Outcome {
    let (group, kind) = group_and_kind(object);
    if group == "batch" && kind == "Job" {
        return match builtin::flux_job(object) {
            Ok(outcome) => outcome,
            Err(error) => Outcome::unknown(error.0),
        };
    }
    compute_at(object, now)
}

fn try_compute(object: &Value, now: Timestamp) -> Result<Outcome, ComputeError> {
    if let Some(outcome) = generic(object)? {
        return Ok(outcome);
    }
    let (group, kind) = group_and_kind(object);
    if let Some(outcome) = builtin::compute(&group, &kind, object, now)? {
        return Ok(outcome);
    }
    Ok(Outcome::current("Resource is current"))
}

fn group_and_kind(object: &Value) -> (String, String) {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let group = api_version
        .rsplit_once('/')
        .map(|(group, _)| group)
        .unwrap_or("");
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    (group.to_string(), kind.to_string())
}

fn kind_of(object: &Value) -> &str {
    object.get("kind").and_then(Value::as_str).unwrap_or("")
}

/// Rules 1–3: deletion, generation, and the standard conditions.
fn generic(object: &Value) -> Result<Option<Outcome>, ComputeError> {
    let deletion = nested_string(object, &["metadata", "deletionTimestamp"])?;
    if deletion.is_some_and(|timestamp| !timestamp.is_empty()) {
        return Ok(Some(Outcome::new(
            Status::Terminating,
            "Resource scheduled for deletion",
        )));
    }
    if let Some(generation) = nested_int(object, &["metadata", "generation"])?
        && let Some(observed) = nested_int(object, &["status", "observedGeneration"])?
        && observed != generation
    {
        let message = format!(
            "{} generation is {generation}, but latest observed generation is {observed}",
            kind_of(object)
        );
        return Ok(Some(Outcome::in_progress(
            "LatestGenerationNotObserved",
            message,
        )));
    }
    for condition in conditions(object)? {
        if condition.type_ == "Reconciling" && condition.status == "True" {
            return Ok(Some(Outcome {
                status: Status::InProgress,
                message: condition.message.clone(),
                conditions: vec![condition],
            }));
        }
        if condition.type_ == "Stalled" && condition.status == "True" {
            return Ok(Some(Outcome {
                status: Status::Failed,
                message: condition.message.clone(),
                conditions: vec![condition],
            }));
        }
    }
    Ok(None)
}

fn nested<'value>(object: &'value Value, path: &[&str]) -> Option<&'value Value> {
    path.iter()
        .try_fold(object, |current, key| current.as_object()?.get(*key))
}

/// `unstructured.NestedString`: absent is `None`, present but not a string is an error.
fn nested_string<'value>(
    object: &'value Value,
    path: &[&str],
) -> Result<Option<&'value str>, ComputeError> {
    match nested(object, path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(ComputeError(format!(
            "looking up {} from resource: .{} accessor error: {other} is not a string",
            path.join("."),
            path.join(".")
        ))),
    }
}

/// `unstructured.NestedInt64`: absent is `None`, present but not an integer is an error.
fn nested_int(object: &Value, path: &[&str]) -> Result<Option<i64>, ComputeError> {
    match nested(object, path) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value.as_i64().map(Some).ok_or_else(|| {
            ComputeError(format!(
                "looking up {} from resource: .{} accessor error: {value} is not an int64",
                path.join("."),
                path.join(".")
            ))
        }),
    }
}

/// `GetIntField`: the integer at `path`, or `default` when absent or of another type.
fn int_field(object: &Value, path: &[&str], default: i64) -> i64 {
    nested(object, path)
        .and_then(Value::as_i64)
        .unwrap_or(default)
}

/// `GetStringField`: the string at `path`, or `default`.
fn string_field<'value>(object: &'value Value, path: &[&str], default: &'value str) -> &'value str {
    nested(object, path)
        .and_then(Value::as_str)
        .unwrap_or(default)
}

/// `status.conditions` as kstatus reads them (type, status, reason, message).
fn conditions(object: &Value) -> Result<Vec<Condition>, ComputeError> {
    let items = match nested(object, &["status", "conditions"]) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(ComputeError(
                "status.conditions does not have the expected structure".to_string(),
            ));
        }
    };
    let field = |item: &Value, key: &str| {
        item.get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    Ok(items
        .iter()
        .map(|item| Condition {
            type_: field(item, "type"),
            status: field(item, "status"),
            reason: field(item, "reason"),
            message: field(item, "message"),
        })
        .collect())
}

#[cfg(test)]
mod tests;
