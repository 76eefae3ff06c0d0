//! `dependsOn` (KC `checkDependencies`): a dependency is ready when it exists, has observed
//! its current generation, is Ready=True and, when it takes its manifests from the same
//! source, has applied the revision this Kustomization is about to apply. A `readyExpr` (CEL,
//! with the dependency as `dep` and this Kustomization as `self`) replaces that built-in check,
//! or adds to it with the `AdditiveCELDependencyCheck` gate.

use eddy_api::kustomize::v1::Kustomization;
use eddy_api::meta::conditions::READY;
use kube::Api;

use super::source::source_namespace;

/// Why the dependencies hold this Kustomization back.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DependencyError {
    /// A dependency is missing or not ready; retried after `--requeue-dependency`.
    #[error("{0}")]
    NotReady(String),
    /// A `readyExpr` does not compile: a configuration error, not retried.
    #[error(
        "Reconciliation failed terminally due to configuration error: failed to evaluate dependency {name}: {message}"
    )]
    InvalidReadyExpression {
        /// The dependency's name.
        name: String,
        /// The compiler's message.
        message: String,
    },
}

/// Checks every `dependsOn` entry of `kustomization` against the live objects.
pub async fn check(
    client: &kube::Client,
    kustomization: &Kustomization,
    revision: &str,
    additive_expressions: bool,
) -> Result<(), DependencyError> {
    let own_namespace = kustomization.metadata.namespace.clone().unwrap_or_default();
    for reference in kustomization.spec.depends_on.iter().flatten() {
        let namespace = reference
            .namespace
            .clone()
            .filter(|namespace| !namespace.is_empty())
            .unwrap_or_else(|| own_namespace.clone());
        let qualified = format!("{namespace}/{}", reference.name);
        let expression = reference
            .ready_expr
            .as_deref()
            .filter(|expression| !expression.is_empty());
        let api: Api<Kustomization> = Api::namespaced(client.clone(), &namespace);
        let dependency = api.get(&reference.name).await.map_err(|error| {
            DependencyError::NotReady(format!(
                "dependency '{qualified}' not found: {}",
                eddy_runtime::client::one_line(&error)
            ))
        })?;
        if let Some(expression) = expression {
            if !evaluate_ready_expression(expression, kustomization, &dependency)? {
                return Err(DependencyError::NotReady(format!(
                    "dependency '{qualified}' is not ready according to readyExpr eval"
                )));
            }
            if !additive_expressions {
                continue;
            }
        }
        is_ready(kustomization, &dependency, revision)
            .map_err(|why| DependencyError::NotReady(format!("dependency '{qualified}' {why}")))?;
    }
    Ok(())
}

/// Evaluates a `readyExpr` with `self` (the dependant) and `dep` (the dependency).
pub fn evaluate_ready_expression(
    expression: &str,
    dependant: &Kustomization,
    dependency: &Kustomization,
) -> Result<bool, DependencyError> {
    let name = dependency.metadata.name.clone().unwrap_or_default();
    let program = cel::Program::compile(expression).map_err(|error| {
        DependencyError::InvalidReadyExpression {
            name: name.clone(),
            message: error.to_string(),
        }
    })?;
    let not_ready = |message: String| {
        DependencyError::NotReady(format!("failed to evaluate dependency {name}: {message}"))
    };
    let mut context = cel::Context::default();
    for (variable, object) in [("self", dependant), ("dep", dependency)] {
        let value = serde_json::to_value(object).map_err(|error| not_ready(error.to_string()))?;
        context
            .add_variable(variable, value)
            .map_err(|error| not_ready(error.to_string()))?;
    }
    match program.execute(&context) {
        Ok(cel::Value::Bool(ready)) => Ok(ready),
        Ok(other) => Err(not_ready(format!(
            "expression must evaluate to a bool, got {:?}",
            other.type_of()
        ))),
        Err(error) => Err(not_ready(error.to_string())),
    }
}

