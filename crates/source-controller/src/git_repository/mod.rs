//! The GitRepository reconciler: Flux's four steps, in Flux's order, on the shared harness.
//!
//! ```text
//!   storage   collect garbage, drop a status artifact whose file vanished or was altered,
//!             refresh its URL to the current advertised address
//!   source    proxy and credentials from Secrets, included repositories' artifacts, then
//!             the remote reference: unchanged revision + unchanged content inputs ⇒ done,
//!             no clone; otherwise a shallow checkout of exactly that commit
//!   include   copy each included artifact (or a sub path of it) into the checkout
//!   artifact  archive the checkout deterministically (ignore rules applied), record it in
//!             status with the observed inputs, collect garbage
//! ```
//!
//! Each step sets only its own negative condition (FetchFailed, IncludeUnavailable,
//! StorageOperationFailed, ArtifactOutdated) and ArtifactInStorage; the harness turns the
//! outcome into Ready, Reconciling and Stalled and writes status once. Failures leave
//! `status.artifact` (and the file it names) as they were, so consumers keep the last good
//! artifact. Events follow Flux: `NewArtifact` when the digest changes, `Succeeded` when a
//! failure is over, both with the revision and digest as metadata.

mod artifact;
mod include;
mod observations;
mod source;
mod storage_step;

use crate::storage::ArtifactStorage;
use eddy_api::meta::{Artifact, conditions as types, event_metadata, reasons};
use eddy_api::source::v1::{GitRepository, GitRepositoryStatus};
use eddy_runtime::conditions::{self, ConditionStatus};
use eddy_runtime::events::EventType;
use eddy_runtime::{PendingEvent, Reconciler, Run, StepError, Success};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The kind name, as it appears in storage paths and events.
pub const KIND: &str = "GitRepository";

/// The conditions whose presence means the last attempt failed (Flux's
/// `gitRepositoryFailConditions`), used to notice a recovery.
const FAIL_CONDITIONS: [&str; 3] = [
    types::FETCH_FAILED,
    types::INCLUDE_UNAVAILABLE,
    types::STORAGE_OPERATION_FAILED,
];

/// Reconciles GitRepositories into artifacts in one storage.
#[derive(Clone)]
pub struct GitRepositoryReconciler {
    client: kube::Client,
    storage: ArtifactStorage,
    requeue_dependency: Duration,
}

impl std::fmt::Debug for GitRepositoryReconciler {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("GitRepositoryReconciler")
            .field("storage", &self.storage)
            .field("requeue_dependency", &self.requeue_dependency)
            .finish_non_exhaustive()
    }
}

impl GitRepositoryReconciler {
    /// A reconciler reading Secrets and included GitRepositories with `client`, writing into
    /// `storage`, and retrying unavailable includes after `requeue_dependency`
    /// (`--requeue-dependency`).
    pub fn new(
        client: kube::Client,
        storage: ArtifactStorage,
        requeue_dependency: Duration,
    ) -> Self {
        Self {
            client,
            storage,
            requeue_dependency,
        }
    }

    /// The storage artifacts are written to.
    pub fn storage(&self) -> &ArtifactStorage {
        &self.storage
    }
}

/// What the steps of one reconcile hand to each other.
struct Pass {
    /// Removed (with everything in it) when the reconcile ends.
    workdir: tempfile::TempDir,
    /// The commit found by the source step.
    commit: Option<eddy_git::Commit>,
    /// The revision string of that commit.
    revision: String,
    /// Whether the commit was checked out (false: the remote still points at the stored
    /// revision and nothing was fetched, so there is no commit message).
    checked_out: bool,
    /// The artifacts of the included repositories, in `spec.include` order.
    includes: Vec<Artifact>,
}

impl Pass {
    fn new(repository: &GitRepository) -> Result<Self, StepError> {
        let meta = &repository.metadata;
        let workdir = tempfile::Builder::new()
            .prefix(&format!(
                "gitrepository-{}-{}-",
                meta.namespace.as_deref().unwrap_or_default(),
                meta.name.as_deref().unwrap_or_default()
            ))
            .tempdir()
            .map_err(|error| {
                StepError::retryable(
                    reasons::DIRECTORY_CREATION_FAILED,
                    format!("failed to create temporary working directory: {error}"),
                )
            })?;
        Ok(Self {
            workdir,
            commit: None,
            revision: String::new(),
            checked_out: false,
            includes: Vec::new(),
        })
    }

    /// Where the repository is checked out.
    fn checkout(&self) -> PathBuf {
        self.workdir.path().join("source")
    }
}

