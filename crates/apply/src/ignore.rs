//! Drift-ignore rules (`spec.ignore` of a Kustomization; fluxcd/pkg `ssa/jsondiff` and
//! `computeDriftedPaths` in `ssa/manager_apply.go`).
//!
//! A rule lists JSON pointers (`/spec/replicas`) and optionally selects objects by regular
//! expressions on group, version, kind, name and namespace and by label and annotation
//! selectors. Ignored paths are left out of the drift comparison; when an object is applied
//! anyway, each ignored path whose live value differs is either stripped from the payload
//! (another apply manager owns it, e.g. an autoscaler) or set to the live value (Flux is the
//! only owner), so the apply neither fights the other manager nor resets the field.

use regex::Regex;
use serde_json::Value;

use crate::object::{ObjectRef, annotations, labels};
use crate::selector::{LabelSelector, SelectorError};

/// Which objects a rule applies to; empty fields match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    /// Regular expression on the API group.
    pub group: String,
    /// Regular expression on the API version.
    pub version: String,
    /// Regular expression on the kind.
    pub kind: String,
    /// Regular expression on the name.
    pub name: String,
    /// Regular expression on the namespace.
    pub namespace: String,
    /// Label selector expression on the annotations.
    pub annotation_selector: String,
    /// Label selector expression on the labels.
    pub label_selector: String,
}

/// JSON pointers to ignore on the objects a selector matches (all objects without one).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IgnoreRule {
    /// RFC 6901 JSON pointers (`/` inside a key written `~1`).
    pub paths: Vec<String>,
    /// The objects the rule applies to.
    pub selector: Option<Selector>,
}

/// A rule that could not be compiled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IgnoreRuleError {
    /// A regular expression does not compile.
    #[error("invalid {field} regex: {message}")]
    Regex {
        /// Which selector field.
        field: &'static str,
        /// The compiler's message.
        message: String,
    },
    /// A label or annotation selector does not parse.
    #[error("invalid {field} selector: {source}")]
    Selector {
        /// `label` or `annotation`.
        field: &'static str,
        /// The parse error.
        source: SelectorError,
    },
}

#[derive(Clone, Debug)]
struct CompiledSelector {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Option<LabelSelector>,
    annotations: Option<LabelSelector>,
}

/// Rules ready to match objects.
#[derive(Clone, Debug, Default)]
pub struct IgnoreRules {
    rules: Vec<(Option<CompiledSelector>, Vec<String>)>,
}

fn anchored(field: &'static str, pattern: &str) -> Result<Option<Regex>, IgnoreRuleError> {
    if pattern.is_empty() {
        return Ok(None);
    }
    Regex::new(&format!("^(?:{pattern})$"))
        .map(Some)
        .map_err(|error| IgnoreRuleError::Regex {
            field,
            message: error.to_string(),
        })
}

fn selector(
    field: &'static str,
    expression: &str,
) -> Result<Option<LabelSelector>, IgnoreRuleError> {
    if expression.is_empty() {
        return Ok(None);
    }
    LabelSelector::parse(expression)
        .map(Some)
        .map_err(|source| IgnoreRuleError::Selector { field, source })
}

