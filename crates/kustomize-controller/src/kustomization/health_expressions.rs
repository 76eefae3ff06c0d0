//! `healthCheckExprs`: CEL expressions deciding the health of custom kinds (fluxcd/pkg
//! `runtime/cel` status reader). For an object of a listed group and kind, `inProgress` is
//! evaluated first, then `failed`, then `current`; none true means InProgress. The object's
//! top-level fields (`apiVersion`, `kind`, `metadata`, `spec`, `status`) are the variables.
//! Other objects keep kstatus.
//!
//! When no expression applies, waiting is eddy-apply's `wait_for`; otherwise this module polls
//! with the same rules and messages.

use std::collections::HashMap;
use std::time::Instant;

use eddy_api::kustomize::v1::CustomHealthCheck;
use eddy_apply::ObjectRef;
use eddy_apply::kstatus::Status;
use eddy_apply::manager::{ResourceManager, WaitOptions};
use eddy_apply::object::split_api_version;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::core::GroupVersionKind;
use serde_json::Value;

/// The variables an expression sees.
const VARIABLES: [&str; 5] = ["apiVersion", "kind", "metadata", "spec", "status"];

/// Checks that every expression compiles (a configuration error otherwise).
pub fn validate(checks: &[CustomHealthCheck]) -> Result<(), String> {
    for check in checks {
        let expressions = [
            Some(check.current.as_str()),
            check.in_progress.as_deref(),
            check.failed.as_deref(),
        ];
        for expression in expressions.into_iter().flatten() {
            cel::Program::compile(expression)
                .map_err(|error| format!("failed to parse expression {expression:?}: {error}"))?;
        }
    }
    Ok(())
}

/// The health check that applies to an object, if any: same API group (the version does not
/// matter) and, when given, same kind.
pub fn check_for<'a>(
    checks: &'a [CustomHealthCheck],
    object: &ObjectRef,
) -> Option<&'a CustomHealthCheck> {
    checks.iter().find(|check| {
        let (group, _) = split_api_version(&check.api_version);
        group == object.group && check.kind.as_ref().is_none_or(|kind| *kind == object.kind)
    })
}

/// The status the expressions give an object.
pub fn evaluate(check: &CustomHealthCheck, object: &Value) -> (Status, String) {
    let ordered = [
        (check.in_progress.as_deref(), Status::InProgress),
        (check.failed.as_deref(), Status::Failed),
        (Some(check.current.as_str()), Status::Current),
    ];
    for (expression, status) in ordered {
        let Some(expression) = expression else {
            continue;
        };
        match evaluate_one(expression, object) {
            Ok(true) => return (status, String::new()),
            Ok(false) => {}
            Err(message) => return (Status::Unknown, message),
        }
    }
    (Status::InProgress, String::new())
}

fn evaluate_one(expression: &str, object: &Value) -> Result<bool, String> {
    let program = cel::Program::compile(expression).map_err(|error| error.to_string())?;
    let mut context = cel::Context::default();
    for variable in VARIABLES {
        let value = object.get(variable).cloned().unwrap_or(Value::Null);
        context
            .add_variable(variable, value)
            .map_err(|error| error.to_string())?;
    }
    match program.execute(&context) {
        Ok(cel::Value::Bool(result)) => Ok(result),
        Ok(other) => Err(format!(
            "expression {expression:?} must evaluate to a bool, got {:?}",
            other.type_of()
        )),
        Err(error) => Err(format!("failed to evaluate {expression:?}: {error}")),
    }
}

