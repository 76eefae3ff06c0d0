//! Structural-schema handling for custom resources, in kube-apiserver's order: prune fields the
//! schema does not declare (remembering them for `fieldValidation`), apply defaults, then
//! validate. Supported validations: type, nullable, required, enum, pattern, minimum/maximum
//! (and exclusive), min/maxLength, min/maxItems, min/maxProperties, uniqueItems, a set of
//! formats, allOf/anyOf/oneOf/not, x-kubernetes-int-or-string, x-kubernetes-preserve-unknown-fields
//! and x-kubernetes-embedded-resource. CEL rules (x-kubernetes-validations) are not evaluated.

use serde_json::{Map, Value};

use crate::status::{Cause, cause};

/// Root fields every object keeps regardless of its schema.
const ROOT_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Removes undeclared fields, returning their paths (e.g. `.spec.extra`) in document order.
pub(crate) fn prune(schema: &Value, object: &mut Value) -> Vec<String> {
    let mut unknown = Vec::new();
    prune_value(schema, object, "", true, &mut unknown);
    unknown
}

fn preserves_unknown(schema: &Value) -> bool {
    schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
}

fn prune_value(
    schema: &Value,
    value: &mut Value,
    path: &str,
    root: bool,
    unknown: &mut Vec<String>,
) {
    let embedded = root || schema.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true));
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            let preserve = preserves_unknown(schema);
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let child_path = format!("{path}.{key}");
                if embedded && ROOT_FIELDS.contains(&key.as_str()) {
                    continue;
                }
                let child_schema =
                    properties
                        .and_then(|properties| properties.get(&key))
                        .or(match additional {
                            Some(Value::Object(_)) => additional,
                            _ => None,
                        });
                match child_schema {
                    Some(child_schema) => {
                        if let Some(child) = map.get_mut(&key) {
                            prune_value(child_schema, child, &child_path, false, unknown);
                        }
                    }
                    None => {
                        let allowed = preserve || additional == Some(&Value::Bool(true));
                        if !allowed {
                            map.remove(&key);
                            unknown.push(child_path);
                        }
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter_mut().enumerate() {
                    prune_value(
                        item_schema,
                        item,
                        &format!("{path}[{index}]"),
                        false,
                        unknown,
                    );
                }
            }
        }
        _ => {}
    }
}

/// Fills in declared defaults where fields are missing, depth first.
pub(crate) fn apply_defaults(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (key, property) in properties {
                    if let Some(default) = property.get("default") {
                        let missing = match map.get(key) {
                            None => true,
                            Some(Value::Null) => {
                                property.get("nullable") != Some(&Value::Bool(true))
                            }
                            Some(_) => false,
                        };
                        if missing {
                            map.insert(key.clone(), default.clone());
                        }
                    }
                }
                for (key, property) in properties {
                    if let Some(child) = map.get_mut(key) {
                        apply_defaults(property, child);
                    }
                }
            }
            if let Some(additional @ Value::Object(_)) = schema.get("additionalProperties") {
                for child in map.values_mut() {
                    apply_defaults(additional, child);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    apply_defaults(item_schema, item);
                }
            }
        }
        _ => {}
    }
}

/// Every way `value` breaks `schema`; the root path is empty.
pub(crate) fn validate(schema: &Value, value: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    validate_value(schema, value, "", true, &mut causes);
    causes
}

