//! `notification.toolkit.fluxcd.io/v1beta3`: the Alert and Provider kinds, which have no status.

mod alert;
mod provider;

pub use alert::*;
pub use provider::*;
