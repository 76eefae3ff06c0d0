//! Build and postBuild: kustomize over the artifact directory, then variable substitution
//! (KC `build`, fluxcd/pkg `kustomize/kustomize_varsub.go`).
//!
//! Flux builds with no load restriction but on a file system rooted at the artifact, so a
//! kustomization may use `../base` anywhere inside the artifact and nothing outside it. Eddy's
//! engine has no such rooted file system, so before building every kustomization reachable
//! from the build directory is checked: each path it names (resources, components, patches,
//! generator files, …) must stay below the artifact root. Symlinks cannot escape either: the
//! artifact client refuses links that point outside the unpacked directory.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use eddy_api::kustomize::v1::{Kustomization, SubstituteStrategy};
use eddy_api::meta::ConfigObjectKind;
use eddy_apply::substitute::{SubstituteOptions, Variables, substitute_manifests};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::generate::find_kustomization_file;

/// Why the build failed; the message becomes the BuildFailed condition.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A kustomization names a file outside the artifact.
    #[error("security; file '{path}' is not in or below '{root}'")]
    OutsideRoot {
        /// The refused path.
        path: String,
        /// The artifact root.
        root: String,
    },
    /// The kustomization file could not be written.
    #[error(transparent)]
    Generate(#[from] super::generate::GenerateError),
    /// kustomize failed.
    #[error("kustomize build failed: {0}")]
    Kustomize(String),
    /// A substituteFrom source could not be read.
    #[error("substitute from '{reference}' error: {message}")]
    SubstituteFrom {
        /// `Kind/name`.
        reference: String,
        /// What failed.
        message: String,
    },
    /// Substitution failed.
    #[error("{0}")]
    Substitute(String),
    /// The built manifests could not be read as objects.
    #[error("{0}")]
    Objects(String),
    /// SOPS decryption of a source file or a resource failed.
    #[error(transparent)]
    Decrypt(#[from] super::decrypt::DecryptError),
}

/// The outcome of a build: the manifests, their digest (for history) and the objects.
#[derive(Debug)]
pub struct Built {
    /// `sha256:<hex>` of the final manifests.
    pub digest: String,
    /// The objects to apply, in build order.
    pub objects: Vec<Value>,
}

/// Lists of paths in a kustomization file.
const PATH_LISTS: [&str; 9] = [
    "resources",
    "bases",
    "components",
    "crds",
    "patchesStrategicMerge",
    "configurations",
    "generators",
    "transformers",
    "validators",
];

/// Lists whose directory entries are kustomizations of their own.
const NESTED_LISTS: [&str; 3] = ["resources", "bases", "components"];

/// Checks that no kustomization reachable from `dir` names a path outside `root`.
pub fn check_paths_stay_inside(root: &Path, dir: &Path) -> Result<(), BuildError> {
    let mut visited = BTreeSet::new();
    check_directory(root, dir, &mut visited)
}

fn check_directory(
    root: &Path,
    dir: &Path,
    visited: &mut BTreeSet<PathBuf>,
) -> Result<(), BuildError> {
    if !visited.insert(dir.to_path_buf()) {
        return Ok(());
    }
    let Some(file) = find_kustomization_file(dir) else {
        return Ok(());
    };
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Ok(());
    };
    // A kustomization that does not parse fails the build with kustomize's own message.
    let Ok(documents) = eddy_kustomize::yaml::parse_documents(&text) else {
        return Ok(());
    };
    let Some(fields) = documents
        .first()
        .and_then(|document| eddy_apply::manifests::to_json(document).ok())
    else {
        return Ok(());
    };
    let mut paths: Vec<(String, bool)> = Vec::new();
    for list in PATH_LISTS {
        for entry in strings(fields.get(list)) {
            paths.push((entry, NESTED_LISTS.contains(&list)));
        }
    }
    for list in ["patches", "patchesJson6902", "replacements"] {
        for item in fields
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            paths.extend(
                strings(item.get("path"))
                    .into_iter()
                    .map(|path| (path, false)),
            );
        }
    }
    paths.extend(
        strings(fields.pointer("/openapi/path"))
            .into_iter()
            .map(|path| (path, false)),
    );
    for list in ["configMapGenerator", "secretGenerator"] {
        for generator in fields
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for key in ["files", "envs", "env"] {
                for entry in strings(generator.get(key)) {
                    let path = entry
                        .split_once('=')
                        .map_or(entry.as_str(), |(_, path)| path);
                    paths.push((path.to_string(), false));
                }
            }
        }
    }
    for (entry, nested) in paths {
        if entry.contains('\n') || is_remote(&entry) {
            continue;
        }
        let resolved = resolve(dir, &entry).filter(|path| path.starts_with(root));
        let Some(resolved) = resolved else {
            return Err(BuildError::OutsideRoot {
                path: entry,
                root: root.display().to_string(),
            });
        };
        if nested && resolved.is_dir() {
            check_directory(root, &resolved, visited)?;
        }
    }
    Ok(())
}

