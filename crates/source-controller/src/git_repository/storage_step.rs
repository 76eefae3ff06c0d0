//! Flux's `reconcileStorage`: keep storage and `status.artifact` consistent before fetching.
//!
//! Garbage from earlier artifacts is collected; an artifact whose file is gone, or whose bytes
//! no longer match the advertised digest (the altered file is deleted), is dropped from the
//! status so the next steps rebuild it; and the URL is rewritten with the advertised address of
//! this process, which may have changed since the artifact was stored.

use super::{GitRepositoryReconciler, blocking, clear, event};
use eddy_api::meta::{Artifact, conditions as types};
use eddy_api::source::v1::GitRepository;
use eddy_artifact::Storage;
use eddy_runtime::events::EventType;
use eddy_runtime::{Run, StepError};
use sha2::{Digest, Sha256};
use std::io::Read;

/// What storage says about the artifact in status.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum StoredArtifact {
    /// The file is there with the advertised digest.
    Intact,
    /// The file is gone.
    Missing,
    /// The file's bytes do not match the digest; it was removed.
    Corrupted(String),
}

/// Checks the artifact file against its advertised digest (Flux's `VerifyArtifact`), removing
/// a file that does not match.
pub(super) fn check_stored_artifact(storage: &Storage, artifact: &Artifact) -> StoredArtifact {
    let Ok(path) = storage.local_path(&artifact.path) else {
        return StoredArtifact::Missing;
    };
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return StoredArtifact::Missing;
        }
        Err(error) => return StoredArtifact::Corrupted(error.to_string()),
    };
    let problem = match artifact.digest.as_deref() {
        None | Some("") => Some("artifact has no digest".to_string()),
        Some(digest) => match digest.strip_prefix("sha256:") {
            None => Some(format!(
                "failed to parse artifact digest '{digest}': unsupported algorithm"
            )),
            Some(expected) => match sha256_of(file) {
                Ok(actual) if actual == expected => None,
                Ok(_) => Some(format!("computed digest doesn't match '{digest}'")),
                Err(error) => Some(error.to_string()),
            },
        },
    };
    match problem {
        None => StoredArtifact::Intact,
        Some(problem) => {
            if let Err(error) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), %error, "failed to remove artifact after digest mismatch");
            }
            StoredArtifact::Corrupted(problem)
        }
    }
}

fn sha256_of(mut file: std::fs::File) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex::encode(hasher.finalize()))
}

impl GitRepositoryReconciler {
    pub(super) async fn reconcile_storage(
        &self,
        run: &mut Run<GitRepository>,
    ) -> Result<(), StepError> {
        let current = run.status.artifact.clone();
        let storage = self.storage.storage().clone();
        let checked = blocking("StatOperationFailed", move || {
            let Some(artifact) = current else {
                return Ok(None);
            };
            // Flux ignores garbage collection failures here; the next artifact retries it.
            match storage.garbage_collect(&artifact.path) {
                Ok(deleted) if !deleted.is_empty() => {
                    tracing::debug!(count = deleted.len(), "garbage collected artifacts");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "garbage collection of artifacts failed"),
            }
            Ok(Some(check_stored_artifact(&storage, &artifact)))
        })
        .await?;

        let mut missing = false;
        match checked {
            None | Some(StoredArtifact::Intact) => {}
            Some(StoredArtifact::Missing) => missing = true,
            Some(StoredArtifact::Corrupted(problem)) => {
                event(
                    run,
                    EventType::Warning,
                    "ArtifactVerificationFailed",
                    format!("failed to verify integrity of artifact: {problem}"),
                );
                missing = true;
            }
        }
        if missing {
            run.status.artifact = None;
        }
        let Some(artifact) = run.status.artifact.as_mut() else {
            run.progress = if missing {
                "building artifact: disappeared from storage".to_string()
            } else {
                "building artifact".to_string()
            };
            clear(run, types::ARTIFACT_IN_STORAGE);
            return Ok(());
        };
        artifact.url = self.storage.url_for(&artifact.path);
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

    fn stored(storage: &Storage, bytes: &[u8]) -> Artifact {
        let path = "gitrepository/ns/n/c.tar.gz".to_string();
        storage.write_bytes(&path, bytes).unwrap();
        Artifact {
            digest: Some(format!("sha256:{}", hex::encode(Sha256::digest(bytes)))),
            path,
            url: String::new(),
            revision: "main@sha1:c".into(),
            last_update_time: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
            size: Some(bytes.len() as i64),
            metadata: None,
        }
    }

    #[test]
    fn an_intact_artifact_is_kept() {
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::new(root.path()).unwrap();
        let artifact = stored(&storage, b"archive");
        assert_eq!(
            check_stored_artifact(&storage, &artifact),
            StoredArtifact::Intact
        );
        assert!(storage.exists(&artifact.path));
    }

    #[test]
    fn a_vanished_artifact_is_missing() {
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::new(root.path()).unwrap();
        let artifact = stored(&storage, b"archive");
        std::fs::remove_file(storage.local_path(&artifact.path).unwrap()).unwrap();
        assert_eq!(
            check_stored_artifact(&storage, &artifact),
            StoredArtifact::Missing
        );
    }

    #[test]
    fn an_altered_artifact_is_removed() {
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::new(root.path()).unwrap();
        let artifact = stored(&storage, b"archive");
        storage.write_bytes(&artifact.path, b"tampered").unwrap();
        let checked = check_stored_artifact(&storage, &artifact);
        assert!(
            matches!(&checked, StoredArtifact::Corrupted(problem) if problem.contains("computed digest doesn't match")),
            "{checked:?}"
        );
        assert!(!storage.exists(&artifact.path));
    }
}
