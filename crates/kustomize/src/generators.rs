//! `configMapGenerator`, `secretGenerator`, `generatorOptions`, and the name hash.

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::Error;
use crate::json::to_go_json;
use crate::kustomization::Kustomization;
use crate::loader::Loader;
use crate::resource::{Behavior, Origin, Resource};
use crate::target::{Accumulator, ids_equal};
use crate::value::{Mapping, Value};

#[derive(Default, Clone)]
struct Options {
    labels: Vec<(String, String)>,
    annotations: Vec<(String, String)>,
    disable_hash: bool,
    immutable: bool,
}

fn options_of(value: Option<&Value>) -> Options {
    let Some(value) = value else {
        return Options::default();
    };
    let pairs = |key: &str| -> Vec<(String, String)> {
        value
            .get(key)
            .and_then(Value::as_map)
            .map(|map| {
                map.iter()
                    .map(|(key, value)| (key.clone(), value.scalar_text().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default()
    };
    Options {
        labels: pairs("labels"),
        annotations: pairs("annotations"),
        disable_hash: matches!(value.get("disableNameSuffixHash"), Some(Value::Bool(true))),
        immutable: matches!(value.get("immutable"), Some(Value::Bool(true))),
    }
}

/// Local options win over the kustomization-wide `generatorOptions`.
fn merge_options(global: &Options, local: &Options) -> Options {
    let mut merged = local.clone();
    for (key, value) in &global.labels {
        if !merged.labels.iter().any(|(existing, _)| existing == key) {
            merged.labels.push((key.clone(), value.clone()));
        }
    }
    for (key, value) in &global.annotations {
        if !merged
            .annotations
            .iter()
            .any(|(existing, _)| existing == key)
        {
            merged.annotations.push((key.clone(), value.clone()));
        }
    }
    merged.disable_hash |= global.disable_hash;
    merged.immutable |= global.immutable;
    merged
}

fn remove_quotes(text: &str) -> &str {
    let bytes = text.as_bytes();
    if bytes.len() >= 2 && bytes[0] == bytes[bytes.len() - 1] && matches!(bytes[0], b'"' | b'\'') {
        &text[1..text.len() - 1]
    } else {
        text
    }
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && !key.starts_with("..")
        && key
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || "-._".contains(character))
}

/// Reads the key/value pairs of one generator entry: env files, literals, then files.
fn pairs_of(loader: &Loader, entry: &Value, name: &str) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let strings = |key: &str| -> Vec<String> {
        match entry.get(key) {
            Some(Value::Seq(items)) => items.iter().filter_map(Value::scalar_text).collect(),
            Some(Value::String(text)) => vec![text.clone()],
            _ => Vec::new(),
        }
    };
    let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut env_files = strings("envs");
    env_files.extend(strings("env"));
    for env_file in env_files {
        let (_, text) = loader.read(&env_file)?;
        for (index, line) in text.lines().enumerate() {
            let line = if index == 0 {
                line.trim_start_matches('\u{feff}')
            } else {
                line
            };
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line.split_once('=').unwrap_or((line, ""));
            if key.is_empty() || key.contains(char::is_whitespace) {
                return Err(Error::Build(format!(
                    "invalid env file line in {env_file}: {line:?}"
                )));
            }
            pairs.push((key.to_string(), value.as_bytes().to_vec()));
        }
    }
    for literal in strings("literals") {
        match literal.split_once('=') {
            Some((key, value)) if !key.is_empty() => {
                pairs.push((key.to_string(), remove_quotes(value).as_bytes().to_vec()))
            }
            _ => {
                return Err(Error::Build(format!(
                    "invalid literal source {literal}, expected key=value"
                )));
            }
        }
    }
    for source in strings("files") {
        let separators = source.matches('=').count();
        let (key, path) = match separators {
            0 => {
                let base = source.rsplit('/').next().unwrap_or(&source).to_string();
                (base, source.clone())
            }
            1 if !source.starts_with('=') && !source.ends_with('=') => {
                let (key, path) = source.split_once('=').unwrap_or(("", ""));
                (key.to_string(), path.to_string())
            }
            _ => return Err(Error::Build(format!("invalid file source {source:?}"))),
        };
        let resolved = loader.resolve(&path);
        if resolved.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(&resolved)
                .map_err(|error| Error::Io {
                    path: resolved.clone(),
                    message: error.to_string(),
                })?
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.is_file())
                .collect();
            entries.sort();
            for file in entries {
                let key = file
                    .file_name()
                    .map(|name| name.to_string_lossy().to_string());
                pairs.push((key.unwrap_or_default(), loader.read_bytes_at(&file)?));
            }
            continue;
        }
        pairs.push((key, loader.read_bytes_at(&resolved)?));
    }
    let mut seen = std::collections::HashSet::new();
    for (key, _) in &pairs {
        if !valid_key(key) {
            return Err(Error::Build(format!(
                "configmap {name}: invalid key {key:?}"
            )));
        }
        if !seen.insert(key.clone()) {
            return Err(Error::Build(format!(
                "configmap {name} illegally repeats the key `{key}`"
            )));
        }
    }
    Ok(pairs)
}

