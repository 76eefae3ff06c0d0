//! `replacements`: copy a field of one resource into fields of others.

use crate::Error;
use crate::kustomization::Kustomization;
use crate::loader::Loader;
use crate::patches::matches_label_selector;
use crate::resource::{Gvk, ResId, Resource};
use crate::target::Accumulator;
use crate::value::{Mapping, Value};
use crate::yaml::parse_documents;

/// Splits a dotted field path, keeping `[key=value]` and `[a.b]` groups whole.
pub(crate) fn split_field_path(path: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut depth = 0;
    for character in path.chars() {
        match character {
            '[' => {
                depth += 1;
                current.push(character);
            }
            ']' => {
                depth -= 1;
                current.push(character);
            }
            '.' if depth == 0 => segments.push(std::mem::take(&mut current)),
            _ => current.push(character),
        }
    }
    segments.push(current);
    segments
        .into_iter()
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            // `[a.b]` without `=` is a key containing dots.
            match segment
                .strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
            {
                Some(inner) if !inner.contains('=') => inner.to_string(),
                _ => segment,
            }
        })
        .collect()
}

fn lookup<'value>(value: &'value Value, segments: &[String]) -> Option<&'value Value> {
    let mut current = value;
    for segment in segments {
        current = if let Some(inner) = segment
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            let (key, wanted) = inner.split_once('=')?;
            current
                .as_seq()?
                .iter()
                .find(|item| element_matches(item, key, wanted))?
        } else if let Value::Seq(items) = current {
            items.get(segment.parse::<usize>().ok()?)?
        } else {
            current.get(segment)?
        };
    }
    Some(current)
}

fn element_matches(item: &Value, key: &str, wanted: &str) -> bool {
    if key.is_empty() {
        return item.scalar_text().as_deref() == Some(wanted);
    }
    item.get(key).and_then(Value::scalar_text).as_deref() == Some(wanted)
}

/// Calls `set` on every field the path reaches, creating missing mappings when `create`.
fn visit_path(
    value: &mut Value,
    segments: &[String],
    create: bool,
    set: &mut dyn FnMut(&mut Value) -> Result<(), Error>,
) -> Result<usize, Error> {
    let Some((first, rest)) = segments.split_first() else {
        set(value)?;
        return Ok(1);
    };
    if first == "*" {
        let mut count = 0;
        match value {
            Value::Seq(items) => {
                for item in items {
                    count += visit_path(item, rest, create, set)?;
                }
            }
            Value::Map(map) => {
                for (_, item) in map.iter_mut() {
                    count += visit_path(item, rest, create, set)?;
                }
            }
            _ => {}
        }
        return Ok(count);
    }
    if let Some(inner) = first
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    {
        let Some((key, wanted)) = inner.split_once('=') else {
            return Ok(0);
        };
        if value.is_null() && create {
            *value = Value::Seq(Vec::new());
        }
        let Value::Seq(items) = value else {
            return Ok(0);
        };
        let mut count = 0;
        for item in items.iter_mut() {
            if element_matches(item, key, wanted) {
                count += visit_path(item, rest, create, set)?;
            }
        }
        if count == 0 && create && !key.is_empty() {
            let mut element = Mapping::new();
            element.insert(key.to_string(), Value::String(wanted.to_string()));
            items.push(Value::Map(element));
            if let Some(last) = items.last_mut() {
                count += visit_path(last, rest, create, set)?;
            }
        }
        return Ok(count);
    }
    if let Value::Seq(items) = value {
        return match first
            .parse::<usize>()
            .ok()
            .and_then(|index| items.get_mut(index))
        {
            Some(item) => visit_path(item, rest, create, set),
            None => Ok(0),
        };
    }
    if value.is_null() && create {
        *value = Value::Map(Mapping::new());
    }
    let Value::Map(map) = value else {
        return Ok(0);
    };
    if !map.contains_key(first.as_str()) {
        if !create {
            return Ok(0);
        }
        map.insert(first.clone(), Value::Null);
    }
    match map.get_mut(first.as_str()) {
        Some(child) => visit_path(child, rest, create, set),
        None => Ok(0),
    }
}

fn ids_of(resource: &Resource) -> Vec<ResId> {
    let mut ids = vec![resource.current_id()];
    ids.extend(resource.previous_ids.iter().cloned());
    ids
}

