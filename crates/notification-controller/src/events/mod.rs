//! The event server (Flux's `internal/server/event_server.go` and `event_handlers.go`).
//!
//! ```text
//!   rate_limit  one notification per event key per --rate-limit-interval (429 otherwise)
//!   matching    metadata cleanup and merge, dedup key, Alert/event matching, provider gates
//!   server      the axum server on --events-addr and the dispatch to providers
//! ```

pub mod matching;
pub mod rate_limit;
pub mod server;

pub use server::{EventServer, EventServerSettings, HandledEvent};