/// The time conditions are stamped with.
fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

/// Sets a condition to True on the status being built.
fn mark(
    run: &mut Run<GitRepository>,
    repository: &GitRepository,
    type_: &str,
    reason: &str,
    message: &str,
) {
    conditions::set(
        run.status.conditions.get_or_insert_with(Vec::new),
        type_,
        ConditionStatus::True,
        reason,
        message,
        repository.metadata.generation,
        &now(),
    );
}

/// Sets a condition to False on the status being built.
fn mark_false(
    run: &mut Run<GitRepository>,
    repository: &GitRepository,
    type_: &str,
    reason: &str,
    message: &str,
) {
    conditions::set(
        run.status.conditions.get_or_insert_with(Vec::new),
        type_,
        ConditionStatus::False,
        reason,
        message,
        repository.metadata.generation,
        &now(),
    );
}

/// Removes a condition from the status being built.
fn clear(run: &mut Run<GitRepository>, type_: &str) {
    if let Some(all) = run.status.conditions.as_mut() {
        conditions::remove(all, type_);
    }
}

/// Whether a condition is True on a status.
fn is_true(status: &GitRepositoryStatus, type_: &str) -> bool {
    conditions::is_true(status.conditions.as_deref().unwrap_or_default(), type_)
}

/// Whether a condition is False on a status.
fn is_false(status: &GitRepositoryStatus, type_: &str) -> bool {
    conditions::is_false(status.conditions.as_deref().unwrap_or_default(), type_)
}

/// Records `error` as the negative condition `type_` (reason and message alike, as Flux's
/// summary copies them into Ready) and hands it back for returning.
fn fail(
    run: &mut Run<GitRepository>,
    repository: &GitRepository,
    type_: &str,
    error: StepError,
) -> StepError {
    mark(run, repository, type_, &error.reason, &error.message);
    error
}

/// Queues an event of any type (the harness's `Run::event` queues Normal ones only).
fn event(run: &mut Run<GitRepository>, event_type: EventType, reason: &str, message: String) {
    run.events.push(PendingEvent {
        event_type,
        reason: reason.to_string(),
        message,
        metadata: BTreeMap::new(),
    });
}

/// The message of a failed Kubernetes API request without kube's wrapping.
fn describe_kube_error(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

/// Runs a blocking closure on the blocking pool, turning a panic or cancellation into a
/// retryable error of `reason`.
async fn blocking<T: Send + 'static>(
    reason: &'static str,
    work: impl FnOnce() -> Result<T, StepError> + Send + 'static,
) -> Result<T, StepError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| StepError::retryable(reason, format!("background task failed: {error}")))?
}

impl GitRepositoryReconciler {
    async fn run_steps(
        &self,
        repository: &GitRepository,
        run: &mut Run<GitRepository>,
        pass: &mut Pass,
    ) -> Result<Success, StepError> {
        self.reconcile_storage(run).await?;
        if let Some(unchanged) = self.reconcile_source(repository, run, pass).await? {
            return Ok(unchanged);
        }
        self.reconcile_include(repository, run, pass).await?;
        self.reconcile_artifact(repository, run, pass).await
    }

    /// Flux's `notify`: a `NewArtifact` event when the stored digest changed, a `Succeeded`
    /// event when the object recovered from a failure with the same artifact.
    fn notify(
        repository: &GitRepository,
        run: &mut Run<GitRepository>,
        pass: &Pass,
        outcome: &Result<Success, StepError>,
    ) {
        if outcome.is_err() {
            return;
        }
        let Some(artifact) = run.status.artifact.clone() else {
            return;
        };
        let mut metadata = BTreeMap::new();
        metadata.insert(
            event_metadata::REVISION.to_string(),
            artifact.revision.clone(),
        );
        if let Some(digest) = &artifact.digest {
            metadata.insert(event_metadata::DIGEST.to_string(), digest.clone());
        }
        let message = match &pass.commit {
            Some(commit) if pass.checked_out => {
                format!("stored artifact for commit '{}'", commit.summary)
            }
            _ => format!("stored artifact for commit '{}'", pass.revision),
        };
        let old = repository.status.as_ref();
        let old_digest = old
            .and_then(|status| status.artifact.as_ref())
            .and_then(|artifact| artifact.digest.as_deref());
        if old_digest != artifact.digest.as_deref() {
            tracing::info!(
                namespace = repository.metadata.namespace.as_deref().unwrap_or_default(),
                name = repository.metadata.name.as_deref().unwrap_or_default(),
                revision = %artifact.revision,
                "{message}"
            );
            run.event(reasons::NEW_ARTIFACT, message, metadata);
            return;
        }
        let failed_before = old.is_some_and(|status| {
            FAIL_CONDITIONS
                .iter()
                .any(|condition| is_true(status, condition))
        });
        let failed_now = FAIL_CONDITIONS
            .iter()
            .any(|condition| is_true(&run.status, condition));
        if failed_before && !failed_now {
            run.event(reasons::SUCCEEDED, message, metadata);
        }
    }
}

