//! Turning the render map into a release: split documents, separate hooks, sort by
//! Helm's install order; and `--set` parsing (Helm's `strvals`).

use std::collections::BTreeMap;

use eddy_gotemplate::{SharedMap, Value};

use crate::Error;

/// Helm's `InstallOrder`.
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// One YAML document of a rendered template.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// The render key it came from.
    pub source: String,
    /// The document text (trimmed).
    pub content: String,
    /// Its `kind`.
    pub kind: String,
    /// Its `metadata.name`.
    pub name: String,
    /// Its `helm.sh/hook` annotation, for hooks.
    pub hook: Option<String>,
}

/// Helm's `SplitManifests`: documents separated by `---` lines, empty ones dropped.
pub fn split_documents(text: &str) -> Vec<String> {
    static PATTERN: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    // Helm trims only leading whitespace: a document keeps its trailing newline.
    let trimmed = text.trim_start();
    let Some(separator) = PATTERN
        .get_or_init(|| regex::Regex::new(r"(?:^|\s*\n)---\s*").ok())
        .as_ref()
    else {
        return vec![trimmed.to_string()];
    };
    separator
        .split(trimmed)
        .filter(|document| !document.is_empty())
        .map(|document| document.trim_start().to_string())
        .collect()
}

fn kind_rank(kind: &str) -> Option<usize> {
    INSTALL_ORDER.iter().position(|known| *known == kind)
}

fn less_by_kind(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (kind_rank(a), kind_rank(b)) {
        (None, None) => a.cmp(b),
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => x.cmp(&y),
    }
}

/// Splits and classifies the render map; returns (hooks, manifests), each sorted in
/// Helm's install order.
pub fn sort(templates: &BTreeMap<String, String>) -> Result<(Vec<Manifest>, Vec<Manifest>), Error> {
    let mut hooks = Vec::new();
    let mut manifests = Vec::new();
    for (path, content) in templates {
        let base = path.rsplit('/').next().unwrap_or(path);
        if base.starts_with('_') || base == "NOTES.txt" || content.trim().is_empty() {
            continue;
        }
        for document in split_documents(content) {
            let head = crate::yaml::parse(&document).map_err(|error| {
                Error::Manifest(format!(
                    "YAML parse error on {path}: error converting YAML to JSON: {error}"
                ))
            })?;
            let field = |map: &Value, key: &str| -> Option<Value> {
                match map {
                    Value::Map(map) => map.get(key),
                    _ => None,
                }
            };
            let kind = field(&head, "kind")
                .map(|kind| kind.to_go_string())
                .unwrap_or_default();
            let metadata = field(&head, "metadata").unwrap_or_default();
            let name = field(&metadata, "name")
                .map(|name| name.to_go_string())
                .unwrap_or_default();
            let hook = field(&metadata, "annotations")
                .and_then(|annotations| field(&annotations, "helm.sh/hook"))
                .map(|hook| hook.to_go_string());
            let manifest = Manifest {
                source: path.clone(),
                content: document,
                kind,
                name,
                hook: hook.clone(),
            };
            if hook.is_some() {
                hooks.push(manifest);
            } else {
                manifests.push(manifest);
            }
        }
    }
    manifests.sort_by(|a, b| less_by_kind(&a.kind, &b.kind));
    hooks.sort_by(|a, b| less_by_kind(&a.kind, &b.kind));
    Ok((hooks, manifests))
}

/// Applies one `--set`/`--set-string` expression (`a.b=1,c[0]=x`) to `values`.
pub fn apply_set(values: &SharedMap, expression: &str, as_string: bool) -> Result<(), String> {
    for assignment in split_assignments(expression) {
        let Some((key, raw)) = assignment.split_once('=') else {
            return Err(format!("key {assignment:?} has no value"));
        };
        let typed = |text: &str| {
            if as_string {
                Value::from(text)
            } else {
                typed_set_value(text)
            }
        };
        // `{a,b}` is a list.
        let value = match raw
            .strip_prefix('{')
            .and_then(|rest| rest.strip_suffix('}'))
        {
            Some("") => Value::from(Vec::new()),
            Some(inner) => Value::from(
                split_unescaped(inner, ',')
                    .iter()
                    .map(|item| typed(item))
                    .collect::<Vec<_>>(),
            ),
            None => typed(&raw.replace("\\,", ",")),
        };
        let path: Vec<String> = split_unescaped(key, '.');
        set_path(values, &path, value)?;
    }
    Ok(())
}

