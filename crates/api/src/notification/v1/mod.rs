//! `notification.toolkit.fluxcd.io/v1`: the Receiver kind and the object references shared
//! with Alerts.

pub mod reasons;
mod receiver;
mod reference;

pub use receiver::*;
pub use reference::*;
