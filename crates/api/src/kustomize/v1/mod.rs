//! `kustomize.toolkit.fluxcd.io/v1`: the Kustomization kind and the Kustomize building blocks
//! HelmRelease post-renderers share with it.

mod inventory;
mod kustomization;
mod kustomize_types;

pub use inventory::*;
pub use kustomization::*;
pub use kustomize_types::*;
