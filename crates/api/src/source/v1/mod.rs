//! `source.toolkit.fluxcd.io/v1`: the kinds that fetch from upstream and publish an artifact.

mod bucket;
mod external_artifact;
mod git_repository;
mod helm_chart;
mod helm_repository;
mod oci_repository;
mod verification;

pub use bucket::*;
pub use external_artifact::*;
pub use git_repository::*;
pub use helm_chart::*;
pub use helm_repository::*;
pub use oci_repository::*;
pub use verification::*;

/// Timeout of source fetch operations when `spec.timeout` is unset.
pub const DEFAULT_TIMEOUT: &str = "60s";

pub(crate) use crate::meta::schema::mark_required;
