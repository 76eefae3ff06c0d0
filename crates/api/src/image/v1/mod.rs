//! `image.toolkit.fluxcd.io/v1`: image scanning (ImageRepository), selection (ImagePolicy) and
//! Git write-back (ImageUpdateAutomation).

mod image_policy;
mod image_repository;
mod image_update_automation;

pub use image_policy::*;
pub use image_repository::*;
pub use image_update_automation::*;

/// Drops `format` from an integer schema: Flux declares Go `int` fields as plain `integer`,
/// while schemars would add `int64`.
fn without_format(schema: &mut schemars::Schema) {
    if let Some(object) = schema.as_object_mut() {
        object.remove("format");
    }
}
