//! The built-in transformers, run in kustomize's fixed order.

use crate::fieldspec::{FieldSpec, TransformerConfig, apply_specs, field_spec_of};
use crate::kustomization::Kustomization;
use crate::loader::Loader;
use crate::resource::{Gvk, Origin, Resource};
use crate::target::Accumulator;
use crate::value::{Mapping, Value};
use crate::{Error, patches, replacements};

/// Reads a CRD file given in `crds:` and registers its reference fields.
pub(crate) fn load_crd_config(
    loader: &Loader,
    entry: &str,
    config: &mut TransformerConfig,
) -> Result<(), Error> {
    let (path, text) = loader.read(entry)?;
    let file = path.display().to_string();
    let documents = crate::yaml::parse_documents(&text).map_err(|source| Error::Yaml {
        file: file.clone(),
        source,
    })?;
    for document in documents {
        let Some(types) = document.as_map() else {
            continue;
        };
        for (type_name, api) in types {
            let properties = api.get_path(&["Schema", "properties"]);
            let looks_like_kubernetes = properties.is_some_and(|properties| {
                ["kind", "apiVersion", "metadata"]
                    .iter()
                    .all(|key| properties.get(key).is_some())
            });
            if !looks_like_kubernetes {
                continue;
            }
            let kind = type_name
                .rsplit('.')
                .next()
                .unwrap_or(type_name)
                .to_string();
            let gvk = Gvk {
                kind,
                ..Default::default()
            };
            load_crd_type(types, type_name, &gvk, &mut Vec::new(), config, 0);
        }
    }
    Ok(())
}

/// kustomize's `loadCrdIntoConfig`: follows `$ref`s and turns the `x-kubernetes-*`
/// extensions into field specs.
fn load_crd_type(
    types: &Mapping,
    type_name: &str,
    gvk: &Gvk,
    path: &mut Vec<String>,
    config: &mut TransformerConfig,
    depth: usize,
) {
    if depth > 32 {
        return;
    }
    let Some(properties) = types
        .get(type_name)
        .and_then(|api| api.get_path(&["Schema", "properties"]))
        .and_then(Value::as_map)
    else {
        return;
    };
    for (name, property) in properties {
        path.push(name.clone());
        let spec = |extra: Option<&str>| {
            let mut full = path.clone();
            if let Some(extra) = extra {
                full.push(extra.to_string());
            }
            FieldSpec {
                gvk: gvk.clone(),
                path: full.join("/"),
                create: false,
            }
        };
        if property.get("x-kubernetes-annotation").is_some() {
            config.common_annotations.push(spec(None));
        }
        if property.get("x-kubernetes-label-selector").is_some() {
            config.common_labels.push(spec(None));
        }
        if property.get("x-kubernetes-identity").is_some() {
            config.name_prefix.push(spec(None));
        }
        if let (Some(version), Some(kind)) = (
            property
                .get("x-kubernetes-object-ref-api-version")
                .and_then(Value::as_str),
            property
                .get("x-kubernetes-object-ref-kind")
                .and_then(Value::as_str),
        ) {
            let name_key = property
                .get("x-kubernetes-object-ref-name-key")
                .and_then(Value::as_str)
                .unwrap_or("name");
            let target = Gvk {
                kind: kind.to_string(),
                version: version.to_string(),
                ..Default::default()
            };
            let referrer = spec(Some(name_key));
            match config
                .name_reference
                .iter_mut()
                .find(|reference| reference.gvk == target)
            {
                Some(reference) => reference.field_specs.push(referrer),
                None => config
                    .name_reference
                    .push(crate::fieldspec::NameBackReference {
                        gvk: target,
                        field_specs: vec![referrer],
                    }),
            }
        }
        if let Some(reference) = property.get("$ref").and_then(Value::as_str) {
            load_crd_type(types, reference, gvk, path, config, depth + 1);
        }
        path.pop();
    }
}

