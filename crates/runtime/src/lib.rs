//! The controller harness every Eddy controller runs on (fluxcd/pkg `runtime`, the Rust way).
//!
//! ```text
//!   flags       the common flags, Flux's names and defaults
//!   process     start-up: crypto provider, logging, client, admin servers, leader election, SIGTERM
//!   client      kube client with client-go QPS/burst limiting and a clear unreachable error
//!   controller  the one reconciler shape: finalizer → suspend → steps → summarize → status SSA
//!   reconcile   step errors, summarize, requeue policy (jitter, exponential backoff)
//!   conditions  condition helpers (transition times, kstatus ordering)
//!   events      Kubernetes Events + Flux event JSON POSTed to notification-controller
//!   metrics     gotk_* and controller-runtime metrics
//!   admin       /metrics, /healthz, /readyz
//!   leader      Lease-based leader election
//!   features    --feature-gates
//! ```
//!
//! It knows no kind's logic: kinds plug in through [`controller::Reconciler`].

pub mod admin;
pub mod client;
pub mod conditions;
pub mod controller;
mod event_writer;
pub mod events;
pub mod features;
pub mod flags;
pub mod leader;
pub mod metrics;
pub mod process;
pub mod reconcile;
pub mod telemetry;

pub use controller::{Harness, PendingEvent, Reconciler, Run};
pub use flags::CommonArgs;
pub use process::{Process, ProcessError};
pub use reconcile::{ErrorKind, StepError, Success};