/// Splits `a=1,b={x,y}` on the commas that separate assignments.
fn split_assignments(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    let mut escaped = false;
    for character in text.chars() {
        if escaped {
            current.push(character);
            escaped = false;
            continue;
        }
        match character {
            '\\' => {
                current.push(character);
                escaped = true;
            }
            '{' => {
                depth += 1;
                current.push(character);
            }
            '}' => {
                depth = depth.saturating_sub(1);
                current.push(character);
            }
            ',' if depth == 0 => parts.push(std::mem::take(&mut current)),
            other => current.push(other),
        }
    }
    parts.push(current);
    parts
}

fn split_unescaped(text: &str, separator: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for character in text.chars() {
        if escaped {
            if character != separator {
                current.push('\\');
            }
            current.push(character);
            escaped = false;
        } else if character == '\\' {
            escaped = true;
        } else if character == separator {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(character);
        }
    }
    parts.push(current);
    parts
}

/// strvals' typing: `true`/`false`, `null`, integers as `int64`, everything else a string.
fn typed_set_value(raw: &str) -> Value {
    match raw {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Nil,
        _ => {
            if raw.len() > 1 && raw.starts_with('0') {
                return Value::from(raw);
            }
            match raw.parse::<i64>() {
                Ok(number) => Value::Int64(number),
                Err(_) => Value::from(raw),
            }
        }
    }
}

fn set_path(values: &SharedMap, path: &[String], value: Value) -> Result<(), String> {
    let Some((first, rest)) = path.split_first() else {
        return Ok(());
    };
    let (name, index) = match first.split_once('[') {
        Some((name, index)) => (
            name.to_string(),
            index.trim_end_matches(']').parse::<usize>().ok(),
        ),
        None => (first.clone(), None),
    };
    if let Some(index) = index {
        let mut items = match values.get(&name) {
            Some(Value::List(items)) => items.to_vec(),
            _ => Vec::new(),
        };
        if index > 65_536 {
            return Err(format!(
                "index of {index} is greater than maximum supported index of 65536"
            ));
        }
        while items.len() <= index {
            items.push(Value::Nil);
        }
        if rest.is_empty() {
            items[index] = value;
        } else {
            let inner = match &items[index] {
                Value::Map(map) => map.clone(),
                _ => SharedMap::default(),
            };
            set_path(&inner, rest, value)?;
            items[index] = Value::Map(inner);
        }
        values.insert(name, Value::from(items));
        return Ok(());
    }
    if rest.is_empty() {
        values.insert(name, value);
        return Ok(());
    }
    let inner = match values.get(&name) {
        Some(Value::Map(map)) => map,
        _ => SharedMap::default(),
    };
    set_path(&inner, rest, value)?;
    values.insert(name, Value::Map(inner));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_on_separator_lines_and_keep_trailing_newlines() {
        let documents = split_documents("\n---\na: 1\n---\n\nb: 2\n");
        assert_eq!(documents, vec!["a: 1".to_string(), "b: 2\n".to_string()]);
    }

    #[test]
    fn manifests_follow_install_order_and_hooks_are_separate() {
        let mut templates = BTreeMap::new();
        templates.insert(
            "c/templates/a.yaml".to_string(),
            "kind: Deployment\nmetadata:\n  name: d\n".to_string(),
        );
        templates.insert(
            "c/templates/b.yaml".to_string(),
            "kind: Service\nmetadata:\n  name: s\n---\nkind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: post-install\n".to_string(),
        );
        templates.insert(
            "c/templates/c.yaml".to_string(),
            "kind: Widget\nmetadata:\n  name: w\n".to_string(),
        );
        templates.insert("c/templates/NOTES.txt".to_string(), "notes".to_string());
        let sorted = sort(&templates);
        let Ok((hooks, manifests)) = sorted else {
            panic!("sorting failed");
        };
        let kinds: Vec<&str> = manifests
            .iter()
            .map(|manifest| manifest.kind.as_str())
            .collect();
        assert_eq!(kinds, vec!["Service", "Deployment", "Widget"]);
        assert_eq!(hooks.len(), 1);
        assert_eq!(hooks[0].hook.as_deref(), Some("post-install"));
    }

    #[test]
    fn set_expressions_build_nested_values_with_types() {
        let values = SharedMap::default();
        assert!(apply_set(&values, "a.b=1,c[1]=x,d=true,e=007,f={1,two}", false).is_ok());
        assert_eq!(
            Value::Map(values).to_go_string(),
            "map[a:map[b:1] c:[<nil> x] d:true e:007 f:[1 two]]"
        );
    }
}