/// Flux's built-in readiness of one dependency; the error completes
/// `dependency 'ns/name' …`.
pub fn is_ready(
    dependant: &Kustomization,
    dependency: &Kustomization,
    revision: &str,
) -> Result<(), &'static str> {
    let status = dependency.status.as_ref();
    let conditions = status
        .and_then(|status| status.conditions.as_deref())
        .unwrap_or_default();
    let observed = status.and_then(|status| status.observed_generation);
    if conditions.is_empty() || dependency.metadata.generation != observed {
        return Err("is not ready");
    }
    if !eddy_runtime::conditions::is_true(conditions, READY) {
        return Err("is not ready");
    }
    let same_source = dependency.spec.source_ref.name == dependant.spec.source_ref.name
        && dependency.spec.source_ref.kind == dependant.spec.source_ref.kind
        && source_namespace(dependency) == source_namespace(dependant);
    let applied = status.and_then(|status| status.last_applied_revision.as_deref());
    if same_source && applied != Some(revision) {
        return Err("revision is not up to date");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kustomization(name: &str, source: &str, status: serde_json::Value) -> Kustomization {
        serde_json::from_value(json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": name, "namespace": "flux-system", "generation": 2},
            "spec": {"interval": "10m", "prune": true,
                "sourceRef": {"kind": "GitRepository", "name": source}},
            "status": status,
        }))
        .unwrap_or_else(|error| panic!("{error}"))
    }

    fn ready(generation: i64, revision: &str) -> serde_json::Value {
        json!({"observedGeneration": generation, "lastAppliedRevision": revision,
            "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
                "message": "", "lastTransitionTime": "2024-01-01T00:00:00Z"}]})
    }

    #[test]
    fn a_ready_dependency_at_the_same_revision_is_ready() {
        let dependant = kustomization("apps", "repo", json!({}));
        let dependency = kustomization("infra", "repo", ready(2, "main@sha1:a"));
        assert_eq!(is_ready(&dependant, &dependency, "main@sha1:a"), Ok(()));
    }

    #[test]
    fn a_dependency_behind_on_the_shared_source_is_not_up_to_date() {
        let dependant = kustomization("apps", "repo", json!({}));
        let dependency = kustomization("infra", "repo", ready(2, "main@sha1:a"));
        assert_eq!(
            is_ready(&dependant, &dependency, "main@sha1:b"),
            Err("revision is not up to date")
        );
        let other_source = kustomization("infra", "other", ready(2, "main@sha1:a"));
        assert_eq!(is_ready(&dependant, &other_source, "main@sha1:b"), Ok(()));
    }

    #[test]
    fn ready_expressions_see_the_dependency_and_the_dependant() {
        let dependant = kustomization("apps", "repo", json!({}));
        let dependency = kustomization("infra", "repo", ready(2, "main@sha1:a"));
        let expression =
            "dep.status.lastAppliedRevision == 'main@sha1:a' && self.metadata.name == 'apps'";
        assert_eq!(
            evaluate_ready_expression(expression, &dependant, &dependency),
            Ok(true)
        );
        assert_eq!(
            evaluate_ready_expression("dep.metadata.name == 'other'", &dependant, &dependency),
            Ok(false)
        );
        assert!(matches!(
            evaluate_ready_expression("dep.(", &dependant, &dependency),
            Err(DependencyError::InvalidReadyExpression { .. })
        ));
    }

    #[test]
    fn a_stale_generation_or_missing_conditions_is_not_ready() {
        let dependant = kustomization("apps", "repo", json!({}));
        let stale = kustomization("infra", "repo", ready(1, "main@sha1:a"));
        assert_eq!(
            is_ready(&dependant, &stale, "main@sha1:a"),
            Err("is not ready")
        );
        let fresh = kustomization("infra", "repo", json!({}));
        assert_eq!(
            is_ready(&dependant, &fresh, "main@sha1:a"),
            Err("is not ready")
        );
    }
}
