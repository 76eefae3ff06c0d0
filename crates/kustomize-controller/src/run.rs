//! The kustomize-controller process: shared start-up from eddy-runtime, then the
//! Kustomization controller with its source and config watches until SIGTERM.

use std::sync::Arc;

use eddy_api::meta::field_managers::KUSTOMIZE_CONTROLLER_STATUS;
use eddy_apply::stages::parse_group_kinds;
use eddy_runtime::controller;
use eddy_runtime::{CommonArgs, Process, ProcessError};

use crate::flags::{Args, Features};
use crate::kustomization::watch::{WatchOptions, add_watches};
use crate::kustomization::{
    ApplySettings, Clients, KustomizationReconciler, RemoteOptions, Settings, SourceCache,
};

/// The controller name (metrics, events, leader election).
pub const NAME: &str = "kustomize-controller";

/// Why the process stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Start-up or shutdown of the shared process failed.
    #[error(transparent)]
    Process(#[from] ProcessError),
    /// A flag value is not usable.
    #[error("{0}")]
    InvalidFlag(String),
    /// The artifact HTTP client could not be built.
    #[error("building the artifact HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// The reconciler settings the flags describe.
pub fn settings(args: &Args, features: &Features) -> Settings {
    let custom_stage_kinds = parse_group_kinds(&args.kustomize.custom_apply_stage_kinds.join(","));
    Settings {
        no_cross_namespace_refs: args.common.no_cross_namespace_refs,
        requeue_dependency: args.common.requeue_dependency,
        concurrent_ssa: args.kustomize.concurrent_ssa,
        http_retry: args.kustomize.http_retry,
        strict_substitutions: features.strict_substitutions,
        fail_fast: features.fail_fast,
        allow_external_artifact: features.external_artifact,
        additive_cel_dependency_check: features.additive_cel_dependency_check,
        apply: ApplySettings {
            override_managers: args.kustomize.override_managers.clone(),
            custom_stage_kinds,
            migrate_api_version: features.migrate_api_version,
            ..Settings::default().apply
        },
        sops_age_secret: (!args.kustomize.sops_age_secret.is_empty()).then(|| {
            (
                CommonArgs::runtime_namespace(),
                args.kustomize.sops_age_secret.clone(),
            )
        }),
        source_localhost: std::env::var("SOURCE_CONTROLLER_LOCALHOST")
            .ok()
            .filter(|host| !host.is_empty()),
        ..Settings::default()
    }
}

/// Runs kustomize-controller until SIGTERM (or lost leadership).
pub async fn run(args: Args) -> Result<(), RunError> {
    let features = Features::resolve(&args.common.feature_gates).map_err(RunError::InvalidFlag)?;
    let settings = settings(&args, &features);
    let process = Process::start(NAME, args.common.clone()).await?;
    // Impersonating clients are derived from the configuration the process connected with.
    let clients = Clients::new(
        process.client.clone(),
        Some(process.client_settings.clone()),
        args.common.default_service_account.clone(),
    )
    .with_remote_options(RemoteOptions {
        insecure_exec: args.kustomize.insecure_kubeconfig_exec,
        insecure_tls: args.kustomize.insecure_kubeconfig_tls,
    });
    let http = reqwest::Client::builder().build()?;
    let mut reconciler = KustomizationReconciler::new(clients, http, settings);
    let mut source_writers = None;
    if !features.direct_source_fetch {
        let (cache, writers) = SourceCache::new();
        reconciler = reconciler.with_source_cache(cache);
        source_writers = Some(writers);
    }
    let harness = process.harness(reconciler, KUSTOMIZE_CONTROLLER_STATUS);
    let watch = WatchOptions {
        namespace: process.args.watch_namespace(),
        configs_label_selector: features
            .watch_configs
            .then(|| process.args.watch_configs_label_selector.clone()),
        external_artifacts: features.external_artifact,
    };
    let client = process.client.clone();
    controller::run(
        Arc::clone(&harness),
        process.run_options(),
        process.shutdown.clone(),
        move |controller| add_watches(controller, &client, &watch, source_writers),
    )
    .await;
    Ok(process.wait().await?)
}
