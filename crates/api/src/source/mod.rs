//! `source` API group.

pub mod v1;
