//! `values.schema.json` validation: the JSON Schema keywords charts use (types,
//! `required`, `properties`, `enum`, bounds, `pattern`, combinators, local `$ref`), with
//! messages worded like Helm v4's validator (`- at '/port': minimum: got 0, want 1`).

use eddy_gotemplate::Value;

/// One violation: where (a JSON pointer) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer of the offending value (`''` for the root).
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

/// Validates `values` against the schema text; returns every leaf violation.
pub fn validate(schema_text: &str, values: &Value) -> Result<Vec<Violation>, String> {
    let schema: serde_json::Value = serde_json::from_str(schema_text)
        .map_err(|error| format!("invalid values.schema.json: {error}"))?;
    let mut violations = Vec::new();
    let validator = Validator {
        root: &schema,
        patterns: std::cell::RefCell::default(),
    };
    validator.check(
        &schema,
        &crate::json::normalize(values),
        "",
        &mut violations,
        0,
    );
    Ok(violations)
}

struct Validator<'a> {
    root: &'a serde_json::Value,
    /// Patterns compiled so far in this validation (a schema's `pattern` and
    /// `patternProperties` apply to every value they describe).
    patterns: std::cell::RefCell<std::collections::HashMap<String, Option<regex::Regex>>>,
}

impl Validator<'_> {
    fn regex(&self, pattern: &str) -> Option<regex::Regex> {
        if let Some(found) = self.patterns.borrow().get(pattern) {
            return found.clone();
        }
        let compiled = regex::Regex::new(pattern).ok();
        self.patterns
            .borrow_mut()
            .insert(pattern.to_string(), compiled.clone());
        compiled
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Nil => "null",
        Value::Bool(_) => "boolean",
        Value::Int(_) | Value::Int64(_) => "integer",
        Value::Float(number) if number.fract() == 0.0 => "integer",
        Value::Float(_) => "number",
        Value::String(_) => "string",
        Value::List(_) | Value::Bytes(_) => "array",
        Value::Map(_) | Value::Object(_) => "object",
    }
}

fn matches_type(value: &Value, wanted: &str) -> bool {
    let actual = json_type(value);
    actual == wanted || (wanted == "number" && actual == "integer")
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Int(number) | Value::Int64(number) => Some(*number as f64),
        Value::Float(number) => Some(*number),
        _ => None,
    }
}

fn show_number(number: f64) -> String {
    eddy_gotemplate::fmt::format_float(number, 'g', -1)
}

fn show_json(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => format!("'{text}'"),
        other => other.to_string(),
    }
}

fn to_json(value: &Value) -> serde_json::Value {
    crate::json::encode(value, false, None)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(serde_json::Value::Null)
}