fn make_resource(
    loader: &Loader,
    entry: &Value,
    kind: &str,
    global: &Options,
    file: &str,
) -> Result<Resource, Error> {
    let text = |key: &str| {
        entry
            .get(key)
            .and_then(Value::scalar_text)
            .unwrap_or_default()
    };
    let name = text("name");
    if name.is_empty() {
        return Err(Error::Invalid {
            file: file.to_string(),
            message: format!("a {kind} generator must have a name"),
        });
    }
    let namespace = text("namespace");
    let behavior = match text("behavior").as_str() {
        "" | "create" => Behavior::Create,
        "replace" => Behavior::Replace,
        "merge" => Behavior::Merge,
        other => {
            return Err(Error::Build(format!(
                "unknown generator behavior {other:?}"
            )));
        }
    };
    let options = merge_options(global, &options_of(entry.get("options")));
    let pairs = pairs_of(loader, entry, &name)?;
    let mut document = Mapping::new();
    document.insert("apiVersion".into(), "v1".into());
    document.insert("kind".into(), kind.into());
    let mut metadata = Mapping::new();
    metadata.insert("name".into(), name.clone().into());
    if !namespace.is_empty() {
        metadata.insert("namespace".into(), namespace.into());
    }
    if !options.labels.is_empty() {
        let mut labels: Vec<_> = options.labels.clone();
        labels.sort();
        metadata.insert(
            "labels".into(),
            Value::Map(
                labels
                    .into_iter()
                    .map(|(key, value)| (key, Value::String(value)))
                    .collect(),
            ),
        );
    }
    if !options.annotations.is_empty() {
        let mut annotations: Vec<_> = options.annotations.clone();
        annotations.sort();
        metadata.insert(
            "annotations".into(),
            Value::Map(
                annotations
                    .into_iter()
                    .map(|(key, value)| (key, Value::String(value)))
                    .collect(),
            ),
        );
    }
    document.insert("metadata".into(), Value::Map(metadata));
    let engine = base64::engine::general_purpose::STANDARD;
    if kind == "Secret" {
        let mut data = Mapping::new();
        for (key, bytes) in pairs {
            data.insert(key, Value::String(wrapped_base64(&engine.encode(bytes))));
        }
        if !data.is_empty() {
            document.insert("data".into(), Value::Map(data));
        }
        let secret_type = text("type");
        document.insert(
            "type".into(),
            if secret_type.is_empty() {
                "Opaque".into()
            } else {
                secret_type.into()
            },
        );
    } else {
        let mut data = Mapping::new();
        let mut binary = Mapping::new();
        for (key, bytes) in pairs {
            match String::from_utf8(bytes) {
                Ok(text) => {
                    data.insert(key, Value::String(text));
                }
                Err(error) => {
                    binary.insert(key, Value::String(engine.encode(error.into_bytes())));
                }
            }
        }
        if !data.is_empty() {
            document.insert("data".into(), Value::Map(data));
        }
        if !binary.is_empty() {
            document.insert("binaryData".into(), Value::Map(binary));
        }
    }
    if options.immutable {
        document.insert("immutable".into(), Value::Bool(true));
    }
    let mut resource = Resource::new(Value::Map(document), file);
    resource.behavior = Some(behavior);
    resource.needs_hash = !options.disable_hash;
    Ok(resource)
}

