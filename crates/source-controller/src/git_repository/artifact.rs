//! Flux's `reconcileArtifact`: archive the checkout into storage and record it in status.
//!
//! The artifact is `<commit>.tar.gz` in the object's storage directory. When the stored
//! artifact already has this revision and nothing else that shapes its content changed, nothing
//! is written. Otherwise the checkout is archived with `.sourceignore` files, `spec.ignore` and
//! Flux's default exclusions applied (symlinks are never archived), atomically replacing any
//! file of that name; then the status records the artifact and the inputs it was built from,
//! and garbage collection trims older artifacts to the retention policy.

use super::observations::{content_config_changed, includes_differ};
use super::{GitRepositoryReconciler, KIND, Pass, blocking, clear, event, fail, mark, now};
use eddy_api::meta::{Artifact, conditions as types, reasons};
use eddy_api::source::v1::GitRepository;
use eddy_artifact::{Matcher, Storage, load_ignore_patterns};
use eddy_runtime::events::EventType;
use eddy_runtime::{Run, StepError, Success};
use std::path::Path;

/// Archives `checkout` to `path` in `storage` with Flux's filter for a source.
pub(super) fn archive_checkout(
    storage: &Storage,
    path: &str,
    checkout: &Path,
    spec_ignore: Option<&str>,
) -> Result<eddy_artifact::ArchiveSummary, StepError> {
    let patterns = load_ignore_patterns(checkout).map_err(|error| {
        StepError::retryable(
            "SourceIgnoreError",
            format!("failed to load source ignore patterns from repository: {error}"),
        )
    })?;
    let filter = Matcher::for_source(patterns, spec_ignore);
    storage
        .archive(path, checkout, Some(&filter))
        .map_err(|error| {
            StepError::retryable(
                reasons::ARCHIVE_OPERATION_FAILED,
                format!("unable to archive artifact to storage: {error}"),
            )
        })
}

