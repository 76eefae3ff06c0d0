//! `x-kubernetes-validations`: CEL rules in custom resource schemas, evaluated with the `cel`
//! crate. `self` is the value at the rule's node and `oldSelf` its previous value on updates
//! (transition rules are skipped on create, as kube-apiserver does). Only a rule that
//! evaluates to `false` rejects an object: a rule the crate cannot compile or evaluate (e.g. a
//! Kubernetes-specific library function) is treated as passing, so the server errs on the side
//! of accepting what a real cluster might accept.

use serde_json::Value;

use crate::status::{Cause, cause};

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(number) if number.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn display(path: &str) -> String {
    match path.trim_start_matches('.') {
        "" => "<root>".to_string(),
        trimmed => trimmed.to_string(),
    }
}

/// Evaluates one rule; `Some(false)` only when it definitely fails. The evaluator is a
/// third-party interpreter fed user input, so a panic inside it counts as "cannot evaluate"
/// rather than taking the request (and the store lock) down with it.
fn evaluate(rule: &str, value: &Value, old: Option<&Value>) -> Option<bool> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let program = cel::Program::compile(rule).ok()?;
        let mut context = cel::Context::default();
        context.add_variable("self", value).ok()?;
        if let Some(old) = old {
            context.add_variable("oldSelf", old).ok()?;
        }
        match program.execute(&context) {
            Ok(cel::Value::Bool(passed)) => Some(passed),
            _ => None,
        }
    }))
    .ok()
    .flatten()
}

fn check_node(
    schema: &Value,
    value: &Value,
    old: Option<&Value>,
    path: &str,
    causes: &mut Vec<Cause>,
) {
    let Some(rules) = schema
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
    else {
        return;
    };
    for rule in rules {
        let Some(expression) = rule.get("rule").and_then(Value::as_str) else {
            continue;
        };
        if old.is_none() && expression.contains("oldSelf") {
            continue;
        }
        if evaluate(expression, value, old) != Some(false) {
            continue;
        }
        let message = rule
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("failed rule: {expression}"));
        let field = match rule.get("fieldPath").and_then(Value::as_str) {
            Some(extra) => display(&format!("{path}{extra}")),
            None => display(path),
        };
        let (reason, detail) = match rule.get("reason").and_then(Value::as_str) {
            Some("FieldValueForbidden") => ("FieldValueForbidden", format!("Forbidden: {message}")),
            Some("FieldValueRequired") => {
                ("FieldValueRequired", format!("Required value: {message}"))
            }
            Some("FieldValueDuplicate") => {
                ("FieldValueDuplicate", format!("Duplicate value: {message}"))
            }
            _ => (
                "FieldValueInvalid",
                format!("Invalid value: \"{}\": {message}", type_name(value)),
            ),
        };
        causes.push(cause(reason, &field, detail));
    }
}

/// Every failing rule in `value` (and, for updates, compared with `old`).
pub(crate) fn validate(schema: &Value, value: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut causes = Vec::new();
    walk(schema, value, old, "", &mut causes);
    causes
}

fn walk(schema: &Value, value: &Value, old: Option<&Value>, path: &str, causes: &mut Vec<Cause>) {
    check_node(schema, value, old, path, causes);
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|s| s.is_object());
            for (key, child) in map {
                if path.is_empty() && key == "metadata" {
                    continue;
                }
                let Some(child_schema) = properties.and_then(|p| p.get(key)).or(additional) else {
                    continue;
                };
                let old_child = old.and_then(|old| old.get(key));
                walk(
                    child_schema,
                    child,
                    old_child,
                    &format!("{path}.{key}"),
                    causes,
                );
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    walk(item_schema, item, None, &format!("{path}[{index}]"), causes);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {"spec": {
                "type": "object",
                "x-kubernetes-validations": [
                    {"rule": "has(self.chart) != has(self.chartRef)", "message": "exactly one of chart or chartRef must be set"},
                    {"rule": "self.replicas <= 5"},
                    {"rule": "self.replicas >= oldSelf.replicas", "message": "replicas may not shrink"},
                    {"rule": "self.name.matches('^[a-z]+$')", "fieldPath": ".name"},
                    {"rule": "self.unknownFunction()"}
                ],
                "properties": {
                    "chart": {"type": "string"},
                    "chartRef": {"type": "object"},
                    "replicas": {"type": "integer"},
                    "name": {"type": "string"}
                }
            }}
        })
    }

    fn messages(value: &Value, old: Option<&Value>) -> Vec<String> {
        validate(&schema(), value, old)
            .into_iter()
            .map(|cause| cause.text())
            .collect()
    }

    #[test]
    fn passing_rules_and_unevaluable_rules_accept() {
        let valid = json!({"spec": {"chart": "a", "replicas": 2, "name": "ok"}});
        assert!(messages(&valid, None).is_empty());
    }

    #[test]
    fn failing_rules_report_their_message_or_the_rule() {
        let invalid = json!({"spec": {"chart": "a", "chartRef": {}, "replicas": 9, "name": "NO"}});
        let found = messages(&invalid, None);
        assert!(
            found.contains(
                &"spec: Invalid value: \"object\": exactly one of chart or chartRef must be set"
                    .to_string()
            ),
            "{found:?}"
        );
        assert!(
            found.contains(
                &"spec: Invalid value: \"object\": failed rule: self.replicas <= 5".to_string()
            ),
            "{found:?}"
        );
        assert!(
            found.iter().any(|m| m.starts_with("spec.name: ")),
            "{found:?}"
        );
    }

    #[test]
    fn transition_rules_apply_only_to_updates() {
        let shrunk = json!({"spec": {"chart": "a", "replicas": 1, "name": "ok"}});
        assert!(messages(&shrunk, None).is_empty());
        let old = json!({"spec": {"chart": "a", "replicas": 3, "name": "ok"}});
        let found = messages(&shrunk, Some(&old));
        assert_eq!(
            found,
            vec!["spec: Invalid value: \"object\": replicas may not shrink".to_string()]
        );
    }
}
