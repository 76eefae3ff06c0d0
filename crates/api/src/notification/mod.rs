//! `notification.toolkit.fluxcd.io` API group.

pub mod v1;
pub mod v1beta3;