fn display_path(path: &str) -> String {
    let trimmed = path.trim_start_matches('.');
    if trimmed.is_empty() {
        "<root>".into()
    } else {
        trimmed.into()
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(number) if number.is_i64() || number.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn render(value: &Value) -> String {
    value.to_string()
}

fn type_matches(expected: &str, value: &Value) -> bool {
    match (expected, value) {
        ("object", Value::Object(_))
        | ("array", Value::Array(_))
        | ("string", Value::String(_))
        | ("boolean", Value::Bool(_)) => true,
        ("integer", Value::Number(number)) => {
            number.is_i64()
                || number.is_u64()
                || number.as_f64().is_some_and(|float| float.fract() == 0.0)
        }
        ("number", Value::Number(_)) => true,
        _ => false,
    }
}

fn validate_value(schema: &Value, value: &Value, path: &str, root: bool, causes: &mut Vec<Cause>) {
    let field = display_path(path);
    if value.is_null() {
        if schema.get("nullable") == Some(&Value::Bool(true)) || schema.get("type").is_none() {
            return;
        }
        causes.push(cause(
            "FieldValueTypeInvalid",
            &field,
            format!(
                "Invalid value: \"null\": {field} in body must be of type {}: \"null\"",
                schema
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("object")
            ),
        ));
        return;
    }
    let int_or_string = schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    if int_or_string {
        if !matches!(value, Value::String(_)) && !type_matches("integer", value) {
            causes.push(cause(
                "FieldValueTypeInvalid",
                &field,
                format!(
                    "Invalid value: \"{}\": {field} in body must be of type integer,string: \"{}\"",
                    type_name(value),
                    type_name(value)
                ),
            ));
            return;
        }
    } else if let Some(expected) = schema.get("type").and_then(Value::as_str)
        && !type_matches(expected, value)
    {
        causes.push(cause(
            "FieldValueTypeInvalid",
            &field,
            format!(
                "Invalid value: \"{}\": {field} in body must be of type {expected}: \"{}\"",
                type_name(value),
                type_name(value)
            ),
        ));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let listed: Vec<String> = allowed.iter().map(render).collect();
        causes.push(cause(
            "FieldValueNotSupported",
            &field,
            format!(
                "Unsupported value: {}: supported values: {}",
                render(value),
                listed.join(", ")
            ),
        ));
    }
    match value {
        Value::String(text) => validate_string(schema, text, &field, causes),
        Value::Number(_) => validate_number(schema, value, &field, causes),
        Value::Array(items) => {
            let count = items.len() as u64;
            if let Some(maximum) = schema.get("maxItems").and_then(Value::as_u64)
                && count > maximum
            {
                causes.push(cause(
                    "FieldValueTooMany",
                    &field,
                    format!("Too many: {count}: must have at most {maximum} items"),
                ));
            }
            if let Some(minimum) = schema.get("minItems").and_then(Value::as_u64)
                && count < minimum
            {
                causes.push(cause(
                    "FieldValueInvalid",
                    &field,
                    format!(
                        "Invalid value: {count}: {field} in body should have at least {minimum} items"
                    ),
                ));
            }
            if schema.get("uniqueItems") == Some(&Value::Bool(true)) {
                for (index, item) in items.iter().enumerate() {
                    if items[..index].contains(item) {
                        causes.push(cause(
                            "FieldValueDuplicate",
                            &format!("{field}[{index}]"),
                            format!("Duplicate value: {}", render(item)),
                        ));
                    }
                }
            }
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    validate_value(
                        item_schema,
                        item,
                        &format!("{path}[{index}]"),
                        false,
                        causes,
                    );
                }
            }
        }
        Value::Object(map) => validate_object(schema, map, path, root, causes),
        _ => {}
    }
    for combinator in ["allOf", "anyOf", "oneOf"] {
        let Some(branches) = schema.get(combinator).and_then(Value::as_array) else {
            continue;
        };
        let results: Vec<Vec<Cause>> = branches
            .iter()
            .map(|branch| {
                let mut branch_causes = Vec::new();
                validate_value(branch, value, path, root, &mut branch_causes);
                branch_causes
            })
            .collect();
        let passing = results.iter().filter(|result| result.is_empty()).count();
        match combinator {
            "allOf" => causes.extend(results.into_iter().flatten()),
            "anyOf" if passing == 0 && !results.is_empty() => {
                causes.extend(results.into_iter().flatten());
            }
            "oneOf" if passing != 1 && !results.is_empty() => causes.push(cause(
                "FieldValueInvalid",
                &field,
                format!(
                    "Invalid value: {}: {field} in body must match exactly one schema in oneOf",
                    render(value)
                ),
            )),
            _ => {}
        }
    }
    if let Some(negated) = schema.get("not") {
        let mut negated_causes = Vec::new();
        validate_value(negated, value, path, root, &mut negated_causes);
        if negated_causes.is_empty() {
            causes.push(cause(
                "FieldValueInvalid",
                &field,
                format!(
                    "Invalid value: {}: {field} in body must not validate the schema (not)",
                    render(value)
                ),
            ));
        }
    }
}

