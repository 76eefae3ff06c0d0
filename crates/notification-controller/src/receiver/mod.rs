//! Webhook Receivers (Flux's `internal/server/receiver_*.go` and the Receiver reconciler).
//!
//! ```text
//!   validation  per-type request checks (signatures, tokens, payload shapes, event filters)
//!   server      the axum server on --receiverAddr: /hook/<sha256> → annotate spec.resources
//!   reconciler  status.webhookPath and the Ready condition
//! ```

pub mod reconciler;
pub mod server;
pub mod validation;

pub use reconciler::ReceiverReconciler;
pub use server::ReceiverServer;
