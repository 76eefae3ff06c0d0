//! `image` API group.

pub mod v1;
