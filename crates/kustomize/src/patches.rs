//! `patchesStrategicMerge`, `patches` and `patchesJson6902`: loading patches, choosing their
//! targets, and applying them.

use crate::kustomization::Kustomization;
use crate::loader::Loader;
use crate::resource::{Gvk, Resource};
use crate::target::{Accumulator, ids_equal, resources_from_text};
use crate::value::Value;
use crate::yaml::parse_documents;
use crate::{Error, json6902, smp};

/// A patch target selector.
#[derive(Clone, Debug, Default)]
pub(crate) struct Selector {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
    pub label_selector: String,
    pub annotation_selector: String,
}

impl Selector {
    pub(crate) fn from_value(value: &Value) -> Selector {
        let text = |key: &str| {
            value
                .get(key)
                .and_then(Value::scalar_text)
                .unwrap_or_default()
        };
        Selector {
            group: text("group"),
            version: text("version"),
            kind: text("kind"),
            name: text("name"),
            namespace: text("namespace"),
            label_selector: text("labelSelector"),
            annotation_selector: text("annotationSelector"),
        }
    }
}

fn full_match(pattern: &str, text: &str) -> Result<bool, Error> {
    if pattern.is_empty() {
        return Ok(true);
    }
    let regex = regex::Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|error| Error::Build(format!("invalid selector regex {pattern:?}: {error}")))?;
    Ok(regex.is_match(text))
}

