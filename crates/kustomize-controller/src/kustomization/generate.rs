//! Writing the kustomization file the build runs on (fluxcd/pkg `kustomize/kustomize_generator.go`).
//!
//! A directory without a kustomization file gets one listing every YAML manifest below it
//! (subdirectories holding their own kustomization are listed as directories and not
//! descended into). Then the Kustomization's overrides are written into it: `targetNamespace`
//! becomes `namespace`, `namePrefix`/`nameSuffix`, `patches` and `components` are appended,
//! `images` are merged by name (tag and digest replaced as a unit) and `buildMetadata`
//! replaced. The file is written as JSON, which is YAML the kustomize engine reads unchanged.

use std::path::{Component, Path, PathBuf};

use eddy_api::kustomize::v1::{BuildMetadataOption, KustomizationSpec, Selector};
use serde_json::{Map, Value, json};

/// File names kustomize recognises, in its order of preference.
pub const KUSTOMIZATION_FILE_NAMES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Why the kustomization file could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's explanation.
        message: String,
    },
    /// A manifest or the existing kustomization file is not valid YAML.
    #[error("failed to decode Kubernetes YAML from {path}: {message}")]
    Yaml {
        /// The file.
        path: String,
        /// The parser's explanation.
        message: String,
    },
    /// A component path is remote or absolute.
    #[error("component path '{0}' must be local and relative")]
    RemoteComponent(String),
}

fn io_error(path: &Path, error: &std::io::Error) -> GenerateError {
    GenerateError::Io {
        path: path.display().to_string(),
        message: error.to_string(),
    }
}

/// The kustomization file in `dir`, if there is one.
pub fn find_kustomization_file(dir: &Path) -> Option<PathBuf> {
    KUSTOMIZATION_FILE_NAMES
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
}

/// Writes the kustomization file of `dir` with the overrides of `spec` applied.
pub fn generate(spec: &KustomizationSpec, dir: &Path) -> Result<(), GenerateError> {
    let (mut kustomization, file, existed) = match find_kustomization_file(dir) {
        Some(file) => (read_kustomization(&file)?, file, true),
        None => (
            generated_kustomization(dir)?,
            dir.join("kustomization.yaml"),
            false,
        ),
    };
    let fields = &mut kustomization;
    fields
        .entry("apiVersion")
        .or_insert_with(|| Value::from("kustomize.config.k8s.io/v1beta1"));
    fields
        .entry("kind")
        .or_insert_with(|| Value::from("Kustomization"));
    let has_resources = fields
        .get("resources")
        .and_then(Value::as_array)
        .is_some_and(|resources| !resources.is_empty());
    if existed && !has_resources {
        // As Flux does: an empty kustomization fails to build, build metadata keeps it valid.
        fields.insert("buildMetadata".into(), json!(["originAnnotations"]));
    }
    apply_overrides(spec, dir, fields)?;
    let text = serde_json::to_string_pretty(&Value::Object(kustomization)).unwrap_or_default();
    std::fs::write(&file, text).map_err(|error| io_error(&file, &error))
}

fn read_kustomization(file: &Path) -> Result<Map<String, Value>, GenerateError> {
    let text = std::fs::read_to_string(file).map_err(|error| io_error(file, &error))?;
    let yaml_error = |message: String| GenerateError::Yaml {
        path: file.display().to_string(),
        message,
    };
    let documents = eddy_kustomize::yaml::parse_documents(&text)
        .map_err(|error| yaml_error(error.to_string()))?;
    let document = match documents.first() {
        Some(document) => eddy_apply::manifests::to_json(document)
            .map_err(|error| yaml_error(error.to_string()))?,
        None => Value::Null,
    };
    Ok(match document {
        Value::Object(fields) => fields,
        _ => Map::new(),
    })
}

fn generated_kustomization(dir: &Path) -> Result<Map<String, Value>, GenerateError> {
    let mut resources = Vec::new();
    scan_manifests(dir, dir, &mut resources)?;
    let generated = if resources.is_empty() {
        // kustomize refuses an empty kustomization; Flux sets a placeholder namespace.
        json!({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "namespace": "_placeholder"})
    } else {
        json!({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "resources": resources})
    };
    Ok(match generated {
        Value::Object(fields) => fields,
        _ => Map::new(),
    })
}

/// Lists YAML manifests below `current` as `./relative/path`, in lexical walk order; a
/// directory with its own kustomization is listed itself and not descended into.
fn scan_manifests(
    base: &Path,
    current: &Path,
    resources: &mut Vec<String>,
) -> Result<(), GenerateError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(current)
        .map_err(|error| io_error(current, &error))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    entries.sort();
    for path in entries {
        let Ok(metadata) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let relative = path
            .strip_prefix(base)
            .map(|relative| format!("./{}", relative.display()))
            .unwrap_or_default();
        if metadata.is_dir() {
            if find_kustomization_file(&path).is_some() {
                resources.push(relative);
            } else {
                scan_manifests(base, &path, resources)?;
            }
            continue;
        }
        let is_yaml = matches!(
            path.extension().and_then(|extension| extension.to_str()),
            Some("yaml" | "yml")
        );
        if !metadata.is_file() || !is_yaml {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|error| io_error(&path, &error))?;
        eddy_kustomize::yaml::parse_documents(&text).map_err(|error| GenerateError::Yaml {
            path: path.display().to_string(),
            message: error.to_string(),
        })?;
        resources.push(relative);
    }
    Ok(())
}