impl Reconciler for GitRepositoryReconciler {
    type Object = GitRepository;

    async fn reconcile(
        &self,
        repository: &GitRepository,
        run: &mut Run<GitRepository>,
    ) -> Result<Success, StepError> {
        let mut pass = Pass::new(repository)
            .map_err(|error| fail(run, repository, types::STORAGE_OPERATION_FAILED, error))?;
        clear(run, types::STORAGE_OPERATION_FAILED);
        let outcome = self.run_steps(repository, run, &mut pass).await;
        Self::notify(repository, run, &pass, &outcome);
        outcome
    }

    async fn finalize(&self, repository: &GitRepository) -> Result<(), StepError> {
        let storage = self.storage.storage().clone();
        let namespace = repository.metadata.namespace.clone().unwrap_or_default();
        let name = repository.metadata.name.clone().unwrap_or_default();
        blocking("GarbageCollectionFailed", move || {
            storage
                .remove_all(KIND, &namespace, &name)
                .map_err(|error| {
                    StepError::retryable(
                        "GarbageCollectionFailed",
                        format!("garbage collection for deleted resource failed: {error}"),
                    )
                })
        })
        .await
        .map(|removed| {
            if removed {
                tracing::info!(
                    namespace = repository.metadata.namespace.as_deref().unwrap_or_default(),
                    name = repository.metadata.name.as_deref().unwrap_or_default(),
                    "garbage collected artifacts for deleted resource"
                );
            }
        })
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;
    use eddy_api::source::v1::GitRepositorySpec;
    use std::time::Duration;

    /// A reconciler whose API client answers nothing: the steps tested here never call it.
    fn reconciler(root: &std::path::Path) -> GitRepositoryReconciler {
        let (service, _handle) = tower_test::mock::pair::<
            http::Request<kube::client::Body>,
            http::Response<kube::client::Body>,
        >();
        let client = kube::Client::new(service, "default");
        let storage =
            ArtifactStorage::new(root, "storage.example:80", Duration::from_secs(3600), 2).unwrap();
        GitRepositoryReconciler::new(client, storage, Duration::from_secs(30))
    }

    fn repository(status: GitRepositoryStatus) -> GitRepository {
        let mut repository = GitRepository::new(
            "app",
            GitRepositorySpec {
                url: "https://git.example/app.git".into(),
                interval: "1m".into(),
                ..Default::default()
            },
        );
        repository.metadata.namespace = Some("team".into());
        repository.metadata.generation = Some(3);
        repository.status = Some(status);
        repository
    }

    fn run_for(repository: &GitRepository) -> Run<GitRepository> {
        Run::new(repository)
    }

    fn artifact(path: &str, digest: &str) -> Artifact {
        Artifact {
            digest: Some(digest.into()),
            path: path.into(),
            url: "http://old-address/x".into(),
            revision: "main@sha1:aaaa".into(),
            last_update_time: now(),
            size: Some(1),
            metadata: None,
        }
    }

    fn condition_types(run: &Run<GitRepository>) -> Vec<(String, String, String)> {
        run.status
            .conditions
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|c| (c.type_.clone(), c.status.clone(), c.reason.clone()))
            .collect()
    }

    #[tokio::test]
    async fn storage_step_drops_an_artifact_that_vanished() {
        let root = tempfile::tempdir().unwrap();
        let reconciler = reconciler(root.path());
        let mut status = GitRepositoryStatus {
            artifact: Some(artifact("gitrepository/team/app/gone.tar.gz", "sha256:00")),
            ..Default::default()
        };
        conditions::set(
            status.conditions.get_or_insert_with(Vec::new),
            types::ARTIFACT_IN_STORAGE,
            ConditionStatus::True,
            reasons::SUCCEEDED,
            "stored",
            Some(2),
            &now(),
        );
        let repository = repository(status);
        let mut run = run_for(&repository);
        reconciler.reconcile_storage(&mut run).await.unwrap();
        assert!(run.status.artifact.is_none());
        assert_eq!(run.progress, "building artifact: disappeared from storage");
        assert!(condition_types(&run).is_empty());
    }