/// Evaluates a Kubernetes label selector (`a=b,c!=d,e in (x,y),!f,g`).
pub(crate) fn matches_label_selector(
    selector: &str,
    labels: &[(String, String)],
) -> Result<bool, Error> {
    if selector.trim().is_empty() {
        return Ok(true);
    }
    let lookup = |key: &str| {
        labels
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    };
    let mut terms = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    for character in selector.chars() {
        match character {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(character);
    }
    terms.push(current);
    for term in terms {
        let term = term.trim();
        let matched = if let Some((key, value)) = term.split_once("!=") {
            lookup(key.trim()) != Some(value.trim())
        } else if let Some((key, value)) = term.split_once("==") {
            lookup(key.trim()) == Some(value.trim())
        } else if let Some((key, value)) = term.split_once('=') {
            lookup(key.trim()) == Some(value.trim())
        } else if let Some(key) = term.strip_prefix('!') {
            lookup(key.trim()).is_none()
        } else if let Some((key, rest)) = term.split_once(" notin ") {
            let values = set_values(rest);
            !lookup(key.trim()).is_some_and(|value| values.iter().any(|item| item == value))
        } else if let Some((key, rest)) = term.split_once(" in ") {
            let values = set_values(rest);
            lookup(key.trim()).is_some_and(|value| values.iter().any(|item| item == value))
        } else {
            lookup(term).is_some()
        };
        if !matched {
            return Ok(false);
        }
    }
    Ok(true)
}

fn set_values(text: &str) -> Vec<String> {
    text.trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(|value| value.trim().to_string())
        .collect()
}

/// Indices of the resources a selector picks (kustomize's `ResMap.Select`).
pub(crate) fn select(resources: &[Resource], selector: &Selector) -> Result<Vec<usize>, Error> {
    let mut selected = Vec::new();
    for (index, resource) in resources.iter().enumerate() {
        let current = resource.current_id();
        let original = resource.original_id();
        if !selector.namespace.is_empty()
            && !full_match(&selector.namespace, &original.effective_namespace())?
            && !full_match(&selector.namespace, &current.effective_namespace())?
        {
            continue;
        }
        if !full_match(&selector.name, &original.name)?
            && !full_match(&selector.name, &current.name)?
        {
            continue;
        }
        let gvk = resource.gvk();
        if !full_match(&selector.group, &gvk.group)?
            || !full_match(&selector.version, &gvk.version)?
            || !full_match(&selector.kind, &gvk.kind)?
        {
            continue;
        }
        if !matches_label_selector(&selector.label_selector, &resource.labels())?
            || !matches_label_selector(&selector.annotation_selector, &resource.annotations())?
        {
            continue;
        }
        selected.push(index);
    }
    Ok(selected)
}

/// Reads a patch entry that is either a file path or inline YAML.
fn patch_text(loader: &Loader, entry: &str) -> Result<(String, String), Error> {
    if entry.contains('\n') || !loader.resolve(entry).exists() && entry.contains(": ") {
        return Ok((entry.to_string(), "inline patch".to_string()));
    }
    let (path, text) = loader.read(entry)?;
    Ok((text, path.display().to_string()))
}

/// Applies a strategic merge patch to one resource the way `Resource.ApplySmPatch` does.
fn apply_smp(
    schema: Option<&smp::CustomSchema>,
    resource: &mut Resource,
    patch: &Value,
    allow_name_change: bool,
    allow_kind_change: bool,
) -> Result<bool, Error> {
    let name = resource.name();
    let namespace = resource.namespace();
    let kind = resource.value.str_at(&["kind"]).unwrap_or("").to_string();
    if allow_name_change || allow_kind_change {
        resource.store_previous_id();
    }
    let merged = smp::merge_object_with(&resource.value, patch, schema)
        .map_err(|error| Error::Build(error.to_string()))?;
    let Some(merged) = merged else {
        return Ok(false);
    };
    if merged.as_map().is_none_or(|map| map.is_empty()) {
        return Ok(false);
    }
    resource.value = merged;
    if !allow_kind_change && let Some(map) = resource.value.as_map_mut() {
        map.insert("kind".into(), kind.into());
    }
    if !allow_name_change {
        resource.set_name(&name);
    }
    if let Some(metadata) = resource.metadata_mut() {
        if namespace.is_empty() {
            metadata.shift_remove("namespace");
        } else {
            metadata.insert("namespace".into(), namespace.into());
        }
    }
    Ok(true)
}

/// Finds the single resource a target-less patch names.
fn unique_target(accumulator: &Accumulator, patch: &Resource) -> Result<usize, Error> {
    let id = patch.current_id();
    let matches = accumulator.matching_any_id(&|candidate| ids_equal(candidate, &id));
    match matches.as_slice() {
        [index] => Ok(*index),
        [] => Err(Error::Build(format!(
            "no matches for Id {}; failed to find unique target for patch {}",
            id.display(),
            id.display()
        ))),
        _ => Err(Error::Build(format!(
            "multiple matches for Id {}; failed to find unique target for patch",
            id.display()
        ))),
    }
}

pub(crate) fn patches_strategic_merge(
    loader: &Loader,
    kustomization: &Kustomization,
    accumulator: &mut Accumulator,
) -> Result<(), Error> {
    strategic_merge_entries(
        loader,
        &kustomization.strings("patchesStrategicMerge"),
        accumulator,
    )
}

/// Applies `patchesStrategicMerge`-style entries (file paths or inline YAML).
pub(crate) fn strategic_merge_entries(
    loader: &Loader,
    entries: &[String],
    accumulator: &mut Accumulator,
) -> Result<(), Error> {
    let mut patches = Vec::new();
    for entry in entries {
        let (text, source) = patch_text(loader, entry)?;
        patches.extend(resources_from_text(&text, &source)?);
    }
    if !entries.is_empty() && patches.is_empty() {
        return Err(Error::Build(format!(
            "patch appears to be empty; files={entries:?}"
        )));
    }
    for patch in patches {
        let index = unique_target(accumulator, &patch)?;
        let schema = accumulator.schema.clone();
        if !apply_smp(
            schema.as_deref(),
            &mut accumulator.resources[index],
            &patch.value,
            false,
            false,
        )? {
            accumulator.resources.remove(index);
        }
    }
    Ok(())
}

enum LoadedPatch {
    Strategic(Vec<Value>),
    Json(Value),
}

fn load_patch(text: &str, source: &str) -> Result<LoadedPatch, Error> {
    let documents = parse_documents(text).map_err(|error| Error::Yaml {
        file: source.to_string(),
        source: error,
    })?;
    let documents: Vec<Value> = documents
        .into_iter()
        .filter(|document| !document.is_null())
        .collect();
    if let [Value::Seq(_)] = documents.as_slice() {
        return Ok(LoadedPatch::Json(documents[0].clone()));
    }
    if documents
        .iter()
        .all(|document| matches!(document, Value::Map(_)))
    {
        return Ok(LoadedPatch::Strategic(documents));
    }
    Err(Error::Build(format!(
        "unable to parse SM or JSON patch from {source}"
    )))
}

/// Applies one `patches` entry (`path` or `patch`, optional `target` and `options`).
pub(crate) fn patch_entry(
    loader: &Loader,
    entry: &Value,
    accumulator: &mut Accumulator,
) -> Result<(), Error> {
    {
        let (text, source) = match (entry.get("path"), entry.get("patch")) {
            (Some(_), Some(_)) => {
                return Err(Error::Build(
                    "patch and path can't be set at the same time".into(),
                ));
            }
            (Some(path), None) => {
                let (path, text) = loader.read(&path.scalar_text().unwrap_or_default())?;
                (text, path.display().to_string())
            }
            (None, Some(patch)) => (
                patch.scalar_text().unwrap_or_default(),
                "inline patch".into(),
            ),
            (None, None) => return Err(Error::Build("must specify one of patch and path".into())),
        };
        let options = entry.get("options");
        let option = |key: &str| {
            matches!(
                options.and_then(|options| options.get(key)),
                Some(Value::Bool(true))
            )
        };
        let allow_name_change = option("allowNameChange");
        let allow_kind_change = option("allowKindChange");
        let target = entry
            .get("target")
            .filter(|target| !target.is_null())
            .map(Selector::from_value);
        match load_patch(&text, &source)? {
            LoadedPatch::Json(operations) => {
                let Some(target) = target else {
                    return Err(Error::Build(format!(
                        "unable to apply patch with no target: {source}"
                    )));
                };
                apply_json_to_selected(accumulator, &target, &operations, &source)?;
            }
            LoadedPatch::Strategic(documents) => match target {
                None => {
                    for document in documents {
                        let patch = Resource::new(document, &source);
                        let index = unique_target(accumulator, &patch)?;
                        let schema = accumulator.schema.clone();
                        if !apply_smp(
                            schema.as_deref(),
                            &mut accumulator.resources[index],
                            &patch.value,
                            allow_name_change,
                            allow_kind_change,
                        )? {
                            accumulator.resources.remove(index);
                        }
                    }
                }
                Some(target) => {
                    let Some(patch) = documents.into_iter().next() else {
                        return Ok(());
                    };
                    let selected = select(&accumulator.resources, &target)?;
                    let schema = accumulator.schema.clone();
                    let mut removed = Vec::new();
                    for index in selected {
                        let resource = &mut accumulator.resources[index];
                        let mut patch_copy = patch.clone();
                        if let Some(map) = patch_copy.as_map_mut() {
                            let gvk: Gvk = resource.gvk();
                            let api_version = resource
                                .value
                                .str_at(&["apiVersion"])
                                .unwrap_or("")
                                .to_string();
                            if !api_version.is_empty() || !gvk.kind.is_empty() {
                                map.insert("apiVersion".into(), api_version.into());
                            }
                        }
                        if !apply_smp(
                            schema.as_deref(),
                            resource,
                            &patch_copy,
                            allow_name_change,
                            allow_kind_change,
                        )? {
                            removed.push(index);
                        }
                    }
                    for index in removed.into_iter().rev() {
                        accumulator.resources.remove(index);
                    }
                }
            },
        }
    }
    Ok(())
}

fn apply_json_to_selected(
    accumulator: &mut Accumulator,
    target: &Selector,
    operations: &Value,
    source: &str,
) -> Result<(), Error> {
    for index in select(&accumulator.resources, target)? {
        let resource = &mut accumulator.resources[index];
        resource.store_previous_id();
        json6902::apply(&mut resource.value, operations)
            .map_err(|error| Error::Build(format!("applying JSON patch from {source}: {error}")))?;
    }
    Ok(())
}

/// Applies one `patchesJson6902` entry (`target` plus `path`, `patch` or `jsonOp`).
pub(crate) fn json6902_entry(
    loader: &Loader,
    entry: &Value,
    accumulator: &mut Accumulator,
) -> Result<(), Error> {
    {
        let Some(target) = entry.get("target").map(Selector::from_value) else {
            return Err(Error::Build("patchesJson6902 entries need a target".into()));
        };
        let inline = entry.get("patch").or_else(|| entry.get("jsonOp"));
        let (text, source) = match (entry.get("path"), inline) {
            (Some(path), _) => {
                let (path, text) = loader.read(&path.scalar_text().unwrap_or_default())?;
                (text, path.display().to_string())
            }
            (None, Some(patch)) => (
                patch.scalar_text().unwrap_or_default(),
                "inline patch".into(),
            ),
            (None, None) => return Err(Error::Build("must specify one of patch and path".into())),
        };
        let documents = parse_documents(&text).map_err(|error| Error::Yaml {
            file: source.clone(),
            source: error,
        })?;
        let operations = documents
            .into_iter()
            .find(|document| !document.is_null())
            .unwrap_or(Value::Seq(Vec::new()));
        // An exact-name target, as kustomize converts it into a selector.
        let selector = Selector {
            name: regex::escape(&target.name),
            namespace: regex::escape(&target.namespace),
            ..target
        };
        apply_json_to_selected(accumulator, &selector, &operations, &source)?;
    }
    Ok(())
}