/// kustomize breaks secret values of 70 or more base64 characters into newline-ended lines.
fn wrapped_base64(encoded: &str) -> String {
    const LINE: usize = 70;
    let lines = encoded.len() / LINE + 1;
    if lines <= 1 {
        return encoded.to_string();
    }
    let mut out = String::new();
    for chunk in encoded.as_bytes().chunks(LINE) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out
}

/// Runs the kustomization's generators and absorbs their output.
pub(crate) fn run(
    loader: &Loader,
    kustomization: &Kustomization,
    accumulator: &mut Accumulator,
    configured_in: Option<&str>,
) -> Result<(), Error> {
    let global = options_of(kustomization.get("generatorOptions"));
    let mut generated = Vec::new();
    for entry in kustomization.items("configMapGenerator") {
        generated.push(make_resource(
            loader,
            &entry,
            "ConfigMap",
            &global,
            &kustomization.file,
        )?);
    }
    for entry in kustomization.items("secretGenerator") {
        generated.push(make_resource(
            loader,
            &entry,
            "Secret",
            &global,
            &kustomization.file,
        )?);
    }
    for mut resource in generated {
        if let Some(configured_in) = configured_in {
            let kind = if resource.value.str_at(&["kind"]) == Some("Secret") {
                "SecretGenerator"
            } else {
                "ConfigMapGenerator"
            };
            resource.origin = Some(Origin {
                path: None,
                configured_in: Some(configured_in.to_string()),
                configured_by: Some(["builtin".into(), kind.into(), String::new(), String::new()]),
            });
        }
        absorb(accumulator, resource)?;
    }
    Ok(())
}

/// Generates one ConfigMap or Secret from a plugin configuration and absorbs it.
pub(crate) fn generate_one(
    loader: &Loader,
    entry: &Value,
    kind: &str,
    accumulator: &mut Accumulator,
    origin: Option<Origin>,
) -> Result<(), Error> {
    let mut resource = make_resource(loader, entry, kind, &Options::default(), "generator plugin")?;
    resource.origin = origin;
    absorb(accumulator, resource)
}

fn merge_string_map(old: Option<&Value>, new: Option<&Value>) -> Option<Value> {
    let mut merged = old.and_then(Value::as_map).cloned().unwrap_or_default();
    for (key, value) in new.and_then(Value::as_map).cloned().unwrap_or_default() {
        merged.insert(key, value);
    }
    if merged.is_empty() {
        None
    } else {
        Some(Value::Map(merged))
    }
}