    #[tokio::test]
    async fn storage_step_rewrites_the_url_with_the_advertised_address() {
        let root = tempfile::tempdir().unwrap();
        let reconciler = reconciler(root.path());
        let path = "gitrepository/team/app/c.tar.gz";
        reconciler
            .storage()
            .storage()
            .write_bytes(path, b"archive")
            .unwrap();
        let digest = {
            use sha2::Digest;
            format!("sha256:{}", hex::encode(sha2::Sha256::digest(b"archive")))
        };
        let repository = repository(GitRepositoryStatus {
            artifact: Some(artifact(path, &digest)),
            ..Default::default()
        });
        let mut run = run_for(&repository);
        reconciler.reconcile_storage(&mut run).await.unwrap();
        assert_eq!(
            run.status.artifact.unwrap().url,
            "http://storage.example:80/gitrepository/team/app/c.tar.gz"
        );
    }

    #[tokio::test]
    async fn artifact_step_archives_records_observations_and_collects_garbage() {
        let root = tempfile::tempdir().unwrap();
        let reconciler = reconciler(root.path());
        let storage = reconciler.storage().storage().clone();
        // Two older artifacts; with two records kept, the oldest goes.
        for (file, age) in [("old1.tar.gz", 300), ("old2.tar.gz", 200)] {
            let path = format!("gitrepository/team/app/{file}");
            storage.write_bytes(&path, b"old").unwrap();
            let local = storage.local_path(&path).unwrap();
            std::fs::File::options()
                .write(true)
                .open(&local)
                .unwrap()
                .set_modified(std::time::SystemTime::now() - Duration::from_secs(age))
                .unwrap();
        }
        let mut repository = repository(GitRepositoryStatus {
            artifact: Some(artifact("gitrepository/team/app/old2.tar.gz", "sha256:00")),
            ..Default::default()
        });
        repository.spec.ignore = Some("*.md\n".into());
        let mut run = run_for(&repository);
        let mut pass = Pass::new(&repository).unwrap();
        std::fs::create_dir_all(pass.checkout().join("deploy")).unwrap();
        std::fs::write(pass.checkout().join("deploy/a.yaml"), "a: 1\n").unwrap();
        std::fs::write(pass.checkout().join("README.md"), "readme").unwrap();
        let id = "b".repeat(40);
        pass.commit = Some(eddy_git::Commit {
            id: id.clone(),
            reference: Some("refs/heads/main".into()),
            summary: "second".into(),
        });
        pass.revision = format!("main@sha1:{id}");
        pass.checked_out = true;

        let success = reconciler
            .reconcile_artifact(&repository, &mut run, &pass)
            .await
            .unwrap();
        let revision = format!("main@sha1:{id}");
        assert_eq!(
            success.message,
            format!("stored artifact for revision '{revision}'")
        );
        let stored = run.status.artifact.clone().unwrap();
        assert_eq!(stored.path, format!("gitrepository/team/app/{id}.tar.gz"));
        assert_eq!(
            stored.url,
            format!("http://storage.example:80/gitrepository/team/app/{id}.tar.gz")
        );
        assert_eq!(stored.revision, revision);
        let bytes = std::fs::read(storage.local_path(&stored.path).unwrap()).unwrap();
        assert_eq!(stored.size, Some(bytes.len() as i64));
        assert_eq!(run.status.observed_ignore.as_deref(), Some("*.md\n"));
        assert_eq!(
            condition_types(&run),
            [(
                "ArtifactInStorage".to_string(),
                "True".to_string(),
                "Succeeded".to_string()
            )]
        );
        assert!(!storage.exists("gitrepository/team/app/old1.tar.gz"));
        assert!(storage.exists("gitrepository/team/app/old2.tar.gz"));

        GitRepositoryReconciler::notify(&repository, &mut run, &pass, &Ok(success));
        let new_artifact: Vec<_> = run
            .events
            .iter()
            .filter(|event| event.reason == "NewArtifact")
            .collect();
        assert_eq!(new_artifact.len(), 1);
        assert_eq!(
            new_artifact[0].message,
            "stored artifact for commit 'second'"
        );
        assert_eq!(new_artifact[0].metadata.get("revision"), Some(&revision));
        assert_eq!(
            new_artifact[0].metadata.get("digest"),
            stored.digest.as_ref()
        );
    }