fn validate_object(
    schema: &Value,
    map: &Map<String, Value>,
    path: &str,
    root: bool,
    causes: &mut Vec<Cause>,
) {
    let field = display_path(path);
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(name) {
                causes.push(cause(
                    "FieldValueRequired",
                    &display_path(&format!("{path}.{name}")),
                    "Required value",
                ));
            }
        }
    }
    let count = map.len() as u64;
    if let Some(maximum) = schema.get("maxProperties").and_then(Value::as_u64)
        && count > maximum
    {
        causes.push(cause(
            "FieldValueTooMany",
            &field,
            format!("Too many: {count}: must have at most {maximum} items"),
        ));
    }
    if let Some(minimum) = schema.get("minProperties").and_then(Value::as_u64)
        && count < minimum
    {
        causes.push(cause(
            "FieldValueInvalid",
            &field,
            format!(
                "Invalid value: {count}: {field} in body should have at least {minimum} properties"
            ),
        ));
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    for (key, child) in map {
        if root && key == "metadata" {
            continue;
        }
        let child_schema = properties.and_then(|properties| properties.get(key)).or(
            match schema.get("additionalProperties") {
                Some(additional @ Value::Object(_)) => Some(additional),
                _ => None,
            },
        );
        if let Some(child_schema) = child_schema {
            validate_value(child_schema, child, &format!("{path}.{key}"), false, causes);
        }
    }
}

fn validate_string(schema: &Value, text: &str, field: &str, causes: &mut Vec<Cause>) {
    let length = text.chars().count() as u64;
    if let Some(maximum) = schema.get("maxLength").and_then(Value::as_u64)
        && length > maximum
    {
        causes.push(cause(
            "FieldValueTooLong",
            field,
            format!("Too long: may not be more than {maximum} bytes"),
        ));
    }
    if let Some(minimum) = schema.get("minLength").and_then(Value::as_u64)
        && length < minimum
    {
        causes.push(cause(
            "FieldValueInvalid",
            field,
            format!(
                "Invalid value: \"{text}\": {field} in body should be at least {minimum} chars long"
            ),
        ));
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        match regex::Regex::new(pattern) {
            Ok(expression) if !expression.is_match(text) => causes.push(cause(
                "FieldValueInvalid",
                field,
                format!("Invalid value: \"{text}\": {field} in body should match '{pattern}'"),
            )),
            _ => {}
        }
    }
    if let Some(format) = schema.get("format").and_then(Value::as_str)
        && !format_matches(format, text)
    {
        causes.push(cause(
            "FieldValueInvalid",
            field,
            format!(
                "Invalid value: \"{text}\": {field} in body must be of type {format}: \"{text}\""
            ),
        ));
    }
}

