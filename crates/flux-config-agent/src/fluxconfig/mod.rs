//! The FluxConfig reconciler (`clusterconfig.azure.com/v1alpha1`), as Azure's
//! fluxconfig-controller behaves.
//!
//! ```text
//!   generate   FluxConfig → source `<config>` + Kustomizations `<config>-<key>` (pure)
//!   auth       localAuthRef, or `<config>-auth` from the protected parameters / a generated
//!              SSH key pair (pure)
//!   sshkey     Ed25519 key pairs in OpenSSH format
//!   rbac       `flux-applier` ServiceAccount and its binding (multi-tenancy)
//!   objects    apply / read / list / delete through the API server
//!   status     compliance of each object and the roll-up (pure)
//!   provisioning  provisioningState, with `waitForReconciliation` (pure)
//!   reconcile  the steps and the finalizer
//!   watch      generated objects (and HelmReleases they applied) → their FluxConfig
//!   webhook    `--status-webhook`: ARM-shaped status POSTed on every change
//! ```
//!
//! Outcome: Ready=True when Compliant (or Suspended); Pending and Non-Compliant keep the
//! FluxConfig Reconciling and are re-checked whenever a generated object's status changes.
//! A spec that cannot be generated stalls with `provisioningState: Failed`. With
//! `waitForReconciliation`, provisioning is only `Succeeded` once the configuration is
//! Compliant (`provisioning`).

pub mod auth;
pub mod generate;
pub mod objects;
pub mod provisioning;
pub mod rbac;
mod reconcile;
pub mod sshkey;
pub mod status;
pub mod watch;
pub mod webhook;

use std::time::Duration;

use eddy_api::clusterconfig::v1alpha1::FluxConfig;
use eddy_runtime::controller::{Reconciler, Run};
use eddy_runtime::{StepError, Success};

pub use objects::Objects;
pub use webhook::{StatusReporter, WebhookSettings};

/// How the reconciler behaves.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `--multi-tenancy`.
    pub multi_tenancy: bool,
    /// Re-check delay while Pending or Non-Compliant (watches usually come first).
    pub recheck: Duration,
    /// Poll delay while waiting for deleted objects to be gone.
    pub deletion_poll: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            multi_tenancy: true,
            recheck: Duration::from_secs(30),
            deletion_poll: Duration::from_secs(2),
        }
    }
}

/// Reconciles FluxConfigs.
pub struct FluxConfigReconciler {
    objects: Objects,
    settings: Settings,
    reporter: StatusReporter,
}

impl FluxConfigReconciler {
    /// A reconciler writing with `client` and reporting through `reporter`.
    pub fn new(client: kube::Client, settings: Settings, reporter: StatusReporter) -> Self {
        Self {
            objects: Objects::new(client),
            settings,
            reporter,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

impl Reconciler for FluxConfigReconciler {
    type Object = FluxConfig;

    async fn reconcile(
        &self,
        config: &FluxConfig,
        run: &mut Run<FluxConfig>,
    ) -> Result<Success, StepError> {
        self.reconcile_config(config, run).await
    }

    async fn finalize(&self, config: &FluxConfig) -> Result<(), StepError> {
        self.finalize_config(config).await
    }
}
