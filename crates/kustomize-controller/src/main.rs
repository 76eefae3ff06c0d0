//! `kustomize-controller`: Builds Kustomizations from source artifacts (kustomize, postBuild substitution), applies them with server-side apply in stages, prunes what Git no longer has and checks health (Kustomization; kustomize.toolkit.fluxcd.io/v1).
//!
//! Its reconcilers have not landed yet: the binary starts like every Eddy controller (common
//! flags, API client, metrics, health probes, leader election) and reconciles nothing.

use clap::{CommandFactory, FromArgMatches, Parser};

const PLAN: &str = "Builds Kustomizations from source artifacts (kustomize, postBuild substitution), applies them with server-side apply in stages, prunes what Git no longer has and checks health (Kustomization; kustomize.toolkit.fluxcd.io/v1).";

/// Command-line arguments.
#[derive(Parser, Debug)]
#[command(name = "kustomize-controller", version, about = PLAN)]
struct Args {
    #[command(flatten)]
    common: eddy_runtime::CommonArgs,
}

#[tokio::main]
async fn main() {
    let command = Args::command().mut_arg("concurrent", |arg| arg.default_value("4"));
    let args = Args::from_arg_matches(&command.get_matches()).unwrap_or_else(|error| error.exit());
    if let Err(error) =
        eddy_runtime::process::run_without_reconcilers("kustomize-controller", args.common, PLAN)
            .await
    {
        eddy_runtime::process::exit_with_error("kustomize-controller", &error);
    }
}
