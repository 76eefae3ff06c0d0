//! The Kustomization reconciler (KC `internal/controller/kustomization_controller.go`).
//!
//! ```text
//!   source        resolve spec.sourceRef (namespace default, --no-cross-namespace-refs)
//!   dependencies  dependsOn: Ready at the revision about to be applied, else requeue
//!   fetch         download the artifact (size + digest verified, safe untar), spec.path
//!   generate      write the kustomization.yaml (generated for plain YAML) with the overrides
//!   build         kustomize, postBuild substitution (substitute, substituteFrom)
//!   apply         owner labels, staged server-side apply as `kustomize-controller`
//!   inventory     status.inventory from the change set
//!   prune         stale objects deleted (prune: true)
//!   health        wait / healthChecks with kstatus (CEL healthCheckExprs) until spec.timeout
//!   status        lastAppliedRevision, history, Ready "Applied revision: <rev>"
//! ```
//!
//! Failures after the source is resolved requeue after `retryInterval`; a missing artifact or
//! an unready dependency after `--requeue-dependency`. Deletion applies `deletionPolicy`.

pub mod apply;
pub mod build;
pub mod clients;
pub mod decrypt;
pub mod dependencies;
pub mod generate;
pub mod health;
pub mod health_expressions;
pub mod prune;
mod reconcile;
pub mod remote;
pub mod source;
pub mod watch;

use std::time::Duration;

use eddy_api::kustomize::v1::{Kustomization, KustomizationStatus};
use eddy_api::meta::field_managers::KUSTOMIZE_CONTROLLER_STATUS;
use eddy_runtime::controller::{Reconciler, Run};
use eddy_runtime::{StepError, Success};
use kube::Api;
use kube::api::{Patch, PatchParams};

pub use apply::ApplySettings;
pub use clients::{Clients, Target};
pub use remote::RemoteOptions;
pub use source::{SourceCache, SourceCacheWriters};

/// How the reconciler behaves: the flags and gates that concern it.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `--no-cross-namespace-refs`.
    pub no_cross_namespace_refs: bool,
    /// `--requeue-dependency`: delay while a dependency or the artifact is not ready.
    pub requeue_dependency: Duration,
    /// `--concurrent-ssa`.
    pub concurrent_ssa: usize,
    /// `--http-retry`.
    pub http_retry: u32,
    /// `StrictPostBuildSubstitutions`.
    pub strict_substitutions: bool,
    /// Not `DisableFailFastBehavior`.
    pub fail_fast: bool,
    /// `ExternalArtifact`.
    pub allow_external_artifact: bool,
    /// `AdditiveCELDependencyCheck`: a `readyExpr` adds to the built-in readiness check.
    pub additive_cel_dependency_check: bool,
    /// Time between health polls (Flux: 5 s).
    pub health_check_interval: Duration,
    /// Apply settings shared by every Kustomization.
    pub apply: ApplySettings,
    /// `SOURCE_CONTROLLER_LOCALHOST`: host[:port] replacing the artifact URL's.
    pub source_localhost: Option<String>,
    /// `--sops-age-secret` in `$RUNTIME_NAMESPACE`, as (namespace, name): the age keys of
    /// Kustomizations whose decryption has no secretRef.
    pub sops_age_secret: Option<(String, String)>,
}

impl Default for Settings {
    /// Flux's defaults.
    fn default() -> Self {
        Self {
            no_cross_namespace_refs: false,
            requeue_dependency: Duration::from_secs(30),
            concurrent_ssa: 4,
            http_retry: 9,
            strict_substitutions: true,
            fail_fast: true,
            allow_external_artifact: false,
            additive_cel_dependency_check: false,
            health_check_interval: Duration::from_secs(5),
            apply: ApplySettings {
                stage_wait_interval: Duration::from_secs(2),
                stage_wait_timeout: Duration::from_secs(60),
                ..ApplySettings::default()
            },
            source_localhost: None,
            sops_age_secret: None,
        }
    }
}

/// Reconciles Kustomizations.
pub struct KustomizationReconciler {
    clients: Clients,
    http: reqwest::Client,
    sources: Option<SourceCache>,
    settings: Settings,
}

impl KustomizationReconciler {
    /// A reconciler applying with `clients` and downloading artifacts with `http`, reading
    /// sources from the API server.
    pub fn new(clients: Clients, http: reqwest::Client, settings: Settings) -> Self {
        Self {
            clients,
            http,
            sources: None,
            settings,
        }
    }

    /// Reads sources from `cache` (filled by the source watches) instead of the API server.
    #[must_use]
    pub fn with_source_cache(mut self, cache: SourceCache) -> Self {
        self.sources = Some(cache);
        self
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Writes the status as it stands mid-reconcile (progress, Healthy=Unknown), with the
    /// harness's field manager so its final apply replaces it.
    async fn patch_status(&self, kustomization: &Kustomization, status: &KustomizationStatus) {
        let namespace = kustomization.metadata.namespace.clone().unwrap_or_default();
        let name = kustomization.metadata.name.clone().unwrap_or_default();
        let api: Api<Kustomization> = Api::namespaced(self.clients.own().clone(), &namespace);
        let body = serde_json::json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "status": status,
        });
        let params = PatchParams::apply(KUSTOMIZE_CONTROLLER_STATUS).force();
        if let Err(error) = api.patch_status(&name, &params, &Patch::Apply(&body)).await {
            tracing::debug!(%namespace, %name, "progress status not written: {error}");
        }
    }
}

impl Reconciler for KustomizationReconciler {
    type Object = Kustomization;

    async fn reconcile(
        &self,
        kustomization: &Kustomization,
        run: &mut Run<Kustomization>,
    ) -> Result<Success, StepError> {
        self.reconcile_kustomization(kustomization, run).await
    }

    async fn finalize(&self, kustomization: &Kustomization) -> Result<(), StepError> {
        self.finalize_kustomization(kustomization).await
    }
}
