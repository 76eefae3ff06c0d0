//! The source-controller process: shared start-up from eddy-runtime, then the artifact storage
//! and its file server, then the GitRepository controller until SIGTERM.

use crate::flags::Args;
use crate::git_repository::GitRepositoryReconciler;
use crate::storage::{self, ArtifactStorage, StorageServerError};
use eddy_api::meta::field_managers::SOURCE_CONTROLLER_STATUS;
use eddy_runtime::controller;
use eddy_runtime::{Process, ProcessError};

/// The controller name (metrics, events, leader election).
pub const NAME: &str = "source-controller";

/// Why the process stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Start-up or shutdown of the shared process failed.
    #[error(transparent)]
    Process(#[from] ProcessError),
    /// Artifact storage could not be prepared or served.
    #[error(transparent)]
    Storage(#[from] StorageServerError),
}

/// Runs source-controller until SIGTERM (or lost leadership).
pub async fn run(args: Args) -> Result<(), RunError> {
    let storage_args = args.storage.clone();
    let process = Process::start(NAME, args.common).await?;
    let storage = ArtifactStorage::new(
        &storage_args.storage_path,
        storage_args.advertised_address(),
        storage_args.artifact_retention_ttl,
        storage_args.artifact_retention_records,
    )?;
    storage::serve(
        &storage_args.storage_addr,
        storage.storage().root(),
        process.shutdown.clone(),
    )
    .await?;
    tracing::info!(
        path = %storage.storage().root().display(),
        advertised = storage.advertised_address(),
        "artifact storage ready"
    );
    let reconciler = GitRepositoryReconciler::new(
        process.client.clone(),
        storage,
        process.args.requeue_dependency,
    );
    let harness = process.harness(reconciler, SOURCE_CONTROLLER_STATUS);
    // Flux's GitRepository controller watches only GitRepositories: included repositories
    // and Secrets are read on each reconcile, and unavailable includes are retried after
    // --requeue-dependency.
    controller::run(
        harness,
        process.run_options(),
        process.shutdown.clone(),
        |controller| controller,
    )
    .await;
    Ok(process.wait().await?)
}
