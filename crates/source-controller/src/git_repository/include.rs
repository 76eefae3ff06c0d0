//! Flux's `reconcileInclude`: copy other GitRepositories' artifacts into the checkout.
//!
//! Each included artifact is unpacked from this controller's own storage (with the consumer
//! client's limits and path checks), and its `fromPath` moved to `toPath` in the checkout,
//! replacing whatever was there. Both paths are joined the way `securejoin` does — `..` cannot
//! climb above the root — and a symlink on the way to either is refused rather than followed,
//! so an include can never write outside the checkout.

use super::{GitRepositoryReconciler, Pass, blocking, clear, fail};
use eddy_api::meta::{Artifact, conditions as types};
use eddy_api::source::v1::GitRepository;
use eddy_artifact::Storage;
use eddy_runtime::{Run, StepError};
use std::path::{Component, Path, PathBuf};

/// Joins `relative` below `root` lexically, clamping `..` at the root, then refuses the result
/// if any existing component below `root` is a symlink.
pub(super) fn secure_join(root: &Path, relative: &str) -> Result<PathBuf, String> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for component in Path::new(relative).components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::ParentDir => {
                parts.pop();
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    let mut joined = root.to_path_buf();
    for part in parts {
        joined.push(part);
        if std::fs::symlink_metadata(&joined).is_ok_and(|metadata| metadata.is_symlink()) {
            return Err(format!(
                "path '{relative}' goes through a symlink, which includes may not follow"
            ));
        }
    }
    Ok(joined)
}

/// Copies the tree at `source` to `target` (used when a rename crosses file systems).
fn copy_tree(source: &Path, target: &Path) -> std::io::Result<()> {
    let metadata = std::fs::symlink_metadata(source)?;
    if metadata.is_dir() {
        std::fs::create_dir_all(target)?;
        for entry in std::fs::read_dir(source)? {
            let entry = entry?;
            copy_tree(&entry.path(), &target.join(entry.file_name()))?;
        }
    } else if metadata.is_file() {
        std::fs::copy(source, target)?;
    }
    Ok(())
}

/// Unpacks `artifact` from `storage` into `scratch` and moves its `from_path` to `to`.
pub(super) fn copy_to_path(
    storage: &Storage,
    artifact: &Artifact,
    from_path: &str,
    to: &Path,
    scratch: &Path,
) -> Result<(), String> {
    let local = storage
        .local_path(&artifact.path)
        .map_err(|error| error.to_string())?;
    let file = std::fs::File::open(&local)
        .map_err(|error| format!("failed to open artifact '{}': {error}", artifact.path))?;
    std::fs::create_dir_all(scratch).map_err(|error| error.to_string())?;
    eddy_artifact::unpack(file, scratch, eddy_artifact::Limits::default())
        .map_err(|error| error.to_string())?;
    let from = secure_join(scratch, from_path)?;
    if std::fs::symlink_metadata(&from).is_err() {
        return Err(format!(
            "path '{from_path}' does not exist in the included artifact"
        ));
    }
    match std::fs::symlink_metadata(to) {
        Ok(metadata) if metadata.is_dir() => {
            std::fs::remove_dir_all(to).map_err(|error| error.to_string())?;
        }
        Ok(_) => std::fs::remove_file(to).map_err(|error| error.to_string())?,
        Err(_) => {}
    }
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|error| error.to_string())?;
    }
    if std::fs::rename(&from, to).is_err() {
        copy_tree(&from, to).map_err(|error| error.to_string())?;
    }
    Ok(())
}

