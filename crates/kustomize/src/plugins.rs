//! Built-in plugin configurations listed under `generators:` and `transformers:`
//! (`apiVersion: builtin`, `kind: PrefixSuffixTransformer`…). They run the same code as the
//! kustomization fields they mirror. Anything that would need an external plugin (exec,
//! container, Go plugin) is refused.

use crate::Error;
use crate::fieldspec::{FieldSpec, field_spec_of};
use crate::generators;
use crate::loader::Loader;
use crate::patches;
use crate::replacements;
use crate::resource::{Origin, Resource};
use crate::target::Accumulator;
use crate::transformers::{
    add_prefix_suffix, set_image, set_namespace, set_replicas, set_string_entries,
};
use crate::value::{Mapping, Value};

fn specs_of(config: &Value) -> Vec<FieldSpec> {
    config
        .get("fieldSpecs")
        .and_then(Value::as_seq)
        .map(|items| items.iter().map(field_spec_of).collect())
        .unwrap_or_default()
}

fn pairs_of(config: &Value, key: &str) -> Vec<(String, String)> {
    config
        .get(key)
        .and_then(Value::as_map)
        .map(|map| {
            map.iter()
                .map(|(key, value)| (key.clone(), value.scalar_text().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

fn refuse(config: &Value) -> Error {
    let kind = config.str_at(&["kind"]).unwrap_or("");
    let api_version = config.str_at(&["apiVersion"]).unwrap_or("");
    Error::Unsupported(format!(
        "plugin {api_version}/{kind} (only builtin plugins run)"
    ))
}

fn is_builtin(config: &Value) -> bool {
    let api_version = config.str_at(&["apiVersion"]).unwrap_or("");
    api_version == "builtin" || api_version.is_empty()
}

/// The origin kustomize records for a plugin configured in `configured_in`.
pub(crate) fn plugin_origin(config: &Value, configured_in: &str) -> Origin {
    let text = |path: &[&str]| config.str_at(path).unwrap_or("").to_string();
    Origin {
        path: None,
        configured_in: Some(configured_in.to_string()),
        configured_by: Some([
            text(&["apiVersion"]),
            text(&["kind"]),
            text(&["metadata", "name"]),
            text(&["metadata", "namespace"]),
        ]),
    }
}

/// Runs one generator plugin configuration.
pub(crate) fn run_generator(
    loader: &Loader,
    config: &Value,
    accumulator: &mut Accumulator,
    origin: Option<Origin>,
) -> Result<(), Error> {
    if !is_builtin(config) {
        return Err(refuse(config));
    }
    let kind = config.str_at(&["kind"]).unwrap_or("");
    match kind {
        "ConfigMapGenerator" | "SecretGenerator" => {
            let mut entry = config.as_map().cloned().unwrap_or_default();
            if let Some(metadata) = config.get("metadata") {
                for key in ["name", "namespace"] {
                    let unset = entry
                        .get(key)
                        .is_none_or(|value| value.scalar_text().unwrap_or_default().is_empty());
                    if unset && let Some(value) = metadata.get(key) {
                        entry.insert(key.to_string(), value.clone());
                    }
                }
            }
            let target_kind = if kind == "ConfigMapGenerator" {
                "ConfigMap"
            } else {
                "Secret"
            };
            generators::generate_one(loader, &Value::Map(entry), target_kind, accumulator, origin)
        }
        "IAMPolicyGenerator" => {
            let text = |path: &[&str]| config.str_at(path).unwrap_or("").to_string();
            if text(&["cloud"]) != "gke" {
                return Err(Error::Build(format!(
                    "cloud provider {} not supported yet",
                    text(&["cloud"])
                )));
            }
            let mut annotations = Mapping::new();
            annotations.insert(
                "iam.gke.io/gcp-service-account".into(),
                format!(
                    "{}@{}.iam.gserviceaccount.com",
                    text(&["serviceAccount", "name"]),
                    text(&["serviceAccount", "projectId"])
                )
                .into(),
            );
            let mut metadata = Mapping::new();
            metadata.insert("annotations".into(), Value::Map(annotations));
            metadata.insert("name".into(), text(&["kubernetesService", "name"]).into());
            let namespace = text(&["kubernetesService", "namespace"]);
            if !namespace.is_empty() {
                metadata.insert("namespace".into(), namespace.into());
            }
            let mut document = Mapping::new();
            document.insert("apiVersion".into(), "v1".into());
            document.insert("kind".into(), "ServiceAccount".into());
            document.insert("metadata".into(), Value::Map(metadata));
            let mut resource = Resource::new(Value::Map(document), "IAMPolicyGenerator");
            resource.origin = origin;
            accumulator.append(resource)
        }
        _ => Err(refuse(config)),
    }
}

/// Runs one transformer plugin configuration.
pub(crate) fn run_transformer(
    loader: &Loader,
    config: &Value,
    accumulator: &mut Accumulator,
) -> Result<(), Error> {
    if !is_builtin(config) {
        return Err(refuse(config));
    }
    let kind = config.str_at(&["kind"]).unwrap_or("");
    let text = |key: &str| {
        config
            .get(key)
            .and_then(Value::scalar_text)
            .unwrap_or_default()
    };
    match kind {
        "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer" => {
            let specs = specs_of(config);
            let prefix = text("prefix");
            let suffix = text("suffix");
            if !prefix.is_empty() {
                add_prefix_suffix(&mut accumulator.resources, &specs, &prefix, true)?;
            }
            if !suffix.is_empty() {
                add_prefix_suffix(&mut accumulator.resources, &specs, &suffix, false)?;
            }
            Ok(())
        }
        "LabelTransformer" => set_string_entries(
            &mut accumulator.resources,
            &specs_of(config),
            &pairs_of(config, "labels"),
        ),
        "AnnotationsTransformer" => set_string_entries(
            &mut accumulator.resources,
            &specs_of(config),
            &pairs_of(config, "annotations"),
        ),
        "NamespaceTransformer" => {
            let namespace = config
                .str_at(&["metadata", "namespace"])
                .unwrap_or("")
                .to_string();
            if namespace.is_empty() {
                return Ok(());
            }
            let unset_only = matches!(config.get("unsetOnly"), Some(Value::Bool(true)));
            set_namespace(accumulator, &namespace, &specs_of(config), unset_only)
        }
        "PatchTransformer" => patches::patch_entry(loader, config, accumulator),
        "PatchStrategicMergeTransformer" => {
            let mut entries: Vec<String> = config
                .get("paths")
                .and_then(Value::as_seq)
                .map(|items| items.iter().filter_map(Value::scalar_text).collect())
                .unwrap_or_default();
            if let Some(inline) = config.get("patches").and_then(Value::scalar_text) {
                entries.push(inline);
            }
            patches::strategic_merge_entries(loader, &entries, accumulator)
        }
        "PatchJson6902Transformer" => patches::json6902_entry(loader, config, accumulator),
        "ImageTagTransformer" => {
            let image = config
                .get("imageTag")
                .cloned()
                .unwrap_or(Value::Map(Mapping::new()));
            set_image(&mut accumulator.resources, &image, &specs_of(config))
        }
        "ReplicaCountTransformer" => {
            let replica = config
                .get("replica")
                .cloned()
                .unwrap_or(Value::Map(Mapping::new()));
            set_replicas(accumulator, &replica, &specs_of(config))
        }
        "ReplacementTransformer" => {
            let entries = config
                .get("replacements")
                .and_then(Value::as_seq)
                .cloned()
                .unwrap_or_default();
            replacements::run_list(loader, &entries, accumulator)
        }
        "HashTransformer" => generators::add_hashes_to_names(&mut accumulator.resources),
        "ValueAddTransformer" => value_add(loader, config, accumulator),
        "SortOrderTransformer" => Err(Error::Build(
            "SortOrderTransformer cannot be used as a transformer; use sortOptions".into(),
        )),
        _ => Err(refuse(config)),
    }
}

/// `ValueAddTransformer`: writes a value (by default the kustomization directory's name) into
/// fields, or inserts it as a path segment of their current value.
fn value_add(loader: &Loader, config: &Value, accumulator: &mut Accumulator) -> Result<(), Error> {
    let mut value = config
        .get("value")
        .and_then(Value::scalar_text)
        .unwrap_or_default()
        .trim()
        .to_string();
    if value.is_empty() {
        value = loader
            .root
            .file_name()
            .map(|name| name.to_string_lossy().to_string())
            .unwrap_or_default();
    }
    let targets = config
        .get("targets")
        .and_then(Value::as_seq)
        .cloned()
        .unwrap_or_default();
    if targets.is_empty() {
        return Err(Error::Build("must specify at least one target".into()));
    }
    for target in targets {
        let field_path = target
            .get("fieldPath")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if field_path.is_empty() {
            return Err(Error::Build("fieldPath cannot be empty".into()));
        }
        let position = match target.get("filePathPosition") {
            Some(Value::Int(position)) if *position >= 0 => *position as usize,
            Some(Value::Int(position)) => {
                return Err(Error::Build(format!(
                    "value of FilePathPosition ({position}) cannot be negative"
                )));
            }
            _ => 0,
        };
        let selected: Vec<usize> = match target.get("selector") {
            Some(selector) => patches::select(
                &accumulator.resources,
                &patches::Selector::from_value(selector),
            )?,
            None => (0..accumulator.resources.len()).collect(),
        };
        if field_path == "metadata/namespace" {
            for index in selected {
                let resource = &mut accumulator.resources[index];
                if !resource.gvk().is_cluster_scoped()
                    && let Some(metadata) = resource.metadata_mut()
                {
                    metadata.insert("namespace".into(), value.clone().into());
                }
            }
            continue;
        }
        let segments = crate::fieldspec::split_path(&field_path);
        for index in selected {
            let resource = &mut accumulator.resources[index];
            crate::fieldspec::apply_path(&mut resource.value, &segments, true, &mut |field| {
                let current = field.scalar_text().unwrap_or_default();
                let updated = if position > 0 {
                    insert_path_part(&current, position - 1, &value)
                } else {
                    value.clone()
                };
                *field = Value::String(updated);
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// Go's `filesys.InsertPathPart`.
fn insert_path_part(path: &str, position: usize, part: &str) -> String {
    if part.is_empty() {
        return path.to_string();
    }
    let mut parts: Vec<&str> = if path.is_empty() {
        Vec::new()
    } else {
        path.split('/').collect()
    };
    let position = position.min(parts.len());
    parts.insert(position, part);
    parts.join("/")
}