fn json_equal(left: &serde_json::Value, right: &serde_json::Value) -> bool {
    match (left.as_f64(), right.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => left == right,
    }
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

impl Validator<'_> {
    fn resolve<'s>(&'s self, reference: &str) -> Option<&'s serde_json::Value> {
        let path = reference.strip_prefix('#')?;
        if path.is_empty() {
            return Some(self.root);
        }
        self.root.pointer(path)
    }

    fn check(
        &self,
        schema: &serde_json::Value,
        value: &Value,
        pointer: &str,
        out: &mut Vec<Violation>,
        depth: usize,
    ) {
        if depth > 64 {
            return;
        }
        let serde_json::Value::Object(keywords) = schema else {
            if schema == &serde_json::Value::Bool(false) {
                out.push(Violation {
                    pointer: pointer.to_string(),
                    message: "false schema".to_string(),
                });
            }
            return;
        };
        if let Some(serde_json::Value::String(reference)) = keywords.get("$ref")
            && let Some(target) = self.resolve(reference)
        {
            self.check(target, value, pointer, out, depth + 1);
        }
        if let Some(wanted) = keywords.get("type") {
            let types: Vec<&str> = match wanted {
                serde_json::Value::String(single) => vec![single.as_str()],
                serde_json::Value::Array(many) => {
                    many.iter().filter_map(serde_json::Value::as_str).collect()
                }
                _ => Vec::new(),
            };
            if !types.is_empty() && !types.iter().any(|wanted| matches_type(value, wanted)) {
                out.push(Violation {
                    pointer: pointer.to_string(),
                    message: format!("got {}, want {}", json_type(value), types.join(" or ")),
                });
                return;
            }
        }
        // Converted only when `enum` or `const` needs it: converting every node would
        // re-encode each subtree once per level.
        let needs_json = keywords.contains_key("enum") || keywords.contains_key("const");
        let as_json = if needs_json {
            to_json(value)
        } else {
            serde_json::Value::Null
        };
        if let Some(serde_json::Value::Array(options)) = keywords.get("enum")
            && !options.iter().any(|option| json_equal(option, &as_json))
        {
            let shown: Vec<String> = options.iter().map(show_json).collect();
            let message = if shown.len() == 1 {
                format!("value must be {}", shown[0])
            } else {
                format!("value must be one of {}", shown.join(", "))
            };
            out.push(Violation {
                pointer: pointer.to_string(),
                message,
            });
        }
        if let Some(constant) = keywords.get("const")
            && !json_equal(constant, &as_json)
        {
            out.push(Violation {
                pointer: pointer.to_string(),
                message: format!("value must be {}", show_json(constant)),
            });
        }
        if let Some(actual) = number(value) {
            let bound = |name: &str| keywords.get(name).and_then(serde_json::Value::as_f64);
            if let Some(minimum) = bound("minimum")
                && actual < minimum
            {
                out.push(Violation {
                    pointer: pointer.to_string(),
                    message: format!(
                        "minimum: got {}, want {}",
                        show_number(actual),
                        show_number(minimum)
                    ),
                });
            }
            if let Some(maximum) = bound("maximum")
                && actual > maximum
            {
                out.push(Violation {
                    pointer: pointer.to_string(),
                    message: format!(
                        "maximum: got {}, want {}",
                        show_number(actual),
                        show_number(maximum)
                    ),
                });
            }
            if let Some(minimum) = bound("exclusiveMinimum")
                && actual <= minimum
            {
                out.push(Violation {
                    pointer: pointer.to_string(),
                    message: format!(
                        "exclusiveMinimum: got {}, want {}",
                        show_number(actual),
                        show_number(minimum)
                    ),
                });
            }
            if let Some(maximum) = bound("exclusiveMaximum")
                && actual >= maximum
            {
                out.push(Violation {
                    pointer: pointer.to_string(),
                    message: format!(
                        "exclusiveMaximum: got {}, want {}",
                        show_number(actual),
                        show_number(maximum)
                    ),
                });
            }
            if let Some(divisor) = bound("multipleOf")
                && divisor != 0.0
                && (actual / divisor).fract() != 0.0
            {
                out.push(Violation {
                    pointer: pointer.to_string(),
                    message: format!(
                        "{} not multipleOf {}",
                        show_number(actual),
                        show_number(divisor)
                    ),
                });
            }
        }
        if let Value::String(text) = value {
            let length = text.chars().count() as u64;
            if let Some(minimum) = keywords
                .get("minLength")
                .and_then(serde_json::Value::as_u64)
                && length < minimum
            {
                out.push(Violation {
                    pointer: pointer.to_string(),
                    message: format!("minLength: got {length}, want {minimum}"),
                });
            }
            if let Some(maximum) = keywords
                .get("maxLength")
                .and_then(serde_json::Value::as_u64)
                && length > maximum
            {
                out.push(Violation {
                    pointer: pointer.to_string(),
                    message: format!("maxLength: got {length}, want {maximum}"),
                });
            }
            if let Some(serde_json::Value::String(pattern)) = keywords.get("pattern")
                && let Some(compiled) = self.regex(pattern)
                && !compiled.is_match(text)
            {
                out.push(Violation {
                    pointer: pointer.to_string(),
                    message: format!("'{text}' does not match pattern '{pattern}'"),
                });
            }
        }
        if let Value::List(items) = value {
            let count = items.len() as u64;
            if let Some(minimum) = keywords.get("minItems").and_then(serde_json::Value::as_u64)
                && count < minimum
            {
                out.push(Violation {
                    pointer: pointer.to_string(),
                    message: format!("minItems: got {count}, want {minimum}"),
                });
            }
            if let Some(maximum) = keywords.get("maxItems").and_then(serde_json::Value::as_u64)
                && count > maximum
            {
                out.push(Violation {
                    pointer: pointer.to_string(),
                    message: format!("maxItems: got {count}, want {maximum}"),
                });
            }
            match keywords.get("items") {
                Some(serde_json::Value::Array(tuple)) => {
                    for (index, (item, item_schema)) in items.iter().zip(tuple.iter()).enumerate() {
                        self.check(
                            item_schema,
                            item,
                            &format!("{pointer}/{index}"),
                            out,
                            depth + 1,
                        );
                    }
                }
                Some(item_schema) => {
                    for (index, item) in items.iter().enumerate() {
                        self.check(
                            item_schema,
                            item,
                            &format!("{pointer}/{index}"),
                            out,
                            depth + 1,
                        );
                    }
                }
                None => {}
            }
        }
        if let Value::Map(map) = value {
            let entries = map.snapshot();
            if let Some(serde_json::Value::Array(required)) = keywords.get("required") {
                let missing: Vec<String> = required
                    .iter()
                    .filter_map(serde_json::Value::as_str)
                    .filter(|name| !entries.contains_key(*name))
                    .map(|name| format!("'{name}'"))
                    .collect();
                if missing.len() == 1 {
                    out.push(Violation {
                        pointer: pointer.to_string(),
                        message: format!("missing property {}", missing[0]),
                    });
                } else if !missing.is_empty() {
                    out.push(Violation {
                        pointer: pointer.to_string(),
                        message: format!("missing properties {}", missing.join(", ")),
                    });
                }
            }
            let properties = keywords
                .get("properties")
                .and_then(serde_json::Value::as_object);
            let patterns: Vec<(regex::Regex, &serde_json::Value)> = keywords
                .get("patternProperties")
                .and_then(serde_json::Value::as_object)
                .map(|patterns| {
                    patterns
                        .iter()
                        .filter_map(|(pattern, schema)| {
                            self.regex(pattern).map(|regex| (regex, schema))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let mut additional = Vec::new();
            for (key, item) in &entries {
                let child = format!("{pointer}/{}", escape_pointer(key));
                let mut known = false;
                if let Some(property) = properties.and_then(|properties| properties.get(key)) {
                    known = true;
                    self.check(property, item, &child, out, depth + 1);
                }
                for (regex, schema) in &patterns {
                    if regex.is_match(key) {
                        known = true;
                        self.check(schema, item, &child, out, depth + 1);
                    }
                }
                if !known {
                    match keywords.get("additionalProperties") {
                        Some(serde_json::Value::Bool(false)) => additional.push(format!("'{key}'")),
                        Some(schema @ serde_json::Value::Object(_)) => {
                            self.check(schema, item, &child, out, depth + 1)
                        }
                        _ => {}
                    }
                }
            }
            if !additional.is_empty() {
                let noun = if additional.len() == 1 {
                    "property"
                } else {
                    "properties"
                };
                out.push(Violation {
                    pointer: pointer.to_string(),
                    message: format!("additional {noun} {} not allowed", additional.join(", ")),
                });
            }
        }
        if let Some(serde_json::Value::Array(all)) = keywords.get("allOf") {
            for schema in all {
                self.check(schema, value, pointer, out, depth + 1);
            }
        }
        if let Some(serde_json::Value::Array(any)) = keywords.get("anyOf")
            && !any
                .iter()
                .any(|schema| self.passes(schema, value, pointer, depth))
        {
            out.push(Violation {
                pointer: pointer.to_string(),
                message: "anyOf failed".to_string(),
            });
        }
        if let Some(serde_json::Value::Array(one)) = keywords.get("oneOf") {
            let passing = one
                .iter()
                .filter(|schema| self.passes(schema, value, pointer, depth))
                .count();
            if passing == 0 {
                out.push(Violation {
                    pointer: pointer.to_string(),
                    message: "oneOf failed, none matched".to_string(),
                });
            } else if passing > 1 {
                out.push(Violation {
                    pointer: pointer.to_string(),
                    message: "oneOf failed, multiple matched".to_string(),
                });
            }
        }
        if let Some(not) = keywords.get("not")
            && self.passes(not, value, pointer, depth)
        {
            out.push(Violation {
                pointer: pointer.to_string(),
                message: "not failed".to_string(),
            });
        }
        if let Some(condition) = keywords.get("if") {
            let branch = if self.passes(condition, value, pointer, depth) {
                keywords.get("then")
            } else {
                keywords.get("else")
            };
            if let Some(branch) = branch {
                self.check(branch, value, pointer, out, depth + 1);
            }
        }
    }

    fn passes(
        &self,
        schema: &serde_json::Value,
        value: &Value,
        pointer: &str,
        depth: usize,
    ) -> bool {
        let mut scratch = Vec::new();
        self.check(schema, value, pointer, &mut scratch, depth + 1);
        scratch.is_empty()
    }
}

/// Validates a chart's values and its subcharts' (scoped) values; returns Helm's
/// report text when anything fails.
pub fn validate_chart(
    chart: &crate::chart::Chart,
    values: &Value,
    report: &mut String,
) -> Result<(), String> {
    if let Some(schema) = &chart.schema {
        let text = String::from_utf8_lossy(schema);
        let violations = validate(&text, values)?;
        if !violations.is_empty() {
            report.push_str(&format!("{}:\n", chart.name));
            for violation in violations {
                report.push_str(&format!(
                    "- at '{}': {}\n",
                    violation.pointer, violation.message
                ));
            }
        }
    }
    for sub in &chart.dependencies {
        let scoped = match values {
            Value::Map(map) => map.get(&sub.name).unwrap_or_default(),
            _ => Value::Nil,
        };
        validate_chart(sub, &scoped, report)?;
    }
    Ok(())
}