fn apply_overrides(
    spec: &KustomizationSpec,
    dir: &Path,
    fields: &mut Map<String, Value>,
) -> Result<(), GenerateError> {
    if let Some(namespace) = &spec.target_namespace {
        fields.insert("namespace".into(), Value::from(namespace.as_str()));
    }
    if let Some(prefix) = &spec.name_prefix {
        fields.insert("namePrefix".into(), Value::from(prefix.as_str()));
    }
    if let Some(suffix) = &spec.name_suffix {
        fields.insert("nameSuffix".into(), Value::from(suffix.as_str()));
    }
    for patch in spec.patches.iter().flatten() {
        let mut entry = Map::new();
        entry.insert("patch".into(), Value::from(patch.patch.as_str()));
        if let Some(target) = &patch.target {
            entry.insert("target".into(), selector(target));
        }
        push(fields, "patches", Value::Object(entry));
    }
    let ignore_missing = spec.ignore_missing_components.unwrap_or(false);
    for component in spec.components.iter().flatten() {
        if !is_local_relative_path(component) {
            return Err(GenerateError::RemoteComponent(component.clone()));
        }
        if ignore_missing && !dir.join(component).exists() {
            continue;
        }
        push(fields, "components", Value::from(component.as_str()));
    }
    for image in spec.images.iter().flatten() {
        merge_image(fields, image);
    }
    if let Some(options) = spec.build_metadata.as_ref().filter(|all| !all.is_empty()) {
        let names: Vec<Value> = options
            .iter()
            .map(|option| {
                Value::from(match option {
                    BuildMetadataOption::OriginAnnotations => "originAnnotations",
                    BuildMetadataOption::TransformerAnnotations => "transformerAnnotations",
                })
            })
            .collect();
        fields.insert("buildMetadata".into(), Value::Array(names));
    }
    Ok(())
}

fn push(fields: &mut Map<String, Value>, key: &str, item: Value) {
    let list = fields
        .entry(key)
        .or_insert_with(|| Value::Array(Vec::new()));
    if !list.is_array() {
        *list = Value::Array(Vec::new());
    }
    if let Value::Array(items) = list {
        items.push(item);
    }
}

fn selector(target: &Selector) -> Value {
    let mut map = Map::new();
    let fields = [
        ("group", &target.group),
        ("version", &target.version),
        ("kind", &target.kind),
        ("name", &target.name),
        ("namespace", &target.namespace),
        ("labelSelector", &target.label_selector),
        ("annotationSelector", &target.annotation_selector),
    ];
    for (key, value) in fields {
        if let Some(value) = value.as_ref().filter(|value| !value.is_empty()) {
            map.insert(key.into(), Value::from(value.as_str()));
        }
    }
    Value::Object(map)
}

/// Merges an image override into the kustomization's `images`: an entry of the same name gets
/// the new name, and tag and digest together when either is set (Flux's rule, so a stale
/// digest never survives next to a new tag).
fn merge_image(fields: &mut Map<String, Value>, image: &eddy_api::kustomize::v1::Image) {
    let non_empty = |value: &Option<String>| value.clone().filter(|value| !value.is_empty());
    let new_name = non_empty(&image.new_name);
    let new_tag = non_empty(&image.new_tag);
    let digest = non_empty(&image.digest);
    let existing = fields
        .get_mut("images")
        .and_then(Value::as_array_mut)
        .and_then(|images| {
            images
                .iter_mut()
                .find(|entry| entry.get("name").and_then(Value::as_str) == Some(&image.name))
        })
        .and_then(Value::as_object_mut);
    if let Some(entry) = existing {
        if let Some(new_name) = new_name {
            entry.insert("newName".into(), Value::from(new_name));
        }
        if new_tag.is_some() || digest.is_some() {
            entry.remove("newTag");
            entry.remove("digest");
            if let Some(tag) = new_tag {
                entry.insert("newTag".into(), Value::from(tag));
            }
            if let Some(digest) = digest {
                entry.insert("digest".into(), Value::from(digest));
            }
        }
        return;
    }
    let mut entry = Map::new();
    entry.insert("name".into(), Value::from(image.name.as_str()));
    for (key, value) in [
        ("newName", new_name),
        ("newTag", new_tag),
        ("digest", digest),
    ] {
        if let Some(value) = value {
            entry.insert(key.into(), Value::from(value));
        }
    }
    push(fields, "images", Value::Object(entry));
}