fn string_map(value: Option<&Value>) -> Vec<(String, String)> {
    value
        .and_then(Value::as_map)
        .map(|map| {
            map.iter()
                .map(|(key, value)| (key.clone(), value.scalar_text().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

/// Runs patches, namespace, prefix, suffix, labels, annotations, JSON patches, replicas,
/// images and replacements over the accumulated resources.
pub(crate) fn run_builtin(
    loader: &Loader,
    kustomization: &Kustomization,
    accumulator: &mut Accumulator,
    configured_in: Option<&str>,
) -> Result<(), Error> {
    // With buildMetadata, every resource remembers each built-in transformer that ran.
    let record = |accumulator: &mut Accumulator, kind: &str| {
        if let Some(configured_in) = configured_in {
            let origin = Origin {
                path: None,
                configured_in: Some(configured_in.to_string()),
                configured_by: Some(["builtin".into(), kind.into(), String::new(), String::new()]),
            };
            for resource in &mut accumulator.resources {
                resource.transformations.push(origin.clone());
            }
        }
    };
    if !kustomization.strings("patchesStrategicMerge").is_empty() {
        patches::patches_strategic_merge(loader, kustomization, accumulator)?;
        record(accumulator, "PatchStrategicMergeTransformer");
    }
    for entry in kustomization.items("patches") {
        patches::patch_entry(loader, &entry, accumulator)?;
        record(accumulator, "PatchTransformer");
    }
    let namespace = kustomization.string("namespace");
    if !namespace.is_empty() {
        let specs = accumulator.config.namespace.clone();
        set_namespace(accumulator, &namespace, &specs, false)?;
        record(accumulator, "NamespaceTransformer");
    }
    let config = accumulator.config.clone();
    let prefix = kustomization.string("namePrefix");
    if !prefix.is_empty() {
        add_prefix_suffix(
            &mut accumulator.resources,
            &config.name_prefix,
            &prefix,
            true,
        )?;
        record(accumulator, "PrefixTransformer");
    }
    let suffix = kustomization.string("nameSuffix");
    if !suffix.is_empty() {
        add_prefix_suffix(
            &mut accumulator.resources,
            &config.name_suffix,
            &suffix,
            false,
        )?;
        record(accumulator, "SuffixTransformer");
    }
    for label in kustomization.items("labels") {
        let pairs = string_map(label.get("pairs"));
        let mut specs: Vec<FieldSpec> = label
            .get("fields")
            .and_then(Value::as_seq)
            .map(|items| items.iter().map(field_spec_of).collect())
            .unwrap_or_default();
        if matches!(label.get("includeSelectors"), Some(Value::Bool(true))) {
            merge_specs(&mut specs, &config.common_labels);
        } else {
            merge_specs(
                &mut specs,
                &[FieldSpec {
                    path: "metadata/labels".into(),
                    create: true,
                    ..Default::default()
                }],
            );
            if matches!(label.get("includeTemplates"), Some(Value::Bool(true))) {
                merge_specs(&mut specs, &config.template_labels);
            }
        }
        merge_specs(&mut specs, &config.labels);
        set_string_entries(&mut accumulator.resources, &specs, &pairs)?;
        record(accumulator, "LabelTransformer");
    }
    let common_labels = string_map(kustomization.get("commonLabels"));
    if !common_labels.is_empty() {
        set_string_entries(
            &mut accumulator.resources,
            &config.common_labels,
            &common_labels,
        )?;
        record(accumulator, "LabelTransformer");
    }
    let annotations = string_map(kustomization.get("commonAnnotations"));
    if !annotations.is_empty() {
        set_string_entries(
            &mut accumulator.resources,
            &config.common_annotations,
            &annotations,
        )?;
        record(accumulator, "AnnotationsTransformer");
    }
    for entry in kustomization.items("patchesJson6902") {
        patches::json6902_entry(loader, &entry, accumulator)?;
        record(accumulator, "PatchJson6902Transformer");
    }
    for replica in kustomization.items("replicas") {
        set_replicas(accumulator, &replica, &config.replicas)?;
        record(accumulator, "ReplicaCountTransformer");
    }
    let mut images = kustomization.items("images");
    images.extend(kustomization.items("imageTags"));
    for image in images {
        set_image(&mut accumulator.resources, &image, &config.images)?;
        record(accumulator, "ImageTagTransformer");
    }
    if !kustomization.items("replacements").is_empty() {
        replacements::run(loader, kustomization, accumulator)?;
        record(accumulator, "ReplacementTransformer");
    }
    Ok(())
}

fn merge_specs(specs: &mut Vec<FieldSpec>, more: &[FieldSpec]) {
    for spec in more {
        if !specs
            .iter()
            .any(|existing| existing.gvk == spec.gvk && existing.path == spec.path)
        {
            specs.push(spec.clone());
        }
    }
}

pub(crate) fn set_namespace(
    accumulator: &mut Accumulator,
    namespace: &str,
    specs: &[FieldSpec],
    unset_only: bool,
) -> Result<(), Error> {
    for index in 0..accumulator.resources.len() {
        let resource = &mut accumulator.resources[index];
        if resource.value.as_map().is_none_or(Mapping::is_empty) {
            continue;
        }
        resource.store_previous_id();
        let gvk = resource.gvk();
        let api_version = resource
            .value
            .str_at(&["apiVersion"])
            .unwrap_or("")
            .to_string();
        if !gvk.is_cluster_scoped()
            && let Some(metadata) = resource.metadata_mut()
        {
            let is_set = metadata
                .get("namespace")
                .and_then(Value::as_str)
                .is_some_and(|current| !current.is_empty());
            if !(unset_only && is_set) {
                metadata.insert("namespace".into(), namespace.into());
            }
        }
        if (gvk.kind == "RoleBinding" || gvk.kind == "ClusterRoleBinding")
            && let Some(Value::Seq(subjects)) = resource.value.get_mut("subjects")
        {
            for subject in subjects {
                if subject.get("name").and_then(Value::as_str) == Some("default")
                    && let Some(map) = subject.as_map_mut()
                {
                    map.insert("namespace".into(), namespace.into());
                }
            }
        }
        let applicable: Vec<FieldSpec> = specs
            .iter()
            .filter(|spec| spec.path != "metadata/namespace")
            .filter(|spec| api_version == "v1" || spec.path != "metadata/name")
            .filter(|spec| {
                !((gvk.kind == "RoleBinding" || gvk.kind == "ClusterRoleBinding")
                    && spec.path == "subjects/namespace")
            })
            .cloned()
            .collect();
        apply_specs(&mut resource.value, &gvk, &applicable, &mut |field| {
            if matches!(field, Value::Seq(_) | Value::Map(_)) {
                return Err(Error::Build(
                    "namespace field specs must target scalar nodes".into(),
                ));
            }
            *field = Value::String(namespace.to_string());
            Ok(())
        })?;
    }
    // kustomize refuses a namespace that makes two resources' ids collide.
    let mut seen = std::collections::HashSet::new();
    for resource in &accumulator.resources {
        let id = resource.current_id();
        let key = (id.gvk.clone(), id.name.clone(), id.effective_namespace());
        if !seen.insert(key) {
            return Err(Error::Build(format!(
                "namespace transformation produces ID conflict: {}",
                id.display()
            )));
        }
    }
    Ok(())
}

pub(crate) fn add_prefix_suffix(
    resources: &mut [Resource],
    specs: &[FieldSpec],
    affix: &str,
    is_prefix: bool,
) -> Result<(), Error> {
    for resource in resources.iter_mut() {
        let original = resource.original_id();
        let skip = ["CustomResourceDefinition", "Namespace"].contains(&original.gvk.kind.as_str())
            || (original.gvk.kind == "APIService"
                && original.gvk.group == "apiregistration.k8s.io");
        if skip {
            continue;
        }
        for spec in specs {
            if !original.gvk.is_selected_by(&spec.gvk) {
                continue;
            }
            if spec.path == "metadata/name" {
                if is_prefix {
                    resource.prefixes.push(affix.to_string());
                } else {
                    resource.suffixes.push(affix.to_string());
                }
                resource.store_previous_id();
            }
            let gvk = resource.gvk();
            apply_specs(
                &mut resource.value,
                &gvk,
                std::slice::from_ref(spec),
                &mut |field| {
                    let current = field.scalar_text().unwrap_or_default();
                    *field = Value::String(if is_prefix {
                        format!("{affix}{current}")
                    } else {
                        format!("{current}{affix}")
                    });
                    Ok(())
                },
            )?;
        }
    }
    Ok(())
}

/// Sets string entries (labels or annotations) in the mappings the specs point at.
pub(crate) fn set_string_entries(
    resources: &mut [Resource],
    specs: &[FieldSpec],
    pairs: &[(String, String)],
) -> Result<(), Error> {
    for resource in resources.iter_mut() {
        let gvk = resource.gvk();
        apply_specs(&mut resource.value, &gvk, specs, &mut |field| {
            if field.is_null() {
                *field = Value::Map(Mapping::new());
            }
            let Some(map) = field.as_map_mut() else {
                return Err(Error::Build(
                    "expected a mapping for labels or annotations".into(),
                ));
            };
            for (key, value) in pairs {
                map.insert(key.clone(), Value::String(value.clone()));
            }
            Ok(())
        })?;
    }
    Ok(())
}

pub(crate) fn set_replicas(
    accumulator: &mut Accumulator,
    replica: &Value,
    specs: &[FieldSpec],
) -> Result<(), Error> {
    let name = replica
        .get("name")
        .and_then(Value::scalar_text)
        .unwrap_or_default();
    let count = match replica.get("count") {
        Some(Value::Int(count)) => *count,
        _ => 0,
    };
    let mut found = false;
    for spec in specs {
        let matches =
            accumulator.matching_any_id(&|id| id.name == name && id.gvk.is_selected_by(&spec.gvk));
        for index in matches {
            found = true;
            let resource = &mut accumulator.resources[index];
            let gvk = resource.gvk();
            apply_specs(
                &mut resource.value,
                &gvk,
                std::slice::from_ref(spec),
                &mut |field| {
                    *field = Value::Int(count);
                    Ok(())
                },
            )?;
        }
    }
    if !found {
        return Err(Error::Build(format!(
            "resource with name {name} does not match a config with the following GVK"
        )));
    }
    Ok(())
}

/// Splits an image reference into name, tag and digest as kustomize does.
pub(crate) fn split_image(image: &str) -> (String, String, String) {
    let slash = image.find('/').filter(|&index| index > 0).unwrap_or(0);
    let search = &image[slash..];
    let at = search.find('@');
    let colon = search.find(':');
    match (at, colon) {
        (None, None) => (image.to_string(), String::new(), String::new()),
        (Some(at), colon) if colon.is_none_or(|colon| at < colon) => {
            let at = at + slash;
            (
                image[..at].to_string(),
                String::new(),
                image[at + 1..].to_string(),
            )
        }
        (Some(at), Some(colon)) => {
            let (at, colon) = (at + slash, colon + slash);
            (
                image[..colon].to_string(),
                image[colon + 1..at].to_string(),
                image[at + 1..].to_string(),
            )
        }
        (None, Some(colon)) => {
            let colon = colon + slash;
            (
                image[..colon].to_string(),
                image[colon + 1..].to_string(),
                String::new(),
            )
        }
        _ => (image.to_string(), String::new(), String::new()),
    }
}

/// kustomize's `IsImageMatched`: the name (a regular expression, as in Go) plus an optional
/// digest marker and tag.
fn image_pattern(name: &str) -> Option<regex::Regex> {
    let pattern = format!("^{name}(@sha256)?(:[a-zA-Z0-9_.{{}}-]*)?$");
    regex::Regex::new(&pattern).ok().or_else(|| {
        let escaped = format!("^{}(@sha256)?(:[a-zA-Z0-9_.{{}}-]*)?$", regex::escape(name));
        regex::Regex::new(&escaped).ok()
    })
}

fn update_image(current: &str, image: &Value, pattern: &regex::Regex) -> Option<String> {
    let text = |key: &str| {
        image
            .get(key)
            .and_then(Value::scalar_text)
            .unwrap_or_default()
    };
    if !pattern.is_match(current) {
        return None;
    }
    let (mut new_name, mut tag, mut digest) = split_image(current);
    let replacement = text("newName");
    if !replacement.is_empty() {
        new_name = replacement;
    }
    let new_tag = text("newTag");
    let new_digest = text("digest");
    if !new_tag.is_empty() && !new_digest.is_empty() {
        tag = new_tag;
        digest = new_digest;
    } else if !new_tag.is_empty() {
        tag = new_tag;
        digest = String::new();
    } else if !new_digest.is_empty() {
        tag = String::new();
        digest = new_digest;
    }
    if !tag.is_empty() {
        new_name = format!("{new_name}:{tag}");
    }
    if !digest.is_empty() {
        new_name = format!("{new_name}@{digest}");
    }
    Some(new_name)
}

/// The legacy image filter: every `containers`/`initContainers` list anywhere in the object.
fn update_containers_anywhere(value: &mut Value, image: &Value, pattern: &regex::Regex) {
    match value {
        Value::Map(map) => {
            for (key, child) in map.iter_mut() {
                if (key == "containers" || key == "initContainers")
                    && let Value::Seq(items) = child
                {
                    for item in items.iter_mut() {
                        if let Some(Value::String(current)) = item.get_mut("image")
                            && let Some(updated) = update_image(current, image, pattern)
                        {
                            *current = updated;
                        }
                    }
                }
                update_containers_anywhere(child, image, pattern);
            }
        }
        Value::Seq(items) => {
            for item in items {
                update_containers_anywhere(item, image, pattern);
            }
        }
        _ => {}
    }
}

pub(crate) fn set_image(
    resources: &mut [Resource],
    image: &Value,
    specs: &[FieldSpec],
) -> Result<(), Error> {
    let name = image
        .get("name")
        .and_then(Value::scalar_text)
        .unwrap_or_default();
    let Some(pattern) = image_pattern(&name) else {
        return Ok(());
    };
    for resource in resources.iter_mut() {
        update_containers_anywhere(&mut resource.value, image, &pattern);
        let gvk = resource.gvk();
        apply_specs(&mut resource.value, &gvk, specs, &mut |field| {
            if let Value::String(current) = field
                && let Some(updated) = update_image(current, image, &pattern)
            {
                *current = updated;
            }
            Ok(())
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_into_name_tag_and_digest() {
        assert_eq!(split_image("nginx"), ("nginx".into(), "".into(), "".into()));
        assert_eq!(
            split_image("nginx:1.2"),
            ("nginx".into(), "1.2".into(), "".into())
        );
        assert_eq!(
            split_image("my.registry:5000/nginx:1.2@sha256:abc"),
            (
                "my.registry:5000/nginx".into(),
                "1.2".into(),
                "sha256:abc".into()
            )
        );
    }
}