impl GitRepositoryReconciler {
    pub(super) async fn reconcile_artifact(
        &self,
        repository: &GitRepository,
        run: &mut Run<GitRepository>,
        pass: &Pass,
    ) -> Result<Success, StepError> {
        let namespace = repository.metadata.namespace.clone().unwrap_or_default();
        let name = repository.metadata.name.clone().unwrap_or_default();
        let commit_id = pass
            .commit
            .as_ref()
            .map(|commit| commit.id.clone())
            .unwrap_or_default();
        let path =
            eddy_artifact::artifact_path(KIND, &namespace, &name, &format!("{commit_id}.tar.gz"));
        let revision = pass.revision.clone();
        let stored_message = format!("stored artifact for revision '{revision}'");

        let up_to_date = run
            .status
            .artifact
            .as_ref()
            .is_some_and(|artifact| artifact.has_revision(&revision))
            && !includes_differ(&pass.includes, run.status.included_artifacts.as_deref())
            && !content_config_changed(repository, &pass.includes);
        if up_to_date {
            clear(run, types::ARTIFACT_OUTDATED);
            mark(
                run,
                repository,
                types::ARTIFACT_IN_STORAGE,
                reasons::SUCCEEDED,
                &stored_message,
            );
            event(
                run,
                EventType::Trace,
                reasons::ARTIFACT_UP_TO_DATE,
                format!("artifact up-to-date with remote revision: '{revision}'"),
            );
            return Ok(Success::new(stored_message));
        }

        let storage = self.storage.storage().clone();
        let checkout = pass.checkout();
        let spec_ignore = repository.spec.ignore.clone();
        let archive_path = path.clone();
        let archived = blocking(reasons::ARCHIVE_OPERATION_FAILED, move || {
            if !checkout.is_dir() {
                return Err(StepError::retryable(
                    reasons::STAT_OPERATION_FAILED,
                    format!(
                        "failed to stat target artifact path: '{}' is not a directory",
                        checkout.display()
                    ),
                ));
            }
            let summary =
                archive_checkout(&storage, &archive_path, &checkout, spec_ignore.as_deref())?;
            if let Err(error) = storage.remove_latest_symlink(&archive_path) {
                tracing::debug!(%error, "failed to remove (deprecated) symlink");
            }
            Ok(summary)
        })
        .await;
        let summary = match archived {
            Ok(summary) => summary,
            Err(error) if error.reason == "SourceIgnoreError" => return Err(error),
            Err(error) => {
                return Err(fail(
                    run,
                    repository,
                    types::STORAGE_OPERATION_FAILED,
                    error,
                ));
            }
        };

        let status = &mut run.status;
        status.artifact = Some(Artifact {
            digest: Some(summary.digest),
            url: self.storage.url_for(&path),
            path: path.clone(),
            revision: revision.clone(),
            last_update_time: now(),
            size: i64::try_from(summary.size).ok(),
            metadata: None,
        });
        status.included_artifacts = (!pass.includes.is_empty()).then(|| pass.includes.clone());
        status.observed_ignore = repository.spec.ignore.clone();
        status.observed_recurse_submodules = repository.spec.recurse_submodules;
        status.observed_include = repository.spec.include.clone();
        status.observed_sparse_checkout = repository.spec.sparse_checkout.clone();
        clear(run, types::STORAGE_OPERATION_FAILED);
        clear(run, types::ARTIFACT_OUTDATED);
        mark(
            run,
            repository,
            types::ARTIFACT_IN_STORAGE,
            reasons::SUCCEEDED,
            &stored_message,
        );

        // The new artifact is current now; older ones beyond the retention policy can go.
        let storage = self.storage.storage().clone();
        let collected = blocking("GarbageCollectionFailed", move || {
            storage.garbage_collect(&path).map_err(|error| {
                StepError::retryable(
                    "GarbageCollectionFailed",
                    format!("garbage collection of artifacts failed: {error}"),
                )
            })
        })
        .await;
        match collected {
            Ok(deleted) if !deleted.is_empty() => event(
                run,
                EventType::Trace,
                "GarbageCollectionSucceeded",
                format!("garbage collected {} artifacts", deleted.len()),
            ),
            Ok(_) => {}
            Err(error) => tracing::warn!(namespace = %namespace, name = %name, "{}", error.message),
        }
        Ok(Success::new(stored_message))
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (file, contents) in [
            ("deploy/configmap.yaml", "kind: ConfigMap\n"),
            ("docs/notes.md", "notes\n"),
            ("logo.png", "png"),
            (".git/HEAD", "ref: refs/heads/main\n"),
            (".sourceignore", "docs/\n"),
        ] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, contents).unwrap();
        }
        dir
    }

    fn names(storage: &Storage, path: &str) -> Vec<String> {
        let file = std::fs::File::open(storage.local_path(path).unwrap()).unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
        archive
            .entries()
            .unwrap()
            .map(|entry| entry.unwrap().path().unwrap().display().to_string())
            .collect()
    }

    #[test]
    fn the_same_checkout_archives_to_identical_bytes() {
        let source = tree();
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::new(root.path()).unwrap();
        let first =
            archive_checkout(&storage, "gitrepository/ns/a/c.tar.gz", source.path(), None).unwrap();
        let second =
            archive_checkout(&storage, "gitrepository/ns/b/c.tar.gz", source.path(), None).unwrap();
        assert_eq!(first, second);
        assert_eq!(
            std::fs::read(root.path().join("gitrepository/ns/a/c.tar.gz")).unwrap(),
            std::fs::read(root.path().join("gitrepository/ns/b/c.tar.gz")).unwrap()
        );
    }

    #[test]
    fn default_exclusions_and_sourceignore_apply() {
        let source = tree();
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::new(root.path()).unwrap();
        archive_checkout(&storage, "gitrepository/ns/a/c.tar.gz", source.path(), None).unwrap();
        let names = names(&storage, "gitrepository/ns/a/c.tar.gz");
        assert!(
            names.iter().any(|name| name == "deploy/configmap.yaml"),
            "{names:?}"
        );
        assert!(
            !names.iter().any(|name| name.starts_with(".git")),
            "{names:?}"
        );
        assert!(
            !names.iter().any(|name| name.starts_with("docs")),
            "{names:?}"
        );
        assert!(!names.iter().any(|name| name == "logo.png"), "{names:?}");
    }

    #[test]
    fn spec_ignore_replaces_the_default_exclusions() {
        let source = tree();
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::new(root.path()).unwrap();
        archive_checkout(
            &storage,
            "gitrepository/ns/a/c.tar.gz",
            source.path(),
            Some("deploy/\n"),
        )
        .unwrap();
        let names = names(&storage, "gitrepository/ns/a/c.tar.gz");
        assert!(names.iter().any(|name| name == "logo.png"), "{names:?}");
        assert!(
            !names.iter().any(|name| name.starts_with("deploy")),
            "{names:?}"
        );
        assert!(
            !names.iter().any(|name| name.starts_with(".git/")),
            "{names:?}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_out_of_the_checkout_is_never_archived() {
        let source = tree();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s3cr3t").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), source.path().join("leak"))
            .unwrap();
        std::os::unix::fs::symlink(outside.path(), source.path().join("leak-dir")).unwrap();
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::new(root.path()).unwrap();
        archive_checkout(&storage, "gitrepository/ns/a/c.tar.gz", source.path(), None).unwrap();
        let names = names(&storage, "gitrepository/ns/a/c.tar.gz");
        assert!(
            !names.iter().any(|name| name.starts_with("leak")),
            "{names:?}"
        );
    }
}