    #[tokio::test]
    async fn artifact_step_leaves_an_up_to_date_artifact_alone() {
        let root = tempfile::tempdir().unwrap();
        let reconciler = reconciler(root.path());
        let id = "c".repeat(40);
        let revision = format!("main@sha1:{id}");
        let mut current = artifact(&format!("gitrepository/team/app/{id}.tar.gz"), "sha256:11");
        current.revision = revision.clone();
        let repository = repository(GitRepositoryStatus {
            artifact: Some(current.clone()),
            ..Default::default()
        });
        let mut run = run_for(&repository);
        let mut pass = Pass::new(&repository).unwrap();
        pass.commit = Some(eddy_git::Commit {
            id,
            reference: Some("refs/heads/main".into()),
            summary: String::new(),
        });
        pass.revision = revision;
        let success = reconciler
            .reconcile_artifact(&repository, &mut run, &pass)
            .await
            .unwrap();
        assert_eq!(run.status.artifact, Some(current));
        assert!(success.message.starts_with("stored artifact for revision"));
        assert!(run.events.iter().any(
            |event| event.reason == "ArtifactUpToDate" && event.event_type == EventType::Trace
        ));
        GitRepositoryReconciler::notify(&repository, &mut run, &pass, &Ok(success));
        assert!(!run.events.iter().any(|event| event.reason == "NewArtifact"));
    }

    #[test]
    fn recovery_from_a_failure_is_announced_once() {
        let mut status = GitRepositoryStatus {
            artifact: Some(artifact("gitrepository/team/app/c.tar.gz", "sha256:11")),
            ..Default::default()
        };
        conditions::set(
            status.conditions.get_or_insert_with(Vec::new),
            types::FETCH_FAILED,
            ConditionStatus::True,
            reasons::GIT_OPERATION_FAILED,
            "failed",
            Some(3),
            &now(),
        );
        let repository = repository(status);
        let mut run = run_for(&repository);
        clear(&mut run, types::FETCH_FAILED);
        let mut pass = Pass::new(&repository).unwrap();
        pass.revision = "main@sha1:aaaa".into();
        GitRepositoryReconciler::notify(&repository, &mut run, &pass, &Ok(Success::new("stored")));
        let reasons: Vec<_> = run
            .events
            .iter()
            .map(|event| event.reason.as_str())
            .collect();
        assert_eq!(reasons, ["Succeeded"]);
        assert_eq!(
            run.events[0].message,
            "stored artifact for commit 'main@sha1:aaaa'"
        );
    }

    #[tokio::test]
    async fn source_step_stalls_on_a_url_no_transport_serves() {
        let root = tempfile::tempdir().unwrap();
        let reconciler = reconciler(root.path());
        let mut repository = repository(GitRepositoryStatus::default());
        repository.spec.url = "ftp://git.example/app.git".into();
        let mut run = run_for(&repository);
        let mut pass = Pass::new(&repository).unwrap();
        let error = reconciler
            .reconcile_source(&repository, &mut run, &mut pass)
            .await
            .unwrap_err();
        assert_eq!(error.kind, eddy_runtime::ErrorKind::Stalling);
        assert_eq!(error.reason, "URLInvalid");
        assert!(
            error
                .message
                .starts_with("failed to parse url 'ftp://git.example/app.git'"),
            "{}",
            error.message
        );
        assert_eq!(
            condition_types(&run),
            [(
                "FetchFailed".to_string(),
                "True".to_string(),
                "URLInvalid".to_string()
            )]
        );
    }

    #[tokio::test]
    async fn source_step_refuses_verification_it_cannot_do() {
        let root = tempfile::tempdir().unwrap();
        let reconciler = reconciler(root.path());
        let mut repository = repository(GitRepositoryStatus::default());
        repository.spec.verification = Some(eddy_api::source::v1::GitRepositoryVerification {
            mode: None,
            secret_ref: eddy_api::meta::LocalObjectReference {
                name: "keys".into(),
            },
        });
        let mut run = run_for(&repository);
        let mut pass = Pass::new(&repository).unwrap();
        let error = reconciler
            .reconcile_source(&repository, &mut run, &mut pass)
            .await
            .unwrap_err();
        assert_eq!(error.kind, eddy_runtime::ErrorKind::Stalling);
        assert_eq!(error.reason, "VerificationError");
        assert_eq!(
            condition_types(&run),
            [(
                "SourceVerified".to_string(),
                "False".to_string(),
                "VerificationError".to_string()
            )]
        );
    }
}
