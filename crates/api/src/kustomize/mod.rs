//! `kustomize` API group.

pub mod v1;
