//! `flux-config-agent`: Azure's `fluxConfigurations` on any cluster. Each FluxConfig
//! (`clusterconfig.azure.com/v1alpha1`, the ARM `properties` shape) becomes a Flux source
//! named `<config>` and one Kustomization `<config>-<key>` per entry, with Azure's defaults,
//! labels, owner references, credentials and multi-tenancy; the FluxConfig status reports the
//! compliance of every generated object (and of the HelmReleases they applied) in ARM's
//! shape, optionally POSTed to a `--status-webhook`.
//!
//! ```text
//!   flags       the common flags plus --multi-tenancy and --status-webhook
//!   fluxconfig  the reconciler: generate, auth, rbac, status, finalizer, watches, webhook
//!   run         the process: start-up, controller with its watches, shutdown
//! ```
//!
//! The machinery is eddy-runtime's harness (finalizer, summary conditions, requeues, events,
//! metrics); docs/flux-config-agent.md describes the behaviour and the webhook payload.

pub mod flags;
pub mod fluxconfig;
pub mod run;

pub use fluxconfig::{FluxConfigReconciler, Settings};
