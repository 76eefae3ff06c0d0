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

/// Adds `field` to an object schema's `required` list.
///
/// Flux declares some defaulted fields as required (`verify.provider`, `sourceRef.kind`):
/// the API server fills the default before validation, so the field is always present on
/// the wire. Our types give such fields a serde default so that hand-written YAML without them
/// still parses, which makes schemars call them optional; this puts them back.
pub(crate) fn mark_required(schema: &mut schemars::Schema, field: &str) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    let required = object
        .entry("required")
        .or_insert_with(|| serde_json::Value::Array(Vec::new()));
    if let Some(list) = required.as_array_mut()
        && !list.iter().any(|name| name == field)
    {
        list.push(serde_json::Value::from(field));
    }
}