fn selector_fields(value: &Value) -> (Gvk, String, String) {
    let text = |key: &str| {
        value
            .get(key)
            .and_then(Value::scalar_text)
            .unwrap_or_default()
    };
    let gvk = Gvk {
        group: text("group"),
        version: text("version"),
        kind: text("kind"),
    };
    (gvk, text("name"), text("namespace"))
}

fn id_selected_exactly(id: &ResId, selector: &Value) -> bool {
    let (gvk, name, namespace) = selector_fields(selector);
    id.gvk.is_selected_by(&gvk)
        && (name.is_empty() || id.name == name)
        && (namespace.is_empty() || id.namespace == namespace)
}

fn annotation_and_label_match(resource: &Resource, selector: &Value) -> Result<bool, Error> {
    let text = |key: &str| {
        selector
            .get(key)
            .and_then(Value::scalar_text)
            .unwrap_or_default()
    };
    Ok(
        matches_label_selector(&text("labelSelector"), &resource.labels())?
            && matches_label_selector(&text("annotationSelector"), &resource.annotations())?,
    )
}

/// Runs the kustomization's replacements.
pub(crate) fn run(
    loader: &Loader,
    kustomization: &Kustomization,
    accumulator: &mut Accumulator,
) -> Result<(), Error> {
    run_list(loader, &kustomization.items("replacements"), accumulator)
}

/// Runs a list of replacement entries (inline or `path:` references).
pub(crate) fn run_list(
    loader: &Loader,
    entries: &[Value],
    accumulator: &mut Accumulator,
) -> Result<(), Error> {
    let mut replacements = Vec::new();
    for entry in entries.iter().cloned() {
        if let Some(path) = entry.get("path").and_then(Value::as_str) {
            let (file, text) = loader.read(path)?;
            let documents = parse_documents(&text).map_err(|source| Error::Yaml {
                file: file.display().to_string(),
                source,
            })?;
            for document in documents {
                match document {
                    Value::Seq(items) => replacements.extend(items),
                    Value::Null => {}
                    other => replacements.push(other),
                }
            }
        } else {
            replacements.push(entry);
        }
    }
    for replacement in replacements {
        apply_one(&mut accumulator.resources, &replacement)?;
    }
    Ok(())
}

fn source_value(resources: &[Resource], replacement: &Value) -> Result<Value, Error> {
    if let Some(value) = replacement.get("sourceValue") {
        if replacement.get("source").is_some() {
            return Err(Error::Build(
                "value and resource selectors are mutually exclusive".into(),
            ));
        }
        return Ok(value.clone());
    }
    let Some(source) = replacement.get("source") else {
        return Err(Error::Build("replacement has no source".into()));
    };
    let mut found: Option<&Resource> = None;
    for resource in resources {
        if ids_of(resource)
            .iter()
            .any(|id| id_selected_exactly(id, source))
        {
            if found.is_some() {
                return Err(Error::Build(
                    "multiple matches for replacement source selector".into(),
                ));
            }
            found = Some(resource);
        }
    }
    let Some(resource) = found else {
        return Err(Error::Build(
            "nothing selected by replacement source".into(),
        ));
    };
    let field_path = source
        .get("fieldPath")
        .and_then(Value::as_str)
        .unwrap_or("metadata.name");
    let value = lookup(&resource.value, &split_field_path(field_path))
        .filter(|value| !value.is_null())
        .cloned()
        .ok_or_else(|| {
            Error::Build(format!(
                "fieldPath `{field_path}` is missing for replacement source"
            ))
        })?;
    let delimiter = source
        .get_path(&["options", "delimiter"])
        .and_then(Value::as_str)
        .unwrap_or("");
    if delimiter.is_empty() {
        return Ok(value);
    }
    let text = value.scalar_text().ok_or_else(|| {
        Error::Build("delimiter option can only be used with scalar nodes".into())
    })?;
    let index = match source.get_path(&["options", "index"]) {
        Some(Value::Int(index)) => *index,
        _ => 0,
    };
    let parts: Vec<&str> = text.split(delimiter).collect();
    usize::try_from(index)
        .ok()
        .and_then(|index| parts.get(index))
        .map(|part| Value::String(part.to_string()))
        .ok_or_else(|| {
            Error::Build(format!(
                "options.index {index} is out of bounds for value {text}"
            ))
        })
}

