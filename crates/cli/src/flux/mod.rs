//! The Flux CLI's everyday commands over Eddy's controllers: `get`, `reconcile`, `suspend`,
//! `resume`, `events` and `tree`, with flux's tables and progress lines.

pub(crate) mod events;
pub(crate) mod get;
pub(crate) mod kinds;
pub(crate) mod reconcile;
pub(crate) mod tree;
