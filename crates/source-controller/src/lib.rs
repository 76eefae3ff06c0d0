//! `source-controller`: turns Git repositories into artifacts the other controllers consume.
//!
//! A GitRepository (`source.toolkit.fluxcd.io/v1`) names a URL, credentials and a reference;
//! this controller resolves the reference on the remote, checks out exactly that commit,
//! archives it deterministically and serves the archive over HTTP. `status.artifact` tells
//! consumers (kustomize-controller, helm-controller) where to download it and which digest and
//! size to expect. Everything a Flux user or tool can observe — condition types and reasons,
//! messages, events, storage layout, URLs, flags — is Flux's.
//!
//! ```text
//!   flags           Flux's flags: the common ones plus --storage-path, --storage-addr,
//!                   --storage-adv-addr, --artifact-retention-ttl/-records
//!   storage         the storage root, its retention policy and advertised address; the
//!                   artifact file server on --storage-addr
//!   git_repository  the GitRepository reconciler (storage → source → include → artifact)
//!   run             the process: start-up, artifact server, controller, shutdown
//! ```
//!
//! The reconciler runs on eddy-runtime's harness, which owns finalizers, suspend, the summary
//! conditions, requeues, events and metrics. Git goes through eddy-git (gix), archives and
//! storage through eddy-artifact. HelmRepository, HelmChart, OCIRepository, Bucket and
//! ExternalArtifact are not reconciled by this build: no controller is registered for them.

pub mod flags;
pub mod git_repository;
pub mod run;
pub mod storage;

pub use git_repository::GitRepositoryReconciler;
pub use storage::ArtifactStorage;