impl IgnoreRules {
    /// Compiles rules; a bad regular expression or selector is an error.
    pub fn compile(rules: &[IgnoreRule]) -> Result<Self, IgnoreRuleError> {
        let mut compiled = Vec::with_capacity(rules.len());
        for rule in rules {
            let selector = match &rule.selector {
                None => None,
                Some(selector_fields) => Some(CompiledSelector {
                    group: anchored("group", &selector_fields.group)?,
                    version: anchored("version", &selector_fields.version)?,
                    kind: anchored("kind", &selector_fields.kind)?,
                    name: anchored("name", &selector_fields.name)?,
                    namespace: anchored("namespace", &selector_fields.namespace)?,
                    labels: selector("label", &selector_fields.label_selector)?,
                    annotations: selector("annotation", &selector_fields.annotation_selector)?,
                }),
            };
            compiled.push((selector, rule.paths.clone()));
        }
        Ok(Self { rules: compiled })
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The ignored paths that apply to `object`.
    pub fn paths_for(&self, object: &Value) -> Vec<&str> {
        self.rules
            .iter()
            .filter(|(selector, _)| {
                selector
                    .as_ref()
                    .is_none_or(|selector| matches(selector, object))
            })
            .flat_map(|(_, paths)| paths.iter().map(String::as_str))
            .collect()
    }
}

fn matches(selector: &CompiledSelector, object: &Value) -> bool {
    let reference = ObjectRef::of(object);
    let field = |regex: &Option<Regex>, value: &str| {
        regex.as_ref().is_none_or(|regex| regex.is_match(value))
    };
    field(&selector.namespace, &reference.namespace)
        && field(&selector.name, &reference.name)
        && field(&selector.group, &reference.group)
        && field(&selector.version, &reference.version)
        && field(&selector.kind, &reference.kind)
        && selector
            .labels
            .as_ref()
            .is_none_or(|expression| expression.matches(&labels(object)))
        && selector
            .annotations
            .as_ref()
            .is_none_or(|expression| expression.matches(&annotations(object)))
}

/// Splits a JSON pointer into unescaped segments.
fn segments(pointer: &str) -> Vec<String> {
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(|segment| segment.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// Removes the value at `pointer`; a missing path is not an error (as Flux's
/// `AllowMissingPathOnRemove`).
pub fn remove_path(object: &mut Value, pointer: &str) {
    let mut parts = segments(pointer);
    let Some(last) = parts.pop() else {
        return;
    };
    let parent_pointer: String = parts
        .iter()
        .map(|part| format!("/{}", part.replace('~', "~0").replace('/', "~1")))
        .collect();
    match object.pointer_mut(&parent_pointer) {
        Some(Value::Object(map)) => {
            map.remove(&last);
        }
        Some(Value::Array(items)) => {
            if let Ok(index) = last.parse::<usize>()
                && index < items.len()
            {
                items.remove(index);
            }
        }
        _ => {}
    }
}

/// The object with the ignored paths removed, for the drift comparison.
pub fn without_ignored(object: &Value, paths: &[&str]) -> Value {
    let mut copy = object.clone();
    for path in paths {
        remove_path(&mut copy, path);
    }
    copy
}

/// What to do with one ignored path that differs between the live object and the dry run.
#[derive(Clone, Debug, PartialEq)]
pub enum DriftResolution {
    /// Another apply manager owns the field: leave it out of the payload.
    Strip(String),
    /// Flux alone owns it: send the live value.
    Adopt(String, Value),
}

/// The resolutions for the ignored paths of `dry_run` whose values differ from `existing`.
pub fn resolve_drift(
    existing: &Value,
    dry_run: &Value,
    rules: &IgnoreRules,
    field_manager: &str,
) -> Vec<DriftResolution> {
    let owners = apply_owners(existing);
    let mut resolutions = Vec::new();
    for path in rules.paths_for(dry_run) {
        let live = existing.pointer(path);
        if live == dry_run.pointer(path) {
            continue;
        }
        let owned_elsewhere = owners.iter().any(|(manager, fields)| {
            manager != field_manager
                && field_segments(existing, path, &owners)
                    .is_some_and(|segments| contains(fields, &segments))
        });
        match live {
            Some(value) if !owned_elsewhere => {
                resolutions.push(DriftResolution::Adopt(path.to_string(), value.clone()));
            }
            // The live object lacks the field: dropping it from the payload leaves the
            // cluster as it is, which is what ignoring means.
            _ => resolutions.push(DriftResolution::Strip(path.to_string())),
        }
    }
    resolutions
}

/// Applies resolutions to the payload about to be applied.
pub fn apply_resolutions(payload: &mut Value, resolutions: &[DriftResolution]) {
    for resolution in resolutions {
        match resolution {
            DriftResolution::Strip(path) => remove_path(payload, path),
            DriftResolution::Adopt(path, value) => {
                if let Some(target) = payload.pointer_mut(path) {
                    *target = value.clone();
                }
            }
        }
    }
}

/// The `fieldsV1` of every main-resource Apply entry, with its manager.
fn apply_owners(object: &Value) -> Vec<(String, Value)> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|entry| {
            entry.get("operation").and_then(Value::as_str) == Some("Apply")
                && entry
                    .get("subresource")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
        })
        .filter_map(|entry| {
            let manager = entry.get("manager").and_then(Value::as_str)?.to_string();
            let fields = entry
                .get("fieldsV1")
                .filter(|fields| fields.is_object())?
                .clone();
            Some((manager, fields))
        })
        .collect()
}

/// The `fieldsV1` path of a JSON pointer: `f:<field>` per key, and for list indexes the
/// `k:{…}` key whose fields match the item (`pointerToFieldsV1Segments`).
fn field_segments(
    object: &Value,
    pointer: &str,
    owners: &[(String, Value)],
) -> Option<Vec<String>> {
    let mut result: Vec<String> = Vec::new();
    let mut current = object;
    for segment in segments(pointer) {
        if let Ok(index) = segment.parse::<usize>() {
            let item = current.as_array()?.get(index)?;
            let key = owners
                .iter()
                .filter_map(|(_, fields)| walk(fields, &result))
                .flat_map(|node| node.as_object().into_iter().flat_map(|map| map.keys()))
                .filter(|key| key.starts_with("k:"))
                .find(|key| key_matches(key, item))?
                .clone();
            result.push(key);
            current = item;
        } else {
            result.push(format!("f:{segment}"));
            current = current.get(&segment).unwrap_or(&Value::Null);
        }
    }
    Some(result)
}

fn key_matches(key: &str, item: &Value) -> bool {
    serde_json::from_str::<serde_json::Map<String, Value>>(&key[2..]).is_ok_and(|pairs| {
        pairs
            .iter()
            .all(|(name, value)| item.get(name) == Some(value))
    })
}

fn walk<'fields>(fields: &'fields Value, segments: &[String]) -> Option<&'fields Value> {
    segments
        .iter()
        .try_fold(fields, |node, segment| node.get(segment))
}

fn contains(fields: &Value, segments: &[String]) -> bool {
    !segments.is_empty() && walk(fields, segments).is_some()
}

#[cfg(test)]
mod tests;