fn format_matches(format: &str, text: &str) -> bool {
    let matches = |pattern: &str| regex::Regex::new(pattern).is_ok_and(|re| re.is_match(text));
    match format {
        "date-time" | "datetime" => text.parse::<jiff::Timestamp>().is_ok(),
        "date" => text.parse::<jiff::civil::Date>().is_ok(),
        "uuid" => matches("^(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$"),
        "ipv4" => text.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => text.parse::<std::net::Ipv6Addr>().is_ok(),
        "cidr" => text.split_once('/').is_some_and(|(address, bits)| {
            address.parse::<std::net::IpAddr>().is_ok() && bits.parse::<u8>().is_ok()
        }),
        "hostname" => {
            matches(r"^[a-zA-Z0-9]([-a-zA-Z0-9]{0,62})?(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,62})?)*$")
        }
        "byte" => matches(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"),
        "duration" => matches(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$") || text == "0",
        "email" => matches(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
        _ => true,
    }
}

fn validate_number(schema: &Value, value: &Value, field: &str, causes: &mut Vec<Cause>) {
    let Some(number) = value.as_f64() else {
        return;
    };
    let exclusive_maximum = schema.get("exclusiveMaximum") == Some(&Value::Bool(true));
    if let Some(maximum) = schema.get("maximum").and_then(Value::as_f64)
        && (number > maximum || (exclusive_maximum && number >= maximum))
    {
        let relation = if exclusive_maximum {
            "less than"
        } else {
            "less than or equal to"
        };
        causes.push(cause(
            "FieldValueInvalid",
            field,
            format!(
                "Invalid value: {}: {field} in body should be {relation} {}",
                render(value),
                render(&schema["maximum"])
            ),
        ));
    }
    let exclusive_minimum = schema.get("exclusiveMinimum") == Some(&Value::Bool(true));
    if let Some(minimum) = schema.get("minimum").and_then(Value::as_f64)
        && (number < minimum || (exclusive_minimum && number <= minimum))
    {
        let relation = if exclusive_minimum {
            "greater than"
        } else {
            "greater than or equal to"
        };
        causes.push(cause(
            "FieldValueInvalid",
            field,
            format!(
                "Invalid value: {}: {field} in body should be {relation} {}",
                render(value),
                render(&schema["minimum"])
            ),
        ));
    }
    if let Some(step) = schema.get("multipleOf").and_then(Value::as_f64)
        && step != 0.0
        && (number / step).fract() != 0.0
    {
        causes.push(cause(
            "FieldValueInvalid",
            field,
            format!(
                "Invalid value: {}: {field} in body should be a multiple of {step}",
                render(value)
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn widget_schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["size"],
                    "properties": {
                        "size": {"type": "string", "enum": ["small", "large"]},
                        "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                        "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5},
                        "at": {"type": "string", "format": "date-time"},
                        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "port": {"x-kubernetes-int-or-string": true}
                    }
                },
                "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}
            }
        })
    }

    #[test]
    fn pruning_drops_undeclared_fields_but_keeps_preserved_ones() {
        let mut object = json!({
            "apiVersion": "x/v1", "kind": "Widget", "metadata": {"name": "a"},
            "spec": {"size": "small", "bogus": 1, "extra": {"anything": true}, "labels": {"a": "b"}},
            "junk": true
        });
        let unknown = prune(&widget_schema(), &mut object);
        assert_eq!(
            unknown,
            vec![".spec.bogus".to_string(), ".junk".to_string()]
        );
        assert_eq!(object["spec"]["extra"]["anything"], true);
        assert_eq!(object["spec"]["labels"]["a"], "b");
        assert_eq!(object["metadata"]["name"], "a");
    }

    #[test]
    fn defaults_fill_missing_fields() {
        let mut object = json!({"spec": {"size": "small"}});
        apply_defaults(&widget_schema(), &mut object);
        assert_eq!(object["spec"]["replicas"], 1);
    }

    #[test]
    fn validation_reports_each_broken_rule() {
        let object = json!({"spec": {
            "replicas": 20, "name": "ABCDEFG", "at": "yesterday", "port": true
        }});
        let messages: Vec<String> = validate(&widget_schema(), &object)
            .into_iter()
            .map(|cause| cause.text())
            .collect();
        assert!(
            messages.contains(&"spec.size: Required value".to_string()),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("should be less than or equal to 10"))
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("should match '^[a-z]+$'"))
        );
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("spec.name: Too long"))
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("must be of type date-time"))
        );
        assert!(messages.iter().any(|m| m.contains("integer,string")));
    }

    #[test]
    fn enum_violations_list_supported_values() {
        let causes = validate(&widget_schema(), &json!({"spec": {"size": "huge"}}));
        assert_eq!(
            causes[0].text(),
            "spec.size: Unsupported value: \"huge\": supported values: \"small\", \"large\""
        );
    }

    #[test]
    fn wrong_types_are_reported_once() {
        let causes = validate(
            &widget_schema(),
            &json!({"spec": {"size": "small", "replicas": "two"}}),
        );
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "spec.replicas");
    }
}