impl GitRepositoryReconciler {
    pub(super) async fn reconcile_include(
        &self,
        repository: &GitRepository,
        run: &mut Run<GitRepository>,
        pass: &Pass,
    ) -> Result<(), StepError> {
        let includes = repository.spec.include.clone().unwrap_or_default();
        for (index, (include, artifact)) in includes.iter().zip(&pass.includes).enumerate() {
            let name = include.repository.name.clone();
            let to = match secure_join(&pass.checkout(), include.to_path()) {
                Ok(to) => to,
                Err(error) => {
                    let error = StepError::retryable(
                        "IllegalPath",
                        format!("path calculation for include '{name}' failed: {error}"),
                    );
                    return Err(fail(
                        run,
                        repository,
                        types::STORAGE_OPERATION_FAILED,
                        error,
                    ));
                }
            };
            let storage = self.storage.storage().clone();
            let artifact = artifact.clone();
            let from_path = include.from_path().to_string();
            let to_path = include.to_path().to_string();
            let scratch = pass.workdir.path().join(format!("include-{index}"));
            let copied = blocking("CopyFailure", move || {
                copy_to_path(&storage, &artifact, &from_path, &to, &scratch).map_err(|error| {
                    StepError::retryable(
                        "CopyFailure",
                        format!(
                            "failed to copy '{name}' include from {from_path} to {to_path}: {error}"
                        ),
                    )
                })
            })
            .await;
            if let Err(error) = copied {
                return Err(fail(
                    run,
                    repository,
                    types::STORAGE_OPERATION_FAILED,
                    error,
                ));
            }
        }
        clear(run, types::INCLUDE_UNAVAILABLE);
        Ok(())
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    #[test]
    fn parent_components_cannot_climb_above_the_root() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(
            secure_join(root.path(), "../../etc/passwd").unwrap(),
            root.path().join("etc/passwd")
        );
        assert_eq!(
            secure_join(root.path(), "/abs/./x").unwrap(),
            root.path().join("abs/x")
        );
        assert_eq!(secure_join(root.path(), "").unwrap(), root.path());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_on_the_way_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("link")).unwrap();
        let error = secure_join(root.path(), "link/file").unwrap_err();
        assert!(error.contains("symlink"), "{error}");
    }

    fn stored_artifact(storage: &Storage, tree: &Path) -> Artifact {
        let path = eddy_artifact::artifact_path("GitRepository", "ns", "shared", "c.tar.gz");
        let summary = storage.archive(&path, tree, None).unwrap();
        Artifact {
            digest: Some(summary.digest),
            path,
            url: String::new(),
            revision: "main@sha1:c".into(),
            last_update_time: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
            size: Some(summary.size as i64),
            metadata: None,
        }
    }

    #[test]
    fn an_included_sub_path_replaces_the_target_directory() {
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::new(root.path().join("storage")).unwrap();
        let tree = root.path().join("tree");
        std::fs::create_dir_all(tree.join("deploy/app")).unwrap();
        std::fs::write(tree.join("deploy/app/a.yaml"), "a").unwrap();
        std::fs::write(tree.join("README.md"), "r").unwrap();
        let artifact = stored_artifact(&storage, &tree);

        let checkout = root.path().join("checkout");
        std::fs::create_dir_all(checkout.join("vendor/shared")).unwrap();
        std::fs::write(checkout.join("vendor/shared/stale.yaml"), "old").unwrap();
        copy_to_path(
            &storage,
            &artifact,
            "./deploy",
            &checkout.join("vendor/shared"),
            &root.path().join("scratch"),
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(checkout.join("vendor/shared/app/a.yaml")).unwrap(),
            "a"
        );
        assert!(!checkout.join("vendor/shared/stale.yaml").exists());
        assert!(!checkout.join("vendor/shared/README.md").exists());
    }

    #[test]
    fn a_missing_from_path_is_an_error() {
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::new(root.path().join("storage")).unwrap();
        let tree = root.path().join("tree");
        std::fs::create_dir_all(&tree).unwrap();
        std::fs::write(tree.join("README.md"), "r").unwrap();
        let artifact = stored_artifact(&storage, &tree);
        let error = copy_to_path(
            &storage,
            &artifact,
            "nope",
            &root.path().join("checkout/x"),
            &root.path().join("scratch"),
        )
        .unwrap_err();
        assert!(error.contains("'nope' does not exist"), "{error}");
    }
}