/// Whether a component path is local and relative (kustomize's remote prefixes refused).
pub fn is_local_relative_path(path: &str) -> bool {
    const REMOTE_PREFIXES: [&str; 8] = [
        "git::",
        "gh:",
        "ssh://",
        "https://",
        "http://",
        "git@",
        "github.com:",
        "github.com/",
    ];
    let lower = path.to_ascii_lowercase();
    if REMOTE_PREFIXES
        .iter()
        .any(|prefix| prefix.len() < lower.len() && lower.starts_with(prefix))
    {
        return false;
    }
    let without_scheme = lower.strip_prefix("file://").unwrap_or(&lower);
    !(path.starts_with('/') || without_scheme.starts_with('/'))
}

/// Joins `path` below `root` the way Go's `securejoin` does: `..` can never climb above
/// `root`, and an absolute path is taken relative to it.
pub fn secure_join(root: &Path, path: &str) -> PathBuf {
    let mut joined = PathBuf::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => joined.push(part),
            Component::ParentDir => {
                joined.pop();
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    root.join(joined)
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_api::kustomize::v1::{Image, Patch};

    fn write(dir: &Path, path: &str, text: &str) {
        let file = dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|error| panic!("{error}"));
        }
        std::fs::write(file, text).unwrap_or_else(|error| panic!("{error}"));
    }

    fn generated(dir: &Path) -> Value {
        let text = std::fs::read_to_string(dir.join("kustomization.yaml"))
            .unwrap_or_else(|error| panic!("{error}"));
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}"))
    }

    fn temporary() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn plain_manifests_are_listed_and_kustomized_directories_are_not_descended() {
        let dir = temporary();
        write(dir.path(), "b.yaml", "kind: ConfigMap\n");
        write(dir.path(), "a/deploy.yml", "kind: Deployment\n");
        write(dir.path(), "a/notes.txt", "not yaml");
        write(dir.path(), "base/kustomization.yaml", "resources: []\n");
        write(dir.path(), "base/skipped.yaml", "kind: Service\n");
        generate(&KustomizationSpec::default(), dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            generated(dir.path())["resources"],
            json!(["./a/deploy.yml", "./b.yaml", "./base"])
        );
    }

    #[test]
    fn an_empty_directory_gets_a_placeholder_namespace() {
        let dir = temporary();
        generate(&KustomizationSpec::default(), dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(generated(dir.path())["namespace"], json!("_placeholder"));
    }

    #[test]
    fn invalid_yaml_names_the_file() {
        let dir = temporary();
        write(dir.path(), "bad.yaml", "key: [unclosed\n");
        let error = generate(&KustomizationSpec::default(), dir.path())
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(
            error.starts_with("failed to decode Kubernetes YAML from"),
            "{error}"
        );
        assert!(error.contains("bad.yaml"), "{error}");
    }

    #[test]
    fn overrides_are_written_into_an_existing_kustomization() {
        let dir = temporary();
        write(
            dir.path(),
            "kustomization.yaml",
            "resources:\n- app.yaml\nimages:\n- name: nginx\n  newTag: \"1.0\"\n  digest: sha256:old\n",
        );
        let spec = KustomizationSpec {
            target_namespace: Some("dev".into()),
            name_prefix: Some("pre-".into()),
            patches: Some(vec![Patch {
                patch: "- op: add\n  path: /x\n  value: 1\n".into(),
                target: Some(Selector {
                    kind: Some("Deployment".into()),
                    ..Selector::default()
                }),
            }]),
            images: Some(vec![
                Image {
                    name: "nginx".into(),
                    new_tag: Some("2.0".into()),
                    ..Image::default()
                },
                Image {
                    name: "redis".into(),
                    new_name: Some("valkey".into()),
                    ..Image::default()
                },
            ]),
            ..KustomizationSpec::default()
        };
        generate(&spec, dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let written = generated(dir.path());
        assert_eq!(written["namespace"], json!("dev"));
        assert_eq!(written["namePrefix"], json!("pre-"));
        assert_eq!(written["resources"], json!(["app.yaml"]));
        assert_eq!(
            written["patches"],
            json!([{"patch": "- op: add\n  path: /x\n  value: 1\n", "target": {"kind": "Deployment"}}])
        );
        assert_eq!(
            written["images"],
            json!([{"name": "nginx", "newTag": "2.0"}, {"name": "redis", "newName": "valkey"}])
        );
    }

    #[test]
    fn remote_components_are_refused() {
        let dir = temporary();
        let spec = KustomizationSpec {
            components: Some(vec!["https://github.com/org/repo//component".into()]),
            ..KustomizationSpec::default()
        };
        assert!(matches!(
            generate(&spec, dir.path()),
            Err(GenerateError::RemoteComponent(_))
        ));
    }

    #[test]
    fn secure_join_never_leaves_the_root() {
        let root = Path::new("/tmp/artifact");
        assert_eq!(secure_join(root, "./apps/dev"), root.join("apps/dev"));
        assert_eq!(secure_join(root, "../../etc"), root.join("etc"));
        assert_eq!(secure_join(root, "/abs"), root.join("abs"));
        assert_eq!(secure_join(root, ""), root.to_path_buf());
    }
}
