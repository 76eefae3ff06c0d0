//! Source artifacts as Flux defines them, for producers and consumers alike.
//!
//! A source (a GitRepository, later OCI and Helm sources) hands its content to the other
//! controllers as a tar.gz "artifact": a file under source-controller's storage, served over HTTP,
//! described in the source's `status.artifact` by path, URL, revision, `sha256:` digest and size.
//! This crate holds every piece of that contract that does not need Kubernetes:
//!
//! - [`archive`] builds the tarball deterministically, exactly as Flux does (walk order, zeroed
//!   times and owners, normalised modes, symlinks skipped), so one commit always gives one digest;
//! - [`ignore`] decides what stays out (`.sourceignore`, `spec.ignore`, Flux's default excludes),
//!   with go-git's gitignore semantics;
//! - [`storage`] lays artifacts out as `<kind>/<namespace>/<name>/<file>`, writes them atomically
//!   and collects garbage by age and record count without ever touching the current artifact;
//! - [`server`] is the axum router that serves the storage root (GET/HEAD, no listing, no escape);
//! - [`client`] is the consumer: bounded download, size and digest check, then a defensive untar.
//!
//! [`Artifact`] mirrors Flux's `meta.Artifact` so that the API crate and the controllers can
//! convert to and from it without reinterpreting any field.

pub mod archive;
pub mod client;
pub mod ignore;
pub mod server;
pub mod storage;

pub use archive::{ArchiveError, ArchiveSummary, write_archive};
pub use client::{
    ClientError, Limits, UnpackedArtifact, fetch_artifact, unpack, unpack_into_temporary_dir,
};
pub use ignore::{Matcher, Pattern, load_ignore_patterns, read_patterns};
pub use server::router;
pub use storage::{
    DEFAULT_RETENTION_RECORDS, DEFAULT_RETENTION_TTL, Storage, StorageError, advertised_address,
    artifact_dir, artifact_path, artifact_url,
};

use std::collections::BTreeMap;

/// Flux's `meta.Artifact`: what a source publishes in `status.artifact`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Relative path in storage: `<kind lowercased>/<namespace>/<name>/<file>`.
    pub path: String,
    /// Where consumers download it.
    pub url: String,
    /// The source revision, e.g. `main@sha1:<hex>`.
    pub revision: String,
    /// `sha256:<hex>` of the archive bytes.
    pub digest: String,
    /// When the artifact was written.
    pub last_update_time: jiff::Timestamp,
    /// Archive size in bytes.
    pub size: u64,
    /// Extra metadata (e.g. OCI annotations).
    pub metadata: BTreeMap<String, String>,
}

impl Artifact {
    /// Flux's `HasRevision`: plain string equality.
    pub fn has_revision(&self, revision: &str) -> bool {
        self.revision == revision
    }

    /// Flux's `HasDigest`.
    pub fn has_digest(&self, digest: &str) -> bool {
        self.digest == digest
    }
}