fn apply_one(resources: &mut [Resource], replacement: &Value) -> Result<(), Error> {
    let value = source_value(resources, replacement)?;
    let targets = replacement
        .get("targets")
        .and_then(Value::as_seq)
        .cloned()
        .unwrap_or_default();
    for target in targets {
        let Some(select) = target.get("select") else {
            return Err(Error::Build(
                "target must specify resources to select".into(),
            ));
        };
        let rejects = target
            .get("reject")
            .and_then(Value::as_seq)
            .cloned()
            .unwrap_or_default();
        let mut field_paths: Vec<String> = target
            .get("fieldPaths")
            .and_then(Value::as_seq)
            .map(|items| items.iter().filter_map(Value::scalar_text).collect())
            .unwrap_or_default();
        if field_paths.is_empty() {
            field_paths.push("metadata.name".into());
        }
        let options = target.get("options").cloned().unwrap_or(Value::Null);
        let create = matches!(options.get("create"), Some(Value::Bool(true)));
        let delimiter = options
            .get("delimiter")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let index = match options.get("index") {
            Some(Value::Int(index)) => *index,
            _ => 0,
        };
        for resource in resources.iter_mut() {
            if !annotation_and_label_match(resource, select)? {
                continue;
            }
            let mut rejected = false;
            for reject in &rejects {
                let has_meta_selector = reject.get("labelSelector").is_some()
                    || reject.get("annotationSelector").is_some();
                if has_meta_selector && annotation_and_label_match(resource, reject)? {
                    rejected = true;
                }
                let (gvk, name, namespace) = selector_fields(reject);
                let has_id = !gvk.kind.is_empty()
                    || !gvk.group.is_empty()
                    || !gvk.version.is_empty()
                    || !name.is_empty()
                    || !namespace.is_empty();
                if has_id
                    && ids_of(resource)
                        .iter()
                        .any(|id| id_selected_exactly(id, reject))
                {
                    rejected = true;
                }
            }
            if rejected {
                continue;
            }
            // kustomize v5.5.0 matches replacement targets exactly (regexes came later).
            let selected = ids_of(resource)
                .iter()
                .any(|id| id_selected_exactly(id, select));
            if !selected {
                continue;
            }
            for field_path in &field_paths {
                let segments = split_field_path(field_path);
                let count = visit_path(&mut resource.value, &segments, create, &mut |field| {
                    set_field(field, &value, &delimiter, index)
                })?;
                if count == 0 {
                    let verb = if create { "find or create" } else { "find" };
                    return Err(Error::Build(format!(
                        "unable to {verb} field \"{field_path}\" in replacement target"
                    )));
                }
            }
        }
    }
    Ok(())
}

fn set_field(field: &mut Value, value: &Value, delimiter: &str, index: i64) -> Result<(), Error> {
    let mut value = value.clone();
    if !delimiter.is_empty() {
        let Some(current) = field.scalar_text() else {
            return Err(Error::Build(
                "delimiter option can only be used with scalar nodes".into(),
            ));
        };
        let mut parts: Vec<String> = current.split(delimiter).map(str::to_string).collect();
        let text = value.scalar_text().unwrap_or_default();
        if index < 0 {
            parts.insert(0, text);
        } else if index as usize >= parts.len() {
            parts.push(text);
        } else {
            parts[index as usize] = text;
        }
        value = Value::String(parts.join(delimiter));
    }
    // A scalar target keeps its own type; only its text changes.
    let text = value.scalar_text();
    *field = match (&*field, text) {
        (Value::String(_), Some(text)) => Value::String(text),
        (
            Value::Int(_) | Value::UInt(_) | Value::Float(_) | Value::Bool(_) | Value::Null,
            Some(text),
        ) if !matches!(value, Value::Map(_) | Value::Seq(_)) => {
            match crate::yaml::parse::resolve_plain(&text) {
                Ok(
                    resolved @ (Value::Int(_) | Value::UInt(_) | Value::Float(_) | Value::Bool(_)),
                ) => resolved,
                _ => Value::String(text),
            }
        }
        _ => value,
    };
    Ok(())
}
