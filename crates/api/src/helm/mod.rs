//! `helm` API group.

pub mod v2;
