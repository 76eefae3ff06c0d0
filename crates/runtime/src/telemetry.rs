//! Logging set-up: JSON lines by default (as Flux's zap logger), or console text.

use crate::flags::{LogEncoding, LogLevel};
use tracing_subscriber::EnvFilter;

/// Eddy's own log targets; everything else (dependencies) logs at warn and above.
const EDDY_TARGETS: &[&str] = &[
    "eddy_runtime",
    "eddy_api",
    "eddy_devcluster",
    "eddy_kustomize",
    "eddy_cli",
    "source_controller",
    "kustomize_controller",
    "helm_controller",
    "notification_controller",
    "image_automation",
    "flux_config_agent",
];

/// Installs the global subscriber, writing to stderr. `RUST_LOG`, when set, replaces the
/// filter built from `--log-level`. Calling it twice keeps the first subscriber.
pub fn init_logging(level: LogLevel, encoding: LogEncoding) {
    let level = match level {
        LogLevel::Trace => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Error => "error",
    };
    // kube's client logs every failed request at error level; we report those failures ourselves
    // with more context, so its copy would only double each line.
    let mut directives = vec![
        "warn".to_string(),
        "kube_client::client::builder=off".to_string(),
    ];
    directives.extend(
        EDDY_TARGETS
            .iter()
            .map(|target| format!("{target}={level}")),
    );
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(directives.join(",")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match encoding {
        LogEncoding::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogEncoding::Console => builder.try_init(),
    };
}
