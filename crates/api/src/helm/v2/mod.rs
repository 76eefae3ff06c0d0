//! `helm.toolkit.fluxcd.io/v2`: the HelmRelease kind.

mod actions;
mod helm_release;
pub mod reasons;
mod status;

pub use crate::kustomize::v1::{ResourceInventory, ResourceRef};
pub use actions::*;
pub use helm_release::*;
pub use status::*;