/// A field that is a string or a list of strings, as a list.
pub(super) fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(text)) => vec![text.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

fn is_remote(entry: &str) -> bool {
    entry.contains("://")
        || entry.starts_with("github.com")
        || entry.starts_with("git@")
        || entry.starts_with("git::")
        || entry.starts_with("gh:")
}

/// Resolves `entry` against `dir` lexically; `None` when `..` climbs above the file system
/// root.
pub(super) fn resolve(dir: &Path, entry: &str) -> Option<PathBuf> {
    let joined = dir.join(entry);
    let mut resolved = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::ParentDir => {
                if !resolved.pop() {
                    return None;
                }
            }
            Component::CurDir => {}
            other => resolved.push(other.as_os_str()),
        }
    }
    Some(resolved)
}

/// Runs kustomize on `dir` (blocking; call from a blocking task).
pub fn kustomize(root: &Path, dir: &Path) -> Result<String, BuildError> {
    check_paths_stay_inside(root, dir)?;
    let options = eddy_kustomize::BuildOptions {
        load_restrictor: eddy_kustomize::LoadRestrictor::None,
    };
    eddy_kustomize::build(dir, &options).map_err(|error| BuildError::Kustomize(error.to_string()))
}

/// [`kustomize`] with SOPS decryption (blocking; call from a blocking task): encrypted
/// generator and patch sources are decrypted in place before the build, encrypted resources in
/// its output after it, before substitution (Flux `build`). Without a decryptor this is
/// [`kustomize`].
pub fn kustomize_decrypting(
    root: &Path,
    dir: &Path,
    decryptor: Option<&super::decrypt::Decryptor>,
) -> Result<String, BuildError> {
    let Some(decryptor) = decryptor else {
        return kustomize(root, dir);
    };
    check_paths_stay_inside(root, dir)?;
    decryptor.decrypt_sources(root, dir)?;
    let manifests = kustomize(root, dir)?;
    Ok(decryptor.decrypt_manifests(&manifests)?)
}

