//! The flux-config-agent process: shared start-up from eddy-runtime, the status webhook
//! worker, then the FluxConfig controller with its watches until SIGTERM.

use std::sync::Arc;

use eddy_api::meta::field_managers::FLUX_CONFIG_AGENT_STATUS;
use eddy_runtime::controller;
use eddy_runtime::{Process, ProcessError};

use crate::flags::Args;
use crate::fluxconfig::watch::add_watches;
use crate::fluxconfig::{FluxConfigReconciler, Settings, StatusReporter, WebhookSettings};

/// The controller name (metrics, events, leader election).
pub const NAME: &str = "flux-config-agent";

/// Why the process stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Start-up or shutdown of the shared process failed.
    #[error(transparent)]
    Process(#[from] ProcessError),
    /// A flag value is not usable.
    #[error("{0}")]
    InvalidFlag(String),
    /// The webhook HTTP client could not be built.
    #[error("building the status webhook HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// The reconciler settings the flags describe.
pub fn settings(args: &Args) -> Settings {
    Settings {
        multi_tenancy: args.agent.multi_tenancy,
        ..Settings::default()
    }
}

/// Runs flux-config-agent until SIGTERM (or lost leadership).
pub async fn run(args: Args) -> Result<(), RunError> {
    if let Some(url) = &args.agent.status_webhook
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(RunError::InvalidFlag(format!(
            "--status-webhook {url:?}: expected an http:// or https:// URL"
        )));
    }
    let process = Process::start(NAME, args.common.clone()).await?;
    let reporter = match &args.agent.status_webhook {
        Some(url) => StatusReporter::start(
            WebhookSettings::new(url.clone()),
            reqwest::Client::builder().build()?,
            process.shutdown.clone(),
        ),
        None => StatusReporter::disabled(),
    };
    let reconciler = FluxConfigReconciler::new(process.client.clone(), settings(&args), reporter);
    let harness = process.harness(reconciler, FLUX_CONFIG_AGENT_STATUS);
    let client = process.client.clone();
    let namespace = process.args.watch_namespace();
    controller::run(
        Arc::clone(&harness),
        process.run_options(),
        process.shutdown.clone(),
        move |controller| add_watches(controller, &client, namespace.as_deref()),
    )
    .await;
    Ok(process.wait().await?)
}
