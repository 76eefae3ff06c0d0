//! The artifact storage of this process and the HTTP server in front of it.
//!
//! Every reconciler writes into one [`ArtifactStorage`]: the storage root with Flux's retention
//! policy (`--artifact-retention-ttl`, `--artifact-retention-records`) and the advertised address
//! that `status.artifact.url` is built from. [`serve`] mounts eddy-artifact's file server at `/`
//! on `--storage-addr`, as Flux's `http.FileServer` is: GET and HEAD of files only, no listing.

use eddy_artifact::Storage;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Why storage could not be prepared or served.
#[derive(Debug, thiserror::Error)]
pub enum StorageServerError {
    /// The storage root could not be created.
    #[error("cannot prepare artifact storage: {0}")]
    Storage(#[from] eddy_artifact::StorageError),
    /// `--storage-addr` is not a listen address.
    #[error("invalid --storage-addr: {0}")]
    InvalidAddress(String),
    /// The listener could not be bound.
    #[error("cannot listen on {address} for the artifact server: {source}")]
    Bind {
        /// The address asked for.
        address: SocketAddr,
        /// The underlying failure.
        source: std::io::Error,
    },
}

/// The storage root, its retention policy and the address artifacts are advertised under.
#[derive(Debug, Clone)]
pub struct ArtifactStorage {
    storage: Storage,
    advertised_address: String,
}

impl ArtifactStorage {
    /// Storage at `root` (created if missing), advertised under `advertised_address`.
    pub fn new(
        root: impl AsRef<Path>,
        advertised_address: impl Into<String>,
        retention_ttl: Duration,
        retention_records: usize,
    ) -> Result<Self, StorageServerError> {
        let mut storage = Storage::new(root.as_ref())?;
        storage.retention_ttl = retention_ttl;
        storage.retention_records = retention_records;
        Ok(Self {
            storage,
            advertised_address: advertised_address.into(),
        })
    }

    /// The underlying storage.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The advertised address, e.g. `source-controller.flux-system.svc.cluster.local.`.
    pub fn advertised_address(&self) -> &str {
        &self.advertised_address
    }

    /// The download URL of an artifact path.
    pub fn url_for(&self, path: &str) -> String {
        eddy_artifact::artifact_url(&self.advertised_address, path)
    }
}

/// Binds `address` (Go style, e.g. `:9090`) and serves the files below `root` until `shutdown`
/// is cancelled. Returns the bound address once the listener is up; serving continues in the
/// background.
pub async fn serve(
    address: &str,
    root: &Path,
    shutdown: CancellationToken,
) -> Result<SocketAddr, StorageServerError> {
    let listen = eddy_runtime::flags::parse_listen_addr(address)
        .map_err(StorageServerError::InvalidAddress)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| StorageServerError::Bind {
            address: listen,
            source,
        })?;
    let bound = listener
        .local_addr()
        .map_err(|source| StorageServerError::Bind {
            address: listen,
            source,
        })?;
    let router = eddy_artifact::router(root.to_path_buf());
    tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "artifact server stopped");
        }
    });
    tracing::info!(address = %bound, "artifact server listening");
    Ok(bound)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;

    #[test]
    fn urls_use_the_advertised_address() {
        let root = tempfile::tempdir().unwrap();
        let storage = ArtifactStorage::new(
            root.path(),
            "source-controller.flux-system.svc.cluster.local.",
            Duration::from_secs(60),
            2,
        )
        .unwrap();
        assert_eq!(
            storage.url_for("gitrepository/ns/name/abc.tar.gz"),
            "http://source-controller.flux-system.svc.cluster.local./gitrepository/ns/name/abc.tar.gz"
        );
    }

    #[tokio::test]
    async fn the_server_refuses_a_bad_address() {
        let root = tempfile::tempdir().unwrap();
        let error = serve("nowhere", root.path(), CancellationToken::new())
            .await
            .unwrap_err();
        assert!(matches!(error, StorageServerError::InvalidAddress(_)));
    }
}