/// The substitution variables of a Kustomization: every `substituteFrom` source in order, then
/// the inline `substitute` map on top. Read with the controller's own client, as Flux does.
pub async fn substitution_variables(
    client: &kube::Client,
    kustomization: &Kustomization,
) -> Result<Variables, BuildError> {
    let namespace = kustomization.metadata.namespace.clone().unwrap_or_default();
    let mut variables = Variables::new();
    let Some(post_build) = &kustomization.spec.post_build else {
        return Ok(variables);
    };
    for reference in post_build.substitute_from.iter().flatten() {
        let optional = reference.optional.unwrap_or(false);
        let (kind, data) = match reference.kind {
            ConfigObjectKind::ConfigMap => {
                let api: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
                let found = api.get_opt(&reference.name).await;
                let data = found.map(|found| {
                    found
                        .map(|config_map| config_map.data.unwrap_or_default().into_iter().collect())
                });
                ("ConfigMap", data)
            }
            ConfigObjectKind::Secret => {
                let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
                let found = api.get_opt(&reference.name).await;
                let data = found.map(|found| {
                    found.map(|secret| {
                        secret
                            .data
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(key, value)| {
                                (key, String::from_utf8_lossy(&value.0).into_owned())
                            })
                            .collect::<Vec<(String, String)>>()
                    })
                });
                ("Secret", data)
            }
        };
        let described = format!("{kind}/{}", reference.name);
        match data {
            Ok(Some(entries)) => {
                variables.extend(
                    entries
                        .iter()
                        .map(|(key, value)| (key.as_str(), value.as_str())),
                );
            }
            Ok(None) if optional => {}
            Ok(None) => {
                let resource = if kind == "ConfigMap" {
                    "configmaps"
                } else {
                    "secrets"
                };
                return Err(BuildError::SubstituteFrom {
                    reference: described,
                    message: format!("{resource} \"{}\" not found", reference.name),
                });
            }
            Err(error) => {
                return Err(BuildError::SubstituteFrom {
                    reference: described,
                    message: error.to_string(),
                });
            }
        }
    }
    for (name, value) in post_build.substitute.iter().flatten() {
        variables.insert(name.as_str(), value);
    }
    Ok(variables)
}

/// Substitutes (when the Kustomization has a postBuild), digests and reads the objects of
/// built manifests.
pub fn finish(
    kustomization: &Kustomization,
    manifests: String,
    variables: &Variables,
    strict: bool,
) -> Result<Built, BuildError> {
    let manifests = if kustomization.spec.post_build.is_some() {
        let options = SubstituteOptions {
            strict,
            always: kustomization.spec.get_substitute_strategy() == SubstituteStrategy::Always,
        };
        substitute_manifests(&manifests, variables, options)
            .map_err(|error| BuildError::Substitute(error.to_string()))?
    } else {
        manifests
    };
    let digest = format!(
        "sha256:{}",
        hex::encode(Sha256::digest(manifests.as_bytes()))
    );
    let objects = eddy_apply::manifests::read_objects(&manifests)
        .map_err(|error| BuildError::Objects(error.to_string()))?;
    Ok(Built { digest, objects })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, path: &str, text: &str) {
        let file = dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|error| panic!("{error}"));
        }
        std::fs::write(file, text).unwrap_or_else(|error| panic!("{error}"));
    }

    #[test]
    fn bases_inside_the_artifact_are_allowed() {
        let root = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        write(
            root.path(),
            "base/kustomization.yaml",
            "resources: [cm.yaml]\n",
        );
        write(
            root.path(),
            "base/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        );
        write(
            root.path(),
            "apps/dev/kustomization.yaml",
            "resources: [../../base]\n",
        );
        let dir = root.path().join("apps/dev");
        assert!(check_paths_stay_inside(root.path(), &dir).is_ok());
        let built = kustomize(root.path(), &dir).unwrap_or_else(|error| panic!("{error}"));
        assert!(built.contains("name: a"), "{built}");
    }

    #[test]
    fn paths_leaving_the_artifact_are_refused_even_in_nested_bases() {
        let root = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        write(
            root.path(),
            "base/kustomization.yaml",
            "resources: [../../../etc/passwd]\n",
        );
        write(
            root.path(),
            "apps/kustomization.yaml",
            "resources: [../base]\n",
        );
        let error = check_paths_stay_inside(root.path(), &root.path().join("apps"));
        assert!(
            matches!(error, Err(BuildError::OutsideRoot { .. })),
            "{error:?}"
        );
        write(
            root.path(),
            "gen/kustomization.yaml",
            "configMapGenerator:\n- name: x\n  files: [key=/etc/hostname]\n",
        );
        let error = check_paths_stay_inside(root.path(), &root.path().join("gen"));
        assert!(
            matches!(error, Err(BuildError::OutsideRoot { .. })),
            "{error:?}"
        );
    }
}