/// Waits for `objects`, using the expressions for the kinds they cover and kstatus for the
/// rest, with eddy-apply's rules and messages.
pub async fn wait_for(
    manager: &ResourceManager,
    client: &kube::Client,
    objects: &[ObjectRef],
    checks: &[CustomHealthCheck],
    options: &WaitOptions,
) -> Result<(), String> {
    if objects
        .iter()
        .all(|object| check_for(checks, object).is_none())
    {
        return manager
            .wait_for(objects, options)
            .await
            .map_err(|error| error.to_string());
    }
    let deadline = Instant::now() + options.timeout;
    let mut resources: HashMap<(String, String, String), ApiResource> = HashMap::new();
    loop {
        let mut outcomes = Vec::with_capacity(objects.len());
        for object in objects {
            let outcome = match check_for(checks, object) {
                None => {
                    let outcome = manager.status_of(object).await;
                    (outcome.status, outcome.message)
                }
                Some(check) => match read(client, object, &mut resources).await {
                    Ok(Some(found)) => evaluate(check, &found),
                    Ok(None) => (Status::NotFound, String::new()),
                    Err(message) => (Status::Unknown, message),
                },
            };
            // Finished Jobs with a TTL are deleted by the cluster: gone counts as done.
            let outcome = match outcome {
                (Status::NotFound, _)
                    if options
                        .jobs_with_ttl
                        .iter()
                        .any(|job| job.id() == object.id()) =>
                {
                    (Status::Current, String::new())
                }
                other => other,
            };
            outcomes.push(outcome);
        }
        if outcomes
            .iter()
            .all(|(status, _)| *status == Status::Current)
        {
            return Ok(());
        }
        let any_failed = outcomes.iter().any(|(status, _)| *status == Status::Failed);
        let terminal = outcomes
            .iter()
            .all(|(status, _)| matches!(status, Status::Current | Status::Failed));
        let timed_out = Instant::now() >= deadline;
        if (options.fail_fast && any_failed) || terminal || timed_out {
            let listed: Vec<String> = objects
                .iter()
                .zip(&outcomes)
                .filter(|(_, (status, _))| {
                    *status == Status::Failed || (timed_out && *status != Status::Current)
                })
                .map(|(object, (status, message))| {
                    let mut text = format!("{} status: '{status}'", object.subject());
                    if *status == Status::Unknown && !message.is_empty() {
                        text.push_str(&format!(": {message}"));
                    }
                    text
                })
                .collect();
            let prefix = if timed_out {
                "timeout waiting for"
            } else {
                "failed early due to stalled resources"
            };
            return Err(format!("{prefix}: [{}]", listed.join(", ")));
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(options.interval.min(remaining)).await;
    }
}

async fn read(
    client: &kube::Client,
    object: &ObjectRef,
    resources: &mut HashMap<(String, String, String), ApiResource>,
) -> Result<Option<Value>, String> {
    let key = (
        object.group.clone(),
        object.version.clone(),
        object.kind.clone(),
    );
    let resource = match resources.get(&key) {
        Some(resource) => resource.clone(),
        None => {
            let kind = GroupVersionKind::gvk(&object.group, &object.version, &object.kind);
            let (resource, _) = kube::discovery::pinned_kind(client, &kind)
                .await
                .map_err(|error| error.to_string())?;
            resources.insert(key, resource.clone());
            resource
        }
    };
    let api: Api<DynamicObject> = if object.namespace.is_empty() {
        Api::all_with(client.clone(), &resource)
    } else {
        Api::namespaced_with(client.clone(), &object.namespace, &resource)
    };
    let found = api
        .get_opt(&object.name)
        .await
        .map_err(|error| error.to_string())?;
    Ok(found.and_then(|found| serde_json::to_value(found).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn certificate_check() -> CustomHealthCheck {
        CustomHealthCheck {
            api_version: "cert-manager.io/v1".into(),
            kind: Some("Certificate".into()),
            current: "status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'True')"
                .into(),
            in_progress: None,
            failed: Some(
                "status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'False')".into(),
            ),
        }
    }

    fn certificate(ready: &str) -> Value {
        json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "tls"}, "spec": {},
            "status": {"conditions": [{"type": "Ready", "status": ready}]}})
    }

    #[test]
    fn expressions_decide_current_and_failed() {
        let check = certificate_check();
        assert_eq!(evaluate(&check, &certificate("True")).0, Status::Current);
        assert_eq!(evaluate(&check, &certificate("False")).0, Status::Failed);
    }

    #[test]
    fn checks_match_by_group_and_kind() {
        let checks = [certificate_check()];
        let object = ObjectRef::of(&certificate("True"));
        assert!(check_for(&checks, &object).is_some());
        let other = ObjectRef::of(&json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"}}));
        assert!(check_for(&checks, &other).is_none());
    }

    #[test]
    fn expressions_that_do_not_parse_are_configuration_errors() {
        let mut check = certificate_check();
        check.current = "status.(".into();
        assert!(validate(&[check]).is_err());
        assert!(validate(&[certificate_check()]).is_ok());
    }
}