/// kustomize's `appendReplaceOrMerge` for generator output.
fn absorb(accumulator: &mut Accumulator, mut resource: Resource) -> Result<(), Error> {
    let id = resource.current_id();
    let matches = accumulator.matching_any_id(&|candidate| ids_equal(candidate, &id));
    let behavior = resource.behavior.unwrap_or_default();
    match matches.as_slice() {
        [] => match behavior {
            Behavior::Create => accumulator.append(resource),
            _ => Err(Error::Build(format!(
                "id {} does not exist; cannot merge or replace",
                id.display()
            ))),
        },
        [index] => {
            let old = accumulator.resources[*index].clone();
            if behavior == Behavior::Create {
                return Err(Error::Build(format!(
                    "id {} exists; behavior must be merge or replace",
                    id.display()
                )));
            }
            let labels = merge_string_map(
                old.value.get_path(&["metadata", "labels"]),
                resource.value.get_path(&["metadata", "labels"]),
            );
            let annotations = merge_string_map(
                old.value.get_path(&["metadata", "annotations"]),
                resource.value.get_path(&["metadata", "annotations"]),
            );
            if behavior == Behavior::Merge {
                for field in ["data", "binaryData"] {
                    let merged = merge_string_map(old.value.get(field), resource.value.get(field));
                    if let (Some(merged), Some(map)) = (merged, resource.value.as_map_mut()) {
                        map.insert(field.into(), merged);
                    }
                }
            }
            let old_name = old.name();
            let old_namespace = old.namespace();
            if let Some(metadata) = resource.metadata_mut() {
                for (key, value) in [("labels", labels), ("annotations", annotations)] {
                    match value {
                        Some(value) => {
                            metadata.insert(key.into(), value);
                        }
                        None => {
                            metadata.shift_remove(key);
                        }
                    }
                }
                metadata.insert("name".into(), old_name.into());
                if old_namespace.is_empty() {
                    metadata.shift_remove("namespace");
                } else {
                    metadata.insert("namespace".into(), old_namespace.into());
                }
            }
            resource.previous_ids = old.previous_ids.clone();
            if behavior == Behavior::Merge {
                resource.origin = old.origin.clone();
            }
            resource.transformations = old.transformations.clone();
            resource.prefixes = old.prefixes.clone();
            resource.suffixes = old.suffixes.clone();
            resource.needs_hash = resource.needs_hash && old.needs_hash;
            resource.ref_var_names = old.ref_var_names.clone();
            accumulator.resources[*index] = resource;
            Ok(())
        }
        _ => Err(Error::Build(format!(
            "found multiple objects that could accept merge of {}",
            id.display()
        ))),
    }
}

/// kustomize's content hash of a resource, as appended to generated names.
pub(crate) fn content_hash(value: &Value) -> String {
    let kind = value.str_at(&["kind"]).unwrap_or("");
    let encoded = match kind {
        "ConfigMap" | "Secret" => {
            let mut map = Mapping::new();
            map.insert("kind".into(), kind.into());
            // kustomize looks the name up under the single key "metadata/name", which never
            // exists, so the name is always hashed as "".
            map.insert("name".into(), "".into());
            map.insert(
                "data".into(),
                value.get("data").cloned().unwrap_or_else(|| "".into()),
            );
            if kind == "ConfigMap" {
                if let Some(binary @ Value::Map(_)) = value.get("binaryData") {
                    map.insert("binaryData".into(), binary.clone());
                }
            } else {
                map.insert(
                    "type".into(),
                    value.get("type").cloned().unwrap_or_else(|| "".into()),
                );
                if let Some(string_data @ Value::Map(_)) = value.get("stringData") {
                    map.insert("stringData".into(), string_data.clone());
                }
            }
            to_go_json(&Value::Map(map))
        }
        _ => to_go_json(value),
    };
    let digest = Sha256::digest(encoded.as_bytes());
    let hex = hex::encode(digest);
    hex[..10]
        .chars()
        .map(|character| match character {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            other => other,
        })
        .collect()
}

/// Appends the content hash to every generated name that wants one.
pub(crate) fn add_hashes_to_names(resources: &mut [Resource]) -> Result<(), Error> {
    for resource in resources.iter_mut().filter(|resource| resource.needs_hash) {
        let hash = content_hash(&resource.value);
        resource.store_previous_id();
        let name = format!("{}-{}", resource.name(), hash);
        resource.set_name(&name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;

    #[test]
    fn config_map_hash_matches_kustomize() {
        // From kustomize's hasher tests: an empty ConfigMap named "" hashes to 6ct58987ht.
        let documents =
            parse_documents("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"\"\n")
                .unwrap_or_default();
        assert_eq!(content_hash(&documents[0]), "6ct58987ht");
    }
}
